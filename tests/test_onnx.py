"""ONNX runtime: every shipped network against its reference, and prediction without TensorFlow.

- the four musicnn networks (ONNX, as shipped) against the ORIGINAL TF1 graphs' outputs saved in
  ``tests/fixtures/*_reference.npz`` (``scripts/musicnn_reference.py``);
- the CNN and CRNN (ONNX) against their Keras models on a real clip (needs TensorFlow: training
  requirements, part of the dev requirements);
- a fresh process predicts with every shipped model and never imports TensorFlow or Keras.
"""

from __future__ import annotations

import json
import subprocess
import sys
import threading
from pathlib import Path

import numpy as np
import pytest

from genre import registry
from genre.models import runtime
from genre.config import ROOT, data_dir
from genre.errors import ModelError

FIXTURES = Path(__file__).parent / "fixtures"
CLIP = data_dir() / "audio" / "country" / "country.00002.flac"
TOL = 1e-4


def _net_file(net: str) -> Path:
    """Where the shipped ONNX file of a musicnn network lives."""
    if net == "MSD_musicnn":
        man = registry.verify("musicnn")
        return registry.model_dir("musicnn") / man["onnx"]
    registry.verify("pretrained")
    return registry.model_dir("pretrained") / f"{net}.onnx"


@pytest.mark.parametrize("net", ["MSD_musicnn", "MTT_musicnn", "MSD_vgg", "MTT_vgg"])
def test_onnx_network_reproduces_original_tf1_graph(net):
    name = "musicnn_reference.npz" if net == "MSD_musicnn" else f"{net}_reference.npz"
    with np.load(FIXTURES / name) as z:
        ref = {k: z[k] for k in z.files}
    emb = "pool5" if "vgg" in net else "penultimate"
    out = runtime.run(_net_file(net), ref["patches"])
    assert set(out) == {"probs", "embedding"}
    assert out["probs"].shape == ref["probs"].shape == (len(ref["patches"]), 50)
    assert np.abs(out["probs"] - ref["probs"]).max() <= TOL
    assert out["embedding"].shape == ref[emb].shape
    assert np.abs(out["embedding"] - ref[emb]).max() <= TOL * max(1.0, np.abs(ref[emb]).max())
    # the fixtures are not degenerate: tags differ between patches and are far from 0.5
    assert np.abs(ref["probs"] - 0.5).max() > 0.3


def _keras_and_onnx(name):
    pytest.importorskip("tensorflow")
    from genre.models import deep
    from genre.audio import load
    from genre.training import networks

    man = registry.verify(name)
    y = load(CLIP).y
    _, P = deep.segment_patches(deep.logmel(y))
    X = deep.normalise(P, float(man["preprocessing"]["scale"])).astype(np.float32)
    keras = networks.configure_tensorflow()
    model = keras.saving.load_model(registry.model_dir(name) / "model.keras", compile=False)
    return np.asarray(model(X, training=False)), runtime.run(registry.model_dir(name) / man["onnx"], X)


#: Every shipped patch network (CNN, CRNN, LSTM and the reduced-resolution variants).
KERAS_NETS = [m["name"] for m in registry.list_models(kind="keras")]


def test_every_shipped_patch_network_is_covered():
    assert {"cnn", "crnn", "lstm", "cnn_r4", "cnn_r16", "lstm_r4", "lstm_r16"} <= set(KERAS_NETS)


@pytest.mark.parametrize("name", KERAS_NETS)
def test_deep_model_onnx_matches_keras_on_a_real_clip(name):
    ref, out = _keras_and_onnx(name)
    assert ref.shape == out["probs"].shape and ref.shape[0] >= 9
    assert np.abs(out["probs"] - ref).max() <= TOL
    assert out["embedding"].ndim == 2 and out["embedding"].shape[0] == ref.shape[0]


def test_msd_musicnn_onnx_matches_keras_port_on_a_real_clip():
    pytest.importorskip("tensorflow")
    from genre.models import musicnn
    from genre.audio import load
    from genre.training import networks

    _, X = musicnn.patches(load(CLIP).y)
    ref = networks.musicnn_forward(X)  # Keras port, .npz weights
    out = musicnn.forward(X, weights=_net_file("MSD_musicnn"))
    assert np.abs(out["probs"] - ref["probs"]).max() <= TOL
    assert np.abs(out["penultimate"] - ref["penultimate"]).max() <= TOL * np.abs(ref["penultimate"]).max()


