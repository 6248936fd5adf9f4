"""Export every shipped network to ONNX, so that prediction runs on onnxruntime without TensorFlow.

Usage (project virtualenv with the training requirements, ``requirements-train.txt``)::

    pip download --no-deps musicnn==0.1.0 -d /tmp/mnn
    unzip -q /tmp/mnn/musicnn-0.1.0-py3-none-any.whl -d /tmp/mnn/wheel
    .venv/bin/python scripts/export_onnx.py --wheel-dir /tmp/mnn/wheel

What it does, once (offline):

1. The four networks of the musicnn 0.1.0 wheel (``MSD_musicnn``, ``MTT_musicnn``, ``MSD_vgg``,
   ``MTT_vgg``): the TF1 checkpoint is read (``scripts/convert_musicnn.read_checkpoint``), loaded into
   the Keras 3 port (:func:`genre.training.networks.build_pretrained`, checked against the original
   graphs by ``tests/test_networks.py``/``tests/test_onnx.py``) and converted with ``tf2onnx`` to
   ``.cache/onnx/<net>.onnx``. One ONNX call returns two outputs: ``probs`` (n, 50) sigmoid tag
   probabilities and ``embedding`` (the penultimate layer: musicnn's 200-unit ``penultimate``,
   vgg's 256-value flattened ``pool5``). Input ``logmel`` (n, 187, 96) float32 patches
   (:func:`genre.models.musicnn.patches`).
2. The shipped CNN and CRNN (``models/cnn/model.keras``, ``models/crnn/model.keras``): converted the
   same way with outputs ``probs`` (n, 10) and ``embedding`` (the pooled features before the softmax
   layer); input ``logmel`` (n, 64, 130, 1) normalised patches (:func:`genre.models.deep.normalise`).
3. Re-registers the shipped folders with the ``.onnx`` beside their old files (``registry.save``
   recomputes every SHA-256) and ``manifest["onnx"]`` naming it, which is what the loaders use:
   ``models/musicnn`` (MSD_musicnn; its ``.npz`` weights stay for the Keras port's tests),
   ``models/musicnn_logreg`` (head + ``msd_musicnn.onnx``; the duplicate ``.npz`` is dropped),
   ``models/cnn`` and ``models/crnn`` (``model.onnx``; ``model.keras`` stays for retraining and the
   parity tests). ``models/pretrained`` takes its four networks from ``.cache/onnx`` (see
   ``genre/training/pretrained_fit.py``).

Each exported network is checked against its Keras model on real patches before it is written
(max abs difference printed; the script fails above 1e-4).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "scripts"))

from genre.training.networks import OPSET  # noqa: E402

ONNX_DIR = ROOT / ".cache" / "onnx"


PRODUCER = "genre scripts/export_onnx.py (tf2onnx)"


def to_onnx(keras_model, input_shape: tuple, outputs: dict[str, str]) -> bytes:
    """:func:`genre.training.networks.to_onnx` with this script's producer name."""
    from genre.training import networks

    return networks.to_onnx(keras_model, input_shape, outputs, producer=PRODUCER)


def check(onnx_bytes: bytes, keras_out: dict[str, np.ndarray], X: np.ndarray, what: str) -> float:
    """Max abs difference between the ONNX and Keras outputs on ``X``; exit above 1e-4."""
    from genre.errors import ModelError
    from genre.training import networks

    try:
        return networks.check_onnx(onnx_bytes, keras_out, X, what)
    except ModelError as exc:
        raise SystemExit(str(exc)) from exc


def real_clip(seconds: float = 12.0) -> np.ndarray:
    from genre.audio import load
    from genre.config import data_dir

    return load(data_dir() / "audio" / "rock" / "rock.00003.flac").y[: int(seconds * 22050)]


def export_musicnn_nets(wheel_dir: Path) -> dict[str, Path]:
    from convert_musicnn import read_checkpoint

    from genre.models import musicnn
    from genre.training import networks

    X = musicnn.patches(real_clip())[1]
    ONNX_DIR.mkdir(parents=True, exist_ok=True)
    out = {}
    for net, (arch, _) in musicnn.NETWORKS.items():
        model = networks.build_pretrained(net)
        networks.set_musicnn_weights(model, read_checkpoint(str(wheel_dir / "musicnn" / net) + "/"))
        emb = "pool5" if arch == "vgg" else "penultimate"
        data = to_onnx(model, (musicnn.PATCH_FRAMES, musicnn.MUSICNN_N_MELS),
                       {"probs": "probs", "embedding": emb})
        ref = model(X, training=False)
        check(data, {"probs": ref["probs"], "embedding": ref[emb]}, X, net)
        path = ONNX_DIR / f"{net}.onnx"
        path.write_bytes(data)
        out[net] = path
        print(f"wrote {path} ({len(data) / 1e6:.2f} MB)")
    return out


