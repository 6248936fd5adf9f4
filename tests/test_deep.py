"""genre.models.deep: patches, sampling, and the shipped CNN/CRNN through the registry (building and
training the networks: tests/test_networks.py)."""

from __future__ import annotations

import json
import subprocess
import sys

import numpy as np
import pytest

from genre.models import deep
from genre.config import MODELS_DIR, ROOT, SR
from genre.training.datasets import GTZAN_GENRES as GENRES
from genre.registry import list_models


def test_importing_deep_does_not_import_tensorflow():
    code = "import sys, genre.models.deep, genre.models.stack, genre.training.train_deep; print('tensorflow' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"


def test_segment_patches_cover_a_30s_clip_in_3s_steps():
    frames = 1 + int(30.0 * SR) // deep.MEL["hop_length"]
    m = np.random.default_rng(0).normal(size=(deep.MEL["n_mels"], frames)).astype(np.float32)
    starts, P = deep.segment_patches(m)
    assert P.shape == (10, deep.MEL["n_mels"], deep.PATCH_FRAMES)
    np.testing.assert_allclose(starts, np.arange(10) * 3.0)
    # patch k is the spectrogram from frame round(3k s) on
    k0 = int(round(3 * 3.0 * SR / deep.MEL["hop_length"]))
    np.testing.assert_array_equal(P[3], m[:, k0:k0 + deep.PATCH_FRAMES])
    np.testing.assert_array_equal(P[9], m[:, -deep.PATCH_FRAMES:])   # the last one ends with the clip


def test_short_excerpt_is_looped_to_one_patch():
    m = np.arange(64 * 50, dtype=np.float32).reshape(64, 50)   # about 1.2 s
    starts, P = deep.segment_patches(m)
    assert P.shape == (1, 64, deep.PATCH_FRAMES) and starts.tolist() == [0.0]
    np.testing.assert_array_equal(P[0][:, 50:100], m)          # second loop = the excerpt again


def test_normalise_removes_gain():
    x = np.random.default_rng(1).normal(-40, 10, size=(3, 64, deep.PATCH_FRAMES))
    a = deep.normalise(x, 10.0)
    b = deep.normalise(x + 12.0, 10.0)                           # +12 dB gain
    assert a.shape == (3, 64, deep.PATCH_FRAMES, 1)
    np.testing.assert_allclose(a, b, atol=1e-5)


def test_logmel_shape_and_band_limit():
    t = np.arange(3 * SR) / SR
    y = (0.5 * np.sin(2 * np.pi * 10000 * t)).astype(np.float32)   # 10 kHz: above the 8 kHz filterbank
    low = (0.5 * np.sin(2 * np.pi * 440 * t)).astype(np.float32)
    m_hi, m_lo = deep.logmel(y), deep.logmel(low)
    assert m_hi.shape == (deep.MEL["n_mels"], deep.PATCH_FRAMES)
    assert m_hi.max() < m_lo.max() - 40      # a 10 kHz tone barely registers: 16 kHz clips look alike


def test_sampler_balances_genres():
    rng = np.random.default_rng(0)
    mels = [rng.normal(size=(64, 1300)).astype(np.float32) for _ in range(12)]
    labels = [0] * 10 + [1] * 2                                   # 10 blues clips, 2 classical
    s = deep.PatchSampler(mels, labels, seed=0)
    X, y = s.sample(2000)
    assert X.shape == (2000, 64, deep.PATCH_FRAMES) and np.isfinite(X).all()
    share = np.mean(y == 1)
    assert 0.45 < share < 0.55, share


def test_sampler_is_reproducible_from_its_seed():
    mels = [np.random.default_rng(i).normal(size=(64, 400)).astype(np.float32) for i in range(4)]
    a = deep.PatchSampler(mels, [0, 1, 2, 3], seed=5).sample(16)
    b = deep.PatchSampler(mels, [0, 1, 2, 3], seed=5).sample(16)
    np.testing.assert_array_equal(a[0], b[0])
    np.testing.assert_array_equal(a[1], b[1])


# ---------------------------------------------------------------- shipped models (CI does not retrain)

SHIPPED = [a for a in ("cnn", "crnn") if (MODELS_DIR / a / "manifest.json").is_file()]

