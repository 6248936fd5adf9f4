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
    assert [m["name"] for m in registry.list_models(root, kind="sklearn")] == ["lr"]
    assert registry.list_models(root, kind="keras") == []


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
    # a type outside TRUSTED_TYPES is refused at save time, by save_sklearn and by save ...
    sneaky = Sneaky().fit(*data)
    with pytest.raises(ModelError, match="not trusted"):
        registry.save_sklearn("sneaky", sneaky, CLASSES, models_dir=tmp_path)
    blob = tmp_path / "blob.skops"
    sio.dump(sneaky, blob)
    types = sio.get_untrusted_types(file=blob)
    with pytest.raises(ModelError, match="not trusted"):
        registry.save("sneaky", {"model.skops": blob}, {"kind": "sklearn", "trusted_types": types, **CLASSES},
                      models_dir=tmp_path)
    assert not (tmp_path / "sneaky").exists()
    # ... and at load time, even when a hand-made manifest lists it
    write_model(tmp_path, "sneaky", {"model.skops": blob.read_bytes()},
                {"kind": "sklearn", "trusted_types": types})
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


# --------------------------------------------------------------------------- hostile model folders

def write_model(root, name: str, files: dict, manifest: dict):
    """A model folder written by hand (as an attacker would), bypassing registry.save's checks."""
    import hashlib

    folder = root / name
    folder.mkdir(parents=True, exist_ok=True)
    for fname, data in files.items():
        (folder / fname).write_bytes(data)
    hashes = {f: hashlib.sha256(d).hexdigest() for f, d in files.items()}
    man = {"name": name, "kind": "sklearn", "classes": list(GENRES), **manifest, "files": hashes}
    (folder / "manifest.json").write_text(json.dumps(man))
    return folder


#: Module roots whose callables can run code, touch files or processes, or import things.
DANGEROUS_MODULES = ("builtins", "operator", "_operator", "functools", "os", "posix", "nt", "sys",
                     "subprocess", "importlib", "shutil", "pickle", "_pickle", "marshal", "runpy",
                     "code", "codeop", "ctypes", "io", "_io", "socket", "types", "pty", "shlex",
                     "tempfile", "pathlib", "webbrowser", "multiprocessing", "asyncio", "threading",
                     "joblib", "dill", "cloudpickle", "skops", "inspect", "gc", "signal")
DANGEROUS_NAMES = ("exec", "eval", "getattr", "setattr", "compile", "__import__", "open",
                   "attrgetter", "methodcaller", "itemgetter", "system", "popen", "load", "loads")


def test_trusted_types_cannot_run_code():
    import importlib
    import inspect

    assert isinstance(registry.TRUSTED_TYPES, frozenset) and registry.TRUSTED_TYPES
    for name in registry.TRUSTED_TYPES:
        module, _, attr = name.rpartition(".")
        root = module.split(".")[0]
        assert root in ("sklearn", "xgboost", "scipy", "numpy", "genre"), name
        assert root not in DANGEROUS_MODULES and attr not in DANGEROUS_NAMES, name
        assert "*" not in name and not name.endswith("."), name  # exact names, never prefixes
        module = registry.LEGACY_MODULES.get(module, module)
        obj = getattr(importlib.import_module(module), attr)
        assert inspect.isclass(obj), f"{name} is not a class: only classes may be trusted"
    # the guard itself catches what the old prefix list let through
    assert registry.untrusted(["builtins.exec", "builtins.eval", "builtins.getattr", "os.system",
                               "operator.attrgetter", "numpy.load", "subprocess.Popen",
                               "importlib.import_module", "sklearn.utils._bunch.Bunch"]) == sorted([
        "builtins.exec", "builtins.eval", "builtins.getattr", "os.system", "operator.attrgetter",
        "numpy.load", "subprocess.Popen", "importlib.import_module"])


def test_every_shipped_skops_file_needs_only_trusted_types():
    files = sorted(MODELS_DIR.glob("*/*.skops"))
    assert files
    for f in files:
        assert registry.untrusted(sio.get_untrusted_types(file=f)) == [], f


def test_exec_pipeline_is_refused_and_runs_nothing(tmp_path):
    """The probe's exploit: a pipeline whose step calls builtins.exec on its input."""
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import FunctionTransformer

    marker = tmp_path / "pwned"
    evil = make_pipeline(FunctionTransformer(func=np.ravel), FunctionTransformer(func=exec))
    code = f"open({str(marker)!r}, 'w').close()"
    evil[-1].transform(code)  # this object runs any code it is given: what must never load
    assert marker.exists()
    marker.unlink()
    assert "builtins.exec" in sio.get_untrusted_types(data=sio.dumps(evil))
    models = tmp_path / "models"
    with pytest.raises(ModelError, match="builtins.exec"):
        registry.save_sklearn("evil", evil, CLASSES, models_dir=models)
    assert not models.exists() or list(models.iterdir()) == []  # nothing written, not even a temp folder
    # a hand-written folder with a manifest that trusts everything is refused at load
    data = sio.dumps(evil)
    write_model(models, "evil", {"model.skops": data},
                {"trusted_types": sio.get_untrusted_types(data=data)})
    with pytest.raises(ModelError, match="not trusted"):
        registry.load("evil", models)
    with pytest.raises(ModelError, match="not trusted"):
        registry.load_skops(models / "evil" / "model.skops",
                            {"trusted_types": sio.get_untrusted_types(data=data)})
    assert not marker.exists()


