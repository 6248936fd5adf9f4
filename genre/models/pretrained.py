"""The pretrained ensemble: four musicnn networks (run by onnxruntime) + one calibrated linear head.

The musicnn 0.1.0 wheel's four taggers (Pons & Serra 2019; ISC licence) -- ``MSD_musicnn`` and
``MSD_vgg`` (Million Song Dataset, 50 last.fm tags), ``MTT_musicnn`` and ``MTT_vgg``
(MagnaTagATune, 50 tags) -- are exported to ONNX by ``scripts/export_onnx.py``. Each returns, in one
call, its 50 tag probabilities and its penultimate embedding (200 values for musicnn, 256 for vgg).

Clip vector (:func:`clip_vector`, :data:`FEATURE_DIM` = 2024 values): for every network in
:data:`NETS` order, the mean and the max over patches of its embedding, then the mean of its tag
probabilities. Patches are musicnn's 187-frame (2.992-s) log-mel patches taken every
:data:`HOP_FRAMES` frames (1.504 s, about half overlap); a signal shorter than one patch is
repeat-padded to one patch (musicnn's own training padding). Per segment (:func:`segment_vectors`)
the same layout is computed on one patch (mean = max = the patch's embedding).

The head (fitted by ``genre/training/pretrained_fit.py``) is a scikit-learn pipeline on that vector; its
logits (``decision_function``, or log-probabilities) are divided by a temperature fitted on
out-of-fold predictions, then soft-maxed. :func:`load` is the registry loader for kind
``"pretrained_onnx"``. Nothing here imports TensorFlow.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from genre.models import runtime
from genre.config import SR
from genre.errors import ModelError

__all__ = ["NETS", "HOP_FRAMES", "FEATURE_VERSION", "EMBED_DIMS", "FEATURE_DIM", "MAX_GAIN_DB", "normalise_loudness",
           "patches", "select_patches",
           "network_outputs", "clip_vector", "segment_vectors", "feature_names", "transform", "softmax",
           "PretrainedPredictor", "load"]

#: The four networks, in the order their blocks appear in the clip vector.
NETS: tuple[str, ...] = ("MSD_musicnn", "MTT_musicnn", "MSD_vgg", "MTT_vgg")
#: Embedding width of each network.
EMBED_DIMS: dict[str, int] = {"MSD_musicnn": 200, "MTT_musicnn": 200, "MSD_vgg": 256, "MTT_vgg": 256}
N_TAGS: int = 50
#: Step between patches (frames of 16 ms): 94 frames = 1.504 s.
HOP_FRAMES: int = 94
#: Bump when the clip vector's values change (invalidates cached vectors).
FEATURE_VERSION: str = "1"
FEATURE_DIM: int = sum(2 * d + N_TAGS for d in EMBED_DIMS.values())
#: Most gain :func:`normalise_loudness` applies (dB): a near-silent input is not blown up to full level.
MAX_GAIN_DB: float = 40.0


def normalise_loudness(y: np.ndarray, rms_dbfs: float | None) -> np.ndarray:
    """``y`` scaled so that its RMS level is ``rms_dbfs`` dB full scale (None: unchanged).

    musicnn's input is ``log10(1 + 10000 * mel power)``, which is not invariant to gain: a quiet
    upload or phone recording looks like different music to the networks (a -20 dB copy of the
    test clips lost 27 points with version 1 of the ensemble). Models whose manifest names a level
    (``vector.rms_dbfs``) bring every input to it first; the gain is capped at :data:`MAX_GAIN_DB`.
    """
    if rms_dbfs is None:
        return y
    y = np.asarray(y, dtype=np.float32)
    rms = float(np.sqrt(np.mean(np.square(y, dtype=np.float64)))) if len(y) else 0.0
    if not rms > 0:
        return y
    gain_db = min(float(rms_dbfs) - 20 * np.log10(rms), MAX_GAIN_DB)
    return (y * np.float32(10 ** (gain_db / 20))).astype(np.float32)


def patches(y: np.ndarray, sr: int = SR, hop_frames: int = HOP_FRAMES,
            rms_dbfs: float | None = None) -> tuple[np.ndarray, np.ndarray]:
    """musicnn log-mel patches every ``hop_frames`` frames (after :func:`normalise_loudness`).

    Parameters
    ----------
    y : np.ndarray
        Mono audio at ``sr`` Hz.
    sr : int
        Sample rate (Hz).
    hop_frames : int
        Step between patch starts (frames of 256 samples at 16 kHz).
    rms_dbfs : float, optional
        Bring the input to this RMS level first (:func:`normalise_loudness`).

    Returns
    -------
    starts_s : np.ndarray
        ``(n,)`` patch starts (s).
    X : np.ndarray
        ``(n, 187, 96)`` float32; input shorter than one patch is repeat-padded to one patch.
    """
    from genre.models import musicnn

    rep = musicnn.logmel(normalise_loudness(y, rms_dbfs), sr)
    n = rep.shape[0]
    if n == 0:
        raise ValueError("y is empty.")
    F = musicnn.PATCH_FRAMES
    if n < F:
        rep = np.tile(rep, (int(np.ceil(F / n)), 1))[:F]
        n = F
    starts = np.arange(0, n - F + 1, hop_frames)
    X = np.stack([rep[s:s + F] for s in starts]).astype(np.float32)
    return starts * (musicnn.MUSICNN_HOP / musicnn.MUSICNN_SR), X


def select_patches(n: int, max_patches: int | None) -> np.ndarray:
    """Indices of the patches analysed: all ``n``, or ``max_patches`` evenly spread over them
    (first and last included), so long inputs cost a bounded time."""
    if max_patches is None or n <= max_patches:
        return np.arange(n)
    return np.unique(np.round(np.linspace(0, n - 1, max_patches)).astype(int))


def network_outputs(X: np.ndarray, folder: str | Path) -> dict[str, dict[str, np.ndarray]]:
    """Run the four networks ``folder/<net>.onnx`` on patches ``X``: ``{net: {"probs", "embedding"}}``."""
    folder = Path(folder)
    return {net: runtime.run(folder / f"{net}.onnx", X) for net in NETS}


def clip_vector(outs: dict[str, dict[str, np.ndarray]]) -> np.ndarray:
    """``(FEATURE_DIM,)``: per network, mean and max of the embedding over patches, mean tag probabilities."""
    parts = []
    for net in NETS:
        e, p = outs[net]["embedding"], outs[net]["probs"]
        parts += [e.mean(axis=0), e.max(axis=0), p.mean(axis=0)]
    return np.concatenate(parts).astype(np.float32)


def segment_vectors(outs: dict[str, dict[str, np.ndarray]]) -> np.ndarray:
    """``(n_patches, FEATURE_DIM)``: :func:`clip_vector`'s layout computed on each patch alone."""
    parts = []
    for net in NETS:
        e, p = outs[net]["embedding"], outs[net]["probs"]
        parts += [e, e, p]
    return np.concatenate(parts, axis=1).astype(np.float32)


