"""Audio in: any file, byte string or upload -> mono float32 at 22050 Hz, or a typed error.

Decoding tries libsndfile (``soundfile``: WAV, FLAC, MP3, OGG/Vorbis, Opus, AIFF...) first and falls
back to FFmpeg's decoders bundled with PyAV (M4A/AAC, MP4, ADTS, and anything else libsndfile lacks),
so no system ``ffmpeg`` is needed. Reading is incremental: at most ``max_seconds`` of audio is ever
decoded, whatever the header claims.

The result matches ``librosa.load(path, sr=22050)``: samples as float32, channels averaged,
resampled with soxr in high-quality mode (``res_type="soxr_hq"``) and fixed to
``ceil(n * 22050 / sr_native)`` samples; input already at 22050 Hz is not resampled at all.
"""

from __future__ import annotations

import io
import math
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, BinaryIO, Union

import numpy as np

from genre.config import MAX_SECONDS, MIN_SECONDS, SR
from genre.errors import (
    AudioError,
    CorruptAudioError,
    EmptyAudioError,
    NotAudioError,
    SilentAudioError,
    TooShortError,
    UnsupportedCodecError,
)

__all__ = ["Signal", "load", "describe", "ACCEPTED_EXTENSIONS", "SILENCE_PEAK", "Source"]

#: File extensions offered to the uploader (lower case, no dot).
ACCEPTED_EXTENSIONS: tuple[str, ...] = ("wav", "flac", "mp3", "ogg", "oga", "opus", "m4a", "aac", "mp4")

#: Peak amplitude (full scale = 1.0) at or below which a signal counts as digital silence (-80 dBFS).
SILENCE_PEAK: float = 1e-4

#: Sample rates (Hz) outside this range are treated as a corrupt header.
_SR_RANGE = (1000, 768_000)
#: More channels than this are treated as a corrupt header.
_MAX_CHANNELS = 64
#: Read at most this many samples (frames x channels) per block, to bound memory.
_BLOCK_SAMPLES = 1 << 21

Source = Union[str, os.PathLike, bytes, bytearray, memoryview, BinaryIO]


@dataclass
class Signal:
    """Decoded audio ready for analysis.

    Attributes
    ----------
    y : np.ndarray
        Mono samples, float32, shape ``(n,)``, full scale 1.0.
    sr : int
        Sample rate of ``y`` (Hz).
    duration : float
        Length of ``y`` (s): what is analysed.
    original_duration : float or None
        Length of the input (s) as far as it is known; None when the input was cut at the limit
        and its header did not say how long it is.
    truncated : bool
        True when only the first ``max_seconds`` were kept.
    source : str
        Where it came from: the path, the upload's name, or ``"<bytes>"``.
    notes : list of str
        Things a person should know (cut to the limit, stream ended early...).
    native_sr : int or None
        Sample rate of the input (Hz).
    channels : int or None
        Channel count of the input.
    codec : str or None
        Container/codec as reported by the decoder, e.g. ``"FLAC/PCM_16"`` or ``"mov,mp4,m4a/aac"``.
    """

    y: np.ndarray
    sr: int
    duration: float
    original_duration: float | None
    truncated: bool
    source: str
    notes: list[str] = field(default_factory=list)
    native_sr: int | None = None
    channels: int | None = None
    codec: str | None = None


@dataclass
class _Decoded:
    y: np.ndarray  # mono float32 at native_sr
    native_sr: int
    channels: int
    codec: str
    declared_seconds: float | None  # from the header, may be wrong or None
    hit_limit: bool  # stopped reading at max_seconds
    notes: list[str] = field(default_factory=list)
    damaged: bool = False  # the decoder reported an error or found no audio it expected
    kind: str = ""  # container name for messages


def _fmt_seconds(seconds: float) -> str:
    if seconds >= 120:
        m, s = divmod(seconds, 60)
        return f"{int(m)} min {s:.0f} s"
    return f"{seconds:.1f} s"


