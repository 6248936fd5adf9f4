"""genre.audio: every accepted format decodes to mono 22050 Hz; every bad input raises its typed error."""

from __future__ import annotations

import io
import struct
from pathlib import Path

import av
import librosa
import numpy as np
import pytest
import soundfile as sf

from genre import audio
from genre.config import MAX_SECONDS, SR, data_dir, samples_dir
from genre.errors import (
    AudioError,
    CorruptAudioError,
    EmptyAudioError,
    GenreError,
    NotAudioError,
    SilentAudioError,
    TooShortError,
    UnsupportedCodecError,
)

GTZAN_FLAC = data_dir() / "audio" / "blues" / "blues.00000.flac"
BRAHMS = samples_dir() / "brahms_hungarian_dance_5.ogg"


# --------------------------------------------------------------------------- helpers

def tone(seconds: float, sr: int, channels: int = 1, freq: float = 440.0, amp: float = 0.5) -> np.ndarray:
    """(n, channels) float32: the same sine on every channel, so the mono mix is that sine."""
    t = np.arange(int(round(seconds * sr))) / sr
    y = (amp * np.sin(2 * np.pi * freq * t)).astype(np.float32)
    return np.repeat(y[:, None], channels, axis=1)


def sf_bytes(y: np.ndarray, sr: int, fmt: str, subtype: str) -> bytes:
    buf = io.BytesIO()
    sf.write(buf, y, sr, format=fmt, subtype=subtype)
    return buf.getvalue()


def av_bytes(y: np.ndarray, sr: int, container: str = "mp4", codec: str = "aac") -> bytes:
    """Encode (n, channels) float32 with PyAV's bundled FFmpeg (AAC in MP4 = .m4a, or ADTS = .aac)."""
    buf = io.BytesIO()
    layout = {1: "mono", 2: "stereo"}[y.shape[1]]
    with av.open(buf, "w", format=container) as out:
        stream = out.add_stream(codec, rate=sr, layout=layout)
        frame = av.AudioFrame.from_ndarray(np.ascontiguousarray(y.T), format="fltp", layout=layout)
        frame.sample_rate = sr
        for packet in stream.encode(frame):
            out.mux(packet)
        for packet in stream.encode(None):
            out.mux(packet)
    return buf.getvalue()


def peak_hz(y: np.ndarray, sr: int) -> float:
    spec = np.abs(np.fft.rfft(y * np.hanning(len(y))))
    return float(np.argmax(spec) * sr / len(y))


