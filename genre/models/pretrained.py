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
           "patches", "select_patches", "HIGH_BAND_HZ", "high_band_db",
           "network_outputs", "clip_vector", "segment_vectors", "feature_names", "transform", "softmax",
           "detector_columns", "embedding_id", "MusicDetector", "PretrainedPredictor", "load"]

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

    return cut_patches(musicnn.logmel(normalise_loudness(y, rms_dbfs), sr), hop_frames)


def cut_patches(rep: np.ndarray, hop_frames: int = HOP_FRAMES) -> tuple[np.ndarray, np.ndarray]:
    """:func:`patches` of a musicnn log-mel ``rep`` ``(frames, 96)`` already computed."""
    from genre.models import musicnn

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


#: Lower edge (Hz) of the high band whose share of an input's power tells band-limited audio.
HIGH_BAND_HZ: float = 4000.0


def high_band_db(X: np.ndarray) -> float:
    """Share of the mel power above :data:`HIGH_BAND_HZ` in musicnn log-mel patches, in dB.

    ``X`` is ``(n, 187, 96)`` (or ``(frames, 96)``) of ``log10(1 + 10000 * mel power)``; the power
    is recovered, averaged over time, and the bands centred at or above the edge are summed. Audio
    sampled at 8 kHz (telephone, voice codecs) has almost nothing there: the first 10 s of GTZAN's
    test clips lie at -57 to -111 dB through the robustness protocol's phone band and at -14 to
    -54 dB as they are. Floor -120 dB (silence)."""
    import librosa

    from genre.models import musicnn

    X = np.asarray(X, dtype=np.float64).reshape(-1, musicnn.MUSICNN_N_MELS)
    power = (np.power(10.0, X) - 1.0).mean(axis=0) / 1e4
    centres = librosa.mel_frequencies(musicnn.MUSICNN_N_MELS + 2, fmax=musicnn.MUSICNN_SR / 2)[1:-1]
    total = float(power.sum())
    if not total > 0:
        return -120.0
    return float(10 * np.log10(max(float(power[centres >= HIGH_BAND_HZ].sum()) / total, 1e-12)))


def select_patches(n: int, max_patches: int | None) -> np.ndarray:
    """Indices of the patches analysed: all ``n``, or ``max_patches`` evenly spread over them
    (first and last included), so long inputs cost a bounded time."""
    if max_patches is None or n <= max_patches:
        return np.arange(n)
    return np.unique(np.round(np.linspace(0, n - 1, max_patches)).astype(int))


def network_outputs(X: np.ndarray, folder: str | Path) -> dict[str, dict[str, np.ndarray]]:
    """Run the four networks ``folder/<net>.onnx`` on patches ``X``: ``{net: {"probs", "embedding"}}``
    (:func:`genre.models.runtime.run_many`: up to ``GENRE_ONNX_PARALLEL`` of them at once)."""
    folder = Path(folder)
    outs = runtime.run_many([folder / f"{net}.onnx" for net in NETS], X)  # side by side
    return dict(zip(NETS, outs))


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


def detector_columns() -> np.ndarray:
    """Clip-vector columns :class:`MusicDetector` reads: every network's mean and max embedding."""
    return np.array([i for i, n in enumerate(feature_names()) if ".emb_" in n])


