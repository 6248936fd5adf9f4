"""Running one classification for the dashboard with bounded memory and a fair queue.

An upload is spooled to a temporary file (:class:`SpooledInput`), so the server holds no copy of
its bytes while the analysis waits or runs; at most :data:`MAX_ANALYSES` analyses run at once per
process (:class:`AnalysisGate`, first come first served, telling each waiting visitor how many
analyses are ahead); what a page keeps per session is small (:class:`Analysis`: the prediction,
a waveform envelope and a downsampled spectrogram, never the decoded signal). It also starts the
process-wide warm-up (:func:`start_warmup`: the default model, the non-music detector and
librosa's compiled kernels) and guards the WebRTC import order (:func:`preload_webrtc`:
``import tensorflow`` then ``import pylibsrtp`` segfaults the process, the reverse order is safe).

No Streamlit here: the pages pass callbacks that draw (``on_wait``, ``progress``).
"""

from __future__ import annotations

import atexit
import logging
import os
import shutil
import sys
import tempfile
import threading
import time
import weakref
from collections import deque
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, BinaryIO, Callable, Iterator

import numpy as np

from genre.config import HOP_LENGTH, SEGMENT_SECONDS, SR

__all__ = ["MAX_ANALYSES", "AnalysisGate", "GATE", "SpooledInput", "Analysis", "analyse",
           "envelope", "aggregate_timeline", "release_memory", "listenable", "preload_webrtc", "webrtc_status", "start_warmup",
           "warmup_state"]

log = logging.getLogger("genre.app")

#: Analyses allowed to run at once in one server process (``GENRE_MAX_ANALYSES``, default 2).
MAX_ANALYSES: int = max(1, int(os.environ.get("GENRE_MAX_ANALYSES", "2") or 2))
#: Columns kept of a waveform envelope and of a spectrogram (what a page draws anyway).
ENVELOPE_POINTS = 3000
SPECTROGRAM_FRAMES = 1500
#: Most points a drawn timeline has (a 10-minute input at 3-s segments has 200).
TIMELINE_POINTS = 100


# ------------------------------------------------------------------------------ WebRTC import order

_webrtc_error: str | None = None


def preload_webrtc() -> bool:
    """Import the WebRTC stack (aiortc, pylibsrtp) now, unless TensorFlow is already imported.

    Call it first thing in the server (``app.py``). Returns True when WebRTC is importable
    safely; False (and :func:`webrtc_status` says why) when TensorFlow came first or the
    packages are missing. Never imports pylibsrtp after TensorFlow.
    """
    global _webrtc_error
    if "pylibsrtp" in sys.modules:
        return True
    if "tensorflow" in sys.modules:
        _webrtc_error = ("Live mode is unavailable in this server process: a network library "
                         "(TensorFlow) was loaded before the live-audio stack, and the two cannot "
                         "be combined in that order. Restart the server to use live mode.")
        return False
    try:
        import pylibsrtp  # noqa: F401  (imported by aiortc; first, before TensorFlow can be)
        import aiortc  # noqa: F401
    except Exception as exc:  # a missing optional dependency: live mode says so
        _webrtc_error = f"Live mode is unavailable: the live-audio packages are not installed ({exc})."
        return False
    _webrtc_error = None
    return True


def webrtc_status() -> tuple[bool, str]:
    """``(ok, message)``: whether live mode may import streamlit-webrtc in this process."""
    ok = preload_webrtc()
    return ok, ("" if ok else str(_webrtc_error))


# ------------------------------------------------------------------------------ the queue

class AnalysisGate:
    """At most ``limit`` analyses at once; the others wait in arrival order.

    ``with gate.slot(on_wait=f): ...`` blocks until it is this caller's turn, calling
    ``f(ahead)`` whenever the number of analyses ahead of it (running or queued earlier)
    changes. If ``f`` raises (Streamlit stops a script that way), the caller leaves the queue.
    """

    def __init__(self, limit: int = MAX_ANALYSES):
        self.limit = max(1, int(limit))
        self._cond = threading.Condition()
        self._queue: deque[object] = deque()
        self._running = 0

    @property
    def running(self) -> int:
        with self._cond:
            return self._running

    @property
    def waiting(self) -> int:
        with self._cond:
            return len(self._queue)

    @contextmanager
    def slot(self, on_wait: Callable[[int], Any] | None = None, poll_s: float = 0.5) -> Iterator[None]:
        ticket = object()
        shown = None
        with self._cond:
            self._queue.append(ticket)
        try:
            while True:
                with self._cond:
                    if self._running < self.limit and self._queue[0] is ticket:
                        self._queue.popleft()
                        self._running += 1
                        self._cond.notify_all()
                        break
                    ahead = self._running + list(self._queue).index(ticket)
                if on_wait is not None and ahead != shown:
                    shown = ahead
                    on_wait(ahead)
                with self._cond:
                    self._cond.wait(timeout=poll_s)
        except BaseException:
            with self._cond:
                if ticket in self._queue:
                    self._queue.remove(ticket)
                self._cond.notify_all()
            raise
        try:
            yield
        finally:
            with self._cond:
                self._running -= 1
                self._cond.notify_all()