def assert_good(sig: audio.Signal, seconds: float, tol: float = 0.01) -> None:
    assert isinstance(sig, audio.Signal)
    assert sig.sr == SR == 22050
    assert sig.y.dtype == np.float32 and sig.y.ndim == 1
    assert sig.duration == pytest.approx(len(sig.y) / SR)
    assert sig.duration == pytest.approx(seconds, abs=tol)
    assert not sig.truncated and sig.notes == []
    assert abs(peak_hz(sig.y, SR) - 440.0) < 3.0  # right pitch: the rate conversion is right
    n = len(sig.y)
    rms = float(np.sqrt(np.mean(sig.y[n // 4: 3 * n // 4] ** 2)))
    assert rms == pytest.approx(0.5 / np.sqrt(2), rel=0.05)  # channels averaged, not summed


# --------------------------------------------------------------------------- formats

@pytest.mark.parametrize("subtype", ["PCM_U8", "PCM_16", "PCM_24", "FLOAT"])
@pytest.mark.parametrize("sr,channels", [(8000, 1), (22050, 2), (44100, 2), (48000, 6)])
def test_wav_every_bit_depth_rate_and_channel_count(tmp_path, subtype, sr, channels):
    path = tmp_path / "x.wav"
    sf.write(path, tone(3.5, sr, channels), sr, subtype=subtype)
    sig = audio.load(path)
    assert_good(sig, 3.5)
    assert sig.native_sr == sr and sig.channels == channels
    # the same samples librosa.load(sr=22050) gives: features computed on them match the table
    ref, _ = librosa.load(path, sr=SR)
    assert ref.shape == sig.y.shape
    np.testing.assert_allclose(sig.y, ref, atol=1e-6)


@pytest.mark.parametrize("fmt,subtype,sr,channels", [
    ("FLAC", "PCM_16", 22050, 1),
    ("FLAC", "PCM_24", 96000, 2),
    ("OGG", "VORBIS", 44100, 2),
    ("OGG", "VORBIS", 16000, 1),
    ("OGG", "OPUS", 48000, 2),
    ("MP3", "MPEG_LAYER_III", 44100, 2),
    ("MP3", "MPEG_LAYER_III", 22050, 1),
])
def test_soundfile_formats(fmt, subtype, sr, channels):
    data = sf_bytes(tone(4.0, sr, channels), sr, fmt, subtype)
    sig = audio.load(data)
    # lossy codecs add a few ms of encoder delay/padding at most
    assert_good(sig, 4.0, tol=0.0 if fmt == "FLAC" else 0.06)
    assert sig.codec.startswith(fmt)


@pytest.mark.parametrize("container,sr,channels", [("mp4", 44100, 2), ("mp4", 22050, 1), ("adts", 48000, 1)])
def test_aac_via_pyav(container, sr, channels):
    data = av_bytes(tone(4.0, sr, channels), sr, container)
    with pytest.raises(sf.LibsndfileError):  # libsndfile cannot read it: PyAV is really needed
        sf.info(io.BytesIO(data))
    sig = audio.load(data)
    # AAC works in 1024-sample frames: PyAV's muxer writes no edit list, so the 1024 priming samples
    # and the padding of the last frame stay in the stream (real iTunes/FFmpeg files trim them)
    assert_good(sig, 4.0, tol=2048 / sr)
    assert sig.duration >= 4.0 - 0.005
    assert "aac" in sig.codec


def test_22050_input_is_not_resampled(tmp_path):
    y = tone(3.5, SR, 1)[:, 0]
    y[1000] = 0.9  # an impulse a resampler would smear
    path = tmp_path / "x.flac"
    sf.write(path, y, SR, subtype="PCM_24")
    expected, _ = sf.read(path, dtype="float32")
    np.testing.assert_array_equal(audio.load(path).y, expected)


def test_path_bytes_and_filelike_agree(tmp_path):
    path = tmp_path / "song.ogg"
    sf.write(path, tone(3.5, 44100, 2), 44100, format="OGG", subtype="VORBIS")
    data = path.read_bytes()

    class Upload(io.BytesIO):  # what Streamlit's UploadedFile looks like
        name = "song.ogg"

    upload = Upload(data)
    upload.read(10)  # a page may have peeked at it: load still reads from the start
    with open(path, "rb") as fh:
        results = [audio.load(path), audio.load(str(path)), audio.load(data), audio.load(bytearray(data)),
                   audio.load(upload), audio.load(fh)]
    for sig in results[1:]:
        np.testing.assert_array_equal(sig.y, results[0].y)
        assert sig.duration == results[0].duration
    assert results[0].source == str(path)
    assert results[2].source == "<bytes>"
    assert results[4].source == "song.ogg"


def test_gtzan_flac_unchanged():
    if not GTZAN_FLAC.exists():
        pytest.skip(f"GTZAN audio not present at {GTZAN_FLAC}")
    sig = audio.load(GTZAN_FLAC)
    expected, sr = sf.read(GTZAN_FLAC, dtype="float32")
    assert sr == SR
    np.testing.assert_array_equal(sig.y, expected)
    assert sig.duration == pytest.approx(30.0, abs=0.05)
    assert sig.original_duration == pytest.approx(sig.duration)
    assert not sig.truncated and sig.notes == []


def test_real_sample_ogg_44k_stereo():
    if not BRAHMS.exists():
        pytest.skip(f"sample not present at {BRAHMS}")
    info = sf.info(BRAHMS)
    assert (info.samplerate, info.channels) == (44100, 2)
    sig = audio.load(BRAHMS)
    assert sig.sr == SR and sig.y.ndim == 1 and sig.y.dtype == np.float32
    assert sig.duration == pytest.approx(info.frames / info.samplerate, abs=1e-3)
    assert 45 < sig.duration < 47
    ref, _ = librosa.load(BRAHMS, sr=SR)
    np.testing.assert_allclose(sig.y, ref, atol=1e-6)
    text = audio.describe(sig)
    assert "44100 Hz" in text and "stereo" in text and "22050" in text


def test_accepted_extensions():
    assert set(audio.ACCEPTED_EXTENSIONS) == {"wav", "flac", "mp3", "ogg", "oga", "opus", "m4a", "aac", "mp4"}


# --------------------------------------------------------------------------- bad input

def raises(exc_type, source, *words, **kw) -> AudioError:
    with pytest.raises(exc_type) as info:
        audio.load(source, **kw)
    err = info.value
    assert isinstance(err, AudioError) and isinstance(err, GenreError)
    text = str(err)
    assert "Accepted:" in text  # says what is accepted
    for word in words:  # and what was wrong
        assert word.lower() in text.lower(), text
    return err


def test_empty(tmp_path):
    raises(EmptyAudioError, b"", "empty")
    empty = tmp_path / "empty.wav"
    empty.write_bytes(b"")
    raises(EmptyAudioError, empty, "empty")
    raises(EmptyAudioError, io.BytesIO(b""), "empty")


def test_not_audio(tmp_path):
    raises(NotAudioError, np.random.default_rng(0).bytes(20_000), "not")
    text = tmp_path / "notes.txt"
    text.write_text("just some words\n" * 200)
    raises(NotAudioError, text)
    raises(NotAudioError, text.read_bytes())
    png = tmp_path / "x.png"  # an image is a real container with no audio track
    png.write_bytes(bytes.fromhex("89504e470d0a1a0a0000000d4948445200000001000000010806000000"
                                  "1f15c4890000000d49444154789c6300010000050001"
                                  "0d0a2db40000000049454e44ae426082"))
    raises(NotAudioError, png)


def test_missing_path_is_an_audio_error(tmp_path):
    raises(AudioError, tmp_path / "nope.wav", "no file")
    raises(AudioError, tmp_path, "folder")


def test_wrong_type_is_a_programming_error():
    with pytest.raises(TypeError):
        audio.load(12345)


@pytest.mark.parametrize("fmt,subtype,sr", [("FLAC", "PCM_16", 44100), ("OGG", "VORBIS", 44100),
                                             ("OGG", "OPUS", 48000)])
def test_header_only_stream_is_corrupt(fmt, subtype, sr):
    data = sf_bytes(tone(10.0, sr, 2), sr, fmt, subtype)
    raises(CorruptAudioError, data[:300], "damaged")


def test_truncated_flac_decodes_what_is_there_with_a_note():
    data = sf_bytes(tone(10.0, 44100, 2), 44100, "FLAC", "PCM_16")
    sig = audio.load(data[: len(data) // 2])
    assert 3.0 <= sig.duration < 8.0
    assert any("ends early" in n for n in sig.notes)
    assert sig.original_duration == pytest.approx(sig.duration, abs=0.01)
    assert abs(peak_hz(sig.y, SR) - 440.0) < 3.0
    # half of a 5-s file is under the minimum: that is damage, not a short recording
    short = sf_bytes(tone(5.0, 44100, 2), 44100, "FLAC", "PCM_16")
    raises(CorruptAudioError, short[: len(short) // 2], "cut off", "3 s")


def test_truncated_ogg_half():
    data = sf_bytes(tone(20.0, 44100, 2), 44100, "OGG", "VORBIS")
    sig = audio.load(data[: len(data) // 2])  # Ogg pages are self-contained: the first half plays
    assert 3.0 <= sig.duration < 20.0
    assert abs(peak_hz(sig.y, SR) - 440.0) < 3.0


def wav_with(chunk: bytes, offset: int, fmt: str, value: int) -> bytes:
    """A 4-s 16-bit WAV with one header field (``offset`` bytes after ``chunk``) overwritten."""
    data = bytearray(sf_bytes(tone(4.0, SR, 1), SR, "WAV", "PCM_16"))
    i = data.find(chunk) + offset
    data[i:i + struct.calcsize(fmt)] = struct.pack(fmt, value)
    return bytes(data)


def test_unsupported_codec():
    # A valid RIFF/WAVE container whose fmt chunk names a codec tag (0x9999) nobody implements.
    raises(UnsupportedCodecError, wav_with(b"fmt ", 8, "<H", 0x9999), "codec")


def test_too_short_says_how_long():
    err = raises(TooShortError, sf_bytes(tone(1.0, 44100, 2), 44100, "WAV", "PCM_16"), "1.00 s", "3 s")
    assert "1.00 s" in err.reason
    # the minimum is an argument
    assert audio.load(sf_bytes(tone(1.0, SR, 1), SR, "WAV", "PCM_16"), min_seconds=0.5).duration == 1.0


def test_silence():
    raises(SilentAudioError, sf_bytes(np.zeros((4 * SR, 2), np.float32), SR, "WAV", "PCM_16"), "silence")
    # one 16-bit LSB of noise is still digital silence; quiet music (-40 dBFS) is not
    lsb = np.random.default_rng(0).choice([-1, 0, 1], 4 * SR).astype(np.float32) / 32768
    raises(SilentAudioError, sf_bytes(lsb, SR, "WAV", "PCM_16"), "silence")
    quiet = audio.load(sf_bytes(tone(4.0, SR, 1, amp=0.01), SR, "WAV", "PCM_16"))
    assert quiet.duration == pytest.approx(4.0)


def test_nan_samples_are_corrupt():
    y = tone(4.0, SR, 1)
    y[100] = np.nan
    raises(CorruptAudioError, sf_bytes(y, SR, "WAV", "FLOAT"), "NaN")


def test_impossible_sample_rate_in_header():
    raises(CorruptAudioError, wav_with(b"fmt ", 12, "<I", 0x7FFFFFFF), "sample rate")


def test_wav_claiming_2_pow_31_frames_reads_only_what_is_there():
    sig = audio.load(wav_with(b"data", 4, "<I", 0xFFFFFFF0))  # ~2^31 16-bit frames
    assert sig.duration == pytest.approx(4.0)
    assert not sig.truncated


def test_long_file_is_cut_at_the_limit(tmp_path):
    path = tmp_path / "long.flac"
    sf.write(path, tone(12 * 60, 1000, 1, freq=100.0), 1000)  # 12 min at 1 kHz: 720k samples
    sig = audio.load(path, max_seconds=30)
    assert sig.truncated
    assert sig.duration == pytest.approx(30.0)
    assert sig.original_duration == pytest.approx(720.0)
    assert len(sig.notes) == 1 and "12 min" in sig.notes[0] and "first 30.0 s" in sig.notes[0]
    assert "first" in audio.describe(sig)


def test_long_file_default_limit(tmp_path):
    assert MAX_SECONDS == 600
    path = tmp_path / "long.wav"
    sf.write(path, tone(12 * 60, 1000, 1, freq=100.0), 1000, subtype="PCM_16")
    sig = audio.load(path)
    assert sig.truncated and sig.duration == pytest.approx(600.0) and len(sig.y) == 600 * SR
    assert "10 min" in sig.notes[0]
    # exactly at the limit is not truncation
    exact = tmp_path / "exact.wav"
    sf.write(exact, tone(20.0, 1000, 1, freq=100.0), 1000, subtype="PCM_16")
    sig = audio.load(exact, max_seconds=20)
    assert not sig.truncated and sig.notes == []


def test_long_aac_is_cut_while_decoding():
    data = av_bytes(tone(12.0, 22050, 1), 22050, "mp4")
    sig = audio.load(data, max_seconds=5)
    assert sig.truncated and sig.duration == pytest.approx(5.0)
    assert sig.original_duration == pytest.approx(12.0, abs=0.1)
    assert "first 5.0 s" in sig.notes[0]


def test_cut_mp3_whose_header_gives_the_length():
    data = sf_bytes(tone(10.0, 44100, 2), 44100, "MP3", "MPEG_LAYER_III")
    sig = audio.load(data[: len(data) // 2])
    assert sig.duration == pytest.approx(5.0, abs=0.3)
    assert len(sig.notes) == 1 and "ends early" in sig.notes[0] and "10.0 s" in sig.notes[0]
    assert sig.original_duration == pytest.approx(sig.duration, abs=0.01)
    assert not sig.truncated  # truncated means "cut at the limit", not "damaged"


def test_cut_wav_decodes_what_is_there():
    # libsndfile corrects a WAV data length that overruns the file, so only the length can be checked
    data = sf_bytes(tone(10.0, 44100, 2), 44100, "WAV", "PCM_16")
    sig = audio.load(data[: len(data) // 2])
    assert sig.duration == pytest.approx(5.0, abs=0.01)
    assert sig.original_duration == pytest.approx(sig.duration)


def test_a_decoded_signal_passes_through():
    sig = audio.load(sf_bytes(tone(4.0, 44100, 2), 44100, "WAV", "PCM_16"))
    assert audio.load(sig) is sig
    with pytest.raises(ValueError):
        audio.load(sig, sr=16000)


# --------------------------------------------------------------------------- hostile inputs (issue 8)

@pytest.mark.parametrize("peak", [1e18, 3e38, 2e3])
def test_huge_float_samples_are_refused_at_decode(tmp_path, peak):
    # finite but absurd: librosa's analysis overflowed on these (a ParameterError, not a GenreError)
    y = (tone(5.0, SR, 2).astype(np.float64) * (peak / 0.5)).astype(np.float32)
    assert np.all(np.isfinite(y))
    path = tmp_path / "loud.wav"
    sf.write(path, y, SR, subtype="FLOAT")
    for src in (path, path.read_bytes()):
        raises(CorruptAudioError, src, "full scale", f"{audio.MAX_SAMPLE_PEAK:g}")
    # a float file a little over full scale is fine
    sf.write(path, tone(5.0, SR, 1) * np.float32(4.0), SR, subtype="FLOAT")
    assert audio.load(path).duration == pytest.approx(5.0)


def ogg_bytes(seconds: float, freq: float) -> bytes:
    return sf_bytes(tone(seconds, 44100, 2, freq=freq), 44100, "OGG", "VORBIS")


def test_chained_ogg_decodes_every_stream(tmp_path):
    two = ogg_bytes(15.0, 440.0) + ogg_bytes(15.0, 440.0)
    for src in (two, io.BytesIO(two)):
        sig = audio.load(src)
        assert sig.duration == pytest.approx(30.0, abs=0.1)
        assert sig.notes == []
    many = b"".join(ogg_bytes(0.3, 300.0 + i) for i in range(100))
    path = tmp_path / "chain.ogg"
    path.write_bytes(many)
    sig = audio.load(path)  # was rejected as "0.30 s long"
    assert 29.0 <= sig.duration <= 33.0


def riff_data_size(data: bytes) -> int:
    i = data.find(b"data")
    return int.from_bytes(data[i + 4:i + 8], "little")


@pytest.mark.parametrize("fmt,subtype", [("WAV", "PCM_16"), ("WAV", "FLOAT"), ("OGG", "VORBIS"),
                                         ("FLAC", "PCM_16"), ("MP3", "MPEG_LAYER_III")])
def test_a_stream_shorter_than_its_header_says_gets_the_note(fmt, subtype):
    data = sf_bytes(tone(20.0, 44100, 2), 44100, fmt, subtype)
    sig = audio.load(data[: len(data) // 2])
    assert 5.0 <= sig.duration <= 15.0
    assert len(sig.notes) == 1 and "ends early" in sig.notes[0], sig.notes
    assert not sig.truncated
    # the complete file has no note
    assert audio.load(data).notes == []


def test_wav_header_claiming_4_gb_gets_the_note():
    data = sf_bytes(tone(20.0, SR, 1), SR, "WAV", "PCM_16")
    assert riff_data_size(data) == 20 * SR * 2
    i = data.find(b"data") + 4
    sig = audio.load(data[:i] + (0xFFFFFFFF).to_bytes(4, "little") + data[i + 4:])
    assert sig.duration == pytest.approx(20.0)
    assert len(sig.notes) == 1 and "ends early" in sig.notes[0] and "20.0 s" in sig.notes[0]


def test_cut_wav_past_the_limit_says_so():
    data = sf_bytes(tone(20.0, SR, 1), SR, "WAV", "PCM_16")
    sig = audio.load(data[: len(data) // 2], max_seconds=5)
    assert sig.truncated and sig.duration == pytest.approx(5.0)
    assert any("header announces" in n for n in sig.notes), sig.notes
    assert sig.original_duration == pytest.approx(10.0, abs=0.01)  # what the file holds, not 20 s


def test_video_without_audio_is_not_called_damaged(tmp_path):
    buf = io.BytesIO()
    with av.open(buf, "w", format="mp4") as out:
        st = out.add_stream("mpeg4", rate=10)
        st.width, st.height, st.pix_fmt = 64, 64, "yuv420p"
        for _ in range(30):
            for packet in st.encode(av.VideoFrame.from_ndarray(np.zeros((64, 64, 3), np.uint8), format="rgb24")):
                out.mux(packet)
        for packet in st.encode(None):
            out.mux(packet)
    path = tmp_path / "clip.mp4"
    path.write_bytes(buf.getvalue())
    for src in (path, buf.getvalue()):
        err = raises(NotAudioError, src, "no audio track")
        assert "damaged" not in str(err)


def test_same_answer_by_path_and_by_bytes(tmp_path):
    import zipfile

    noise = tmp_path / "noise.mp3"
    noise.write_bytes(np.random.default_rng(1).bytes(200_000))
    archive = tmp_path / "archive.flac"
    with zipfile.ZipFile(archive, "w") as z:
        z.writestr("a.txt", "hello " * 2000)
    for path in (noise, archive):
        by_path = raises(NotAudioError, path)
        by_bytes = raises(NotAudioError, path.read_bytes())
        with open(path, "rb") as fh:
            by_file = raises(NotAudioError, fh)
        assert type(by_path) is type(by_bytes) is type(by_file)
        assert by_path.reason == by_bytes.reason == by_file.reason


def test_non_regular_files_are_refused_as_such(tmp_path):
    import os

    fifo = tmp_path / "pipe.wav"
    os.mkfifo(fifo)
    raises(NotAudioError, fifo, "not a regular file")  # refused without reading (no hang)
    if Path("/dev/zero").exists():
        raises(NotAudioError, "/dev/zero", "not a regular file")


class NoCopyUpload(io.BytesIO):
    """An upload that fails the test if the decoder asks for a whole in-memory copy of it."""

    def getvalue(self):
        raise AssertionError("getvalue() copies the whole upload")

    def getbuffer(self):
        raise AssertionError("getbuffer() exposes the whole upload")


class Stream(io.RawIOBase):
    """A non-seekable binary stream (a pipe, a socket, an HTTP body)."""

    def __init__(self, data: bytes):
        self._data, self._pos = data, 0

    def readable(self):
        return True

    def readinto(self, b):
        n = min(len(b), len(self._data) - self._pos)
        b[:n] = self._data[self._pos:self._pos + n]
        self._pos += n
        return n


def test_uploads_are_decoded_in_place_or_spooled():
    data = sf_bytes(tone(5.0, 44100, 2), 44100, "FLAC", "PCM_16")
    ref = audio.load(data)
    up = NoCopyUpload(data)
    up.name = "song.flac"
    sig = audio.load(up)
    np.testing.assert_array_equal(sig.y, ref.y)
    assert sig.source == "song.flac" and not up.closed
    np.testing.assert_array_equal(audio.load(Stream(data)).y, ref.y)
    np.testing.assert_array_equal(audio.load(bytearray(data)).y, ref.y)
    np.testing.assert_array_equal(audio.load(memoryview(data)).y, ref.y)
    raises(EmptyAudioError, Stream(b""), "empty")
    with pytest.raises(TypeError):
        audio.load(io.StringIO("text"))


def test_incremental_resampling_matches_one_shot():
    # decoded block by block (several blocks at 192 kHz) and resampled as a stream: the same
    # samples as librosa's one-shot soxr_hq resampling of the whole signal
    y = np.random.default_rng(0).uniform(-0.5, 0.5, (192_000 * 8, 2)).astype(np.float32)
    data = sf_bytes(y, 192_000, "WAV", "FLOAT")
    sig = audio.load(data)
    ref = librosa.resample(y.mean(axis=1), orig_sr=192_000, target_sr=SR, res_type="soxr_hq")
    assert len(sig.y) == len(ref)
    np.testing.assert_allclose(sig.y, ref, atol=1e-6)


def test_complete_ogg_with_trailing_bytes_has_no_note():
    data = ogg_bytes(6.0, 440.0)
    assert audio.load(data + b"\0" * 5000).notes == []
    assert audio.load(data + b"ID3" + bytes(500)).notes == []