#: Held-out test clips of the fault-filtered split (never seen in training, no artist in training)
#: that the shipped CNN and CRNN classify correctly (found with `python -m genre.training.train_deep
#: --evaluate-only`; most test clips of other genres are not this safe, see models/results).
CHECK_CLIPS = ("classical.00011", "metal.00026")


def test_check_clips_are_test_clips():
    from genre.training.datasets import split_lists

    assert set(CHECK_CLIPS) <= set(split_lists()["test"])


@pytest.mark.parametrize("clip", CHECK_CLIPS)
@pytest.mark.parametrize("name", SHIPPED)
def test_shipped_model_predicts_a_held_out_clip(name, clip):
    from genre import registry
    from genre.audio import load
    from genre.training.datasets import clips_index

    man = registry.verify(name)
    assert man["kind"] == "keras" and man["n_train"] > 0 and man["protocol"] == "audio_holdout"
    pred = registry.load(name)
    c = clips_index().set_index("clip")
    y = load(c.loc[clip, "path"]).y
    starts, P = pred.predict_segments(y)
    assert P.shape == (len(starts), len(GENRES)) and len(starts) == 10
    np.testing.assert_allclose(P.sum(axis=1), 1.0, atol=1e-4)
    p = pred.predict_clip(y)
    assert GENRES[int(np.argmax(p))] == clip.split(".")[0]
    # the shipped model's results file reports a holdout score measured on clips it did not see
    res = json.loads((MODELS_DIR / "results" / f"{name}.json").read_text())
    assert res["protocols"]["audio_holdout"]["n_test"] == 144


def test_holdout_training_set_shares_no_artist_with_the_test_set():
    from genre.training.train_deep import clip_table

    df = clip_table()
    use = df[df["split"] != "excluded"]
    train = use[use["split"].isin(["train", "valid"])]
    test = use[use["split"] == "test"]
    assert len(train) == 371 and len(test) == 144
    assert not set(train["clip"]) & set(test["clip"])
    known = lambda s: {a for a in s if not a.startswith("?")}  # noqa: E731
    assert not known(train["artist"]) & known(test["artist"])


VARIANTS = [a for a in ("cnn_r4", "cnn_r16", "lstm", "lstm_r4", "lstm_r16") if (MODELS_DIR / a / "manifest.json").is_file()]


@pytest.mark.parametrize("name", VARIANTS)
def test_shipped_variant_loads_and_reports_its_training_time(name):
    from genre import registry
    from genre.audio import load
    from genre.training.datasets import clips_index
    from genre.training.train_deep import ARCH_SETTINGS

    man = registry.verify(name)
    assert man["training"]["resolution"] == ARCH_SETTINGS[name]["resolution"]
    assert man["training"]["arch"] == ARCH_SETTINGS[name]["arch"] and man["protocol"] == "audio_holdout"
    pred = registry.load(name)
    y = load(clips_index().set_index("clip").loc[CHECK_CLIPS[0], "path"]).y
    starts, P = pred.predict_segments(y)
    assert P.shape == (len(starts), len(pred.classes)) == (10, 10)
    np.testing.assert_allclose(P.sum(axis=1), 1.0, atol=1e-4)
    res = json.loads((MODELS_DIR / "results" / f"{name}.json").read_text())["protocols"]["audio_holdout"]
    assert res["n_test"] == 144 and res["fit_time_s"] > 0 and res["params"]["epochs"] == man["training"]["epochs"]


NETWORKS = [m["name"] for m in list_models(kind="keras")]


@pytest.mark.parametrize("name", NETWORKS)
def test_every_shipped_network_has_its_training_curves(name):
    """The leaderboard's training curves exist for every network the project trained: one loss,
    accuracy and wall-seconds value per epoch of the shipped fit, in its results file and manifest."""
    from genre import registry
    from genre.app import dashboard

    man = registry.verify(name)
    epochs = man["training"]["epochs"]
    res = json.loads((MODELS_DIR / "results" / f"{name}.json").read_text())
    hist = res["protocols"]["audio_holdout"]["history"]
    assert hist == man["training"]["history"]
    assert [len(hist[k]) for k in ("loss", "accuracy", "epoch_seconds")] == [epochs] * 3
    assert hist["loss"][-1] == pytest.approx(man["training"]["loss"], abs=1e-3)
    curves = dashboard.training_curves(res)
    assert set(curves["series"]) >= {"loss", "accuracy"} and curves["epoch"].max() == epochs