class MusicDetector:
    """Is this music? A detector that knows music, on the four networks' pooled embeddings.

    The clip vector's embedding columns (:func:`detector_columns`: mean and max over patches, 912
    values) are standardised and projected on a whitened PCA basis; each genre is a Gaussian there
    (Ledoit-Wolf covariance). The score is the Mahalanobis distance to the nearest genre. The
    networks were trained on hundreds of thousands of songs, so solo piano, a cappella or sparse
    jazz lie near some genre, while speech, animal sounds, noise and test tones do not. Fitted by
    ``genre/training/pretrained_fit.py`` on GTZAN train+valid clips and their augmented copies; the
    thresholds are the 99th / 95th percentiles of held-out (artist-grouped) scores of that music.
    It reuses the ensemble's network outputs, so it costs no extra network pass.

    Parameters
    ----------
    arrays : dict
        ``scale_mean``, ``scale_std``, ``pca_mean``, ``pca_components``, ``pca_variance``,
        ``class_means`` ``(k, d)``, ``class_precisions`` ``(k, d, d)``, ``heldout_scores``,
        ``thresholds`` (``[novel, suspect, low-energy rate]``); optional ``steady_threshold``
        (``(1,)``: an input whose :func:`genre.novelty.steadiness` is below it is not music,
        whatever the networks say: stationary noise and steady tones); optional contrast stage
        (:data:`CONTRAST`, all or none): a logistic regression of music against real non-music
        (speech, animal calls, nature, work sounds, synthetic noise and tones) on the standardised
        embedding columns, with ``contrast_thresholds`` ``[not music, unusual]`` and the
        held-out music scores ``contrast_heldout``. A detector with it decides on the contrast
        (and steadiness) alone; the genre Gaussians' distance is then reported, not used.
    """

    ARRAYS: tuple[str, ...] = ("scale_mean", "scale_std", "pca_mean", "pca_components", "pca_variance",
                               "class_means", "class_precisions", "heldout_scores", "thresholds")
    #: ``thresholds``: ``[novel, suspect, low-energy rate]``.
    CONTRAST: tuple[str, ...] = ("contrast_mean", "contrast_std", "contrast_coef", "contrast_intercept",
                                 "contrast_thresholds", "contrast_heldout")

    def __init__(self, arrays: dict):
        missing = [k for k in self.ARRAYS if k not in arrays]
        if missing:
            raise ModelError(f"The music detector's file lacks {missing}.")
        self.a = {k: np.asarray(arrays[k], dtype=np.float64) for k in self.ARRAYS}
        if self.a["thresholds"].shape != (3,):
            raise ModelError("The music detector's thresholds must be [novel, suspect, low-energy rate].")
        self.threshold, self.suspect_threshold, self.ler_threshold = (float(v) for v in self.a["thresholds"])
        self.steady_threshold = None
        if "steady_threshold" in arrays:
            self.a["steady_threshold"] = np.asarray(arrays["steady_threshold"], dtype=np.float64).reshape(1)
            self.steady_threshold = float(self.a["steady_threshold"][0])
        self._cols = detector_columns()
        self._held = np.sort(self.a["heldout_scores"])
        have = [k for k in self.CONTRAST if k in arrays]
        self.has_contrast = bool(have)
        if have and len(have) != len(self.CONTRAST):
            raise ModelError(f"The music detector's contrast stage lacks {sorted(set(self.CONTRAST) - set(have))}.")
        if self.has_contrast:
            for k in self.CONTRAST:
                self.a[k] = np.asarray(arrays[k], dtype=np.float64)
            n = len(self._cols)
            if not (self.a["contrast_coef"].shape == self.a["contrast_mean"].shape
                    == self.a["contrast_std"].shape == (n,) and self.a["contrast_thresholds"].shape == (2,)):
                raise ModelError("The music detector's contrast stage has the wrong shapes.")
            self.contrast_threshold, self.contrast_suspect = (float(v) for v in self.a["contrast_thresholds"])
            self._held_c = np.sort(self.a["contrast_heldout"])

    @classmethod
    def from_file(cls, path: str | Path) -> "MusicDetector":
        """Load the ``.npz`` written by :meth:`to_bytes` (plain arrays; nothing is unpickled)."""
        try:
            with np.load(path, allow_pickle=False) as z:
                return cls({k: z[k] for k in z.files})
        except (OSError, ValueError) as exc:
            raise ModelError(f"The music detector {Path(path).name} cannot be read: {exc}") from exc

    def to_bytes(self) -> bytes:
        import io

        buf = io.BytesIO()
        np.savez(buf, **self.a)
        return buf.getvalue()

    def scores(self, V: np.ndarray) -> np.ndarray:
        """``(n,)`` scores of clip vectors ``V`` ``(n, FEATURE_DIM)`` (or of their detector columns)."""
        V = np.asarray(V, dtype=np.float64)
        if V.shape[-1] == FEATURE_DIM:
            V = V[..., self._cols]
        a = self.a
        Z = (V - a["scale_mean"]) / a["scale_std"]
        W = (Z - a["pca_mean"]) @ a["pca_components"].T / np.sqrt(a["pca_variance"])
        D = W[:, None, :] - a["class_means"][None]
        d2 = np.einsum("nkd,kde,nke->nk", D, a["class_precisions"], D)
        return np.sqrt(np.maximum(d2.min(axis=1), 0.0))

    def contrast_scores(self, V: np.ndarray) -> np.ndarray:
        """``(n,)`` non-music scores (logits; higher: less like music) of clip vectors ``V``, from
        the contrast stage (a :class:`ModelError` without one)."""
        if not self.has_contrast:
            raise ModelError("This music detector has no contrast stage.")
        V = np.asarray(V, dtype=np.float64)
        if V.shape[-1] == FEATURE_DIM:
            V = V[..., self._cols]
        a = self.a
        Z = (V - a["contrast_mean"]) / a["contrast_std"]
        return Z @ a["contrast_coef"] + float(np.ravel(a["contrast_intercept"])[0])

    def percentile_of(self, score: float) -> float:
        """Share (%) of held-out GTZAN music whose distance score was at most ``score``."""
        return _share_at_most(self._held, score)

    def decide(self, score: np.ndarray, ler: np.ndarray, steady: np.ndarray | None = None,
               contrast: np.ndarray | None = None) -> np.ndarray:
        """Not music, with a contrast stage: its score ``contrast`` (:meth:`contrast_scores`) above
        its threshold (``score`` and ``ler`` are then not used). Without one: the score above the
        novel threshold, or above the suspect threshold *and* a low-energy rate (share of quiet
        gaps, :func:`genre.novelty.low_energy_rate`) above its threshold, the classic speech cue.
        Either way, when the detector has a steadiness threshold, a :func:`genre.novelty.steadiness`
        below it (a spectrum that does not change: noise, hum, test tones) is not music too. NaN
        rates, steadiness and contrast scores count as music-like."""
        if self.has_contrast:
            if contrast is None:
                raise ValueError("This detector decides on its contrast scores: pass contrast=.")
            c = np.nan_to_num(np.asarray(contrast, dtype=np.float64), nan=-np.inf)
            out = c > self.contrast_threshold
        else:
            score, ler = np.asarray(score, dtype=np.float64), np.asarray(ler, dtype=np.float64)
            gaps = np.nan_to_num(ler, nan=0.0) > self.ler_threshold
            out = (score > self.threshold) | ((score > self.suspect_threshold) & gaps)
        if steady is not None and self.steady_threshold is not None:
            out = out | (np.nan_to_num(np.asarray(steady, dtype=np.float64), nan=np.inf) < self.steady_threshold)
        return out

    def check(self, vector: np.ndarray, ler: float = float("nan"), steady: float = float("nan")) -> dict:
        """The detector's answer for one clip vector (and the clip's low-energy rate and
        steadiness), in :func:`genre.predict.predict`'s format."""
        s = float(self.scores(np.asarray(vector)[None])[0])
        is_steady = self.steady_threshold is not None and bool(np.isfinite(steady)) and steady < self.steady_threshold
        reasons = []
        if is_steady:
            reasons.append(f"its sound barely changes over time, as with noise, hum or a test tone "
                           f"(spectral change {steady:.1f} dB; GTZAN music is above {self.steady_threshold:.1f} dB)")
        if self.has_contrast:
            return self._check_contrast(vector, s, ler, steady, reasons)
        pct = self.percentile_of(s)
        novel = bool(self.decide(np.array([s]), np.array([ler]), np.array([steady]))[0])
        suspect = s > self.suspect_threshold
        if s > self.threshold:
            reasons.append(f"to the four music networks it sounds less like music than {pct:.1f} % of "
                           f"held-out GTZAN music (score {s:.1f}, threshold {self.threshold:.1f})")
        elif novel and not is_steady:
            reasons.append(f"to the four music networks it is unusual for music (less typical than "
                           f"{pct:.1f} % of held-out GTZAN music: score {s:.1f}, unusual above "
                           f"{self.suspect_threshold:.1f}) and {ler:.0%} of it is quiet gaps, as in "
                           f"speech (threshold {self.ler_threshold:.0%})")
        elif suspect:
            reasons.append(f"to the four music networks it is unusual for music: less typical than "
                           f"{pct:.1f} % of held-out GTZAN music (score {s:.1f}, unusual above "
                           f"{self.suspect_threshold:.1f})")
        return {"method": "pretrained", "score": s, "threshold": self.threshold,
                "suspect_threshold": self.suspect_threshold, "percentile": pct, "novel": bool(novel),
                "low_energy_rate": float(ler), "ler_threshold": self.ler_threshold,
                "steadiness": float(steady), "steady_threshold": self.steady_threshold,
                "suspect": bool(suspect), "reasons": reasons,
                "summary": (f"Music-network score {s:.1f} (not music above {self.threshold:.1f}, "
                            f"unusual above {self.suspect_threshold:.1f}): less typical than {pct:.1f} % "
                            f"of held-out GTZAN music. Quiet-gap share {ler:.0%} (speech-like above "
                            f"{self.ler_threshold:.0%}, counted only when the score is unusual)."
                            + (f" Spectral change {steady:.1f} dB (not music below "
                               f"{self.steady_threshold:.1f})." if self.steady_threshold is not None else ""))}

    def _check_contrast(self, vector, distance: float, ler: float, steady: float,
                        reasons: list[str]) -> dict:
        """:meth:`check` for a detector with a contrast stage (``reasons`` holds the steadiness one)."""
        c = float(self.contrast_scores(np.asarray(vector)[None])[0])
        pct = _share_at_most(self._held_c, c)
        novel = bool(self.decide(np.array([distance]), np.array([ler]), np.array([steady]), np.array([c]))[0])
        t, u = self.contrast_threshold, self.contrast_suspect
        than = (f"higher than all {len(self._held_c):,} held-out GTZAN music inputs" if pct >= 100.0
                else f"higher than {pct:.1f} % of held-out GTZAN music")
        if c > t:
            reasons.append(f"to the four music networks it sounds like speech, animal calls, nature or "
                           f"other sounds rather than music (non-music score {c:.1f}, threshold {t:.1f}; "
                           f"{than})")
        elif c > u:
            reasons.append(f"to the four music networks it is unusual for music: its non-music score "
                           f"({c:.1f}) is higher than {pct:.1f} % of held-out GTZAN music (unusual above "
                           f"{u:.1f}, not music above {t:.1f})")
        return {"method": "pretrained", "score": c, "threshold": t, "suspect_threshold": u,
                "percentile": pct, "novel": novel, "distance": distance,
                "low_energy_rate": float(ler), "steadiness": float(steady),
                "steady_threshold": self.steady_threshold, "suspect": bool(c > u), "reasons": reasons,
                "summary": (f"Non-music score {c:.1f} (not music above {t:.1f}, unusual above {u:.1f}): "
                            f"higher than {pct:.1f} % of held-out GTZAN music."
                            + (f" Spectral change {steady:.1f} dB (not music below "
                               f"{self.steady_threshold:.1f})." if self.steady_threshold is not None else ""))}


