"""Deterministic degradations of real recordings, for the robustness protocol.

Every function takes mono float audio ``y`` at ``sr`` Hz and returns float32 audio of the same
length at the same rate; random parts are drawn from ``numpy.random.default_rng(seed)``, so the same
input and seed always give the same output.

:data:`DEGRADATIONS` maps the protocol names (results key ``robust_<name>``) to the functions with
their settings:

``mp3_64k``     MP3 at 64 kbit/s (LAME through PyAV), decoded back.
``phone``       telephone band: resampled to 8 kHz, 300-3400 Hz band-pass (4th-order Butterworth,
                zero phase), back to ``sr``.
``noise_20db``  white Gaussian noise at 20 dB SNR (relative to the clip's mean power).
``reverb``      small-room synthetic reverb: exponentially decaying noise impulse response
                (RT60 0.3 s, direct path + reflections from 2.5 ms), wet/dry 1:1 at equal energy,
                level restored to the input's RMS.
``gain_clip``   -20 dB gain, then hard clipping at a quarter of the attenuated peak (a quiet
                recording driven into a limiter).
"""

from __future__ import annotations

import io
from typing import Callable

import numpy as np

__all__ = ["mp3", "phone", "noise", "reverb", "gain_clip", "DEGRADATIONS", "AUGMENTATIONS", "PROTOCOL_MAX_SECONDS", "BAND_AUGMENTATIONS", "augment", "band_settings", "apply"]


def _f32(y) -> np.ndarray:
    y = np.asarray(y, dtype=np.float32)
    if y.ndim != 1:
        raise ValueError(f"y must be mono, shape (n,); got {y.shape}.")
    return y


def _fit(y: np.ndarray, n: int) -> np.ndarray:
    y = y[:n]
    return np.pad(y, (0, n - len(y))).astype(np.float32) if len(y) < n else y.astype(np.float32)


def mp3(y: np.ndarray, sr: int, bitrate: int = 64000) -> np.ndarray:
    """Encode to MP3 at ``bitrate`` bit/s (LAME via PyAV) and decode back to ``sr`` Hz, same length.

    The encoder delay is removed by aligning on the cross-correlation peak with the input."""
    import av

    y = _f32(y)
    buf = io.BytesIO()
    with av.open(buf, "w", format="mp3") as out:
        st = out.add_stream("libmp3lame", rate=sr, layout="mono")
        st.bit_rate = bitrate
        frame_len = 1152
        pcm = np.clip(y, -1, 1)
        for i in range(0, len(pcm), frame_len):
            chunk = pcm[i:i + frame_len]
            fr = av.AudioFrame.from_ndarray(chunk[None, :].astype(np.float32), format="flt", layout="mono")
            fr.sample_rate = sr
            fr.pts = i
            for pkt in st.encode(fr):
                out.mux(pkt)
        for pkt in st.encode(None):
            out.mux(pkt)
    buf.seek(0)
    parts = []
    with av.open(buf, "r") as inp:
        rs = av.AudioResampler(format="flt", layout="mono", rate=sr)
        for fr in inp.decode(audio=0):
            for r in rs.resample(fr):
                parts.append(r.to_ndarray().reshape(-1))
        for r in rs.resample(None):
            parts.append(r.to_ndarray().reshape(-1))
    dec = np.concatenate(parts).astype(np.float32) if parts else np.zeros(0, np.float32)
    # remove the codec delay: best lag within 0-4000 samples on the first 2 s
    n = min(len(y), 2 * sr)
    best, lag = -np.inf, 0
    if n > 0 and len(dec) >= n:
        seg = y[:n]
        for d in range(0, min(4000, len(dec) - n) + 1, 1):
            c = float(np.dot(dec[d:d + n], seg))
            if c > best:
                best, lag = c, d
    return _fit(dec[lag:], len(y))


def phone(y: np.ndarray, sr: int, low: float = 300.0, high: float = 3400.0, phone_sr: int = 8000) -> np.ndarray:
    """Telephone band: resample to ``phone_sr``, band-pass ``low``-``high`` Hz, resample back."""
    import soxr
    from scipy.signal import butter, sosfiltfilt

    y = _f32(y)
    y8 = soxr.resample(y, sr, phone_sr)
    sos = butter(4, [low, high], btype="bandpass", fs=phone_sr, output="sos")
    y8 = sosfiltfilt(sos, y8).astype(np.float32) if len(y8) > 27 else y8
    return _fit(soxr.resample(y8, phone_sr, sr), len(y))


def noise(y: np.ndarray, sr: int, snr_db: float = 20.0, seed: int = 0) -> np.ndarray:
    """Add white Gaussian noise at ``snr_db`` dB below the clip's mean power."""
    y = _f32(y)
    p = float(np.mean(y.astype(np.float64) ** 2))
    rng = np.random.default_rng(seed)
    n = rng.standard_normal(len(y)) * np.sqrt(p / 10 ** (snr_db / 10))
    return (y + n).astype(np.float32)


def room_impulse(sr: int, rt60: float = 0.3, seed: int = 0) -> np.ndarray:
    """Synthetic small-room impulse response: unit direct path + decaying noise tail from 2.5 ms."""
    rng = np.random.default_rng(seed)
    n = int(rt60 * sr)
    t = np.arange(n) / sr
    tail = rng.standard_normal(n) * np.exp(-6.9078 * t / rt60)  # -60 dB at rt60
    tail[: int(0.0025 * sr)] = 0.0
    tail /= np.sqrt(np.sum(tail ** 2)) + 1e-12
    h = tail.copy()
    h[0] = 1.0
    return h


