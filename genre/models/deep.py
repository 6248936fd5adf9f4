"""CNN, CRNN and LSTM genre models on log-mel patches of 3 s, their data pipeline, training and Predictor.

Everything here is built for a small CPU: 64 mel bands up to 8 kHz, patches of 130 frames
(3 s at 22050 Hz, hop 512), five small convolution blocks (16-64 filters) and a global-pooling head.
This module runs at prediction time and never imports TensorFlow/Keras: the shipped networks run
through their ONNX export (:class:`OnnxPatchPredictor`, :mod:`genre.models.runtime`). Building,
training and Keras inference are offline, in :mod:`genre.training.networks`.

Pipeline
--------
1. :func:`clip_logmel` decodes a clip (:func:`genre.audio.load`, resampled to 22050 Hz) and computes its
   log-mel spectrogram (dB, float16) once; :func:`logmel_cache` keeps it under
   ``.cache/deep/`` keyed by the file's SHA-256 and :data:`MEL_VERSION`.
2. :class:`PatchSampler` draws training patches: genre-balanced sampling (every genre in the training
   set is drawn equally often; within a genre, clips are weighted by how many distinct 3-s patches
   they hold), a random 3-s crop (excerpts shorter than 3 s are looped), and cheap augmentation on the
   mel array: small time stretch (linear interpolation of the frame axis, x0.9-1.1), small pitch
   shift (fractional shift along the mel axis, +-1.5 bands, about +-1 semitone in the upper bands),
   additive noise floor, and one frequency and one time mask. Gain changes are absorbed by the
   per-patch normalisation (each patch's mean dB is subtracted), so level differences between the
   gain-scaled excerpts and the full clips cannot be learned.
3. :func:`genre.training.networks.build_model` (offline) makes the CNN (``"cnn"``), the parallel CRNN (``"crnn"``: the same conv
   stack plus a bidirectional GRU on a frequency-pooled copy of the spectrogram, concatenated) or a
   2-layer LSTM over the mel frames (``"lstm"``, dropout + L2), at full input resolution or with the
   input average-pooled to 1/4 or 1/16 of its values (:data:`RESOLUTIONS`). Each has as many outputs
   as the model's classes (any label set; GTZAN's ten genres for the shipped models).
4. :func:`genre.training.networks.train` fits a model with a fixed schedule (no early stopping on test data) and records
   per-epoch curves (training loss/accuracy, wall seconds, and clip-level validation loss/accuracy
   when it is given held-out clips that are not test clips).
5. :class:`PatchPredictor` cuts any input into 3-s segments, predicts each and averages the segment
   probabilities for the clip; :class:`OnnxPatchPredictor` runs the ONNX export
   (``scripts/export_onnx.py``); :func:`load` is the registry loader for kind ``"keras"`` (a manifest
   without an ``onnx`` entry is a :class:`~genre.errors.ModelError`; :func:`genre.training.networks.load_keras`
   loads such a ``model.keras`` offline).

Sample rates: every input is resampled to 22050 Hz; the mel filterbank stops at 8 kHz, so the clips
that reached us at 16 kHz (nothing above 8 kHz) look like the others to the model.
"""

from __future__ import annotations

import hashlib
import json
import os
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Sequence

import numpy as np

from genre.registry import sha256
from genre.config import CACHE_DIR, SR
from genre.errors import DataError, ModelError

__all__ = [
    "MEL", "MEL_VERSION", "PATCH_FRAMES", "SEGMENT_SECONDS", "logmel", "clip_logmel", "logmel_cache",
    "segment_patches", "normalise", "PatchSampler", "eval_patches", "RESOLUTIONS", "ARCHS", "pool_factor",
    "PatchPredictor", "OnnxPatchPredictor", "load",
]

#: Log-mel settings of every deep model here (recorded in each manifest).
MEL: dict[str, Any] = {"sr": SR, "n_fft": 1024, "hop_length": 512, "n_mels": 64, "fmin": 0.0,
                       "fmax": 8000.0}