def feature_names() -> list[str]:
    """Names of the clip vector's columns (``MSD_musicnn.emb_mean.0`` ... ``MTT_vgg.tag.49``)."""
    out = []
    for net in NETS:
        for part, n in (("emb_mean", EMBED_DIMS[net]), ("emb_max", EMBED_DIMS[net]), ("tag", N_TAGS)):
            out += [f"{net}.{part}.{i}" for i in range(n)]
    return out


def transform(F: np.ndarray, tag_transform: str | None = None) -> np.ndarray:
    """The head's input from clip (or segment) vectors: ``tag_transform="logit"`` replaces every
    tag probability ``p`` by ``log(p / (1 - p))`` (p clipped to [1e-4, 1 - 1e-4]); ``None`` keeps them."""
    F = np.asarray(F, dtype=np.float32)
    if tag_transform is None:
        return F
    if tag_transform != "logit":
        raise ModelError(f"Unknown tag_transform {tag_transform!r}.")
    F = F.copy()
    idx = _tag_columns()
    p = np.clip(F[:, idx], 1e-4, 1 - 1e-4)
    F[:, idx] = np.log(p / (1 - p))
    return F


def _tag_columns() -> np.ndarray:
    return np.array([i for i, n in enumerate(feature_names()) if ".tag." in n])


def softmax(z: np.ndarray) -> np.ndarray:
    z = np.asarray(z, dtype=np.float64)
    z = z - z.max(axis=1, keepdims=True)
    e = np.exp(z)
    return e / e.sum(axis=1, keepdims=True)


