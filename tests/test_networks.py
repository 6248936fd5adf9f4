"""genre.training.networks (offline, TensorFlow/Keras): building and training the patch networks, the
Keras 3 port of musicnn against the original TF1 graph's outputs, and the Keras -> ONNX export."""

from __future__ import annotations

import importlib.util
import json
import subprocess
import sys

import numpy as np
import pytest

# find_spec, not importorskip: importing TensorFlow while pytest collects would put it in the test
# process before tests/test_app.py's live-mode tests import pylibsrtp (that order segfaults)
pytestmark = pytest.mark.skipif(importlib.util.find_spec("tensorflow") is None,
                                reason="TensorFlow (requirements-train.txt) is not installed")

from genre.models import deep, musicnn  # noqa: E402
from genre.config import ROOT  # noqa: E402
from genre.training import networks  # noqa: E402
from genre.training.datasets import GTZAN_GENRES as GENRES  # noqa: E402



def test_importing_networks_does_not_import_tensorflow():
    code = "import sys, genre.training.networks; print('tensorflow' in sys.modules, 'keras' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False False"


# ---------------------------------------------------------------- patch networks (CNN, CRNN, LSTM)


@pytest.mark.parametrize("arch", ["cnn", "crnn"])
def test_training_smoke_two_steps(arch):
    keras = networks.configure_tensorflow(deterministic=True)
    keras.utils.set_random_seed(0)
    rng = np.random.default_rng(0)
    mels = [rng.normal(-40, 10, size=(64, 200)).astype(np.float32) for _ in range(4)]
    sampler = deep.PatchSampler(mels, [0, 1, 2, 3], seed=0)
    model = networks.build_model(arch, filters=(4, 4, 4, 4, 4), gru_units=4)
    w0 = [w.copy() for w in model.get_weights()]
    info = networks.train(model, sampler, scale=10.0, epochs=1, patches_per_epoch=8, batch_size=4,
                      progress=None)
    assert np.isfinite(info["loss"])
    assert any(not np.allclose(a, b) for a, b in zip(w0, model.get_weights()))  # it learned something
    P = networks.predict_mels(model, mels, 10.0)
    assert P.shape == (4, len(GENRES))
    np.testing.assert_allclose(P.sum(axis=1), 1.0, atol=1e-5)


def test_train_records_one_entry_per_epoch_and_validation_every_k():
    """Per-epoch curves: training loss/accuracy and wall seconds every epoch, clip-level validation
    on the epochs asked for (and the last), all rounded; validating never changes the fit."""
    keras = networks.configure_tensorflow(deterministic=True)
    rng = np.random.default_rng(0)
    mels = [rng.normal(-40, 10, size=(64, 200)).astype(np.float32) for _ in range(4)]
    val = ([rng.normal(-40, 10, size=(64, 150)).astype(np.float32) for _ in range(3)], [0, 1, 3])

    def fit(validation, every=1):
        keras.utils.set_random_seed(0)
        model = networks.build_model("cnn", filters=(4, 4, 4, 4, 4), n_classes=4, resolution=16)
        info = networks.train(model, deep.PatchSampler(mels, [0, 1, 2, 3], seed=0), scale=10.0, epochs=3,
                          patches_per_epoch=8, batch_size=4, progress=None, validation=validation,
                          validate_every=every)
        return info, model.get_weights()

    info, w_plain = fit(None)
    h = info["history"]
    assert set(h) == {"loss", "accuracy", "epoch_seconds"}             # no validation clips: no val curve
    assert len(h["loss"]) == len(h["accuracy"]) == len(h["epoch_seconds"]) == info["epochs"] == 3
    assert all(0 <= a <= 1 for a in h["accuracy"]) and all(s > 0 for s in h["epoch_seconds"])
    assert h["loss"][-1] == round(info["loss"], networks.HISTORY_DIGITS)
    assert all(v == round(v, networks.HISTORY_DIGITS) for v in h["loss"] + h["accuracy"])
    json.dumps(h)                                                         # small, plain JSON

    info_v, w_val = fit(val, every=2)
    hv = info_v["history"]
    assert hv["val_every"] == 2 and len(hv["val_loss"]) == len(hv["val_accuracy"]) == 3
    assert hv["val_loss"][0] is None and hv["val_accuracy"][0] is None   # epoch 1 not validated
    assert hv["val_loss"][1] is not None and hv["val_loss"][2] is not None   # epoch 2, and the last
    assert hv["val_loss"][2] > 0 and hv["val_accuracy"][2] in (0.0, 0.3333, 0.6667, 1.0)
    assert hv["loss"] == h["loss"]                                        # validation did not steer the fit
    for a, b in zip(w_plain, w_val):
        np.testing.assert_array_equal(a, b)