#: Bump when :func:`logmel` values change (invalidates the cache).
MEL_VERSION = "1"
#: Segment length (s) and its length in frames (1 + 3 * 22050 // 512 = 130).
SEGMENT_SECONDS: float = 3.0
PATCH_FRAMES: int = 1 + int(SEGMENT_SECONDS * MEL["sr"]) // MEL["hop_length"]
#: Floor of the dB scale (power 1e-10); constant added to nothing else.
_DB_FLOOR = -100.0


# --------------------------------------------------------------------------------------------------
# Log-mel spectrograms and patches


def logmel(y: np.ndarray, sr: int = SR, **mel: Any) -> np.ndarray:
    """Log-mel spectrogram in dB with the deep models' settings (:data:`MEL`; :func:`genre.features.logmel`).

    Parameters
    ----------
    y : np.ndarray
        Mono samples at ``sr`` Hz (the deep models expect 22050 Hz).
    sr : int
        Sample rate (Hz).
    **mel
        Overrides of :data:`MEL` (``n_fft``, ``hop_length``, ``n_mels``, ``fmin``, ``fmax``).

    Returns
    -------
    np.ndarray
        ``(n_mels, frames)`` float32, ``10 log10(power)`` floored at -100 dB.
    """
    from genre import features  # noqa: PLC0415

    p = {**MEL, **mel}
    return features.logmel(np.asarray(y, dtype=np.float32), sr, n_fft=int(p["n_fft"]),
                           hop_length=int(p["hop_length"]), n_mels=int(p["n_mels"]),
                           fmin=float(p["fmin"]), fmax=float(p["fmax"]))


def _fit_length(m: np.ndarray, frames: int) -> np.ndarray:
    """Loop (tile) a spectrogram along time until it has at least ``frames`` frames."""
    if m.shape[1] >= frames:
        return m
    reps = int(np.ceil(frames / max(m.shape[1], 1)))
    return np.tile(m, (1, reps))[:, :frames] if m.shape[1] else np.full((m.shape[0], frames), _DB_FLOOR,
                                                                           dtype=m.dtype)


def normalise(patches: np.ndarray, scale: float) -> np.ndarray:
    """Model input from dB patches: subtract each patch's mean (gain invariance), divide by ``scale``.

    Parameters
    ----------
    patches : np.ndarray
        ``(n, n_mels, frames)`` dB values.
    scale : float
        Global dB standard deviation of the training patches (stored in the manifest).

    Returns
    -------
    np.ndarray
        ``(n, n_mels, frames, 1)`` float32.
    """
    x = np.asarray(patches, dtype=np.float32)
    x = (x - x.mean(axis=(1, 2), keepdims=True)) / float(scale)
    return x[..., None]


