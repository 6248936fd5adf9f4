"""The published GTZAN feature set (57 columns), per clip and per 3-s window, and log-mel spectrograms.

The 57 features are those of ``features_30_sec.csv`` (the widely used Kaggle release of GTZAN
features): the mean and variance over frames of chroma_stft, RMS, spectral centroid, bandwidth and
roll-off, zero-crossing rate, the HPSS harmonic and percussive *waveforms*, 20 MFCCs, and the tempo,
all computed with librosa's defaults (``sr=22050``, ``n_fft=2048``, ``hop_length=512``, centred
frames). Column order is :data:`genre.config.FEATURE_COLUMNS`.

Two implementations compute the same numbers:

- :func:`reference_clip_features`: the plain librosa way, one call per feature, each call computing
  its own transform (as the table was made). Kept as the definition and for checks.
- :func:`clip_features`: one complex STFT shared by every feature: ``|S|`` for centroid, bandwidth,
  roll-off; ``|S|**2`` for chroma and the mel spectrogram; the mel spectrogram (dB) for both the
  MFCCs and the onset envelope of the tempo estimate (``librosa.beat.beat_track`` computes exactly
  that envelope from its own mel spectrogram); HPSS masks from median filters of ``|S|`` (an exact
  numba running median, several times faster than ``scipy.ndimage.median_filter``) applied to the
  same STFT, inverted once (the percussive waveform is the signal minus the harmonic one, since the
  two soft masks sum to one). RMS and zero-crossing rate are framed on the waveform, as in librosa.
  The spectrogram is kept in one memory layout throughout, the chroma tuning is estimated on the
  150-4000 Hz band only (same peaks, same value), and BLAS is held to one thread (the products are
  small; a second thread on a busy machine only made them erratic).

:func:`segment_features` computes the same 57 features over sliding windows from one analysis of
the whole signal (frames whose centres fall inside each window), and :func:`logmel` /
:func:`logmel_patches` give float32 log-mel spectrograms for the deep models.

:func:`analyse` returns that one analysis (:class:`Analysis`: the frame-wise matrices and the HPSS
waveforms); ``analyse(y).clip_features()`` and ``analyse(y).segment_features()`` are exactly
``clip_features(y)`` and ``segment_features(y)`` (the module functions are those calls), so a caller
needing both (the feature models' ``predict``: clip answer, timeline, non-music check) pays for one
STFT and one HPSS instead of two.
"""

from __future__ import annotations

import functools
import math
import warnings
from typing import Any

import numpy as np

from genre.threads import one_thread
from genre.config import FEATURE_COLUMNS, HOP_LENGTH, N_FFT, SEGMENT_SECONDS, SR, numba_cache_safe

__all__ = [
    "EXTRACTOR_VERSION", "FEATURE_COLUMNS", "N_MFCC", "HPSS_KERNEL", "TOP_DB",
    "Analysis", "analyse", "clip_features", "clip_features_dict", "reference_clip_features",
    "segment_features", "window_starts", "logmel", "logmel_patches", "median_filter_rows",
]

#: Version of the feature values; bump whenever :func:`clip_features` output changes
#: (the Parquet feature cache is keyed by it).
EXTRACTOR_VERSION: str = "1"

#: MFCCs in the table, HPSS median-filter length (frames and bins), dB range of the mel spectrogram.
N_MFCC: int = 20
HPSS_KERNEL: int = 31
TOP_DB: float = 80.0
#: Tempo prior centre (BPM), librosa's default, as used by ``beat_track``.
START_BPM: float = 120.0

_N_FEATURES = len(FEATURE_COLUMNS)


# --------------------------------------------------------------------------------------------------
# Input checks