def reverb(y: np.ndarray, sr: int, rt60: float = 0.3, seed: int = 0) -> np.ndarray:
    """Convolve with :func:`room_impulse` (dry and wet at equal energy); RMS restored."""
    from scipy.signal import fftconvolve

    y = _f32(y)
    wet = fftconvolve(y.astype(np.float64), room_impulse(sr, rt60, seed))[: len(y)]
    rms_in = np.sqrt(np.mean(y.astype(np.float64) ** 2))
    rms_out = np.sqrt(np.mean(wet ** 2)) + 1e-12
    return (wet * (rms_in / rms_out)).astype(np.float32)


def gain_clip(y: np.ndarray, sr: int, gain_db: float = -20.0, clip_fraction: float = 0.25) -> np.ndarray:
    """Attenuate by ``gain_db`` dB, then hard-clip at ``clip_fraction`` of the attenuated peak."""
    y = _f32(y) * np.float32(10 ** (gain_db / 20))
    lim = clip_fraction * float(np.max(np.abs(y))) if len(y) else 0.0
    return np.clip(y, -lim, lim).astype(np.float32)


#: Protocol name -> ``f(y, sr) -> y``, with the settings of the robustness protocol.
DEGRADATIONS: dict[str, Callable[[np.ndarray, int], np.ndarray]] = {
    "mp3_64k": lambda y, sr: mp3(y, sr, 64000),
    "phone": lambda y, sr: phone(y, sr),
    "noise_20db": lambda y, sr: noise(y, sr, 20.0, seed=0),
    "reverb": lambda y, sr: reverb(y, sr, 0.3, seed=0),
    "gain_clip": lambda y, sr: gain_clip(y, sr, -20.0, 0.25),
}


#: The robustness protocol cuts each clip to its first this many seconds before degrading it.
PROTOCOL_MAX_SECONDS: float = 10.0

#: Training augmentations (:func:`augment`): names of the degraded copies made of each training clip.
AUGMENTATIONS: tuple[str, ...] = ("aug_band", "aug_mix")
#: Extra training copies for the pretrained ensemble's band head only (:func:`augment`): one
#: telephone-band copy of each training clip (the main head never sees them).
BAND_AUGMENTATIONS: tuple[str, ...] = ("aug_tel",)


def band_settings(seed: int) -> dict:
    """The settings :func:`augment` draws for its ``aug_band`` copy with ``seed``: ``rate`` (Hz),
    ``low`` and ``high`` (band edges, Hz)."""
    rng = np.random.default_rng(seed)
    rate = int(rng.choice([8000, 11025, 16000]))
    high = min(float(rng.uniform(2800, 5000)), 0.45 * rate)
    return {"rate": rate, "low": float(rng.uniform(150, 500)), "high": high}


def augment(name: str, y: np.ndarray, sr: int, seed: int) -> np.ndarray:
    """A randomly degraded training copy of ``y`` (seeded), for training augmentation.

    The settings are drawn around, never at, the robustness protocol's fixed ones, so that the
    protocol stays a test of conditions the head was not fitted on exactly:

    - ``aug_band``: band-limited through a random band (low cut 150-500 Hz, high cut 2.8-5 kHz, at
      8, 11.025 or 16 kHz), like phones, small speakers and voice codecs;
    - ``aug_mix``: white noise at 10-30 dB SNR, then with probability 1/2 a room of RT60 0.2-0.9 s,
      then with probability 1/2 a gain of -30-0 dB and hard clipping at 20-60 % of the peak;
    - ``aug_tel`` (:data:`BAND_AUGMENTATIONS`): a telephone channel, resampled to 8 kHz through a
      random band (low cut 200-400 Hz, high cut 3.0-3.6 kHz) around the standard telephone band
      300-3400 Hz, which the robustness protocol's ``phone`` condition also uses.
    """
    rng = np.random.default_rng(seed)
    if name == "aug_band":
        s = band_settings(seed)
        return phone(y, sr, low=s["low"], high=s["high"], phone_sr=s["rate"])
    if name == "aug_tel":
        return phone(y, sr, low=float(rng.uniform(200, 400)), high=float(rng.uniform(3000, 3600)), phone_sr=8000)
    if name == "aug_mix":
        out = noise(y, sr, float(rng.uniform(10, 30)), seed=int(rng.integers(1 << 30)))
        if rng.random() < 0.5:
            out = reverb(out, sr, float(rng.uniform(0.2, 0.9)), seed=int(rng.integers(1 << 30)))
        if rng.random() < 0.5:
            out = gain_clip(out, sr, float(rng.uniform(-30, 0)), float(rng.uniform(0.2, 0.6)))
        return out
    raise ValueError(f"Unknown augmentation {name!r}; choose from {AUGMENTATIONS + BAND_AUGMENTATIONS}.")


def apply(name: str, y: np.ndarray, sr: int) -> np.ndarray:
    """Apply degradation ``name`` (a :data:`DEGRADATIONS` key)."""
    if name not in DEGRADATIONS:
        raise ValueError(f"Unknown degradation {name!r}; choose from {sorted(DEGRADATIONS)}.")
    return DEGRADATIONS[name](y, sr)
