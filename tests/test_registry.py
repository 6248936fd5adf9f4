"""genre.registry: hashed manifests, trusted skops loading, default model, shipped models."""

from __future__ import annotations

import json

import numpy as np
import pytest
import skops.io as sio
from sklearn.base import BaseEstimator, ClassifierMixin

from genre import registry
from genre.config import FEATURE_COLUMNS, MODELS_DIR
from genre.training.datasets import GTZAN_GENRES as GENRES
from genre.training.datasets import published_table
from genre.errors import ModelError
from genre.models.feature_models import MODEL_NAMES, FeatureModel, build, encode_labels
from genre.training.datasets import GTZAN_GENRES

CLASSES = {"classes": list(GTZAN_GENRES)}


@pytest.fixture(scope="module")
def data():
    t = published_table().sample(200, random_state=0)
    return t[list(FEATURE_COLUMNS)].to_numpy(), encode_labels(t["genre"], GTZAN_GENRES)


@pytest.fixture()
def saved(tmp_path, data):
    from genre.training.evaluate import one_thread

    est, _ = build("logreg", {"clf__C": 0.1})
    with one_thread():
        est.fit(*data)
    registry.save_sklearn("lr", est, {"display_name": "LR", "input": "features57", **CLASSES}, models_dir=tmp_path)
    return tmp_path, est


class Sneaky(ClassifierMixin, BaseEstimator):
    """A class outside the allow-list (module ``tests.*`` or ``test_registry``)."""

    def fit(self, X, y):
        self.classes_ = np.unique(y)
        return self


def test_roundtrip(saved, data):
    root, est = saved
    man = registry.verify("lr", root)
    assert man["kind"] == "sklearn" and man["classes"] == list(GENRES)
    assert set(man["files"]) == {"model.skops"} and len(man["files"]["model.skops"]) == 64
    assert "genre.models.feature_models.LogVarTransformer" in man["trusted_types"]
    model = registry.load("lr", root)
    assert isinstance(model, FeatureModel) and model.name == "lr"
    np.testing.assert_array_equal(model.predict_features(data[0]), est.predict_proba(data[0]))
    assert [m["name"] for m in registry.list_models(root)] == ["lr"]


def test_xgboost_pipeline_roundtrip(tmp_path, data):
    est, _ = build("xgboost", {"clf__n_estimators": 5})
    est.fit(*data)
    registry.save_sklearn("xgb", est, CLASSES, models_dir=tmp_path)
    model = registry.load("xgb", tmp_path)
    np.testing.assert_allclose(model.predict_features(data[0]), est.predict_proba(data[0]))


def test_tampered_file_refused(saved):
    root, _ = saved
    path = root / "lr" / "model.skops"
    raw = bytearray(path.read_bytes())
    raw[len(raw) // 2] ^= 0x01
    path.write_bytes(bytes(raw))
    with pytest.raises(ModelError, match="SHA-256"):
        registry.load("lr", root)


def test_missing_and_unlisted_files_refused(saved):
    root, _ = saved
    (root / "lr" / "extra.bin").write_bytes(b"x")
    with pytest.raises(ModelError, match="unlisted"):
        registry.verify("lr", root)
    (root / "lr" / "extra.bin").unlink()
    (root / "lr" / "model.skops").unlink()
    with pytest.raises(ModelError, match="missing"):
        registry.verify("lr", root)


def test_unknown_name_and_kind(saved):
    root, _ = saved
    with pytest.raises(ModelError, match="Unknown model 'nope'"):
        registry.load("nope", root)
    with pytest.raises(ModelError, match="Invalid model name"):
        registry.load("../etc", root)
    mf = root / "lr" / "manifest.json"
    man = json.loads(mf.read_text())
    mf.write_text(json.dumps(man | {"kind": "pickle"}))
    with pytest.raises(ModelError, match="Unknown model kind"):
        registry.load("lr", root)


def test_untrusted_types_refused(saved, tmp_path, data):
    root, _ = saved
    # a type the manifest did not record is refused, even though its hash is right
    mf = root / "lr" / "manifest.json"
    man = json.loads(mf.read_text())
    mf.write_text(json.dumps(man | {"trusted_types": []}))
    with pytest.raises(ModelError, match="not trusted"):
        registry.load("lr", root)
    # a type outside the allow-list is refused at save time ...
    sneaky = Sneaky().fit(*data)
    with pytest.raises(ModelError, match="allow-list"):
        registry.save_sklearn("sneaky", sneaky, CLASSES, models_dir=tmp_path)
    # ... and at load time, even when the manifest lists it
    blob = tmp_path / "blob.skops"
    sio.dump(sneaky, blob)
    types = sio.get_untrusted_types(file=blob)
    registry.save("sneaky", {"model.skops": blob}, {"kind": "sklearn", "trusted_types": types, **CLASSES},
                  models_dir=tmp_path)
    with pytest.raises(ModelError, match="not trusted"):
        registry.load("sneaky", tmp_path)


def test_choose_default_and_load_none(saved, data):
    from genre.training.evaluate import compute_metrics, write_result

    root, est = saved
    registry.save_sklearn("lr2", est, {"input": "features57", **CLASSES}, models_dir=root)
    res = registry.RESULTS_DIRNAME
    write_result("lr", "filtered_holdout", compute_metrics(["rock", "jazz"], ["rock", "rock"]), results=root / res)
    write_result("lr2", "filtered_holdout", compute_metrics(["rock", "jazz"], ["rock", "jazz"]), results=root / res)
    write_result("ghost", "filtered_holdout", compute_metrics(["rock"], ["rock"]), results=root / res)
    choice = registry.choose_default(models_dir=root)
    assert choice["model"] == "lr2" and choice["value"] == 1.0  # ghost has results but no model
    assert json.loads((root / "default.json").read_text())["model"] == "lr2"
    assert registry.load(None, root).name == "lr2"


def test_shipped_models_load_and_predict():
    table = published_table()
    X = table[list(FEATURE_COLUMNS)].to_numpy()[::50]
    shipped = registry.list_models(MODELS_DIR)
    feature_models = [m for m in shipped if m.get("kind") == "sklearn" and m.get("input") == "features57"]
    assert {m["name"] for m in feature_models} >= set(MODEL_NAMES)
    for man in feature_models:
        model = registry.load(man["name"])
        p = model.predict_features(X)
        assert p.shape == (len(X), 10)
        assert np.isfinite(p).all() and (p >= 0).all()
        np.testing.assert_allclose(p.sum(axis=1), 1.0, atol=1e-6)
    default = registry.default_name()
    assert default in {m["name"] for m in shipped}


def test_shipped_artifacts_small():
    total = sum(p.stat().st_size for p in MODELS_DIR.rglob("*") if p.is_file())
    assert total < 50e6


@pytest.mark.parametrize("classes", [None, [], ["only"], ["a", "a"]])
def test_a_manifest_must_name_its_classes(tmp_path, classes):
    man = {} if classes is None else {"classes": classes}
    with pytest.raises(ModelError, match="must list its classes"):
        registry.save("m", {"w.bin": b"x"}, man, models_dir=tmp_path)
    assert not (tmp_path / "m").exists()