def export_keras_file(path: Path, embed_layer: str, scale: float) -> bytes:
    import keras

    from genre.models import deep
    from genre.training import networks

    networks.configure_tensorflow()
    model = keras.saving.load_model(path, compile=False)
    both = keras.Model(model.input, {"probs": model.output, "embedding": model.get_layer(embed_layer).output})
    m = deep.logmel(real_clip())
    _, P = deep.segment_patches(m)
    X = deep.normalise(P, scale).astype(np.float32)
    data = to_onnx(both, tuple(X.shape[1:]), {"probs": "probs", "embedding": "embedding"})
    ref = both(X, training=False)
    check(data, {k: np.asarray(v) for k, v in ref.items()}, X, str(path))
    return data


def export_keras_models(names) -> int:
    """Export shipped Keras patch models (kind ``keras``) and re-register each with ``model.onnx``.

    The embedding output is the layer that feeds the classifier head (the one before
    ``head_drop``: ``conv_pool`` for the CNNs, ``parallel`` for the CRNN, ``lstm2`` for the LSTMs).
    """
    import keras

    from genre import registry
    from genre.training import networks

    networks.configure_tensorflow()
    versions = registry.library_versions(("onnx", "onnxruntime", "tf2onnx", "tensorflow-cpu", "keras"))
    for name in names:
        folder = registry.model_dir(name)
        man = registry.verify(name)
        if man.get("kind") != "keras":
            raise SystemExit(f"{name}: kind {man.get('kind')!r}, not a Keras patch model")
        model = keras.saving.load_model(folder / "model.keras", compile=False)
        layer = networks.embedding_layer(model)
        data = export_keras_file(folder / "model.keras", layer, float(man["preprocessing"]["scale"]))
        files = {f: (folder / f).read_bytes() for f in man["files"] if f != "model.onnx"}
        files["model.onnx"] = data
        new = {k: v for k, v in man.items() if k != "files"}
        new["onnx"] = "model.onnx"
        new["onnx_info"] = {"input": "logmel", "outputs": ["probs", "embedding"], "opset": OPSET,
                            "exported_by": "scripts/export_onnx.py --keras-models", "embedding": layer}
        new["libraries"] = {**man.get("libraries", {}), **versions}
        registry.save(name, files, new)
        print(f"re-registered models/{name} with model.onnx (embedding: {layer})")
    return 0


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--keras-models", nargs="+", metavar="NAME",
                    help="export only these shipped Keras models (CNN/CRNN/LSTM variants: kind 'keras') "
                         "and re-register them with model.onnx; the wheel is not needed")
    ap.add_argument("--wheel-dir", type=Path,
                    help="folder where the musicnn-0.1.0 wheel was unzipped (holds musicnn/)")
    ap.add_argument("--only-nets", action="store_true", help="write .cache/onnx only, touch no model folder")
    args = ap.parse_args(argv)
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    os.environ.setdefault("TF_ENABLE_ONEDNN_OPTS", "0")

    from genre import registry
    from genre.models import musicnn

    if args.keras_models:
        return export_keras_models(args.keras_models)
    if args.wheel_dir is None:
        ap.error("--wheel-dir is required (or --keras-models NAME ...)")
    nets = export_musicnn_nets(args.wheel_dir)
    if args.only_nets:
        return 0
    versions = registry.library_versions(("onnx", "onnxruntime", "tf2onnx", "tensorflow-cpu", "keras"))
    onnx_info = {"input": "logmel", "outputs": ["probs", "embedding"], "opset": OPSET,
                 "exported_by": "scripts/export_onnx.py"}

    def resave(name: str, onnx_name: str, onnx_src, drop: tuple[str, ...] = (), extra: dict | None = None):
        folder = registry.model_dir(name)
        man = registry.verify(name)
        files = {f: folder / f for f in man["files"] if f not in drop and f != onnx_name}
        files[onnx_name] = onnx_src
        man = {k: v for k, v in man.items() if k not in ("files",)}
        man["onnx"] = onnx_name
        man["onnx_info"] = {**onnx_info, **(extra or {})}
        man["libraries"] = {**man.get("libraries", {}), **versions}
        if drop and man.get("weights") in drop:
            man.pop("weights")
        # copy to memory first: registry.save replaces the folder the sources live in
        files = {f: (src.read_bytes() if isinstance(src, Path) else src) for f, src in files.items()}
        registry.save(name, files, man)
        print(f"re-registered models/{name} with {onnx_name}")

    msd = nets["MSD_musicnn"].read_bytes()
    emb = {"embedding": "penultimate (200)", "net": "MSD_musicnn"}
    resave("musicnn", "msd_musicnn.onnx", msd, extra=emb)
    resave("musicnn_logreg", "msd_musicnn.onnx", msd, drop=(musicnn.WEIGHTS_FILE,), extra=emb)
    for name, layer in (("cnn", "conv_pool"), ("crnn", "parallel")):
        man = registry.verify(name)
        scale = float(man["preprocessing"]["scale"])
        data = export_keras_file(registry.model_dir(name) / "model.keras", layer, scale)
        resave(name, "model.onnx", data, extra={"embedding": layer})
    print(json.dumps({k: str(v) for k, v in nets.items()}))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
