"""genre.models.feature_models: pipelines, preprocessing, and the FeatureModel predictor."""

from __future__ import annotations

import numpy as np
import pytest

from genre.models import feature_models as models
from genre.config import FEATURE_COLUMNS, SR
from genre.training.datasets import GTZAN_GENRES as GENRES
from genre.training.datasets import published_table


@pytest.fixture(scope="module")
def table():
    return published_table()


@pytest.fixture(scope="module")
def fitted_logreg(table):
    from genre.training.evaluate import one_thread

    est, _ = models.build("logreg", {"clf__C": 0.1})
    with one_thread():
        est.fit(table[list(FEATURE_COLUMNS)].to_numpy(), models.encode_labels(table["genre"], GENRES))
    return models.FeatureModel(est, {"name": "logreg", "classes": list(GENRES)})


@pytest.mark.parametrize("name", models.MODEL_NAMES)
def test_build_every_model(name):
    pipe, grid = models.build(name)
    assert hasattr(pipe, "fit") and hasattr(pipe, "predict_proba")
    # every grid key is a real parameter of the pipeline
    assert set(grid) <= set(pipe.get_params())
    if name != "soft_voting":
        assert grid and all(len(v) >= 2 for v in grid.values())


def test_build_unknown_and_params():
    with pytest.raises(ValueError, match="Unknown feature model"):
        models.build("nope")
    pipe, _ = models.build("mlp", {"clf__hidden_layer_sizes": [128, 64]})  # JSON lists -> tuple
    assert pipe.get_params()["clf__hidden_layer_sizes"] == (128, 64)
    vote, _ = models.build("soft_voting", {"members": ["logreg", "svm"], "logreg": {"clf__C": 0.3}})
    assert [n for n, _ in vote.named_steps["clf"].estimators] == ["logreg", "svm"]
    assert vote.get_params()["clf__logreg__clf__C"] == 0.3
    with pytest.raises(ValueError):
        models.build("soft_voting", {"members": ["knn", "nope"]})


def test_logvar_transformer(table):
    X = table[list(FEATURE_COLUMNS)].to_numpy()[:5]
    out = models.LogVarTransformer().fit(X).transform(X)
    var = [i for i, c in enumerate(FEATURE_COLUMNS) if c.endswith("_var")]
    mean = [i for i, c in enumerate(FEATURE_COLUMNS) if not c.endswith("_var")]
    assert len(var) == 20 + 8
    np.testing.assert_allclose(out[:, var], np.log(X[:, var]))
    np.testing.assert_array_equal(out[:, mean], X[:, mean])
    zero = X.copy()
    zero[:, var] = 0.0
    assert np.isfinite(models.LogVarTransformer().fit(zero).transform(zero)).all()
    np.testing.assert_array_equal(models.LogVarTransformer(log=False).fit(X).transform(X), X)


def test_encode_labels():
    assert models.encode_labels(["blues", "rock"], GENRES).tolist() == [0, 9]
    assert models.encode_labels(["b", "a", "b"], ["a", "b"]).tolist() == [1, 0, 1]
    with pytest.raises(ValueError, match="Unknown label"):
        models.encode_labels(["polka"], GENRES)


def test_feature_model_needs_classes_and_answers_in_them(table):
    from genre.errors import ModelError

    est, _ = models.build("logreg")
    sub = table[table["genre"].isin(["jazz", "metal"])]
    est.fit(sub[list(FEATURE_COLUMNS)].to_numpy(), models.encode_labels(sub["genre"], ["metal", "jazz"]))
    with pytest.raises(ModelError, match="no classes"):
        models.FeatureModel(est, {"name": "x"})
    fm = models.FeatureModel(est, {"name": "x", "classes": ["metal", "jazz"]})
    p = fm.predict_features(sub)
    assert p.shape == (len(sub), 2) and fm.classes == ("metal", "jazz")
    assert np.mean(np.array(fm.classes)[p.argmax(1)] == sub["genre"].to_numpy()) > 0.9


