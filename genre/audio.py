"""Audio in: any file, byte string or upload -> mono float32 at 22050 Hz, or a typed error.

Decoding tries libsndfile (``soundfile``: WAV, FLAC, MP3, OGG/Vorbis, Opus, AIFF...) first and falls
back to FFmpeg's decoders bundled with PyAV (M4A/AAC, MP4, ADTS, and anything else libsndfile lacks),
so no system ``ffmpeg`` is needed; chained Ogg files (several streams one after another, which
libsndfile reads only the first of) go to PyAV. Reading is incremental: at most ``max_seconds`` of
audio is ever decoded, whatever the header claims; each block is checked (finite samples within
:data:`MAX_SAMPLE_PEAK` of full scale), mixed to mono and resampled as it arrives, so memory holds
the 22050 Hz result, not the native stream. Uploads are read in place (a seekable file object) or
spooled to a temporary file, never copied whole into memory, and every input is identified by its
content alone (never by its file name's extension). A stream shorter than its header announces
(WAV data size, MP3/FLAC length, an Ogg stream without its end mark) gets an "ends early" note.

The result matches ``librosa.load(path, sr=22050)``: samples as float32, channels averaged,
resampled with soxr in high-quality mode (``res_type="soxr_hq"``) and fixed to
``ceil(n * 22050 / sr_native)`` samples; input already at 22050 Hz is not resampled at all.
"""

from __future__ import annotations

import io
import math
import os
import tempfile
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

__all__ = ["Signal", "load", "describe", "ACCEPTED_EXTENSIONS", "SILENCE_PEAK", "MAX_SAMPLE_PEAK",
           "Source"]

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
#: Largest sample magnitude accepted (full scale = 1.0). Float files may exceed full scale a
#: little; one whose samples reach 1000x (+60 dB) is damaged or mis-scaled, and values near the
#: float32 range overflow the spectral analysis.
MAX_SAMPLE_PEAK: float = 1e3
#: An upload that is not a seekable file (or a bytearray/memoryview) is spooled to a temporary
#: file that stays in memory up to this size (bytes), then moves to disk.
_SPOOL_BYTES = 16 << 20
_SPOOL_CHUNK = 1 << 20

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
    y: np.ndarray  # mono float32 at the target rate
    native_sr: int
    channels: int
    codec: str
    declared_seconds: float | None  # from the header, may be wrong or None
    hit_limit: bool  # stopped reading at max_seconds
    notes: list[str] = field(default_factory=list)
    damaged: bool = False  # the decoder reported an error or found no audio it expected
    kind: str = ""  # container name for messages
    n: int = 0  # native mono samples decoded
    peak: float = 0.0  # peak of the native mono mix (full scale 1.0)

    @property
    def seconds(self) -> float:
        return self.n / self.native_sr if self.native_sr else 0.0


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


# --------------------------------------------------------------------------- decoding sink