def _share_at_most(sorted_values: np.ndarray, x: float) -> float:
    """Share (%) of ``sorted_values`` (ascending) that are at most ``x``."""
    return 100.0 * np.searchsorted(sorted_values, x, side="right") / max(1, len(sorted_values))


def embedding_id(manifest: dict) -> str:
    """What makes a pretrained model's clip vectors what they are: a short hash of its four
    network files' SHA-256 (from the manifest) and its ``vector`` settings (loudness, patches).
    Two models with the same id give the same clip vector for the same audio."""
    import hashlib
    import json

    files = manifest.get("files") or {}
    key = json.dumps({"nets": {n: files.get(f"{n}.onnx") for n in NETS},
                      "vector": manifest.get("vector") or {}}, sort_keys=True)
    return hashlib.sha256(key.encode()).hexdigest()[:16]


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
    band_head : sklearn estimator, optional
        A head for band-limited input (telephone-like: :func:`high_band_db` below
        ``band_threshold_db``), fitted on the training vectors of such input; its logits are
        divided by ``band_temperature``. Without it every input goes through ``head``.
    """

    def __init__(self, head: Any, temperature: float, folder: str | Path, manifest: dict,
                 max_patches: int | None = None, detector: MusicDetector | None = None,
                 band_head: Any = None, band_temperature: float = 1.0,
                 band_threshold_db: float | None = None):
        self.head = head
        self.band_head = band_head
        self.band_temperature = float(band_temperature)
        self.band_threshold_db = None if band_head is None else float(band_threshold_db)
        self.detector = detector
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
        if band_head is not None:
            if not self.band_temperature > 0:
                raise ModelError(f"Model {self.name}: band_temperature must be > 0, not {band_temperature}.")
            if [int(c) for c in band_head.classes_] != self._cols:
                raise ModelError(f"Model {self.name}: its band head answers in other classes than its head.")

    def _proba(self, F: np.ndarray, band: np.ndarray | bool = False) -> np.ndarray:
        """Probabilities of clip (or segment) vectors ``F``; rows where ``band`` is True go
        through the band head (when the model has one)."""
        F = transform(F, self.tag_transform)
        band = np.broadcast_to(np.asarray(band, dtype=bool), (len(F),))
        if self.band_head is None:
            band = np.zeros(len(F), dtype=bool)
        p = np.zeros((len(F), len(self._cols)))
        if (~band).any():
            p[~band] = softmax(head_logits(self.head, F[~band]) / self.temperature)
        if band.any():
            p[band] = softmax(head_logits(self.band_head, F[band]) / self.band_temperature)
        out = np.zeros((len(F), len(self.classes)))
        out[:, self._cols] = p
        return out

    def band_limited(self, y: np.ndarray) -> bool:
        """Whether ``y`` goes through the band head: its :func:`high_band_db` is below the
        model's threshold (always False for a model without a band head)."""
        if self.band_head is None:
            return False
        return self.high_band_db(y) < self.band_threshold_db

    def high_band_db(self, y: np.ndarray) -> float:
        """:func:`high_band_db` of ``y``'s patches (reuses the last call's analysis of the same audio)."""
        return self._analysis(y)[2]

    def outputs(self, y: np.ndarray) -> tuple[np.ndarray, dict[str, dict[str, np.ndarray]]]:
        """``(starts_s, {net: {"probs" (n, 50), "embedding"}})`` for mono float32 ``y`` at 22050 Hz.

        The last input's outputs are kept (keyed by a hash of its samples), so ``predict_segments``
        then ``predict_clip`` on the same audio (what ``genre.predict`` does) run the networks once."""
        starts, outs, _ = self._analysis(y)
        return starts, outs

    def _analysis(self, y: np.ndarray) -> tuple[np.ndarray, dict[str, dict[str, np.ndarray]], float]:
        """``(starts_s, network outputs, high_band_db)`` of ``y``; the last input's are kept."""
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
        out = (starts[keep], network_outputs(X[keep], self.folder), high_band_db(X))
        with lock:
            self._last = (key, out)
        return out

    def predict_segments(self, y: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Per 2.992-s patch, one every 1.504 s (or the ``max_patches`` analysed):
        ``(starts_s (n,), probs (n, 10))``."""
        starts, outs = self.outputs(y)
        return starts, self._proba(segment_vectors(outs), self.band_limited(y))

    def predict_clip(self, y: np.ndarray) -> np.ndarray:
        """``(10,)`` probabilities from the clip vector (pooled over all patches)."""
        _, outs = self.outputs(y)
        return self._proba(clip_vector(outs)[None], self.band_limited(y))[0]

    @property
    def music_cues(self) -> tuple[str, ...]:
        """Signal cues :meth:`music_check` reads besides the networks' outputs, by their
        :mod:`genre.novelty` function names (the caller computes them; a cue not listed is not
        used, so it need not be computed)."""
        if self.detector is None:
            return ()
        gaps = () if self.detector.has_contrast else ("low_energy_rate",)
        return gaps + (("steadiness",) if self.detector.steady_threshold is not None else ())

    def music_check(self, y: np.ndarray, ler: float = float("nan"),
                    steady: float = float("nan")) -> dict | None:
        """:meth:`MusicDetector.check` on ``y`` (reusing the networks' outputs of the last
        prediction on the same audio) with its low-energy rate ``ler`` and steadiness ``steady``
        (:mod:`genre.novelty`); None if this model ships no detector."""
        if self.detector is None:
            return None
        _, outs = self.outputs(y)
        return self.detector.check(clip_vector(outs), ler, steady)

    @property
    def embedding_id(self) -> str:
        """:func:`embedding_id` of this model's manifest."""
        return embedding_id(self.manifest)

    def pooled_vector(self, y: np.ndarray) -> np.ndarray:
        """``(FEATURE_DIM,)`` float32: the clip vector :meth:`predict_clip` classifies (reuses the
        networks' outputs of the last call on the same audio)."""
        _, outs = self.outputs(y)
        return clip_vector(outs)

    def predict_vectors(self, F: np.ndarray, band_db: np.ndarray | None = None) -> np.ndarray:
        """``(n, 10)`` probabilities from precomputed clip vectors (evaluation), with the inputs'
        :func:`high_band_db` values ``band_db`` (None: every row through the main head)."""
        band = False
        if band_db is not None and self.band_head is not None:
            band = np.asarray(band_db, dtype=np.float64).reshape(-1) < self.band_threshold_db
        return self._proba(np.asarray(F, dtype=np.float32), band)


def load(model_dir: str | Path, manifest: dict) -> PretrainedPredictor:
    """Registry loader for kind ``"pretrained_onnx"``: ``head.skops`` + ``<net>.onnx`` x 4."""
    from genre.registry import load_skops

    model_dir = Path(model_dir)
    missing = [n for n in NETS if f"{n}.onnx" not in (manifest.get("files") or {})]
    if missing:
        raise ModelError(f"Model {manifest.get('name')}: networks {missing} are not in its manifest.")
    head = load_skops(model_dir / "head.skops", manifest)
    detector = None
    if "novelty.npz" in (manifest.get("files") or {}):
        detector = MusicDetector.from_file(model_dir / "novelty.npz")
    band = manifest.get("band_route") or {}
    band_head = None
    if band:
        if band.get("file") not in (manifest.get("files") or {}) or "threshold_db" not in band:
            raise ModelError(f"Model {manifest.get('name')}: its band_route needs a shipped file and a threshold_db.")
        band_head = load_skops(model_dir / band["file"], manifest)
    return PretrainedPredictor(head, manifest.get("temperature", 1.0), model_dir, manifest,
                               max_patches=(manifest.get("vector") or {}).get("max_patches"),
                               detector=detector, band_head=band_head,
                               band_temperature=band.get("temperature", 1.0),
                               band_threshold_db=band.get("threshold_db"))