def test_manifest_files_must_lie_in_the_model_folder(tmp_path):
    import shutil

    shutil.copytree(MODELS_DIR / "musicnn", tmp_path / "musicnn")
    lic = (tmp_path / "musicnn" / "LICENSE").read_bytes()
    # musicnn weights outside the folder (the probe's case): the real file, reached by "../"
    write_model(tmp_path, "outside", {"LICENSE": lic},
                {"kind": "musicnn", "weights": "../musicnn/msd_musicnn.npz"})
    with pytest.raises(ModelError, match="do not list|not a file inside"):
        registry.load("outside", tmp_path)
    # a listed file with a path in its name, or absolute
    for bad in ("../musicnn/LICENSE", "/etc/hostname", "sub/../../musicnn/LICENSE"):
        folder = write_model(tmp_path, "listed", {"LICENSE": lic}, {"kind": "musicnn"})
        man = json.loads((folder / "manifest.json").read_text())
        man["files"] = {bad: registry.sha256(tmp_path / "musicnn" / "LICENSE"),
                        **man["files"]}
        (folder / "manifest.json").write_text(json.dumps(man))
        with pytest.raises(ModelError, match="not a file inside"):
            registry.verify("listed", tmp_path)
    # a symlink inside the folder that points outside it
    folder = write_model(tmp_path, "linked", {"LICENSE": lic}, {"kind": "musicnn"})
    (folder / "msd_musicnn.npz").symlink_to(tmp_path / "musicnn" / "msd_musicnn.npz")
    man = json.loads((folder / "manifest.json").read_text())
    man["files"]["msd_musicnn.npz"] = registry.sha256(tmp_path / "musicnn" / "msd_musicnn.npz")
    (folder / "manifest.json").write_text(json.dumps(man))
    with pytest.raises(ModelError, match="not a file inside"):
        registry.verify("linked", tmp_path)
    # the shipped musicnn folder itself is fine
    assert registry.verify("musicnn", tmp_path)["weights"] == "msd_musicnn.npz"


def test_stack_may_not_contain_itself(tmp_path):
    import shutil

    src = MODELS_DIR / "stack"
    data = (src / "model.skops").read_bytes()
    man = json.loads((src / "manifest.json").read_text())
    keep = {k: man[k] for k in ("kind", "trusted_types", "classes")}
    write_model(tmp_path, "selfish", {"model.skops": data}, {**keep, "members": ["selfish"]})
    with pytest.raises(ModelError, match="cycle.*selfish -> selfish"):
        registry.load("selfish", tmp_path)
    write_model(tmp_path, "ying", {"model.skops": data}, {**keep, "members": ["yang"]})
    write_model(tmp_path, "yang", {"model.skops": data}, {**keep, "members": ["ying"]})
    with pytest.raises(ModelError, match="ying -> yang -> ying"):
        registry.load("ying", tmp_path)
    shutil.rmtree(tmp_path / "yang")  # a missing member is a plain "unknown model" error
    with pytest.raises(ModelError, match="Unknown model 'yang'"):
        registry.load("ying", tmp_path)


def test_default_may_only_name_a_classifier(tmp_path):
    import shutil

    from genre.predict import load_model

    shutil.copytree(MODELS_DIR / "novelty", tmp_path / "novelty")
    (tmp_path / "default.json").write_text(json.dumps({"model": "novelty"}))
    with pytest.raises(ModelError, match="not a genre classifier"):
        registry.default_name(tmp_path)
    with pytest.raises(ModelError, match="not a genre classifier"):
        load_model("novelty")  # the shipped detector asked for as a model, by name


def test_pinned_tree_hash(tmp_path, monkeypatch, saved):
    root, _ = saved
    h = registry.tree_sha256(root)
    assert len(h) == 64 and h == registry.tree_sha256(root)
    monkeypatch.setattr(registry, "_PIN_CHECKED", {})
    monkeypatch.setenv(registry.PIN_ENV, h)
    assert registry.load("lr", root).name == "lr"
    # anything added anywhere under models/ changes the tree hash: nothing loads any more
    monkeypatch.setattr(registry, "_PIN_CHECKED", {})
    (root / "results").mkdir(exist_ok=True)
    (root / "results" / "extra.json").write_text("{}")
    assert registry.tree_sha256(root) != h
    with pytest.raises(ModelError, match="pinned"):
        registry.load("lr", root)
    monkeypatch.delenv(registry.PIN_ENV)
    assert registry.load("lr", root).name == "lr"
@pytest.mark.parametrize("classes", [None, [], ["only"], ["a", "a"]])
def test_a_manifest_must_name_its_classes(tmp_path, classes):
    man = {} if classes is None else {"classes": classes}
    with pytest.raises(ModelError, match="must list its classes"):
        registry.save("m", {"w.bin": b"x"}, man, models_dir=tmp_path)
    assert not (tmp_path / "m").exists()