class _Sink:
    """Takes decoded blocks as they come: checks the sample values, mixes to mono and resamples to
    the target rate incrementally (soxr's stream resampler gives exactly ``soxr.resample``'s
    output), so memory holds the 22050 Hz result and one block, never the whole native stream."""

    def __init__(self, target_sr: int):
        self.target_sr = int(target_sr)
        self.native_sr = 0
        self.n = 0  # native mono samples taken
        self.peak = 0.0  # of the mono mix (for the silence test)
        self._parts: list[np.ndarray] = []
        self._rs = None

    def start(self, native_sr: int) -> None:
        self.native_sr = int(native_sr)
        if self.native_sr != self.target_sr:
            import soxr

            self._rs = soxr.ResampleStream(self.native_sr, self.target_sr, 1, dtype="float32",
                                           quality="soxr_hq")

    def add(self, block: np.ndarray) -> None:
        """``block``: (frames, channels) float32 at ``native_sr``."""
        if block.shape[0] == 0:
            return
        raw_peak = float(np.max(np.abs(block)))
        if not math.isfinite(raw_peak):
            raise CorruptAudioError("The audio contains invalid sample values (NaN or infinity).")
        if raw_peak > MAX_SAMPLE_PEAK:
            raise CorruptAudioError(
                f"The audio's sample values reach {raw_peak:.3g} times full scale; samples are expected "
                f"within +-1 (up to +-{MAX_SAMPLE_PEAK:g} is accepted), so the file is damaged or "
                "mis-scaled.")
        mono = np.ascontiguousarray(_to_mono(block), dtype=np.float32)
        self.peak = max(self.peak, float(np.max(np.abs(mono))))
        self.n += mono.shape[0]
        self._parts.append(self._rs.resample_chunk(mono) if self._rs is not None else mono.copy())

    @property
    def seconds(self) -> float:
        return self.n / self.native_sr if self.native_sr else 0.0

    def finish(self) -> np.ndarray:
        """The mono signal at ``target_sr``: ``ceil(n * target / native)`` samples, as librosa."""
        if self._rs is not None:
            self._parts.append(self._rs.resample_chunk(np.zeros(0, np.float32), last=True))
            self._rs = None
        parts, self._parts = self._parts, []
        y = parts[0] if len(parts) == 1 else (np.concatenate(parts) if parts else np.zeros(0, np.float32))
        if self.native_sr and self.native_sr != self.target_sr:
            n_out = int(math.ceil(self.n * float(self.target_sr) / self.native_sr))
            if y.shape[0] > n_out:
                y = y[:n_out]
            elif y.shape[0] < n_out:
                y = np.pad(y, (0, n_out - y.shape[0]))
        return np.ascontiguousarray(y, dtype=np.float32)


# --------------------------------------------------------------------------- soundfile

def _check_header(sr: int, channels: int, what: str) -> None:
    if not (_SR_RANGE[0] <= sr <= _SR_RANGE[1]):
        raise CorruptAudioError(f"The {what} header gives an impossible sample rate ({sr} Hz).")
    if not (1 <= channels <= _MAX_CHANNELS):
        raise CorruptAudioError(f"The {what} header gives an impossible channel count ({channels}).")


def _wav_declared_frames(fh: BinaryIO) -> tuple[int, int] | None:
    """(frames the RIFF/RF64 header's data chunk announces, frames actually present), or None.

    libsndfile silently shortens a data chunk that overruns the file, so the header's own claim
    is read here to tell a cut or damaged WAV from a complete one.
    """
    try:
        fh.seek(0, os.SEEK_END)
        size = fh.tell()
        fh.seek(0)
        head = fh.read(12)
        if len(head) < 12 or head[8:12] != b"WAVE" or head[:4] not in (b"RIFF", b"RF64"):
            return None
        rf64 = head[:4] == b"RF64"
        align = data64 = None
        pos = 12
        for _ in range(4096):  # chunks before "data"
            fh.seek(pos)
            ck = fh.read(8)
            if len(ck) < 8:
                return None
            cid, csize = ck[:4], int.from_bytes(ck[4:], "little")
            if cid == b"ds64":
                body = fh.read(16)
                if len(body) == 16:
                    data64 = int.from_bytes(body[8:16], "little")
            elif cid == b"fmt ":
                body = fh.read(14)
                if len(body) == 14:
                    align = int.from_bytes(body[12:14], "little")
            elif cid == b"data":
                if not align:
                    return None
                declared = data64 if (rf64 and csize == 0xFFFFFFFF and data64 is not None) else csize
                present = max(0, size - (pos + 8))
                return declared // align, present // align
            pos += 8 + csize + (csize & 1)
    except (OSError, ValueError):
        return None
    return None


