"""genre.models.stack: meta inputs, the Predictor's wiring, and the shipped stacked ensemble."""

from __future__ import annotations

import json

import numpy as np
import pytest

from genre.models import stack
from genre.config import FEATURE_COLUMNS, MODELS_DIR
from genre.training.datasets import GTZAN_GENRES as GENRES


class _ConstMember:
    """A fake deep member that always votes for one genre."""

    def __init__(self, g: int):
        self.p = np.full(len(GENRES), 0.01)
        self.p[g] = 1 - 0.01 * (len(GENRES) - 1)

    def predict_clip(self, y):
        return self.p

    def predict_segments(self, y):
        starts = np.arange(max(1, int(len(y) / 22050 // 3))) * 3.0
        return starts, np.tile(self.p, (len(starts), 1))


def test_meta_inputs_are_log_probabilities_side_by_side():
    a = np.full((2, 10), 0.1)
    b = np.eye(10)[[3, 4]]
    X = stack.meta_inputs([a, b])
    assert X.shape == (2, 20)
    np.testing.assert_allclose(X[:, :10], np.log(0.1 + stack.EPS))
    assert X[0, 10 + 3] == pytest.approx(np.log(1 + stack.EPS)) and X[0, 10] == pytest.approx(np.log(stack.EPS))


def test_meta_learns_to_follow_the_reliable_member():
    rng = np.random.default_rng(0)
    y = np.repeat(np.arange(10), 20)
    good = np.full((200, 10), 0.02); good[np.arange(200), y] = 0.82          # always right
    noise = rng.dirichlet(np.ones(10), size=200)                               # uninformative
    meta = stack.meta_model().fit(stack.meta_inputs([noise, good]), y)
    test_y = np.arange(10)
    good_t = np.full((10, 10), 0.02); good_t[np.arange(10), test_y] = 0.82
    pred = meta.predict(stack.meta_inputs([rng.dirichlet(np.ones(10), size=10), good_t]))
    assert (pred == test_y).all()


def test_stack_predictor_combines_features_and_members():
    rng = np.random.default_rng(0)
    F = rng.normal(size=(100, len(FEATURE_COLUMNS)))
    yF = np.arange(100) % 10
    feats = stack.feature_model().fit(F, yF)
    # meta trained so that the member's vote decides
    y = np.repeat(np.arange(10), 10)
    member = np.full((100, 10), 0.01); member[np.arange(100), y] = 0.91
    X = stack.meta_inputs([rng.dirichlet(np.ones(10), size=100), member])
    meta = stack.meta_model().fit(X, y)
    pred = stack.StackPredictor(feats, meta, {"m": _ConstMember(GENRES.index("metal"))},
                                {"name": "s", "classes": list(GENRES)})
    t = np.arange(6 * 22050) / 22050
    audio = (0.3 * np.sin(2 * np.pi * 220 * t) + 0.01 * rng.normal(size=t.size)).astype(np.float32)
    p = pred.predict_clip(audio)
    assert p.shape == (10,) and GENRES[int(np.argmax(p))] == "metal"
    starts, P = pred.predict_segments(audio)
    assert P.shape == (len(starts), 10) and len(starts) == 2
    np.testing.assert_allclose(P.sum(axis=1), 1.0, atol=1e-6)


SHIPPED = (MODELS_DIR / "stack" / "manifest.json").is_file()


@pytest.mark.skipif(not SHIPPED, reason="models/stack not shipped")
def test_shipped_stack_loads_its_members_and_predicts_a_held_out_clip():
    from genre import registry
    from genre.audio import load
    from genre.training.datasets import clips_index, split_lists

    man = registry.verify("stack")
    assert man["kind"] == "stack" and man["members"]
    for m in man["members"]:
        registry.verify(m)
    clip = "classical.00011"
    assert clip in split_lists()["test"]
    pred = registry.load("stack")
    y = load(clips_index().set_index("clip").loc[clip, "path"]).y
    p = pred.predict_clip(y)
    assert p.shape == (10,) and abs(p.sum() - 1) < 1e-6
    assert GENRES[int(np.argmax(p))] == "classical"


@pytest.mark.skipif(not SHIPPED, reason="models/stack not shipped")
def test_stack_results_name_training_size_and_are_no_worse_than_reported():
    res = json.loads((MODELS_DIR / "results" / "stack.json").read_text())
    h = res["protocols"]["audio_holdout"]
    assert h["n_train"] == 371 and h["n_test"] == 144
    assert 0 <= h["accuracy"] <= 1 and sum(map(sum, h["confusion"])) == 144


def test_loglinear_pool_weights_the_reliable_member_and_survives_skops(tmp_path):
    import skops.io as sio

    rng = np.random.default_rng(1)
    y = np.repeat(np.arange(10), 20)
    good = np.full((200, 10), 0.05); good[np.arange(200), y] = 0.55
    noise = rng.dirichlet(np.ones(10), size=200)
    X = stack.meta_inputs([noise, good])
    pool = stack.LogLinearPool().fit(X, y)
    assert pool.coef_[1] > 5 * abs(pool.coef_[0])
    P = pool.predict_proba(X)
    np.testing.assert_allclose(P.sum(axis=1), 1.0)
    assert (P.argmax(1) == y).mean() == 1.0
    path = tmp_path / "m.skops"
    sio.dump(pool, path)
    types = sio.get_untrusted_types(file=path)
    assert all(t.startswith(("genre.", "numpy.", "builtins.")) for t in types)
    again = sio.load(path, trusted=types)
    np.testing.assert_allclose(again.predict_proba(X), P)