def test_shipped_networks_are_onnx_with_two_outputs():
    for name in ("musicnn", "musicnn_logreg", *KERAS_NETS):
        man = registry.verify(name)
        assert man.get("onnx") in man["files"], name
        s = runtime.session(registry.model_dir(name) / man["onnx"])
        assert {o.name for o in s.get_outputs()} == {"probs", "embedding"}
        assert s.get_providers() == ["CPUExecutionProvider"]


def test_one_session_per_file_even_across_threads():
    path = _net_file("MSD_vgg")
    runtime.clear()
    got = []
    threads = [threading.Thread(target=lambda: got.append(runtime.session(path))) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len({id(s) for s in got}) == 1 and len(got) == 4
    assert runtime.session(path) is got[0]


def test_threads_setting(monkeypatch):
    monkeypatch.delenv(runtime.THREADS_ENV, raising=False)
    assert runtime.threads() == 1
    monkeypatch.setenv(runtime.THREADS_ENV, "2")
    assert runtime.threads() == 2
    monkeypatch.setenv(runtime.THREADS_ENV, "two")
    with pytest.raises(ModelError):
        runtime.threads()


def test_memory_modes_give_the_same_outputs(monkeypatch):
    """Every GENRE_ONNX_MEMORY mode is its own session and gives identical outputs; a bad value is
    a clear error."""
    path = registry.model_dir("cnn_r16") / "model.onnx"
    X = np.random.default_rng(0).standard_normal((3, *runtime.session(path).get_inputs()[0].shape[1:])).astype(np.float32)
    outs, sessions = {}, set()
    for mode in ("shrink", "arena", "off"):
        monkeypatch.setenv(runtime.MEMORY_ENV, mode)
        assert runtime.memory_mode() == mode
        sessions.add(id(runtime.session(path)))
        outs[mode] = runtime.run(path, X)
    assert len(sessions) == 3
    for mode in ("arena", "off"):
        for k in outs["shrink"]:
            np.testing.assert_array_equal(outs[mode][k], outs["shrink"][k])
    monkeypatch.setenv(runtime.MEMORY_ENV, "lots")
    with pytest.raises(ModelError, match="GENRE_ONNX_MEMORY"):
        runtime.memory_mode()


def test_parallel_setting_and_one_core(monkeypatch):
    monkeypatch.delenv(runtime.PARALLEL_ENV, raising=False)
    monkeypatch.setattr(runtime.os, "cpu_count", lambda: 2)
    assert runtime.parallel() == 2
    monkeypatch.setattr(runtime.os, "cpu_count", lambda: 1)
    assert runtime.parallel() == 1
    monkeypatch.setenv(runtime.PARALLEL_ENV, "3")
    assert runtime.parallel() == 3
    monkeypatch.setenv(runtime.PARALLEL_ENV, "all")
    with pytest.raises(ModelError, match="GENRE_ONNX_PARALLEL"):
        runtime.parallel()
    # one_core pins both settings, unless the environment already set them
    monkeypatch.delenv(runtime.PARALLEL_ENV)
    monkeypatch.delenv(runtime.THREADS_ENV, raising=False)
    runtime.one_core()
    assert (runtime.threads(), runtime.parallel()) == (1, 1)
    monkeypatch.setenv(runtime.PARALLEL_ENV, "2")
    runtime.one_core()
    assert runtime.parallel() == 2


def test_run_many_side_by_side_equals_one_at_a_time(monkeypatch, tmp_path):
    """The four networks run side by side give exactly what they give one at a time, in the
    order asked; a broken network among them raises its ModelError."""
    from genre.models import pretrained

    paths = [_net_file(n) for n in ("MTT_vgg", "MSD_vgg", "MTT_musicnn")]
    X = np.random.default_rng(1).standard_normal((2, 187, 96)).astype(np.float32)
    monkeypatch.setenv(runtime.PARALLEL_ENV, "1")
    one = runtime.run_many(paths, X)
    monkeypatch.setenv(runtime.PARALLEL_ENV, "3")
    many = runtime.run_many(paths, X)
    assert len(many) == 3
    for a, b, p in zip(one, many, paths):
        assert set(a) == {"probs", "embedding"}
        for k in a:
            np.testing.assert_array_equal(a[k], b[k], err_msg=f"{p.name} {k}")
    assert not np.array_equal(many[0]["embedding"][:, :8], many[1]["embedding"][:, :8])  # order kept
    with pytest.raises(ModelError):
        runtime.run_many([paths[0], tmp_path / "nothing.onnx"], X)
    # the ensemble's outputs go through it
    monkeypatch.setattr(pretrained.runtime, "run_many", lambda ps, X: [{"probs": str(p)} for p in ps])
    out = pretrained.network_outputs(X, tmp_path)
    assert list(out) == list(pretrained.NETS) and out["MSD_vgg"]["probs"].endswith("MSD_vgg.onnx")


def test_missing_or_corrupt_network_is_a_model_error(tmp_path):
    with pytest.raises(ModelError):
        runtime.session(tmp_path / "nothing.onnx")
    bad = tmp_path / "bad.onnx"
    bad.write_bytes(b"not a network")
    with pytest.raises(ModelError):
        runtime.session(bad)


def _old_cnn_manifest(tmp_path) -> None:
    """``cnn_old`` in ``tmp_path``: the shipped CNN as registered before the ONNX export (no "onnx")."""
    man = registry.verify("cnn")
    old = {k: v for k, v in man.items() if k not in ("onnx", "onnx_info", "files", "name")}
    registry.save("cnn_old", {"model.keras": registry.model_dir("cnn") / "model.keras"}, old, tmp_path)


def test_old_manifest_without_onnx_is_a_clear_model_error(tmp_path):
    """A manifest written before the ONNX export (no "onnx" key) does not load at prediction time:
    the error says why and names the command that fixes it; TensorFlow is never imported."""
    _old_cnn_manifest(tmp_path)
    with pytest.raises(ModelError) as err:
        registry.load("cnn_old", tmp_path)
    msg = str(err.value)
    assert "python scripts/export_onnx.py --keras-models cnn_old" in msg
    assert "no ONNX export" in msg and "model.keras" in msg
    code = ("import sys; from genre import registry; from genre.errors import ModelError\n"
            f"try:\n    registry.load('cnn_old', {str(tmp_path)!r})\nexcept ModelError:\n    pass\n"
            "print('tensorflow' in sys.modules, 'keras' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stderr[-3000:]
    assert out.stdout.strip() == "False False"


def test_old_manifest_still_loads_explicitly_through_the_training_module(tmp_path):
    """Offline code can still run such a model's model.keras (genre.training.networks.load_keras)."""
    pytest.importorskip("tensorflow")
    from genre.models import deep
    from genre.training import networks

    _old_cnn_manifest(tmp_path)
    pred = networks.load_keras(registry.model_dir("cnn_old", tmp_path), registry.verify("cnn_old", tmp_path))
    assert isinstance(pred, networks.KerasPredictor) and not isinstance(pred, deep.OnnxPatchPredictor)
    assert pred.classes == tuple(registry.verify("cnn")["classes"])


def test_every_shipped_model_predicts_without_tensorflow():
    """A fresh process predicts one clip with every shipped classifier; TensorFlow is never imported."""
    code = f"""
import json, sys
from genre import predict, registry
names = [m["name"] for m in registry.list_models() if m.get("kind") != "novelty"]
out = {{}}
for n in names:
    p = predict.predict({str(CLIP)!r}, model=n)
    out[n] = [float(v) for v in p.probabilities.values()] if isinstance(p.probabilities, dict) else list(map(float, p.probabilities))
print(json.dumps({{"names": names, "probs": out,
                  "tf": "tensorflow" in sys.modules, "keras": "keras" in sys.modules,
                  "tf2onnx": "tf2onnx" in sys.modules}}))
"""
    res = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=900)
    assert res.returncode == 0, res.stderr[-3000:]
    data = json.loads(res.stdout.strip().splitlines()[-1])
    shipped = {m["name"] for m in registry.list_models() if m.get("kind") != "novelty"}
    assert set(data["names"]) == shipped and {"musicnn", "musicnn_logreg", "cnn", "crnn", "stack"} <= shipped
    assert not data["tf"] and not data["keras"] and not data["tf2onnx"]
    for n, p in data["probs"].items():
        assert len(p) == 10 and abs(sum(p) - 1) < 1e-6, n