def _decode_soundfile(opener: Any, max_seconds: float, sr: int) -> _Decoded | None:
    """Decode with libsndfile; None when libsndfile does not recognise the data."""
    import soundfile as sf

    with opener() as fh:
        try:
            f = sf.SoundFile(fh)
        except (sf.LibsndfileError, RuntimeError, TypeError, ValueError):
            return None  # not a format libsndfile knows: let PyAV try
        with f:
            what = f.format
            codec = f"{f.format}/{f.subtype}"
            _check_header(f.samplerate, f.channels, what)
            native_sr, channels = int(f.samplerate), int(f.channels)
            limit = int(math.floor(max_seconds * native_sr)) if math.isfinite(max_seconds) else None
            declared = int(f.frames) if 0 < f.frames < (1 << 62) else None
            sink = _Sink(sr)
            sink.start(native_sr)
            block = max(1, _BLOCK_SAMPLES // channels)
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
                sink.add(data)
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
        wav = _wav_declared_frames(fh) if what in ("WAV", "WAVEX", "RF64") else None
    if wav is not None and wav[0] > wav[1] and (declared is None or wav[0] > declared):
        declared = wav[0]  # the header's claim, which libsndfile cut to what the file holds
    notes: list[str] = []
    damaged = error is not None or got == 0
    declared_s = declared / native_sr if declared else None
    # Some headers only estimate the length (MP3 without a Xing frame): allow a margin before calling
    # a short stream damaged. A WAV header is exact: 10 ms short is a cut.
    margin = 0.01 * native_sr if wav is not None else max(native_sr, 0.05 * (declared or 0))
    short = declared is not None and declared - got > margin
    if got and not hit_limit and (error is not None or short):
        notes.append(
            f"The {what} stream ends early or is damaged: only {_fmt_seconds(got / native_sr)} could be "
            + (f"decoded of the {_fmt_seconds(declared_s)} its header announces." if declared_s else "decoded.")
        )
        declared_s = got / native_sr
    elif hit_limit and wav is not None and wav[0] - wav[1] > margin:
        notes.append(f"The {what} file holds only {_fmt_seconds(wav[1] / native_sr)} of the "
                     f"{_fmt_seconds(wav[0] / native_sr)} its header announces: it is cut or damaged "
                     "after the part analysed.")
        declared_s = wav[1] / native_sr
    return _Decoded(sink.finish(), native_sr, channels, codec, declared_s, hit_limit, notes, damaged,
                    what, n=sink.n, peak=sink.peak)


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


def _decode_pyav(opener: Any, max_seconds: float, sr: int) -> _Decoded:
    import av

    with opener() as fh:
        try:
            container = av.open(fh, mode="r")
        except av.error.FFmpegError as exc:
            raise NotAudioError("The data is not in an audio format that can be read.") from exc
        with container:
            fmt_name = container.format.name if container.format else "unknown"
            kind = (container.format.long_name or fmt_name) if container.format else "unknown"
            streams = list(container.streams.audio)
            if not streams:
                err = NotAudioError(f"The file contains no audio track (it reads as {kind}).")
                err.container_ok = True  # a real container, not damaged data: say so, not "damaged"
                raise err
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
            sink = _Sink(sr)
            got = 0
            limit = None
            error: Exception | None = None
            hit_limit = False
            resampler = None  # only when the rate changes mid-stream (chained Ogg links)
            try:
                for frame in container.decode(stream):
                    if limit is None:
                        native_sr = int(frame.sample_rate)
                        channels = len(frame.layout.channels)
                        _check_header(native_sr, channels, fmt_name)
                        sink.start(native_sr)
                        limit = int(math.floor(max_seconds * native_sr)) if math.isfinite(max_seconds) else 1 << 62
                    if int(frame.sample_rate) != native_sr:
                        if resampler is None:
                            resampler = av.AudioResampler(format="flt", layout="mono", rate=native_sr)
                        data = np.concatenate([_frame_to_float(f) for f in resampler.resample(frame)]
                                              or [np.zeros((0, 1), np.float32)])
                    else:
                        data = _frame_to_float(frame)
                    if got + data.shape[0] >= limit:
                        sink.add(data[: limit - got])
                        got = limit
                        hit_limit = True
                        break
                    sink.add(data)
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
    if error is not None and not hit_limit and got:
        notes.append(f"The {fmt_name} stream ends early or is damaged: only "
                     f"{_fmt_seconds(got / native_sr)} could be decoded.")
        declared_s = got / native_sr
    return _Decoded(sink.finish(), native_sr, channels, codec, declared_s, hit_limit, notes,
                    damaged=error is not None or got == 0, kind=kind, n=sink.n, peak=sink.peak)


# --------------------------------------------------------------------------- Ogg pages

@dataclass
class _OggScan:
    links: int  # logical streams one after another (chained Ogg); 1 for an ordinary file
    cut: bool  # the last page is incomplete, or the stream never marks its end


def _ogg_scan(opener: Any) -> _OggScan | None:
    """Walk the Ogg page headers (27 bytes + segment table each; bodies skipped, not read)."""
    with opener() as fh:
        try:
            fh.seek(0, os.SEEK_END)
            size = fh.tell()
            pos, links, last_flags = 0, 0, 0
            open_streams: set[int] = set()
            while pos < size:
                fh.seek(pos)
                head = fh.read(27)
                if len(head) < 27 or head[:4] != b"OggS":
                    break  # a partial page, or other data after the pages
                flags, serial, nseg = head[5], int.from_bytes(head[14:18], "little"), head[26]
                table = fh.read(nseg)
                if len(table) < nseg or pos + 27 + nseg + sum(table) > size:
                    break  # the page is cut
                if flags & 0x02:  # beginning of a logical stream
                    if not open_streams:
                        links += 1
                    open_streams.add(serial)
                if flags & 0x04:  # its end
                    open_streams.discard(serial)
                last_flags = flags
                pos += 27 + nseg + sum(table)
        except (OSError, ValueError):
            return None
    if links == 0:
        return None
    # cut: the last complete page does not end its stream (bytes after an ended stream are junk)
    return _OggScan(links=links, cut=bool(open_streams) or not last_flags & 0x04)


_MAGIC = ((0, b"fLaC", "FLAC"), (0, b"OggS", "OGG"), (0, b"ID3", "MP3"), (4, b"ftyp", "MP4/M4A"),
          (0, b"FORM", "AIFF"), (8, b"WAVE", "WAV"), (0, b"RIFF", "RIFF/WAV"), (0, b"RF64", "RF64/WAV"),
          (0, b"caff", "CAF"))


def _sniff(opener: Any) -> str | None:
    """Name of the container the first bytes announce, or None."""
    try:
        with opener() as fh:
            head = fh.read(16)
    except OSError:
        return None
    for offset, magic, name in _MAGIC:
        if head[offset:offset + len(magic)] == magic:
            return name
    return None


def _decode(opener: Any, max_seconds: float, sr: int) -> _Decoded:
    """soundfile first; PyAV when libsndfile does not know the data, reports damage, or the data
    is a chained Ogg file (libsndfile reads only its first link)."""
    kind = _sniff(opener)
    ogg = _ogg_scan(opener) if kind == "OGG" else None
    dec = None if (ogg is not None and ogg.links > 1) else _decode_soundfile(opener, max_seconds, sr)
    if dec is None or dec.damaged:
        try:
            alt = _decode_pyav(opener, max_seconds, sr)
        except Exception as exc:
            if dec is None and isinstance(exc, AudioError):
                if kind and isinstance(exc, NotAudioError) and not getattr(exc, "container_ok", False):
                    raise CorruptAudioError(
                        f"The data looks like {kind} but the rest is damaged or cut off.") from exc
                raise
            if dec is None:
                raise
            alt = None  # keep what libsndfile managed to read
        if dec is None or (alt is not None and alt.seconds >= dec.seconds):
            dec = alt
    if dec.n == 0:
        raise CorruptAudioError(
            f"The file is recognised as {dec.kind} but no audio could be decoded from it "
            "(the stream is empty, damaged or cut off).")
    if ogg is not None and ogg.cut and not dec.hit_limit and not dec.notes:
        dec.notes.append(f"The Ogg stream ends early or is damaged: it stops without its end mark; "
                         f"{_fmt_seconds(dec.seconds)} could be decoded.")
        dec.damaged = dec.damaged or dec.seconds < MIN_SECONDS
    return dec


# --------------------------------------------------------------------------- public

class _Anonymous(io.RawIOBase):
    """A read-only view of a seekable binary file that hides its name.

    FFmpeg lets a file name's extension steer its format guess (random bytes named ``.mp3``
    then read as a broken MP3); without a name, every input is identified by its content alone,
    the same way whether it came as a path, bytes or an upload.
    """

    def __init__(self, fh: BinaryIO):
        super().__init__()
        self._fh = fh

    def readable(self) -> bool:
        return True

    def seekable(self) -> bool:
        return True

    def readinto(self, b) -> int:
        data = self._fh.read(len(b))
        n = len(data)
        b[:n] = data
        return n

    def read(self, size: int = -1) -> bytes:
        return self._fh.read(size)

    def seek(self, offset: int, whence: int = os.SEEK_SET) -> int:
        return self._fh.seek(offset, whence)

    def tell(self) -> int:
        return self._fh.tell()


class _Reopen:
    """Context manager giving a seekable binary file, rewound and nameless; closes it only if owned."""

    def __init__(self, fh: BinaryIO, owned: bool = False):
        self.fh = fh
        self.owned = owned

    def __enter__(self) -> BinaryIO:
        self.fh.seek(0)
        return _Anonymous(self.fh)

    def __exit__(self, *exc) -> None:
        if self.owned:
            self.fh.close()


def _spool(chunks) -> BinaryIO:
    """Copy data into a temporary file that stays in memory up to :data:`_SPOOL_BYTES`."""
    spool = tempfile.SpooledTemporaryFile(max_size=_SPOOL_BYTES)
    for chunk in chunks:
        if isinstance(chunk, str):
            spool.close()
            raise TypeError("load() needs a binary file object (opened with 'rb'), got a text stream.")
        spool.write(chunk)
    return spool


def _openers(source: Any) -> tuple[Any, str]:
    """Return (opener, label): ``with opener() as fh`` gives a seekable binary file at its start.

    Nothing is copied into memory whole: a path is opened, bytes are wrapped (no copy), a seekable
    file object is rewound and read in place, anything else is spooled to a temporary file.
    """
    if isinstance(source, (str, os.PathLike)):
        path = Path(source)
        label = str(source)
        if not path.exists():
            raise AudioError(f"There is no file at {label}.")
        if path.is_dir():
            raise AudioError(f"{label} is a folder, not an audio file.")
        if not path.is_file():
            raise NotAudioError(f"{label} is not a regular file (a device, pipe or socket); give an "
                                "audio file.")
        if path.stat().st_size == 0:
            raise EmptyAudioError(f"The file {path.name} is empty (0 bytes).")
        return (lambda: _Reopen(open(path, "rb"), owned=True)), label
    if isinstance(source, (bytes, bytearray, memoryview)):
        if not len(source):
            raise EmptyAudioError("The upload is empty (0 bytes).")
        if isinstance(source, bytes):  # BytesIO shares an immutable bytes object: no copy
            return (lambda: _Reopen(io.BytesIO(source), owned=True)), "<bytes>"
        view = memoryview(source).cast("B")
        spool = _spool(view[i:i + _SPOOL_CHUNK] for i in range(0, len(view), _SPOOL_CHUNK))
        return (lambda: _Reopen(spool)), "<bytes>"
    if hasattr(source, "read"):
        label = str(getattr(source, "name", None) or "<upload>")
        if isinstance(source, io.TextIOBase):
            raise TypeError("load() needs a binary file object (opened with 'rb'), got a text stream.")
        try:
            seekable = bool(source.seekable())
        except (AttributeError, OSError, ValueError):
            seekable = False
        if seekable:
            fh = source
        else:
            fh = _spool(iter(lambda: source.read(_SPOOL_CHUNK), b""))
        fh.seek(0, os.SEEK_END)
        size = fh.tell()
        fh.seek(0)
        if isinstance(fh.read(0), str):
            raise TypeError("load() needs a binary file object (opened with 'rb'), got a text stream.")
        if size == 0:
            raise EmptyAudioError(f"The upload {label} is empty (0 bytes).")
        return (lambda: _Reopen(fh)), label
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
        dec = _decode(opener, max_seconds, sr)
    except AudioError:
        raise
    except MemoryError as exc:
        raise CorruptAudioError("The file claims more audio than can be held in memory.") from exc
    except Exception as exc:  # any decoder surprise becomes a typed error, never a crash
        raise CorruptAudioError(f"The audio could not be decoded ({type(exc).__name__}: {exc}).") from exc

    native_seconds = dec.seconds
    if native_seconds < min_seconds:
        if dec.damaged:
            raise CorruptAudioError(
                f"The {dec.kind} stream is damaged or cut off: only {native_seconds:.2f} s could be "
                f"decoded, and at least {min_seconds:g} s is needed.")
        raise TooShortError(
            f"The audio is only {native_seconds:.2f} s long; at least {min_seconds:g} s is needed.")
    if dec.peak <= SILENCE_PEAK:
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

    y = dec.y
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