def _to_mono(block: np.ndarray) -> np.ndarray:
    """(frames, channels) float32 -> (frames,) float32 by averaging, as librosa.to_mono does."""
    if block.shape[1] == 1:
        return block[:, 0]
    return block.mean(axis=1, dtype=np.float32)


def _resample(y: np.ndarray, orig_sr: int, target_sr: int) -> np.ndarray:
    """librosa.resample(y, orig_sr, target_sr, res_type="soxr_hq") without importing librosa."""
    if orig_sr == target_sr:
        return y
    import soxr

    n_out = int(math.ceil(y.shape[0] * float(target_sr) / orig_sr))
    out = soxr.resample(y, orig_sr, target_sr, quality="soxr_hq")
    if out.shape[0] > n_out:
        out = out[:n_out]
    elif out.shape[0] < n_out:
        out = np.pad(out, (0, n_out - out.shape[0]))
    return np.ascontiguousarray(out, dtype=np.float32)


# --------------------------------------------------------------------------- soundfile

def _check_header(sr: int, channels: int, what: str) -> None:
    if not (_SR_RANGE[0] <= sr <= _SR_RANGE[1]):
        raise CorruptAudioError(f"The {what} header gives an impossible sample rate ({sr} Hz).")
    if not (1 <= channels <= _MAX_CHANNELS):
        raise CorruptAudioError(f"The {what} header gives an impossible channel count ({channels}).")


