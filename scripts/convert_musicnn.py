"""Port the MSD_musicnn TensorFlow 1 checkpoint of the musicnn 0.1.0 wheel to ``models/musicnn/``.

Usage (project virtualenv; the wheel is downloaded, never installed: it pins numpy<1.17)::

    pip download --no-deps musicnn==0.1.0 -d /tmp/mnn
    unzip -q /tmp/mnn/musicnn-0.1.0-py3-none-any.whl -d /tmp/mnn/wheel
    .venv/bin/python scripts/convert_musicnn.py --wheel-dir /tmp/mnn/wheel

It reads the checkpoint with ``tf.compat.v1.train.NewCheckpointReader`` at the prefix
``musicnn/MSD_musicnn/`` (the files are named ``.index``/``.data-00000-of-00001``, i.e. an empty
basename; the shipped ``checkpoint`` file points at the author's home directory and is not used),
keeps the 64 inference arrays (drops Adam slots and step counters), checks that each matches
a layer of :func:`genre.training.networks.build_musicnn`, and writes them as float32 arrays named after the
TF1 variables to ``msd_musicnn.npz``. The wheel's ISC licence is copied to ``LICENSE`` and the folder
is registered (``genre.registry.save``, kind ``"musicnn"``: the zero-shot Predictor) with SHA-256
hashes in ``manifest.json``.
"""

from __future__ import annotations

import argparse
import io
import json
import sys
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

NOTICE = """musicnn MSD_musicnn weights, converted from the TensorFlow 1 checkpoint shipped in the
musicnn 0.1.0 wheel (https://pypi.org/project/musicnn/, https://github.com/jordipons/musicnn) by
scripts/convert_musicnn.py. Model: J. Pons and X. Serra, "musicnn: pre-trained convolutional neural
networks for music audio tagging", ISMIR 2019 late-breaking/demo. Trained on the Million Song Dataset
(last.fm top-50 tags). Licence of the original code and models (ISC), reproduced from the wheel's
LICENSE.md:

"""


def read_checkpoint(prefix: str) -> dict[str, np.ndarray]:
    """Inference variables of a TF1 checkpoint (optimizer slots and counters dropped)."""
    import tensorflow as tf

    reader = tf.compat.v1.train.NewCheckpointReader(prefix)
    out = {}
    for name in sorted(reader.get_variable_to_shape_map()):
        if "Adam" in name or name in ("beta1_power", "beta2_power", "global_step"):
            continue
        out[name] = np.asarray(reader.get_tensor(name), dtype=np.float32)
    return out


def npz_bytes(arrays: dict[str, np.ndarray]) -> bytes:
    """An uncompressed ``.npz`` (readable by ``np.load``) with fixed zip timestamps, so that the same
    arrays always give the same bytes and the same SHA-256."""
    import zipfile

    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", compression=zipfile.ZIP_STORED) as zf:
        for name in sorted(arrays):
            arr = io.BytesIO()
            np.lib.format.write_array(arr, np.ascontiguousarray(arrays[name]), allow_pickle=False)
            zf.writestr(zipfile.ZipInfo(name + ".npy", date_time=(1980, 1, 1, 0, 0, 0)), arr.getvalue())
    return buf.getvalue()


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--wheel-dir", type=Path, required=True,
                    help="folder where the musicnn-0.1.0 wheel was unzipped (holds musicnn/)")
    ap.add_argument("--name", default="musicnn", help="registry name (folder under models/)")
    ap.add_argument("--models-dir", type=Path, default=None, help="default: genre.config.MODELS_DIR")
    args = ap.parse_args(argv)

    from genre import registry
    from genre.models import musicnn
    from genre.training import networks

    ckpt_dir = args.wheel_dir / "musicnn" / "MSD_musicnn"
    weights = read_checkpoint(str(ckpt_dir) + "/")
    # fails loudly if any array is missing, unused or of the wrong shape
    networks.set_musicnn_weights(networks.build_musicnn(), weights)

    licence = (args.wheel_dir / "musicnn-0.1.0.dist-info" / "LICENSE.md").read_text()
    config = json.loads((ckpt_dir / "config.json").read_text())
    n_params = int(sum(v.size for v in weights.values()))
    manifest = {
        "display_name": "musicnn (zero-shot)",
        "kind": "musicnn",
        "family": "pretrained",
        "version": "1",
        "classes": list(musicnn.ZERO_SHOT_CLASSES),
        "feature_columns": None,
        "input": "audio",
        "weights": musicnn.WEIGHTS_FILE,
        "tags": list(musicnn.MSD_LABELS),
        "genre_tags": {g: list(t) for g, t in musicnn.GENRE_TAGS.items()},
        "trained_on": "Million Song Dataset, last.fm top-50 tags (pretrained by Pons & Serra); "
                      "no GTZAN training: zero-shot tag-to-genre mapping",
        "protocol": "zero-shot (no training on GTZAN)",
        "n_train": 0,
        "n_params": n_params,
        "source": "musicnn==0.1.0 wheel, musicnn/MSD_musicnn checkpoint "
                  f"(run {Path(config.get('name_run') or 'MSD_musicnn').name}, model_number "
                  f"{config.get('model_number')})",
        "licence": "ISC (see LICENSE)",
        "libraries": registry.library_versions(("tensorflow-cpu", "keras")),
    }
    folder = registry.save(args.name, {musicnn.WEIGHTS_FILE: npz_bytes(weights),
                                       "LICENSE": (NOTICE + licence).encode()},
                           manifest, args.models_dir)
    size = (folder / musicnn.WEIGHTS_FILE).stat().st_size
    print(f"wrote {folder}: {len(weights)} arrays, {n_params} parameters, "
          f"{musicnn.WEIGHTS_FILE} {size / 1e6:.2f} MB; next: scripts/export_onnx.py --wheel-dir "
          f"{args.wheel_dir} (prediction loads the ONNX export only)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