def head_logits(head: Any, X: np.ndarray) -> np.ndarray:
    """Logits of a fitted head: ``decision_function`` when it has one, else log ``predict_proba``."""
    if hasattr(head, "decision_function"):
        return np.asarray(head.decision_function(X), dtype=np.float64)
    return np.log(np.clip(head.predict_proba(X), 1e-12, None))


class PretrainedPredictor:
    """Four ONNX musicnn networks + a calibrated linear head behind the Predictor interface.

    Parameters
    ----------
    head : sklearn estimator
        Fitted on :func:`clip_vector` rows; ``classes_`` are indices into ``classes``.
    temperature : float
        Logits are divided by it before the softmax (fitted on out-of-fold predictions).
    folder : path
        Folder holding ``<net>.onnx`` for every net in :data:`NETS`.
    manifest : dict
    """

    def __init__(self, head: Any, temperature: float, folder: str | Path, manifest: dict,
                 max_patches: int | None = None):
        self.head = head
        self.max_patches = max_patches
        self.temperature = float(temperature)
        self.folder = Path(folder)
        self.manifest = dict(manifest)
        self.name = self.manifest.get("name", "pretrained")
        self.tag_transform = (self.manifest.get("vector") or {}).get("tag_transform")
        self.rms_dbfs = (self.manifest.get("vector") or {}).get("rms_dbfs")
        classes = self.manifest.get("classes")
        if not classes:
            raise ModelError(f"Model {self.manifest.get('name')}: its manifest lists no classes.")
        self.classes = list(classes)
        if not self.temperature > 0:
            raise ModelError(f"Model {self.name}: temperature must be > 0, not {temperature}.")
        self._cols = [int(c) for c in head.classes_]

    def _proba(self, F: np.ndarray) -> np.ndarray:
        F = transform(F, self.tag_transform)
        p = softmax(head_logits(self.head, F) / self.temperature)
        out = np.zeros((len(F), len(self.classes)))
        out[:, self._cols] = p
        return out

    def outputs(self, y: np.ndarray) -> tuple[np.ndarray, dict[str, dict[str, np.ndarray]]]:
        """``(starts_s, {net: {"probs" (n, 50), "embedding"}})`` for mono float32 ``y`` at 22050 Hz.

        The last input's outputs are kept (keyed by a hash of its samples), so ``predict_segments``
        then ``predict_clip`` on the same audio (what ``genre.predict`` does) run the networks once."""
        import hashlib
        import threading

        y = np.ascontiguousarray(y, dtype=np.float32)
        key = hashlib.blake2b(y.tobytes(), digest_size=16).hexdigest()
        lock = self.__dict__.setdefault("_lock", threading.Lock())
        with lock:
            last = self.__dict__.get("_last")
            if last is not None and last[0] == key:
                return last[1]
        starts, X = patches(y, SR, rms_dbfs=self.rms_dbfs)
        keep = select_patches(len(X), self.max_patches)
        out = (starts[keep], network_outputs(X[keep], self.folder))
        with lock:
            self._last = (key, out)
        return out

    def predict_segments(self, y: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Per 2.992-s patch, one every 1.504 s (or the ``max_patches`` analysed):
        ``(starts_s (n,), probs (n, 10))``."""
        starts, outs = self.outputs(y)
        return starts, self._proba(segment_vectors(outs))

    def predict_clip(self, y: np.ndarray) -> np.ndarray:
        """``(10,)`` probabilities from the clip vector (pooled over all patches)."""
        _, outs = self.outputs(y)
        return self._proba(clip_vector(outs)[None])[0]

    def predict_vectors(self, F: np.ndarray) -> np.ndarray:
        """``(n, 10)`` probabilities from precomputed clip vectors (evaluation)."""
        return self._proba(np.asarray(F, dtype=np.float32))


def load(model_dir: str | Path, manifest: dict) -> PretrainedPredictor:
    """Registry loader for kind ``"pretrained_onnx"``: ``head.skops`` + ``<net>.onnx`` x 4."""
    from genre.registry import load_skops

    model_dir = Path(model_dir)
    missing = [n for n in NETS if f"{n}.onnx" not in (manifest.get("files") or {})]
    if missing:
        raise ModelError(f"Model {manifest.get('name')}: networks {missing} are not in its manifest.")
    head = load_skops(model_dir / "head.skops", manifest)
    return PretrainedPredictor(head, manifest.get("temperature", 1.0), model_dir, manifest,
                               max_patches=(manifest.get("vector") or {}).get("max_patches"))