def _check_signal(y: Any, sr: int) -> np.ndarray:
    """Validate ``(y, sr)``; return ``y`` as 1-D contiguous float32."""
    if sr != SR:
        raise ValueError(f"features are defined at {SR} Hz; got sr={sr!r} (resample first, e.g. "
                         f"with genre.audio.load)")
    y = np.asarray(y)
    if y.ndim != 1:
        raise ValueError(f"expected mono audio (1-D array); got shape {y.shape}")
    if y.size == 0:
        raise ValueError("empty signal: no samples to analyse")
    if not np.issubdtype(y.dtype, np.floating):
        raise ValueError(f"expected floating-point samples; got dtype {y.dtype}")
    y = np.ascontiguousarray(y, dtype=np.float32)
    if not np.all(np.isfinite(y)):
        raise ValueError("signal contains NaN or infinite samples")
    return y


# --------------------------------------------------------------------------------------------------
# Running median (the expensive part of HPSS)

_MEDIAN_KERNEL = None


def _median_kernel():
    """Compile (or load from NUMBA_CACHE_DIR) the numba running-median kernel, once per process."""
    global _MEDIAN_KERNEL
    if _MEDIAN_KERNEL is None:
        import numba  # noqa: PLC0415 - imported with librosa anyway; keep module import light

        @numba.njit(cache=True, nogil=True)
        def _medfilt_rows(x, k):  # pragma: no cover - compiled
            n_rows, n = x.shape
            half = k // 2
            kp = ((k + 7) // 8) * 8  # window padded with +inf to a SIMD-friendly length
            out = np.empty_like(x)
            # the sorted window is w[1:kp + 1]; w[0] = -inf and w[kp + 1] = +inf are guards so the
            # update below reads its neighbours without bounds tests; w2 is the next window
            w = np.full(kp + 2, np.inf, dtype=x.dtype)
            w[0] = -np.inf
            w2 = w.copy()
            ext = np.empty(n + 2 * half, dtype=x.dtype)
            period = 2 * n
            for r in range(n_rows):
                # scipy.ndimage "reflect" extension: (d c b a | a b c d | d c b a)
                for j in range(n):
                    ext[j + half] = x[r, j]
                for j in range(half):  # only the margins need the (possibly repeated) reflection
                    for jj in (j, n + half + j):
                        i = (jj - half) % period
                        if i >= n:
                            i = period - 1 - i
                        ext[jj] = x[r, i]
                w[1:k + 1] = np.sort(ext[:k])
                w[k + 1:] = np.inf
                out[r, 0] = w[1 + half]
                for c in range(1, n):
                    old = ext[c - 1]
                    new = ext[c - 1 + k]
                    # w stays sorted: drop `old` (at index p), insert `new` (at index q)
                    p = 0
                    q = 0
                    for j in range(1, kp + 1):
                        p += w[j] < old
                        q += w[j] < new
                    # branch-free shift (both loads unconditional, so it vectorises): the
                    # entries between p and q move by one place
                    if new > old:
                        q -= 1
                        for j in range(kp):
                            a = w[j + 1]
                            b = w[j + 2]
                            v = b if (j >= p) & (j < q) else a
                            w2[j + 1] = new if j == q else v
                    else:
                        for j in range(kp):
                            a = w[j + 1]
                            b = w[j]
                            v = b if (j <= p) & (j > q) else a
                            w2[j + 1] = new if j == q else v
                    w, w2 = w2, w
                    out[r, c] = w[1 + half]
            return out

        _MEDIAN_KERNEL = _medfilt_rows
    return _MEDIAN_KERNEL


@numba_cache_safe
def median_filter_rows(x: np.ndarray, size: int, axis: int = -1) -> np.ndarray:
    """Running median of odd length ``size`` along one axis of a 2-D array.

    Identical values to ``scipy.ndimage.median_filter`` with a ``size``-long kernel on that axis and
    ``mode="reflect"`` (what ``librosa.decompose.hpss`` uses), computed with a sorted sliding window.
    The signal is extended by mirror reflection, ``(d c b a | a b c d | d c b a)``, repeated when
    ``size // 2`` exceeds the row length (there scipy's result departs from that definition; it
    only matters for spectrograms of fewer than 16 frames).

    Parameters
    ----------
    x : np.ndarray
        2-D real array (float32 or float64), no NaN.
    size : int
        Window length (samples along ``axis``), odd and >= 1.
    axis : int
        Axis to filter along (0 or 1 / -1).

    Returns
    -------
    np.ndarray
        Same shape and dtype as ``x``.
    """
    x = np.asarray(x)
    if x.ndim != 2:
        raise ValueError(f"expected a 2-D array; got shape {x.shape}")
    if size < 1 or size % 2 != 1:
        raise ValueError(f"size must be odd and >= 1; got {size}")
    if not np.issubdtype(x.dtype, np.floating):
        x = x.astype(np.float64)
    kernel = _median_kernel()
    if axis in (-1, 1):
        return kernel(np.ascontiguousarray(x), int(size))
    if axis in (0, -2):
        return kernel(np.ascontiguousarray(x.T), int(size)).T
    raise ValueError(f"axis must be 0 or 1; got {axis}")


# --------------------------------------------------------------------------------------------------
# The reference (plain librosa) extractor


def _mean_var(a: np.ndarray) -> tuple[float, float]:
    a = np.asarray(a, dtype=np.float64)
    return float(a.mean()), float(a.var())


@numba_cache_safe
def reference_clip_features(y: np.ndarray, sr: int = SR) -> np.ndarray:
    """The 57 features computed the plain librosa way: one librosa call per feature.

    This is how the published table was made; every call computes its own STFT (or mel
    spectrogram, or HPSS). It is the definition :func:`clip_features` is checked against and is
    several times slower.

    Parameters
    ----------
    y : np.ndarray
        Mono samples at 22050 Hz (converted to float32, as ``librosa.load`` returns).
    sr : int
        Sample rate (Hz); must be :data:`genre.config.SR`.

    Returns
    -------
    np.ndarray
        ``(57,)`` float64 in :data:`genre.config.FEATURE_COLUMNS` order.

    Raises
    ------
    ValueError
        If ``sr`` is not 22050 Hz or ``y`` is not a non-empty finite 1-D float signal.
    """
    import librosa  # noqa: PLC0415 - slow import, only when features are computed

    y = _check_signal(y, sr)
    out: dict[str, float] = {}

    def put(name: str, a: np.ndarray) -> None:
        out[f"{name}_mean"], out[f"{name}_var"] = _mean_var(a)

    put("chroma_stft", librosa.feature.chroma_stft(y=y, sr=sr))
    put("rms", librosa.feature.rms(y=y))
    put("spectral_centroid", librosa.feature.spectral_centroid(y=y, sr=sr))
    put("spectral_bandwidth", librosa.feature.spectral_bandwidth(y=y, sr=sr))
    put("rolloff", librosa.feature.spectral_rolloff(y=y, sr=sr))
    put("zero_crossing_rate", librosa.feature.zero_crossing_rate(y))
    harmony, perceptr = librosa.effects.hpss(y)
    put("harmony", harmony)
    put("perceptr", perceptr)
    tempo, _ = librosa.beat.beat_track(y=y, sr=sr)
    out["tempo"] = float(np.atleast_1d(tempo)[0])
    mfcc = librosa.feature.mfcc(y=y, sr=sr, n_mfcc=N_MFCC)
    for i in range(N_MFCC):
        put(f"mfcc{i + 1}", mfcc[i])
    return np.array([out[c] for c in FEATURE_COLUMNS], dtype=np.float64)


# --------------------------------------------------------------------------------------------------
# The shared-STFT analysis


@functools.lru_cache(maxsize=1)
def _bases() -> dict[str, np.ndarray]:
    """Filter banks and frequency axes shared by every analysis (float32 like librosa's)."""
    import librosa  # noqa: PLC0415

    freqs = librosa.fft_frequencies(sr=SR, n_fft=N_FFT)
    window = librosa.filters.get_window("hann", N_FFT, fftbins=True)
    band = np.flatnonzero((freqs >= _PIP_FMIN) & (freqs < _PIP_FMAX))
    return {
        "freqs": freqs,
        "moments": np.stack([np.ones_like(freqs), freqs, freqs**2]),  # (3, bins) float64
        "mel": librosa.filters.mel(sr=SR, n_fft=N_FFT),  # (128, bins) float32
        "window": window,
        "window_sq": window**2,
        "pip_band": np.array([band[0], band[-1] + 1]),
    }


@functools.lru_cache(maxsize=256)
def _chroma_basis(tuning: float) -> np.ndarray:
    import librosa  # noqa: PLC0415

    fb = librosa.filters.chroma(sr=SR, n_fft=N_FFT, tuning=tuning, n_chroma=12)
    # The Gaussian tails go down to ~1e-32; times small powers they make subnormal products that
    # slow the matrix product ~100x. Below 1e-20 they change no value: drop them.
    fb[np.abs(fb) < 1e-20] = 0.0
    return fb


#: ``librosa.estimate_tuning``/``piptrack`` defaults: pitch range (Hz), peak threshold, resolution.
_PIP_FMIN, _PIP_FMAX, _PIP_THRESHOLD, _TUNING_RESOLUTION = 150.0, 4000.0, 0.1, 0.01


def _estimate_tuning(P: np.ndarray) -> float:
    """``librosa.estimate_tuning(S=P, sr=22050, bins_per_octave=12)`` on the piptrack band only.

    ``piptrack`` looks at every bin but keeps peaks between 150 and 4000 Hz; each bin's peak test,
    gradient and parabolic shift depend only on its two neighbours, so the same peaks come from the
    band plus one bin either side (the reference level is still the maximum of the whole frame).
    """
    import librosa  # noqa: PLC0415

    b0, b1 = (int(v) for v in _bases()["pip_band"])
    lo, hi = b0 - 1, min(b1 + 1, P.shape[0])
    X = P[lo:hi]
    ref = _PIP_THRESHOLD * P.max(axis=0)
    # parabolic interpolation (librosa.core.pitch._pi_stencil, in the same precision)
    prev, cur, nxt = X[:-2], X[1:-1], X[2:]
    a = (nxt + prev).astype(np.float64) - 2 * cur.astype(np.float64)
    b = (nxt - prev).astype(np.float64) / 2
    with np.errstate(divide="ignore", invalid="ignore"):
        shift = np.where(np.abs(b) >= np.abs(a), 0.0, -b / a).astype(np.float32)
    avg = ((nxt - prev) / 2.0).astype(np.float32)  # np.gradient, interior points
    dskew = 0.5 * avg * shift
    Xm = X * (X > ref)
    peaks = (Xm[1:-1] > Xm[:-2]) & (Xm[1:-1] >= Xm[2:])
    rows, cols = np.nonzero(peaks)
    pitch = ((rows + b0) + shift[rows, cols]) * float(SR) / N_FFT
    pitch = pitch.astype(np.float32)
    mag = cur[rows, cols] + dskew[rows, cols]
    keep = pitch > 0
    if not keep.any():
        return 0.0
    threshold = np.median(mag[keep])
    sel = pitch[(mag >= threshold) & keep]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # empty set (silence): tuning 0, as librosa returns
        return float(librosa.pitch_tuning(sel, resolution=_TUNING_RESOLUTION, bins_per_octave=12))


def _zero_crossing_rate(y: np.ndarray) -> np.ndarray:
    """``librosa.feature.zero_crossing_rate(y)`` (2048-sample frames, hop 512, edge-padded)."""
    yp = np.pad(y, N_FFT // 2, mode="edge")
    neg = yp < np.float64(-1e-10)  # |x| <= 1e-10 counts as 0, and 0 as positive
    change = np.empty(neg.shape[0], dtype=np.int64)
    change[0] = 0
    np.cumsum(neg[1:] != neg[:-1], out=change[1:])
    n_frames = 1 + (yp.shape[0] - N_FFT) // HOP_LENGTH
    starts = np.arange(n_frames) * HOP_LENGTH
    # crossings at positions 1..2047 of each frame (librosa does not count the frame's first sample)
    return (change[starts + N_FFT - 1] - change[starts]) / N_FFT


def _spectral_shape(St: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Centroid, bandwidth (p=2) and 85 % roll-off (Hz) per frame of a magnitude spectrogram.

    ``St`` is the spectrogram transposed, ``(frames, bins)``, C-contiguous.
    """
    bases = _bases()
    m = np.empty((3, St.shape[0]))  # sum, first and second moments, in float64 (blocks of frames)
    for i in range(0, St.shape[0], 4096):
        m[:, i:i + 4096] = bases["moments"] @ St[i:i + 4096].T.astype(np.float64)
    tot = np.where(m[0] < np.finfo(np.float32).tiny, 1.0, m[0])
    centroid = m[1] / tot
    bandwidth = np.sqrt(np.maximum(m[2] / tot - centroid**2, 0.0))
    cs = np.cumsum(St, axis=1)
    below = cs < 0.85 * cs[:, -1:]
    rolloff = bases["freqs"][below.sum(axis=1)]
    return centroid, bandwidth, rolloff


def _istft(D: np.ndarray, length: int) -> np.ndarray:
    """``librosa.istft(D, length=length, dtype=float32)`` for hop 512, n_fft 2048, centred frames."""
    import scipy.fft  # noqa: PLC0415

    bases = _bases()
    n_frames = D.shape[1]
    k = N_FFT // HOP_LENGTH
    frames = scipy.fft.irfft(np.ascontiguousarray(D.T), n=N_FFT, axis=-1)  # (T, n_fft)
    blocks = np.zeros((n_frames + k - 1, HOP_LENGTH), dtype=np.float32)
    norm = np.zeros((n_frames + k - 1, HOP_LENGTH), dtype=np.float32)
    w = bases["window"].reshape(k, HOP_LENGTH)
    w2 = bases["window_sq"].reshape(k, HOP_LENGTH)
    for j in range(k - 1, -1, -1):  # frame t adds to blocks t..t+k-1, earlier frames first
        part = frames[:, j * HOP_LENGTH:(j + 1) * HOP_LENGTH]
        blocks[j:j + n_frames] += part * w[j]
        norm[j:j + n_frames] += w2[j]
    y = blocks.reshape(-1)
    env = norm.reshape(-1)
    nz = env > np.finfo(np.float32).tiny
    y[nz] /= env[nz]
    start = N_FFT // 2
    out = np.zeros(length, dtype=np.float32)
    seg = y[start:start + length]
    out[:seg.shape[0]] = seg
    return out






class Analysis:
    """Frame-wise quantities of one signal, from one STFT (all frames centred, hop 512).

    Made by :func:`analyse`; both :func:`clip_features` and :func:`segment_features` are statistics
    of one such analysis, so a caller that needs both (``genre.models.feature_models.FeatureModel``) analyses the
    signal once and calls :meth:`clip_features` and :meth:`segment_features` on it: the values are
    exactly (bit for bit) those of the two module functions on the same signal.

    Attributes (frame-wise, ``T = 1 + len(y) // 512`` frames): ``chroma`` (12, T), ``mel`` (128, T)
    power mel spectrogram, ``centroid``, ``bandwidth``, ``rolloff`` (Hz), ``rms``, ``zcr`` (T,);
    ``harmonic`` and ``percussive`` HPSS waveforms (``len(y)`` samples); ``tuning`` (bins);
    ``n`` (samples).
    """

    def __init__(self, y: np.ndarray, sr: int):
        import librosa  # noqa: PLC0415

        self.n = y.shape[0]
        bases = _bases()
        D = librosa.stft(y, n_fft=N_FFT, hop_length=HOP_LENGTH)  # complex64, (1025, T)
        # work on the (T, 1025) layout, C-contiguous (librosa's STFT is Fortran-ordered): every
        # elementwise operation below then runs on matching layouts
        Dt = np.ascontiguousarray(D.T)
        del D
        St = np.abs(Dt)
        P = (St * St).T  # (1025, T) view
        self.tuning = _estimate_tuning(P)
        raw = _chroma_basis(self.tuning) @ P
        peak = raw.max(axis=0).astype(np.float64)
        peak[peak < np.finfo(np.float32).tiny] = 1.0
        self.chroma = (raw / peak).astype(np.float32)
        self.mel = bases["mel"] @ P  # power mel spectrogram (128, T)
        del P, raw
        self.centroid, self.bandwidth, self.rolloff = _spectral_shape(St)
        self.rms = librosa.feature.rms(y=y, frame_length=N_FFT, hop_length=HOP_LENGTH)[0]
        self.zcr = _zero_crossing_rate(y)
        # HPSS: soft masks (power 2) from median filters across time (harmonic) and frequency
        harm = np.ascontiguousarray(median_filter_rows(St.T, HPSS_KERNEL, axis=1).T)  # across time
        perc = median_filter_rows(St, HPSS_KERNEL, axis=1)  # across frequency
        del St
        harm *= harm
        perc *= perc
        perc += harm  # denominator
        zero = perc <= 0
        np.divide(harm, perc, out=harm, where=~zero)
        harm[zero] = 0.5  # librosa.util.softmask(split_zeros=True)
        del perc, zero
        Dt *= harm
        del harm
        self.harmonic = _istft(Dt.T, self.n)
        del Dt
        # the two masks sum to one, so the percussive part is the rest of the signal
        self.percussive = y - self.harmonic

    @property
    def n_frames(self) -> int:
        return self.centroid.shape[0]

    @numba_cache_safe
    def features(self, frames: slice = slice(None), samples: slice = slice(None),
                 whole: bool = True) -> np.ndarray:
        """The 57 features over a range of frames (and the matching samples of the waveforms)."""
        import librosa  # noqa: PLC0415

        mel = self.mel[:, frames]
        mel_db = librosa.power_to_db(mel, top_db=TOP_DB)
        onset = librosa.onset.onset_strength(S=mel_db, sr=SR, hop_length=HOP_LENGTH,
                                             aggregate=np.median)
        if onset.any():
            tempo = float(librosa.feature.tempo(onset_envelope=onset, sr=SR, hop_length=HOP_LENGTH,
                                                start_bpm=START_BPM)[0])
        else:
            tempo = 0.0  # what beat_track returns when there are no onsets
        mfcc = librosa.feature.mfcc(S=mel_db, n_mfcc=N_MFCC)
        x = np.empty(_N_FEATURES, dtype=np.float64)
        parts = [
            self.chroma[:, frames], self.rms[frames], self.centroid[frames],
            self.bandwidth[frames], self.rolloff[frames], self.zcr[frames],
            self.harmonic[samples], self.percussive[samples],
        ]
        for i, a in enumerate(parts):
            x[2 * i], x[2 * i + 1] = _mean_var(a)
        x[16] = tempo
        for i in range(N_MFCC):
            x[17 + 2 * i], x[18 + 2 * i] = _mean_var(mfcc[i])
        return x

    def clip_features(self) -> np.ndarray:
        """The 57 features of the whole analysed signal (what :func:`clip_features` returns)."""
        with one_thread("blas"):
            return self.features()

    def segment_features(self, seconds: float = SEGMENT_SECONDS, hop: float = SEGMENT_SECONDS,
                         offset: int = 0) -> tuple[np.ndarray, np.ndarray]:
        """The 57 features over sliding windows of the analysed signal (what
        :func:`segment_features` returns): ``(starts_s (n,), X (n, 57))``.

        ``offset`` (samples) is added to the window starts before they are turned into seconds,
        for an analysis of a piece of a longer signal that starts at that sample.
        """
        win, _ = _window_sizes(SR, seconds, hop)
        starts = window_starts(self.n, SR, seconds, hop)
        X = np.empty((starts.shape[0], _N_FEATURES), dtype=np.float64)
        with one_thread("blas"):
            for i, s0 in enumerate(starts):
                s1 = min(int(s0) + win, self.n)
                f0 = -(-int(s0) // HOP_LENGTH)  # first frame centred at or after s0
                f1 = min(s1 // HOP_LENGTH + 1, self.n_frames)  # ... to the last centred at or before s1
                X[i] = self.features(frames=slice(f0, f1), samples=slice(int(s0), s1))
        return (starts + int(offset)).astype(np.float64) / SR, X


#: Former private name of :class:`Analysis`.
_Analysis = Analysis


@numba_cache_safe
def analyse(y: np.ndarray, sr: int = SR) -> Analysis:
    """Analyse a signal once (one STFT, one HPSS) for :meth:`Analysis.clip_features` and
    :meth:`Analysis.segment_features`.

    ``analyse(y).clip_features()`` equals ``clip_features(y)`` and ``analyse(y).segment_features()``
    equals ``segment_features(y)``, bit for bit (the module functions are these calls).

    Parameters
    ----------
    y : np.ndarray
        Mono samples at 22050 Hz (float; analysed as float32).
    sr : int
        Sample rate (Hz); must be :data:`genre.config.SR`.

    Returns
    -------
    Analysis

    Raises
    ------
    ValueError
        If ``sr`` is not 22050 Hz or ``y`` is not a non-empty finite 1-D float signal.
    """
    y = _check_signal(y, sr)
    with one_thread("blas"):
        return Analysis(y, sr)


@numba_cache_safe
def clip_features(y: np.ndarray, sr: int = SR) -> np.ndarray:
    """The 57 published GTZAN features of a whole signal, from one shared STFT.

    Same values as :func:`reference_clip_features` (to float32 rounding), several times faster.

    Parameters
    ----------
    y : np.ndarray
        Mono samples at 22050 Hz (float; analysed as float32, like ``librosa.load``).
    sr : int
        Sample rate (Hz); must be :data:`genre.config.SR` (``genre.audio.load`` resamples).

    Returns
    -------
    np.ndarray
        ``(57,)`` float64 in :data:`genre.config.FEATURE_COLUMNS` order; ``tempo`` in BPM, spectral
        features in Hz, the rest in librosa's units.

    Raises
    ------
    ValueError
        If ``sr`` is not 22050 Hz or ``y`` is not a non-empty finite 1-D float signal.
    """
    return analyse(y, sr).clip_features()


def clip_features_dict(y: np.ndarray, sr: int = SR) -> dict[str, float]:
    """:func:`clip_features` as ``{column: value}`` in :data:`FEATURE_COLUMNS` order."""
    return dict(zip(FEATURE_COLUMNS, clip_features(y, sr).tolist()))


# --------------------------------------------------------------------------------------------------
# Windows


def window_starts(n_samples: int, sr: int = SR, seconds: float = SEGMENT_SECONDS,
                  hop: float | None = None) -> np.ndarray:
    """Start samples of the sliding windows used by :func:`segment_features` and :func:`logmel_patches`.

    Windows are ``round(seconds * sr)`` samples long and start every ``round(hop * sr)`` samples;
    a last partial window is dropped, except that a signal shorter than one window gives one window
    (the whole signal) starting at 0.

    Returns
    -------
    np.ndarray
        ``(n,)`` int64 start samples (n >= 1 for any non-empty signal).
    """
    win, step = _window_sizes(sr, seconds, hop)
    if n_samples <= win:
        return np.zeros(1, dtype=np.int64)
    return np.arange(0, n_samples - win + 1, step, dtype=np.int64)


def _window_sizes(sr: int, seconds: float, hop: float | None) -> tuple[int, int]:
    if not (seconds > 0 and math.isfinite(seconds)):
        raise ValueError(f"seconds must be a positive number; got {seconds!r}")
    hop = seconds if hop is None else hop
    if not (hop > 0 and math.isfinite(hop)):
        raise ValueError(f"hop must be a positive number; got {hop!r}")
    return int(round(seconds * sr)), max(1, int(round(hop * sr)))


@numba_cache_safe
def segment_features(y: np.ndarray, sr: int = SR, seconds: float = SEGMENT_SECONDS,
                     hop: float = SEGMENT_SECONDS) -> tuple[np.ndarray, np.ndarray]:
    """The 57 features over sliding windows (for per-segment predictions and timelines).

    The whole signal is analysed once (one STFT, one HPSS); each window's features are the
    statistics of the frames whose centres fall inside it (and of its samples of the harmonic and
    percussive waveforms); its MFCCs use its own 80-dB range and its tempo its own onset envelope.
    The chroma tuning is estimated once for the whole signal. Values are close to
    :func:`clip_features` of the sliced audio, not identical (edges, tuning, HPSS context).

    Parameters
    ----------
    y : np.ndarray
        Mono samples at 22050 Hz.
    sr : int
        Sample rate (Hz); must be 22050.
    seconds : float
        Window length (s).
    hop : float
        Step between window starts (s).

    Returns
    -------
    starts_s : np.ndarray
        ``(n,)`` float64 window start times (s). The last partial window is dropped unless the
        signal is shorter than one window, in which case there is one window: the whole signal.
    X : np.ndarray
        ``(n, 57)`` float64 in :data:`FEATURE_COLUMNS` order.

    Raises
    ------
    ValueError
        If ``sr`` is not 22050 Hz, the signal is unusable, or ``seconds``/``hop`` are not positive.
    """
    y = _check_signal(y, sr)
    _window_sizes(sr, seconds, hop)  # check the window arguments before the analysis
    return analyse(y, sr).segment_features(seconds, hop)


# --------------------------------------------------------------------------------------------------
# Log-mel spectrograms


@numba_cache_safe
def logmel(y: np.ndarray, sr: int = SR, *, n_mels: int = 128, n_fft: int = N_FFT,
           hop_length: int = HOP_LENGTH, fmin: float = 0.0, fmax: float | None = None) -> np.ndarray:
    """Log-mel power spectrogram, ``10 log10(max(power, 1e-10))`` dB (floor -100 dB, no clipping).

    Parameters
    ----------
    y : np.ndarray
        Mono samples at 22050 Hz.
    sr : int
        Sample rate (Hz); must be 22050.
    n_mels : int
        Number of mel bands.
    n_fft : int
        FFT size (samples); Hann window of the same length, centred frames.
    hop_length : int
        Hop between frames (samples).
    fmin, fmax : float
        Frequency range of the mel filters (Hz); ``fmax=None`` is ``sr / 2``.

    Returns
    -------
    np.ndarray
        ``(n_mels, 1 + len(y) // hop_length)`` float32 dB.
    """
    import librosa  # noqa: PLC0415

    y = _check_signal(y, sr)
    M = librosa.feature.melspectrogram(y=y, sr=sr, n_fft=int(n_fft), hop_length=int(hop_length),
                                       n_mels=int(n_mels), fmin=float(fmin), fmax=fmax, power=2.0)
    return (10.0 * np.log10(np.maximum(M.astype(np.float64), 1e-10))).astype(np.float32)


@numba_cache_safe
def logmel_patches(y: np.ndarray, sr: int = SR, seconds: float = SEGMENT_SECONDS,
                   hop: float | None = None, **mel: Any) -> np.ndarray:
    """Fixed-size log-mel patches over sliding windows (the deep models' input).

    One :func:`logmel` of the whole signal is cut into patches of ``1 + round(seconds * sr) //
    hop_length`` frames, one per window of :func:`window_starts` (patch ``i`` starts at frame
    ``start_i // hop_length``). A signal shorter than one window is zero-padded to one window.

    Parameters
    ----------
    y : np.ndarray
        Mono samples at 22050 Hz.
    sr : int
        Sample rate (Hz); must be 22050.
    seconds : float
        Patch length (s).
    hop : float, optional
        Step between patch starts (s); default ``seconds`` (non-overlapping).
    **mel
        Keyword arguments of :func:`logmel` (``n_mels``, ``n_fft``, ``hop_length``, ``fmin``, ``fmax``).

    Returns
    -------
    np.ndarray
        ``(n, n_mels, frames)`` float32 dB.
    """
    y = _check_signal(y, sr)
    win, _ = _window_sizes(sr, seconds, hop)
    hop_length = int(mel.get("hop_length", HOP_LENGTH))
    starts = window_starts(y.shape[0], sr, seconds, hop)
    if y.shape[0] < win:
        y = np.pad(y, (0, win - y.shape[0]))
    m = logmel(y, sr, **mel)
    frames = 1 + win // hop_length
    idx = starts // hop_length
    return np.stack([m[:, i:i + frames] for i in idx]).astype(np.float32, copy=False)