def test_predict_features_genre_order(fitted_logreg, table):
    rows = table.sample(60, random_state=0)
    p = fitted_logreg.predict_features(rows)
    assert p.shape == (60, 10)
    np.testing.assert_allclose(p.sum(axis=1), 1.0)
    assert (p >= 0).all()
    # the training rows are mostly recognised, so columns really are in GENRES order
    pred = [GENRES[i] for i in p.argmax(axis=1)]
    assert np.mean(np.array(pred) == rows["genre"].to_numpy()) > 0.7
    np.testing.assert_allclose(fitted_logreg.predict_features(rows.iloc[0][list(FEATURE_COLUMNS)].to_numpy()), p[:1])
    with pytest.raises(ValueError, match="57"):
        fitted_logreg.predict_features(np.zeros((2, 5)))


def test_clip_windows():
    w = models.FeatureModel.clip_windows
    assert w(10 * SR) == [(0, 10 * SR)]
    assert w(40 * SR) == [(0, 40 * SR)]                       # <= 45 s: whole input
    assert w(60 * SR) == [(0, 30 * SR), (30 * SR, 60 * SR)]
    assert w(100 * SR) == [(0, 30 * SR), (30 * SR, 60 * SR), (60 * SR, 90 * SR)]  # 10-s tail dropped
    assert w(80 * SR)[-1] == (60 * SR, 80 * SR)              # 20-s tail kept


def test_predict_clip_and_segments_on_real_audio(fitted_logreg):
    pytest.importorskip("genre.features")
    import soundfile as sf

    from genre.training.datasets import clips_index

    c = clips_index()
    row = c[(c["kind"] == "full") & (c["sample_rate"] == SR) & (c["genre"] == "classical")].iloc[0]
    y, sr = sf.read(row["path"], dtype="float32", always_2d=True)
    y = y.mean(axis=1)[: 12 * SR]
    assert sr == SR
    p = fitted_logreg.predict_clip(y)
    assert p.shape == (10,) and p.sum() == pytest.approx(1.0)
    starts, ps = fitted_logreg.predict_segments(y)
    assert len(starts) == len(ps) >= 3
    np.testing.assert_allclose(ps.sum(axis=1), 1.0)
    assert np.all(np.diff(starts) > 0)


def test_window_features_one_analysis_per_window(fitted_logreg):
    import soundfile as sf

    from genre import features
    from genre.training.datasets import clips_index

    c = clips_index()
    row = c[(c["kind"] == "full") & (c["sample_rate"] == SR) & (c["genre"] == "rock")].iloc[0]
    y, _ = sf.read(row["path"], dtype="float32", always_2d=True)
    y = y.mean(axis=1)[: 30 * SR]
    # up to 45 s: one analysis; exactly clip_features and segment_features of the input
    short = y[: 20 * SR]
    wf = fitted_logreg.window_features(short)
    assert wf.spans == [(0, len(short))]
    np.testing.assert_array_equal(wf.X[0], features.clip_features(short))
    starts, S = features.segment_features(short)
    np.testing.assert_array_equal(wf.starts_s, starts)
    np.testing.assert_array_equal(wf.segments, S)
    # longer: 30-s blocks (50 s -> 30 + 20); clip rows are clip_features of each block, segments
    # are those of each block's analysis, at the start times segment_features(y) would give
    long = np.concatenate([y, y[: 20 * SR]])
    wf = fitted_logreg.window_features(long)
    assert wf.spans == fitted_logreg.clip_windows(len(long)) == [(0, 30 * SR), (30 * SR, 50 * SR)]
    for (a, b), x in zip(wf.spans, wf.X):
        np.testing.assert_array_equal(x, features.clip_features(long[a:b]))
    np.testing.assert_array_equal(wf.starts_s, features.window_starts(len(long)) / SR)
    np.testing.assert_array_equal(wf.segments[:10], features.segment_features(long[: 30 * SR])[1])
    np.testing.assert_array_equal(wf.segments[10:], features.segment_features(long[30 * SR:])[1])
    # predict_windows: one batch through the model, same answers as predict_clip / predict_segments
    wf2, clip_rows, seg = fitted_logreg.predict_windows(long)
    np.testing.assert_allclose(clip_rows.mean(axis=0), fitted_logreg.predict_clip(long), rtol=1e-9, atol=1e-12)
    s, p = fitted_logreg.predict_segments(long)
    np.testing.assert_array_equal(s, wf2.starts_s)
    np.testing.assert_allclose(seg, p, rtol=1e-9, atol=1e-12)