def segment_patches(m: np.ndarray, seconds: float = SEGMENT_SECONDS, sr: int = SR,
                    hop_length: int | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Cut a spectrogram into consecutive, non-overlapping 3-s patches.

    A clip shorter than 3 s is looped to one patch; a trailing remainder shorter than half a segment
    is dropped, a longer one becomes a last patch aligned to the clip's end.

    Returns
    -------
    starts_s : np.ndarray
        ``(n,)`` start time of each patch (s).
    patches : np.ndarray
        ``(n, n_mels, PATCH_FRAMES)``.
    """
    hop = int(hop_length or MEL["hop_length"])
    frames = 1 + int(seconds * sr) // hop
    total = m.shape[1]
    if total <= frames:
        return np.zeros(1), _fit_length(m, frames)[None, :, :frames]
    duration = total * hop / sr          # frames are centred: (total - 1) hops, plus one hop of slack
    n_full = int(duration // seconds)
    starts = [i * seconds for i in range(n_full)]
    if duration - n_full * seconds >= seconds / 2:
        starts.append((total - frames) * hop / sr)
    idx = [min(int(round(s * sr / hop)), total - frames) for s in starts]
    return np.asarray(starts, dtype=float), np.stack([m[:, i:i + frames] for i in idx])


_file_sha256 = sha256  # content key of the mel cache (the registry's file hash)


def clip_logmel(path: str | Path, sr: int = SR) -> np.ndarray:
    """Decode one audio file (resampled to ``sr``) and return its log-mel (dB, float32)."""
    from genre.audio import load as load_audio  # noqa: PLC0415

    sig = load_audio(path, sr=sr, min_seconds=0.5)
    return logmel(sig.y, sr=sr)


def logmel_cache(paths: Sequence[str | Path], cache_dir: str | Path | None = None,
                 progress: Callable[[str], None] | None = print) -> list[np.ndarray]:
    """Log-mels of many files, computed once and kept as ``.npy`` (float16) in ``cache_dir``.

    Parameters
    ----------
    paths : sequence of path
        Audio files.
    cache_dir : path, optional
        Default ``<CACHE_DIR>/deep``.
    progress : callable, optional
        Called with a progress line every 50 files (``None`` for silence).

    Returns
    -------
    list of np.ndarray
        One ``(n_mels, frames)`` float32 array per path.
    """
    cdir = Path(cache_dir) if cache_dir is not None else CACHE_DIR / "deep"
    cdir.mkdir(parents=True, exist_ok=True)
    tag = hashlib.sha256(json.dumps([MEL_VERSION, MEL], sort_keys=True).encode()).hexdigest()[:10]
    out = []
    t0 = time.perf_counter()
    for i, p in enumerate(paths):
        key = cdir / f"mel_{tag}_{_file_sha256(p)[:32]}.npy"
        if key.is_file():
            m = np.load(key).astype(np.float32)
        else:
            m = clip_logmel(p)
            tmp = key.with_suffix(".tmp.npy")
            np.save(tmp, m.astype(np.float16))
            os.replace(tmp, key)
        out.append(m)
        if progress and (i + 1) % 50 == 0:
            progress(f"  log-mel {i + 1}/{len(paths)} ({time.perf_counter() - t0:.0f} s)")
    return out


# --------------------------------------------------------------------------------------------------
# Training data


def _interp_axis(x: np.ndarray, coords: np.ndarray, axis: int) -> np.ndarray:
    """Linear interpolation of ``x`` at fractional positions ``coords`` along ``axis`` (clamped)."""
    n = x.shape[axis]
    c = np.clip(coords, 0, n - 1)
    lo = np.floor(c).astype(int)
    hi = np.minimum(lo + 1, n - 1)
    w = (c - lo).astype(np.float32)
    a = np.take(x, lo, axis=axis)
    b = np.take(x, hi, axis=axis)
    shape = [1] * x.ndim
    shape[axis] = len(coords)
    w = w.reshape(shape)
    return a * (1 - w) + b * w


@dataclass
class PatchSampler:
    """Genre-balanced random 3-s patches with mel-domain augmentation.

    Parameters
    ----------
    mels : list of np.ndarray
        ``(n_mels, frames)`` dB spectrograms, one per training clip.
    labels : sequence of int
        Class index (into the model's classes) per clip.
    seed : int
        Seed of the sampler's own generator.
    augment : bool
        Apply time stretch, pitch shift, noise floor and masks.
    """

    mels: list[np.ndarray]
    labels: Sequence[int]
    seed: int = 0
    augment: bool = True
    frames: int = PATCH_FRAMES
    rng: np.random.Generator = field(init=False, repr=False)

    def __post_init__(self) -> None:
        if len(self.mels) != len(self.labels) or not len(self.mels):
            raise DataError("PatchSampler needs one label per spectrogram and at least one clip.")
        self.labels = np.asarray(self.labels, dtype=int)
        self.mels = [_fit_length(np.asarray(m, dtype=np.float32), int(self.frames * 1.12) + 2)
                     for m in self.mels]
        self.rng = np.random.default_rng(self.seed)
        # clip weight = distinct patches it holds; each genre present gets the same total weight
        n_patches = np.array([max(1, m.shape[1] // self.frames) for m in self.mels], dtype=float)
        w = np.zeros(len(self.mels))
        present = np.unique(self.labels)
        for g in present:
            sel = self.labels == g
            w[sel] = n_patches[sel] / n_patches[sel].sum() / len(present)
        self.weights = w / w.sum()

    def sample(self, n: int) -> tuple[np.ndarray, np.ndarray]:
        """Draw ``n`` patches. Returns ``(patches (n, n_mels, frames) dB, labels (n,))``."""
        idx = self.rng.choice(len(self.mels), size=n, p=self.weights)
        out = np.empty((n, self.mels[0].shape[0], self.frames), dtype=np.float32)
        for k, i in enumerate(idx):
            out[k] = self._patch(self.mels[i])
        return out, self.labels[idx]

    def _patch(self, m: np.ndarray) -> np.ndarray:
        rng, F = self.rng, self.frames
        stretch = rng.uniform(0.9, 1.1) if self.augment else 1.0
        span = F * stretch
        start = rng.uniform(0, max(m.shape[1] - span - 1, 0))
        x = _interp_axis(m, start + np.arange(F) * stretch, axis=1)
        if not self.augment:
            return x
        shift = rng.uniform(-1.5, 1.5)
        x = _interp_axis(x, np.arange(x.shape[0]) + shift, axis=0)
        if rng.random() < 0.5:  # additive noise floor, 30-60 dB below the patch's peak, in power
            floor = x.max() - rng.uniform(30, 60) + rng.normal(0, 2, size=(x.shape[0], 1))
            x = 10 * np.log10(10 ** (x / 10) + 10 ** (floor / 10) * rng.uniform(0.5, 1.5, size=x.shape))
        mean = x.mean()
        if rng.random() < 0.5:  # frequency mask
            w = rng.integers(1, 8)
            f0 = rng.integers(0, x.shape[0] - w)
            x[f0:f0 + w] = mean
        if rng.random() < 0.5:  # time mask
            w = rng.integers(1, 16)
            t0 = rng.integers(0, F - w)
            x[:, t0:t0 + w] = mean
        return x.astype(np.float32)


def eval_patches(mels: Sequence[np.ndarray]) -> tuple[np.ndarray, np.ndarray]:
    """All segment patches of several clips. Returns ``(patches, clip_index)``."""
    chunks, owner = [], []
    for i, m in enumerate(mels):
        _, p = segment_patches(np.asarray(m, dtype=np.float32))
        chunks.append(p)
        owner.extend([i] * len(p))
    return np.concatenate(chunks), np.asarray(owner)


# --------------------------------------------------------------------------------------------------
# Models


#: Input resolutions the networks can be built at: the number of log-mel values is divided by this,
#: by average-pooling both the mel and the time axis by its square root (1: 64 x 130, 4: 32 x 65,
#: 16: 16 x 32), as in the MagnaTagATune study's resolution comparison.
RESOLUTIONS: tuple[int, ...] = (1, 4, 16)
#: Architectures :func:`genre.training.networks.build_model` makes.
ARCHS: tuple[str, ...] = ("cnn", "crnn", "lstm")


def pool_factor(resolution: int) -> int:
    """Average-pooling factor along each axis for input ``resolution`` (:data:`RESOLUTIONS`)."""
    if resolution not in RESOLUTIONS:
        raise ValueError(f"resolution must be one of {RESOLUTIONS} (the input divided by it), not {resolution!r}.")
    return int(round(resolution ** 0.5))


# --------------------------------------------------------------------------------------------------
# Predictor and registry loader


class PatchPredictor:
    """A CNN/CRNN/LSTM on log-mel patches behind the shared Predictor interface: log-mel, 3-s
    segments, normalisation and averaging; subclasses run the network (:meth:`_probs`).

    Parameters
    ----------
    manifest : dict
        Its manifest; ``manifest["preprocessing"]`` holds the mel settings and ``scale``.
    name : str, optional
        Name used when the manifest has none.
    """

    def __init__(self, manifest: dict, name: str = ""):
        self.manifest = manifest
        self.name = manifest["name"] if "name" in manifest else name
        pre = manifest.get("preprocessing", {})
        self.mel = {k: pre.get(k, v) for k, v in MEL.items()}
        self.scale = float(pre.get("scale", 1.0))
        self.classes = tuple(str(c) for c in manifest.get("classes") or ())

    def _check_outputs(self, n_out: int | None) -> None:
        if n_out is not None and len(self.classes) != n_out:
            raise ModelError(f"Model {self.name}: its manifest lists {len(self.classes)} classes but the "
                             f"network has {n_out} outputs.")

    def _probs(self, patches: np.ndarray) -> np.ndarray:
        """``(n, k)`` probabilities of ``(n, n_mels, frames)`` dB patches."""
        raise NotImplementedError

    def predict_segments(self, y: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Per-3-s-segment probabilities.

        Parameters
        ----------
        y : np.ndarray
            Mono float32 samples at 22050 Hz.

        Returns
        -------
        starts_s : np.ndarray
            ``(n,)`` segment starts (s).
        probs : np.ndarray
            ``(n, k)`` probabilities in :attr:`classes` order.
        """
        m = logmel(y, sr=int(self.mel["sr"]), **{k: v for k, v in self.mel.items() if k != "sr"})
        starts, patches = segment_patches(m, sr=int(self.mel["sr"]), hop_length=int(self.mel["hop_length"]))
        probs = np.concatenate([self._probs(patches[i:i + 64]) for i in range(0, len(patches), 64)])
        return starts, probs

    def predict_clip(self, y: np.ndarray) -> np.ndarray:
        """``(k,)`` clip probabilities (:attr:`classes` order): the mean of the segment probabilities."""
        return self.predict_segments(y)[1].mean(axis=0)


class OnnxPatchPredictor(PatchPredictor):
    """:class:`PatchPredictor` with the network run by onnxruntime (``genre.models.runtime``), no TensorFlow.

    ``path`` is the ``.onnx`` export of the Keras model (``scripts/export_onnx.py``: input ``logmel``
    (n, 64, 130, 1) normalised patches, outputs ``probs`` and ``embedding``).
    """

    def __init__(self, path: str | Path, manifest: dict):
        super().__init__({"name": Path(path).parent.name, **manifest})
        self.path = Path(path)
        from genre.models import runtime  # noqa: PLC0415

        probs = [o for o in runtime.session(self.path).get_outputs() if o.name == "probs"]
        dim = probs[0].shape[-1] if probs else None
        self._check_outputs(dim if isinstance(dim, int) else None)

    def _probs(self, patches: np.ndarray) -> np.ndarray:
        from genre.models import runtime  # noqa: PLC0415

        x = normalise(patches, self.scale).astype(np.float32)
        return np.asarray(runtime.run(self.path, x)["probs"], dtype=np.float64)


def load(model_dir: str | Path, manifest: dict) -> OnnxPatchPredictor:
    """Registry loader for kind ``"keras"``: ``manifest["onnx"]`` (e.g. ``model.onnx``) ->
    :class:`OnnxPatchPredictor` (no TensorFlow).

    A manifest without ``onnx`` (made before the ONNX export) is a :class:`ModelError` naming the fix,
    ``python scripts/export_onnx.py --keras-models NAME``; offline code can still run its
    ``model.keras`` through :func:`genre.training.networks.load_keras`."""
    if not manifest.get("onnx"):
        name = manifest.get("name") or Path(model_dir).name
        raise ModelError(
            f"Model {name!r} has no ONNX export (its manifest was made before the export and names only "
            f"model.keras), and prediction does not run Keras. Export it once, with the training "
            f"requirements installed: python scripts/export_onnx.py --keras-models {name} "
            f"(set GENRE_MODELS_DIR to its models folder if it is not the shipped one).")
    from genre.registry import model_file

    return OnnxPatchPredictor(model_file(model_dir, manifest, manifest["onnx"]), manifest)