#: The process-wide gate every dashboard analysis goes through.
GATE = AnalysisGate()


# ------------------------------------------------------------------------------ spooled input

class SpooledInput:
    """An upload copied in blocks to a temporary file, deleted when this object is collected.

    Parameters
    ----------
    fileobj : binary file-like
        The upload (Streamlit's ``UploadedFile``), read from its start in 1 MiB blocks.
    name : str
        The user's file name: only its extension is used for the temporary file.
    """

    def __init__(self, fileobj: BinaryIO, name: str, key: str = ""):
        self.name = str(name)
        self.key = str(key)
        suffix = Path(self.name).suffix.lower()
        suffix = suffix if suffix[1:].isalnum() and len(suffix) <= 6 else ""
        fd, path = tempfile.mkstemp(prefix="genre-upload-", suffix=suffix)
        self.path = path
        self._finalizer = weakref.finalize(self, _unlink, path)
        try:
            with os.fdopen(fd, "wb") as out:
                if hasattr(fileobj, "seek"):
                    fileobj.seek(0)
                shutil.copyfileobj(fileobj, out, 1 << 20)
        except BaseException:
            self._finalizer()
            raise
        self.size = os.path.getsize(path)

    def close(self) -> None:
        """Delete the temporary file now."""
        self._finalizer()


def _unlink(path: str) -> None:
    try:
        os.unlink(path)
    except OSError:
        pass


# ------------------------------------------------------------------------------ one analysis

@dataclass
class Analysis:
    """What a page keeps of one classification (small: no decoded audio).

    ``prediction`` is :class:`genre.predict.Prediction`; ``result`` its ``to_dict()`` with
    ``source`` set to the user's file name; ``envelope`` is ``(t_s, lo, hi)`` of
    :func:`envelope`; ``mel_db`` a (bins, frames) dB matrix whose frames are ``mel_frame_s``
    seconds apart; ``seconds`` the time the analysis took (s); ``audio`` the analysed audio as
    Ogg Vorbis (:func:`listenable`, for the player); ``vector`` the recording in an
    :class:`~genre.app.placement.EmbeddingSpace` (or None) whose ``key`` is ``space``.
    """

    prediction: Any
    result: dict
    envelope: tuple[np.ndarray, np.ndarray, np.ndarray]
    mel_db: np.ndarray
    mel_frame_s: float
    seconds: float
    audio: bytes = b""
    vector: Any = None
    space: str = ""

    @property
    def nbytes(self) -> int:
        """Approximate memory held by the arrays (bytes)."""
        tl = self.prediction.timeline
        return int(sum(a.nbytes for a in self.envelope) + self.mel_db.nbytes + len(self.audio)
                   + tl.memory_usage(deep=False).sum())