def test_build_model_rejects_unknown_arch():
    with pytest.raises(ValueError):
        networks.build_model("transformer")


def test_build_model_resolutions_and_lstm():
    """The input resolution is a fixed average-pooling of both axes; the LSTM reads the mel frames."""
    shapes = {}
    for arch in deep.ARCHS:
        for r in deep.RESOLUTIONS:
            m = networks.build_model(arch, n_classes=3, resolution=r)
            assert m.output_shape == (None, 3) and m.input_shape == (None, deep.MEL["n_mels"], deep.PATCH_FRAMES, 1)
            if r > 1:
                pool = m.get_layer(f"resolution_div{r}")
                shapes[(arch, r)] = tuple(pool.output.shape[1:3])
    assert shapes[("cnn", 4)] == (32, 65) and shapes[("cnn", 16)] == (16, 32)
    lstm = networks.build_model("lstm")
    assert [type(layer).__name__ for layer in lstm.layers].count("LSTM") == 2
    assert lstm.get_layer("lstm1").kernel_regularizer is not None
    with pytest.raises(ValueError, match="resolution"):
        networks.build_model("cnn", resolution=8)


def test_patch_network_exports_to_onnx_with_probs_and_embedding():
    """export_patch_model: the ONNX file answers like Keras (checked inside) with the two outputs the
    registry loader reads; the embedding is the layer before the head."""
    import onnxruntime as ort

    keras = networks.configure_tensorflow(deterministic=True)
    keras.utils.set_random_seed(0)
    model = networks.build_model("cnn", filters=(4, 4, 4, 4, 4), n_classes=3, resolution=16)
    X = np.random.default_rng(0).standard_normal((4, deep.MEL["n_mels"], deep.PATCH_FRAMES, 1)).astype(np.float32)
    data, info = networks.export_patch_model(model, X, say=None)
    assert info["embedding"] == "conv_pool" and info["outputs"] == ["probs", "embedding"]
    s = ort.InferenceSession(data, providers=["CPUExecutionProvider"])
    assert {o.name for o in s.get_outputs()} == {"probs", "embedding"}
    assert s.get_inputs()[0].name == "logmel"
    probs = s.run(["probs"], {"logmel": X})[0]
    np.testing.assert_allclose(probs, np.asarray(model(X, training=False)), atol=1e-4)


# ---------------------------------------------------------------- the Keras port of musicnn


def test_port_reproduces_original_graph(ref):
    out = networks.musicnn_forward(ref["patches"])
    assert out["probs"].shape == ref["probs"].shape == (ref["patches"].shape[0], 50)
    assert np.abs(out["probs"] - ref["probs"]).max() < 1e-4
    assert np.abs(out["logits"] - ref["logits"]).max() < 1e-4 * np.abs(ref["logits"]).max()
    for k in ("penultimate", "mean_pool", "max_pool"):
        assert np.abs(out[k] - ref[k]).max() < 1e-5 * max(1.0, np.abs(ref[k]).max()), k
    # the fixture is not degenerate: the blues excerpt's top tag is "blues"
    assert musicnn.MSD_LABELS[int(ref["probs"].mean(0).argmax())] == "blues"


def test_port_gives_the_pooled_mid_end(ref):
    out = networks.musicnn_forward(ref["patches"][:1])
    assert out["pool"].shape == (1, musicnn.POOL_DIM)
    assert out["mean_pool"].shape == out["max_pool"].shape == (1, musicnn.MIDEND_DIM)


def test_every_pretrained_graph_builds():
    for net, (arch, labels) in musicnn.NETWORKS.items():
        m = networks.build_pretrained(net)
        X = np.zeros((1, musicnn.PATCH_FRAMES, musicnn.MUSICNN_N_MELS), np.float32)
        assert m(X, training=False)["probs"].shape == (1, len(labels)), net
    with pytest.raises(ValueError):
        networks.build_pretrained("MSD_resnet")