def _decode_soundfile(opener: Any, max_seconds: float) -> _Decoded | None:
    """Decode with libsndfile; None when libsndfile does not recognise the data."""
    import soundfile as sf

    try:
        f = sf.SoundFile(opener())
    except (sf.LibsndfileError, RuntimeError, TypeError, ValueError):
        return None  # not a format libsndfile knows: let PyAV try
    with f:
        what = f.format
        codec = f"{f.format}/{f.subtype}"
        _check_header(f.samplerate, f.channels, what)
        native_sr, channels = int(f.samplerate), int(f.channels)
        limit = int(math.floor(max_seconds * native_sr)) if math.isfinite(max_seconds) else None
        declared = int(f.frames) if 0 < f.frames < (1 << 62) else None
        block = max(1, _BLOCK_SAMPLES // channels)
        parts: list[np.ndarray] = []
        got = 0
        error: Exception | None = None
        while limit is None or got < limit:
            want = block if limit is None else min(block, limit - got)
            try:
                data = f.read(frames=want, dtype="float32", always_2d=True)
            except Exception as exc:  # libsndfile stops on a damaged stream
                error = exc
                break
            if data.shape[0] == 0:
                break
            parts.append(_to_mono(data))
            got += data.shape[0]
            if data.shape[0] < want:
                break
        hit_limit = limit is not None and got >= limit
        if hit_limit:  # exactly the limit with nothing left is not a cut
            if declared is not None:
                hit_limit = declared > limit
            else:
                try:
                    hit_limit = f.read(frames=1, dtype="float32").shape[0] > 0
                except Exception:
                    hit_limit = False
    y = parts[0] if len(parts) == 1 else (np.concatenate(parts) if parts else np.zeros(0, np.float32))
    notes: list[str] = []
    damaged = error is not None or got == 0
    declared_s = declared / native_sr if declared else None
    # Some headers only estimate the length (MP3 without a Xing frame): allow a margin before calling
    # a short stream damaged.
    short = declared is not None and declared - got > max(native_sr, 0.05 * declared)
    if not hit_limit and got and (error is not None or short):
        notes.append(
            f"The {what} stream ends early or is damaged: only {_fmt_seconds(got / native_sr)} could be "
            + (f"decoded of the {_fmt_seconds(declared_s)} its header announces." if declared_s else "decoded.")
        )
        declared_s = got / native_sr
    return _Decoded(y, native_sr, channels, codec, declared_s, hit_limit, notes, damaged, what)


# --------------------------------------------------------------------------- PyAV

def _frame_to_float(frame: Any) -> np.ndarray:
    """An av.AudioFrame -> (frames, channels) float32 in [-1, 1]."""
    arr = frame.to_ndarray()
    fmt = frame.format
    channels = len(frame.layout.channels)
    if fmt.is_planar:
        arr = arr.T  # (channels, n) -> (n, channels)
    else:
        arr = arr.reshape(-1, channels)
    name = fmt.name.rstrip("p")
    if name in ("flt", "dbl"):
        return arr.astype(np.float32, copy=False)
    if name == "u8":
        return (arr.astype(np.float32) - 128.0) / 128.0
    scale = {"s16": 2.0 ** 15, "s32": 2.0 ** 31, "s64": 2.0 ** 63}.get(name)
    if scale is None:
        raise UnsupportedCodecError(f"The decoder produced an unknown sample format ({fmt.name}).")
    return (arr.astype(np.float32) / np.float32(scale)).astype(np.float32, copy=False)


def _decode_pyav(opener: Any, max_seconds: float) -> _Decoded:
    import av

    try:
        container = av.open(opener(), mode="r")
    except av.error.FFmpegError as exc:
        raise NotAudioError("The data is not in an audio format that can be read.") from exc
    with container:
        fmt_name = container.format.name if container.format else "unknown"
        kind = (container.format.long_name or fmt_name) if container.format else "unknown"
        streams = list(container.streams.audio)
        if not streams:
            raise NotAudioError(f"The file contains no audio track (it reads as {kind}).")
        stream = streams[0]
        ctx = stream.codec_context
        codec_name = getattr(getattr(stream, "codec", None), "name", None) or (ctx.name if ctx else None)
        if ctx is None or not codec_name or codec_name == "none":
            raise UnsupportedCodecError(
                f"The {fmt_name} container holds an audio codec that cannot be decoded here.")
        codec = f"{fmt_name}/{codec_name}"
        native_sr = int(ctx.sample_rate or 0)
        channels = len(ctx.layout.channels) if ctx.layout else 0
        declared_s = None
        if stream.duration and stream.time_base:
            declared_s = float(stream.duration * stream.time_base)
        elif container.duration:
            declared_s = container.duration / av.time_base
        if declared_s is not None and not (0 < declared_s < 1e9):
            declared_s = None
        parts: list[np.ndarray] = []
        got = 0
        limit = None
        error: Exception | None = None
        hit_limit = False
        try:
            for frame in container.decode(stream):
                if limit is None:
                    native_sr = int(frame.sample_rate)
                    channels = len(frame.layout.channels)
                    _check_header(native_sr, channels, fmt_name)
                    limit = int(math.floor(max_seconds * native_sr)) if math.isfinite(max_seconds) else 1 << 62
                data = _to_mono(_frame_to_float(frame))
                if got + data.shape[0] >= limit:
                    parts.append(data[: limit - got])
                    got = limit
                    hit_limit = True
                    break
                parts.append(data)
                got += data.shape[0]
        except AudioError:
            raise
        except av.error.FFmpegError as exc:
            error = exc
        if hit_limit:
            # Reached the limit exactly at the end of the stream? Then nothing was cut.
            if declared_s is not None and declared_s * native_sr <= limit + native_sr * 0.05:
                hit_limit = False
    if not native_sr:
        raise UnsupportedCodecError(f"The {codec} stream could not be decoded here.")
    notes: list[str] = []
    if got == 0 and isinstance(error, av.error.DecoderNotFoundError):
        raise UnsupportedCodecError(f"The {codec} audio codec cannot be decoded here.")
    y = np.concatenate(parts) if len(parts) > 1 else (parts[0] if parts else np.zeros(0, np.float32))
    if error is not None and not hit_limit and got:
        notes.append(f"The {fmt_name} stream ends early or is damaged: only "
                     f"{_fmt_seconds(got / native_sr)} could be decoded.")
        declared_s = got / native_sr
    return _Decoded(np.ascontiguousarray(y, dtype=np.float32), native_sr, channels, codec,
                    declared_s, hit_limit, notes, damaged=error is not None or got == 0, kind=kind)


_MAGIC = ((0, b"fLaC", "FLAC"), (0, b"OggS", "OGG"), (0, b"ID3", "MP3"), (4, b"ftyp", "MP4/M4A"),
          (0, b"FORM", "AIFF"), (8, b"WAVE", "WAV"), (0, b"RIFF", "RIFF/WAV"), (0, b"RF64", "RF64/WAV"),
          (0, b"caff", "CAF"))


def _sniff(opener: Any) -> str | None:
    """Name of the container the first bytes announce, or None."""
    src = opener()
    try:
        if isinstance(src, str):
            with open(src, "rb") as fh:
                head = fh.read(16)
        else:
            head = src.read(16)
    except OSError:
        return None
    for offset, magic, name in _MAGIC:
        if head[offset:offset + len(magic)] == magic:
            return name
    return None


def _decode(opener: Any, max_seconds: float) -> _Decoded:
    """soundfile first; PyAV when libsndfile does not know the data or reports damage."""
    dec = _decode_soundfile(opener, max_seconds)
    if dec is not None and not dec.damaged:
        return dec
    try:
        alt = _decode_pyav(opener, max_seconds)
    except Exception as exc:
        if dec is None and isinstance(exc, AudioError):
            kind = _sniff(opener)
            if kind and isinstance(exc, NotAudioError):
                raise CorruptAudioError(
                    f"The data looks like {kind} but the rest is damaged or cut off.") from exc
            raise
        if dec is None:
            raise
        alt = None  # keep what libsndfile managed to read
    if dec is None or (alt is not None and alt.y.shape[0] / alt.native_sr >= dec.y.shape[0] / dec.native_sr):
        dec = alt
    if dec.y.shape[0] == 0:
        raise CorruptAudioError(
            f"The file is recognised as {dec.kind} but no audio could be decoded from it "
            "(the stream is empty, damaged or cut off).")
    return dec


# --------------------------------------------------------------------------- public

def _openers(source: Any) -> tuple[Any, str]:
    """Return (opener, label): opener() gives something soundfile/PyAV can open, from the start."""
    if isinstance(source, (str, os.PathLike)):
        path = Path(source)
        label = str(source)
        if not path.exists():
            raise AudioError(f"There is no file at {label}.")
        if path.is_dir():
            raise AudioError(f"{label} is a folder, not an audio file.")
        if path.stat().st_size == 0:
            raise EmptyAudioError(f"The file {path.name} is empty (0 bytes).")
        return (lambda: str(path)), label
    if isinstance(source, (bytes, bytearray, memoryview)):
        data = bytes(source)
        if not data:
            raise EmptyAudioError("The upload is empty (0 bytes).")
        return (lambda: io.BytesIO(data)), "<bytes>"
    if hasattr(source, "read"):
        label = str(getattr(source, "name", None) or "<upload>")
        if hasattr(source, "getvalue"):  # BytesIO and Streamlit's UploadedFile: the whole upload
            data = source.getvalue()
        else:
            try:
                if source.seekable():
                    source.seek(0)
            except (AttributeError, OSError, ValueError):
                pass
            data = source.read()
        if isinstance(data, str):
            raise TypeError("load() needs a binary file object (opened with 'rb'), got a text stream.")
        if not data:
            raise EmptyAudioError(f"The upload {label} is empty (0 bytes).")
        data = bytes(data)
        return (lambda: io.BytesIO(data)), label
    raise TypeError(f"load() takes a path, bytes or a binary file object, not {type(source).__name__}.")


def load(source: Source, *, sr: int = SR, max_seconds: float = MAX_SECONDS,
         min_seconds: float = MIN_SECONDS) -> Signal:
    """Decode audio from a path, bytes or binary file object to mono float32 at ``sr`` Hz.

    Parameters
    ----------
    source : str, os.PathLike, bytes, binary file-like or Signal
        The audio: a path, the raw bytes of a file (what a browser upload gives), or an object with
        ``read()`` such as Streamlit's ``UploadedFile`` (read from its start). An already decoded
        :class:`Signal` at ``sr`` is returned as it is, so callers that decoded once (to draw a
        waveform, say) can pass it on without decoding again.
    sr : int
        Target sample rate (Hz). Input already at this rate is not resampled.
    max_seconds : float
        Longest stretch analysed (s). Longer inputs are cut to their first ``max_seconds``,
        ``truncated`` is set and a note says so; nothing past the limit is decoded.
    min_seconds : float
        Shortest input accepted (s).

    Returns
    -------
    Signal

    Raises
    ------
    genre.errors.AudioError
        One of its subclasses: ``EmptyAudioError``, ``NotAudioError``, ``CorruptAudioError``,
        ``UnsupportedCodecError``, ``TooShortError``, ``SilentAudioError`` (or ``AudioError`` itself
        for a missing path). The message says what was wrong and what is accepted.
    TypeError
        ``source`` is of a type that cannot hold audio (a programming error).
    """
    if not (max_seconds > 0):
        raise ValueError(f"max_seconds must be positive, got {max_seconds!r}.")
    if isinstance(source, Signal):
        if source.sr != sr:
            raise ValueError(f"Signal is at {source.sr} Hz; load() was asked for {sr} Hz.")
        return source
    opener, label = _openers(source)
    try:
        dec = _decode(opener, max_seconds)
    except AudioError:
        raise
    except MemoryError as exc:
        raise CorruptAudioError("The file claims more audio than can be held in memory.") from exc
    except Exception as exc:  # any decoder surprise becomes a typed error, never a crash
        raise CorruptAudioError(f"The audio could not be decoded ({type(exc).__name__}: {exc}).") from exc

    y = dec.y
    if not np.all(np.isfinite(y)):
        raise CorruptAudioError("The audio contains invalid sample values (NaN or infinity).")
    native_seconds = y.shape[0] / dec.native_sr
    if native_seconds < min_seconds:
        if dec.damaged:
            raise CorruptAudioError(
                f"The {dec.kind} stream is damaged or cut off: only {native_seconds:.2f} s could be "
                f"decoded, and at least {min_seconds:g} s is needed.")
        raise TooShortError(
            f"The audio is only {native_seconds:.2f} s long; at least {min_seconds:g} s is needed.")
    if float(np.max(np.abs(y))) <= SILENCE_PEAK:
        raise SilentAudioError(
            f"The audio is digital silence ({_fmt_seconds(native_seconds)} with no sound above -80 dBFS).")

    notes = list(dec.notes)
    original = dec.declared_seconds
    if dec.hit_limit:
        limit_txt = _fmt_seconds(max_seconds)
        if original is not None and original > native_seconds:
            notes.append(f"The recording is {_fmt_seconds(original)} long; only the first {limit_txt} "
                         "were analysed.")
        else:
            original = None
            notes.append(f"The recording is longer than {limit_txt}; only the first {limit_txt} "
                         "were analysed.")
    elif original is None or abs(original - native_seconds) > 0.5:
        # Header unknown or off (a wrong length field, encoder padding): trust what was decoded.
        original = native_seconds

    y = _resample(y, dec.native_sr, sr)
    return Signal(y=y, sr=int(sr), duration=y.shape[0] / sr, original_duration=original,
                  truncated=bool(dec.hit_limit), source=label, notes=notes,
                  native_sr=dec.native_sr, channels=dec.channels, codec=dec.codec)


def describe(signal: Signal) -> str:
    """One line for a person, e.g. ``"46.2 s, OGG/VORBIS 44100 Hz stereo -> mono 22050 Hz"``."""
    ch = {1: "mono", 2: "stereo"}.get(signal.channels or 0, f"{signal.channels} channels")
    parts = [_fmt_seconds(signal.duration)]
    if signal.codec:
        parts.append(f"{signal.codec} {signal.native_sr} Hz {ch} -> mono {signal.sr} Hz")
    else:
        parts.append(f"mono {signal.sr} Hz")
    text = ", ".join(parts)
    if signal.truncated and signal.original_duration:
        text += f" (first {_fmt_seconds(signal.duration)} of {_fmt_seconds(signal.original_duration)})"
    elif signal.truncated:
        text += " (cut at the limit)"
    return text