def envelope(y: np.ndarray, sr: int = SR, points: int = ENVELOPE_POINTS
             ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Min/max envelope of ``y`` in at most ``points`` columns: ``(t_s, lo, hi)`` (float32)."""
    y = np.asarray(y, dtype=np.float32).ravel()
    step = max(1, int(np.ceil(len(y) / max(1, points))))
    m = len(y) // step
    if m == 0:
        return (np.arange(len(y), dtype=np.float32) / sr, y.copy(), y.copy())
    blocks = y[: m * step].reshape(m, step)
    t = ((np.arange(m) * step + step / 2) / sr).astype(np.float32)
    return t, blocks.min(axis=1), blocks.max(axis=1)


def analyse(source: Any, model: Any, *, name: str = "",
            progress: Callable[[float, str], Any] | None = None, space: Any = None,
            keep_audio: bool = True) -> Analysis:
    """Decode, classify and summarise one input for display.

    Parameters
    ----------
    source : path, bytes, binary file-like or Signal
        What :func:`genre.audio.load` accepts (a :class:`SpooledInput`'s ``path`` for uploads).
    model : Predictor, str or None
        As :func:`genre.predict.predict` takes it.
    progress : callable ``(fraction, text)``, optional
        Called as the analysis advances (decoding, each 30-s window of a feature model, the
        drawing), with a fraction in [0, 1].
    space : :class:`genre.app.placement.EmbeddingSpace`, optional
        Also compute the recording's vector in that space (``Analysis.vector``).
    keep_audio : bool
        Keep a compressed copy of the analysed audio for the page's player (``Analysis.audio``).

    Raises
    ------
    genre.errors.GenreError
        Bad input (message written for a person) or a broken model.
    """
    from genre import audio
    from genre.predict import predict

    say = progress or (lambda f, t: None)
    t0 = time.perf_counter()
    say(0.02, "Decoding the audio...")
    sig = audio.load(source)
    say(0.15, f"Decoded {_clock(sig.duration)} of audio. Classifying...")

    def window_progress(done: int, total: int) -> None:
        say(0.15 + 0.7 * done / max(total, 1), f"Analysed window {done} of {total}...")

    pred = _predict(predict, sig, model, window_progress)
    say(0.88, "Drawing the waveform and spectrogram...")
    result = pred.to_dict()
    result["source"] = str(name)
    env = envelope(sig.y, sig.sr)
    vector = None
    if space is not None:
        say(0.9, "Placing it among the GTZAN clips...")
        vector = space.vector(sig.y, sig.sr, prediction=pred)
    say(0.93, "Preparing the player...")
    player = listenable(sig.y, sig.sr) if keep_audio else b""
    mel_small, frame_s = small_logmel(sig.y, sig.sr)
    del sig
    say(1.0, "Done.")
    return Analysis(prediction=pred, result=result, envelope=env, mel_db=mel_small,
                    mel_frame_s=frame_s, seconds=time.perf_counter() - t0,
                    audio=player, vector=vector,
                    space=str(getattr(space, "key", "")) if vector is not None else "")


def small_logmel(y: np.ndarray, sr: int = SR, frames: int = SPECTROGRAM_FRAMES,
                 block_s: float = 30.0) -> tuple[np.ndarray, float]:
    """A log-mel spectrogram (dB) of about ``frames`` columns, computed in ``block_s`` blocks
    so that a 10-minute input never holds its whole STFT (about 200 MB) at once.

    Returns ``(db, frame_s)``: (128, m) float32 and the time between columns (s). Every
    ``step``-th frame is kept (``step`` from the whole length), as one long transform would.
    """
    from genre import features

    n_frames = 1 + len(y) // HOP_LENGTH
    step = max(1, int(np.ceil(n_frames / frames)))
    block = int(block_s * sr) // (HOP_LENGTH * step) * (HOP_LENGTH * step) or HOP_LENGTH * step
    parts = []
    for a in range(0, len(y), block):
        if parts and len(y) - a < 2048:  # a sliver at the end: nothing to see
            break
        db = features.logmel(y[a:a + block], sr)[:, ::step]
        if a + block < len(y):  # the block's last centred frame is the next block's first
            db = db[:, :block // (HOP_LENGTH * step)]
        parts.append(np.asarray(db, dtype=np.float32))
    return np.ascontiguousarray(np.concatenate(parts, axis=1)), step * HOP_LENGTH / sr


def listenable(y: np.ndarray, sr: int = SR) -> bytes:
    """The analysed signal as Ogg Vorbis bytes for the page's player (10 min: about 3.4 MB),
    written in 1-s blocks (one very long write crashes libsndfile's Vorbis encoder)."""
    import io

    import soundfile as sf

    buf = io.BytesIO()
    with sf.SoundFile(buf, "w", int(sr), 1, format="OGG", subtype="VORBIS") as f:
        for i in range(0, len(y), int(sr)):
            f.write(np.clip(y[i:i + int(sr)], -1.0, 1.0))
    return buf.getvalue()


def _predict(predict: Callable, sig: Any, model: Any, window_progress: Callable[[int, int], None]):
    """``predict(sig, model)``, passing a per-window progress callback when predict takes one."""
    import inspect

    if "progress" in inspect.signature(predict).parameters:
        return predict(sig, model=model, progress=window_progress)
    return predict(sig, model=model)


def _clock(seconds: float) -> str:
    seconds = max(0.0, float(seconds))
    return f"{int(seconds // 60)}:{seconds % 60:04.1f}"


def aggregate_timeline(starts_s: np.ndarray, probs: np.ndarray, *, max_points: int = TIMELINE_POINTS,
                       segment_s: float = SEGMENT_SECONDS) -> tuple[np.ndarray, np.ndarray, float]:
    """Average consecutive segments so that a long timeline has at most ``max_points`` points.

    Returns ``(starts_s, probabilities, bin_s)``: each row is the mean of ``k`` consecutive
    segments (``bin_s = k * segment_s``), rows still sum to 1. Short timelines come back as is.
    """
    starts = np.asarray(starts_s, dtype=float)
    p = np.asarray(probs, dtype=float)
    n = len(starts)
    k = max(1, int(np.ceil(n / max(1, max_points))))
    if k == 1:
        return starts, p, float(segment_s)
    m = int(np.ceil(n / k))
    out_t = np.array([starts[i * k] for i in range(m)])
    out_p = np.vstack([p[i * k:(i + 1) * k].mean(axis=0) for i in range(m)])
    return out_t, out_p, float(k * segment_s)


def release_memory() -> None:
    """Return freed memory to the operating system after an analysis: a garbage collection,
    then glibc's ``malloc_trim`` (the decoded audio of a long file is freed in many small
    blocks that glibc would otherwise keep for the process). A no-op off glibc."""
    import ctypes
    import gc

    gc.collect()
    try:
        ctypes.CDLL("libc.so.6").malloc_trim(0)
    except (OSError, AttributeError):
        pass


# ------------------------------------------------------------------------------ warm-up

_warm_lock = threading.Lock()
#: At exit, how long the process waits for a running warm-up to finish (seconds). Short: a server
#: stopped during a cold warm-up (numba compiling, about 40 s) must not hang; past it, the process
#: may end with "terminate called without an active exception" from the native code still running.
WARMUP_EXIT_WAIT_S: float = 5.0
_warm: dict[str, Any] = {"state": "not started"}


def warmup_state() -> dict:
    """``state`` ('not started', 'running', 'done', 'failed', 'off'), ``seconds``, ``error``."""
    with _warm_lock:
        return dict(_warm)


def start_warmup(model: str | None = None) -> bool:
    """Start, once per process, a background thread that loads the default model and the
    non-music detector and classifies 35 s of synthetic audio (compiling librosa's numba
    kernels), so that the first visitor does not wait for them. ``GENRE_WARMUP=0`` turns it
    off (for measuring). Returns True when this call started it."""
    with _warm_lock:
        if _warm["state"] != "not started":
            return False
        if os.environ.get("GENRE_WARMUP", "1").strip() == "0":
            _warm["state"] = "off"
            return False
        _warm["state"] = "running"
    thread = threading.Thread(target=_warmup, args=(model,), name="genre-warmup", daemon=True)
    thread.start()
    # a process that exits while the warm-up is inside native code can abort ("terminate called
    # without an active exception"): give it WARMUP_EXIT_WAIT_S to finish
    atexit.register(thread.join, WARMUP_EXIT_WAIT_S)
    return True


def _warmup(model: str | None) -> None:
    t0 = time.perf_counter()
    try:
        from genre.predict import load_detector, load_model, predict

        predictor = load_model(model)
        load_detector()
        rng = np.random.default_rng(0)
        t = np.arange(int(35 * SR)) / SR
        y = (0.3 * np.sin(2 * np.pi * 220 * t) * (1 + np.sin(2 * np.pi * 2 * t))
             + 0.05 * rng.standard_normal(len(t))).astype(np.float32)
        predict(_signal(y), model=predictor)
        with _warm_lock:
            _warm.update(state="done", seconds=time.perf_counter() - t0)
    except Exception as exc:  # warm-up is an optimisation: log it, the first visitor pays instead
        log.warning("warm-up failed: %s", exc)
        with _warm_lock:
            _warm.update(state="failed", seconds=time.perf_counter() - t0, error=str(exc))


def _signal(y: np.ndarray):
    from genre import audio

    return audio.Signal(y=y, sr=SR, duration=len(y) / SR, original_duration=len(y) / SR,
                        truncated=False, source="<warm-up>")

