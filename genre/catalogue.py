"""Catalogue mode: classify a whole music library on Dask, resumably, into a Parquet catalogue.

``python -m genre catalogue SRC... --out catalogue.parquet`` (see :func:`run`). Each track is
classified by :func:`genre.predict.predict` over its whole length (up to ``MAX_SECONDS``; the
feature models read it in consecutive 30-s windows, the networks in 3-s patches), so the
probabilities are exactly those of ``python -m genre predict`` on the same file. One row per track
(:data:`SCHEMA`): path, content hash, duration, top-3 genres, the ten probabilities, flags, a
compact timeline summary (at most :data:`TIMELINE_BINS` stretches of the track, each with its top
genre), model name/version, timings, and for a file that failed its error kind and message.

Where the work runs
    On a Dask cluster: a ``LocalCluster`` of single-threaded process workers sized to the machine
    by default, or an existing cluster (``scheduler="tcp://HOST:PORT"``, used unchanged; its
    workers need this package and the model files). Each worker loads the model once
    (:class:`ModelPlugin`) and holds BLAS, OpenMP, onnxruntime and TensorFlow to one thread. A
    worker analyses one track at a time, so it never holds more than one decoded track (at most
    ``MAX_SECONDS`` of mono float32 audio, 53 MB at the 600-s default); Dask's nanny restarts a
    worker that exceeds its memory limit, and that track becomes an error row.
Output
    ``--out`` is a Parquet dataset: a folder of part files, each written whole (temporary name,
    then an atomic rename) every ``batch_size`` rows, so a crash loses at most the rows of one
    unwritten batch and never leaves a half-written part. ``pandas.read_parquet(out)`` reads it.
Resume and idempotence
    A row is keyed by the track's content hash (SHA-256) plus the model's name, version and file
    digest. A rerun skips a path whose size and modification time match a row under the same
    model (without hashing it), hashes the rest and skips a (path, hash) already catalogued. A
    file whose content is already catalogued under another path (a duplicate) is not analysed
    again: its row copies the analysis and names the original in ``duplicate_of``. Rows already
    written are never rewritten, so killing a run at any point and restarting loses no finished
    work and duplicates no rows. Failed tracks are rows too (``error_kind``) and are not retried.
    A file changed in place is catalogued again (new hash, new row); a run with another model adds
    that model's rows. The dashboard shows one model and the newest row per path
    (:func:`genre.app.catalogue_view.current`).
Scale
    The client keeps the key columns of the catalogue and the content hashes in memory (about
    200 bytes a track); at most four tasks per worker thread are in flight.
"""

from __future__ import annotations

import contextlib
import glob
import hashlib
import json
import os
import sys
import time
import uuid
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Callable, Iterable, Sequence

import numpy as np
import pyarrow as pa

from genre.audio import ACCEPTED_EXTENSIONS
from genre.errors import GenreError, ModelError

try:  # distributed is a runtime dependency; the plugin base class must come from it
    from distributed.diagnostics.plugin import WorkerPlugin
except ImportError:  # pragma: no cover - only without distributed installed
    WorkerPlugin = object  # type: ignore[assignment,misc]

__all__ = [
    "AUDIO_SUFFIXES", "TIMELINE_BINS", "BATCH_SIZE", "SCHEMA", "KEY_COLUMNS", "THREAD_ENV", "CLUSTER_CONFIG", "SourceError",
    "RunSummary", "find_tracks", "content_hash", "model_key", "timeline_summary", "analyse_track",
    "ModelPlugin", "CatalogueWriter", "read_keys", "local_cluster", "dask_client", "run",
]

#: File name endings searched for in folders (the decoder's formats plus AU/AIFF, lower case).
AUDIO_SUFFIXES: tuple[str, ...] = tuple("." + e for e in ACCEPTED_EXTENSIONS) + (".au", ".aif", ".aiff")
#: Most stretches in a row's timeline summary (each a whole number of 3-s segments).
TIMELINE_BINS: int = 12
#: Rows per Parquet part file (a crash loses at most this many finished rows).
BATCH_SIZE: int = 32
#: Native thread pools per worker: one thread each (a worker is one core's worth of work).
THREAD_ENV: dict[str, str] = {
    "OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1", "OPENBLAS_NUM_THREADS": "1",
    "NUMBA_NUM_THREADS": "1", "GENRE_ONNX_THREADS": "1", "GENRE_ONNX_PARALLEL": "1", "GENRE_TF_THREADS": "1",
    "GENRE_ONNX_MEMORY": "arena",  # a worker owns its process: keep the arenas (faster)
}
#: Dask settings of the local cluster: no statistical profiler (it samples every thread every
#: 10 ms, for a dashboard the catalogue does not start), slower event-loop and system checks, no
#: work stealing (tasks wait on the scheduler's queue, not on workers). Measured on the 2-core
#: machine: an idle 2-worker cluster used 0.13 cores with Dask's defaults, 0.04 with these.
#: And no ``MALLOC_TRIM_THRESHOLD_`` in the workers' environment: Dask sets it to 64 KiB by
#: default, which turns off glibc's adaptive mmap threshold, so every array above 128 KiB (each
#: spectrogram, each decoded track) is mapped, page-faulted and unmapped again. Measured with the
#: default model on 8 full-length tracks in one process: 1.89 CPU s per track with the variable
#: set, 1.23 without (35x the page faults). ``benchmarks/bench_catalogue.py`` shows the effect.
CLUSTER_CONFIG: dict[str, Any] = {
    "distributed.nanny.pre-spawn-environ.MALLOC_TRIM_THRESHOLD_": None,
    "distributed.worker.profile.enabled": False,
    "distributed.admin.tick.interval": "500ms",
    "distributed.admin.system-monitor.interval": "2s",
    "distributed.worker.memory.monitor-interval": "500ms",
    "distributed.scheduler.work-stealing": False,
}
#: Part files of the dataset are named ``part-*.parquet``; a part being written starts with '.'
#: (pyarrow's dataset reader ignores files starting with '.' or '_').
PART_GLOB = "part-*.parquet"


def _schema() -> pa.Schema:
    f64, s, b = pa.float64(), pa.string(), pa.bool_()
    return pa.schema([
        ("path", s), ("content_hash", s), ("size_bytes", pa.int64()), ("mtime_ns", pa.int64()),
        ("duration_s", f64), ("original_duration_s", f64), ("truncated", b),
        ("genre", s), ("confidence", f64),
        ("top1_genre", s), ("top1_prob", f64), ("top2_genre", s), ("top2_prob", f64),
        ("top3_genre", s), ("top3_prob", f64),
        ("probabilities", pa.list_(f64)), ("classes", pa.list_(s)),
        ("not_music", b), ("low_confidence", b), ("novelty_score", f64), ("verdict", s),
        ("segment_agreement", f64), ("n_segments", pa.int32()),
        ("timeline_start_s", pa.list_(f64)), ("timeline_end_s", pa.list_(f64)),
        ("timeline_genre", pa.list_(s)), ("timeline_prob", pa.list_(f64)),
        ("notes", s),
        ("model", s), ("model_version", s), ("model_digest", s),
        ("hash_ms", f64), ("decode_ms", f64), ("inference_ms", f64), ("novelty_ms", f64),
        ("total_ms", f64), ("cpu_ms", f64), ("worker", s), ("finished_at", pa.timestamp("ms", tz="UTC")),
        ("duplicate_of", s), ("error_kind", s), ("error_message", s),
    ])


#: The catalogue's Arrow schema: one row per track (see the module docstring). ``probabilities``
#: are in the order of ``classes`` (the model's); ``timeline_*`` is :func:`timeline_summary`;
#: ``*_ms`` are the worker's timings (``total_ms``: decode + model + non-music check, wall time;
#: ``cpu_ms``: CPU time of the analysis task's thread, hashing included when the task hashed).
SCHEMA: pa.Schema = _schema()
#: The columns that identify a row: where, what content, which model.
KEY_COLUMNS: tuple[str, ...] = ("path", "content_hash", "size_bytes", "mtime_ns", "model",
                                "model_version", "model_digest")


class SourceError(GenreError):
    """A SRC argument names nothing usable (no such file or folder, an empty list, no audio), or
    another argument of a run is unusable (the output, the scheduler, a memory limit)."""


# ------------------------------------------------------------------------------ inputs

def _audio_in(folder: Path) -> list[Path]:
    return sorted(p for p in folder.rglob("*")
                  if p.is_file() and p.suffix.lower() in AUDIO_SUFFIXES and not p.name.startswith("."))


def _read_list(path: Path) -> list[Path]:
    """Paths listed in a ``.txt`` (one per line; blank lines and ``#`` comments skipped) or a
    ``.csv`` (column ``path``, else the first column). Relative paths are relative to the list."""
    if path.suffix.lower() == ".csv":
        import pandas as pd

        try:
            df = pd.read_csv(path, dtype=str, keep_default_na=False)
        except Exception as exc:  # malformed CSV: a person's mistake, said plainly
            raise SourceError(f"Cannot read the list {path}: {exc}.") from exc
        if df.shape[1] == 0:
            raise SourceError(f"The list {path} has no columns.")
        col = "path" if "path" in df.columns else df.columns[0]
        items = [v.strip() for v in df[col] if v.strip()]
    else:
        items = [ln.strip() for ln in path.read_text(encoding="utf-8", errors="replace").splitlines()]
        items = [ln for ln in items if ln and not ln.startswith("#")]
    return [p if p.is_absolute() else path.parent / p for p in map(Path, items)]


def find_tracks(sources: Sequence[str | os.PathLike]) -> list[str]:
    """The audio files named by ``sources``, as absolute paths, sorted and without repeats.

    Parameters
    ----------
    sources : sequence of str or path
        Each one a folder (searched recursively for :data:`AUDIO_SUFFIXES`), a ``.txt`` or
        ``.csv`` list of paths, a glob pattern (``*``, ``?``, ``[``; ``**`` recurses), or one
        audio file. Listed files are kept whatever their ending (a bad one becomes an error row).

    Raises
    ------
    SourceError
        A source that does not exist, a glob or folder that matches no audio, an empty list.
    """
    out: list[Path] = []
    for raw in sources:
        s = str(raw)
        p = Path(s).expanduser()
        if p.is_dir():
            found = _audio_in(p)
            if not found:
                raise SourceError(f"No audio files ({', '.join(AUDIO_SUFFIXES)}) in folder {p}.")
            out.extend(found)
        elif p.is_file() and p.suffix.lower() in (".txt", ".csv", ".lst", ".m3u"):
            listed = _read_list(p)
            if not listed:
                raise SourceError(f"The list {p} names no files.")
            out.extend(listed)
        elif p.is_file():
            out.append(p)
        elif any(c in s for c in "*?["):
            found = [Path(m) for m in glob.glob(os.path.expanduser(s), recursive=True)]
            found = [m for m in found if m.is_file() and m.suffix.lower() in AUDIO_SUFFIXES]
            if not found:
                raise SourceError(f"The pattern {s!r} matches no audio files.")
            out.extend(found)
        else:
            raise SourceError(f"No such file or folder: {p}.")
    seen, unique = set(), []
    for q in out:
        a = os.path.abspath(q)
        if a not in seen:
            seen.add(a)
            unique.append(a)
    return sorted(unique)


def content_hash(path: str | os.PathLike, chunk: int = 1 << 20) -> str:
    """SHA-256 (hex) of a file's bytes, read in ``chunk``-byte blocks."""
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(chunk), b""):
            h.update(block)
    return h.hexdigest()


def model_key(manifest: dict) -> tuple[str, str, str]:
    """``(name, version, digest)`` of a registry manifest; the digest is the first 16 hex digits of
    SHA-256 over its files' recorded hashes, so a retrained model with the same version differs."""
    files = json.dumps(manifest.get("files") or {}, sort_keys=True)
    return (str(manifest.get("name", "")), str(manifest.get("version", "")),
            hashlib.sha256(files.encode()).hexdigest()[:16])


# ------------------------------------------------------------------------------ one track (worker side)

def timeline_summary(timeline, genres: Sequence[str] | None = None, bins: int = TIMELINE_BINS) -> dict:
    """Compact form of a prediction's 3-s timeline: at most ``bins`` consecutive stretches.

    ``genres`` are the model's classes (the timeline's probability columns); by default every
    column of ``timeline`` other than ``start_s`` and ``end_s``.

    The segments are split into ``min(bins, n)`` runs of (nearly) equal length; each stretch gives
    its start and end (s), the genre with the highest mean segment probability over it and that
    mean probability.

    Returns
    -------
    dict with lists ``timeline_start_s``, ``timeline_end_s``, ``timeline_genre``, ``timeline_prob``
    (empty when there are no segments).
    """
    n = len(timeline)
    out: dict[str, list] = {"timeline_start_s": [], "timeline_end_s": [], "timeline_genre": [],
                            "timeline_prob": []}
    if n == 0:
        return out
    if genres is None:
        genres = [c for c in timeline.columns if c not in ("start_s", "end_s")]
    genres = list(genres)
    P = timeline[genres].to_numpy(dtype=np.float64)
    starts = timeline["start_s"].to_numpy(dtype=np.float64)
    ends = timeline["end_s"].to_numpy(dtype=np.float64)
    for idx in np.array_split(np.arange(n), min(int(bins), n)):
        mean = P[idx].mean(axis=0)
        k = int(np.argmax(mean))
        out["timeline_start_s"].append(float(starts[idx[0]]))
        out["timeline_end_s"].append(float(ends[idx[-1]]))
        out["timeline_genre"].append(str(genres[k]))
        out["timeline_prob"].append(float(mean[k]))
    return out


def _stat(path: str) -> tuple[int | None, int | None]:
    try:
        st = os.stat(path)
        return int(st.st_size), int(st.st_mtime_ns)
    except OSError:
        return None, None


def _now() -> datetime:
    return datetime.now(timezone.utc)


def _worker_name() -> str:
    try:
        from distributed import get_worker

        return str(get_worker().address)
    except (ImportError, ValueError):
        return f"pid:{os.getpid()}"


def _base_row(path: str, digest: str | None, key: tuple[str, str, str]) -> dict[str, Any]:
    size, mtime = _stat(path)
    return {"path": path, "content_hash": digest, "size_bytes": size, "mtime_ns": mtime,
            "model": key[0], "model_version": key[1], "model_digest": key[2]}


def error_row(path: str, kind: str, message: str, *, digest: str | None = None,
              key: tuple[str, str, str] = ("", "", ""), **extra) -> dict[str, Any]:
    """A catalogue row for a track that failed (``error_kind`` = the error's class name)."""
    row = _base_row(path, digest, key)
    row.update(error_kind=kind, error_message=message, worker=_worker_name(), finished_at=_now())
    row.update(extra)
    return row


def prediction_row(pred, path: str, *, digest: str | None, key: tuple[str, str, str]) -> dict[str, Any]:
    """A catalogue row from a :class:`genre.predict.Prediction`."""
    row = _base_row(path, digest, key)
    top = pred.top(3)
    while len(top) < 3:
        top.append((None, None))
    nov = pred.novelty or {}
    score = nov.get("score")
    t = pred.timings_ms
    row.update({
        "duration_s": float(pred.duration_s),
        "original_duration_s": None if pred.original_duration_s is None else float(pred.original_duration_s),
        "truncated": bool(pred.truncated), "genre": pred.genre, "confidence": pred.confidence,
        "top1_genre": top[0][0], "top1_prob": top[0][1], "top2_genre": top[1][0], "top2_prob": top[1][1],
        "top3_genre": top[2][0], "top3_prob": top[2][1],
        "probabilities": [float(v) for v in pred.probabilities], "classes": list(pred.genres),
        "not_music": bool(pred.not_music), "low_confidence": bool(pred.low_confidence),
        "novelty_score": None if score is None or not np.isfinite(score) else float(score),
        "verdict": pred.verdict,
        "segment_agreement": (None if not np.isfinite(pred.segment_agreement)
                              else float(pred.segment_agreement)),
        "n_segments": int(len(pred.timeline)),
        **timeline_summary(pred.timeline, pred.genres),
        "notes": "\n".join(str(n) for n in pred.notes),
        "decode_ms": float(t.get("decode", np.nan)), "inference_ms": float(t.get("inference", np.nan)),
        "novelty_ms": float(t.get("novelty", np.nan)), "total_ms": float(t.get("total", np.nan)),
        "worker": _worker_name(), "finished_at": _now(),
    })
    return row


_PREPARED: dict[str, Any] = {}


def prepare_worker(model: str | None = None, *, warm_up: bool = True):
    """Make this process a catalogue worker: one-thread native pools, the model loaded once.

    Idempotent and cheap after the first call. ``model`` None = the registry default. With
    ``warm_up`` one short synthetic signal is classified, so that numba's compiled kernels and
    the models' lazy parts are loaded before the first real track is timed.

    Returns
    -------
    The loaded Predictor.
    """
    for k, v in THREAD_ENV.items():
        os.environ.setdefault(k, v)
    if "limits" not in _PREPARED:
        from threadpoolctl import threadpool_limits

        _PREPARED["limits"] = threadpool_limits(limits=1)  # kept: the limit lasts for the process
    from genre import predict as P

    predictor = P.load_model(model)
    if warm_up and ("warm", model) not in _PREPARED:
        from genre.audio import Signal
        from genre.config import SR

        rng = np.random.default_rng(0)
        y = (0.1 * rng.standard_normal(int(5 * SR))).astype(np.float32)
        P.predict(Signal(y=y, sr=SR, duration=len(y) / SR, original_duration=len(y) / SR,
                         truncated=False, source="<warm-up>", notes=[]), predictor)
        _PREPARED[("warm", model)] = True
    return predictor


def worker_model_key(model: str | None = None) -> tuple[str, str, str]:
    """:func:`model_key` of the model this process classifies with (loads it if needed)."""
    return model_key(getattr(prepare_worker(model, warm_up=False), "manifest", {}) or {})


def analyse_track(path: str, model: str | None = None, digest: str | None = None) -> dict[str, Any]:
    """Classify one file into a catalogue row (a worker task; also usable without Dask).

    Any failure becomes an error row (``error_kind``: the exception's class name), so one bad file
    never stops a run. The probabilities are :func:`genre.predict.predict`'s for the same file.
    ``digest``: the file's :func:`content_hash` when already known (else it is computed here).
    """
    c0 = time.thread_time()
    row = _analyse(path, model, digest)
    row["cpu_ms"] = (time.thread_time() - c0) * 1e3
    return row


def _analyse(path: str, model: str | None, digest: str | None) -> dict[str, Any]:
    from genre import predict as P

    t0 = time.perf_counter()
    hash_ms = None
    try:
        if digest is None:
            digest = content_hash(path)
            hash_ms = (time.perf_counter() - t0) * 1e3
    except OSError as exc:
        return error_row(path, type(exc).__name__, f"The file could not be read ({exc.strerror or exc}).")
    try:
        predictor = prepare_worker(model)
    except GenreError as exc:
        return error_row(path, type(exc).__name__, str(exc), digest=digest)
    key = model_key(getattr(predictor, "manifest", {}) or {})
    try:
        pred = P.predict(path, predictor)
    except GenreError as exc:
        return error_row(path, type(exc).__name__, str(exc), digest=digest, key=key, hash_ms=hash_ms)
    except MemoryError:
        return error_row(path, "MemoryError", "The track needed more memory than this worker has.",
                         digest=digest, key=key, hash_ms=hash_ms)
    except Exception as exc:  # an unexpected failure on one file must not stop the catalogue
        return error_row(path, type(exc).__name__, f"Unexpected error while analysing: {exc}",
                         digest=digest, key=key, hash_ms=hash_ms)
    row = prediction_row(pred, path, digest=digest, key=key)
    row["hash_ms"] = hash_ms
    return row


def hash_track(path: str) -> dict[str, Any]:
    """Worker task: the file's size, modification time and content hash (or the read error)."""
    t0, c0 = time.perf_counter(), time.thread_time()
    size, mtime = _stat(path)
    try:
        digest = content_hash(path)
        err = None
    except OSError as exc:
        digest, err = None, (type(exc).__name__, f"The file could not be read ({exc.strerror or exc}).")
    return {"path": path, "size_bytes": size, "mtime_ns": mtime, "content_hash": digest,
            "hash_ms": (time.perf_counter() - t0) * 1e3, "cpu_ms": (time.thread_time() - c0) * 1e3,
            "error": err}


class ModelPlugin(WorkerPlugin):
    """Dask worker plugin: :func:`prepare_worker` on every worker, now and on workers that join.

    Registered under one name per model, so registering it again on a cluster that already has it
    does not reload anything.
    """

    idempotent = True

    def __init__(self, model: str | None = None, warm_up: bool = True):
        self.model = model
        self.warm_up = warm_up
        self.name = f"genre-catalogue-model-{model or 'default'}"

    def setup(self, worker):
        # On the worker's event loop, before it runs any task. Not in a thread executor: CPython
        # 3.11/3.12 can fail a skops load with "AST constructor recursion depth mismatch" when
        # another thread builds ASTs at the same time (seen in CI). Loading and warming take a
        # few seconds, far inside Dask's worker time-to-live.
        prepare_worker(self.model, warm_up=self.warm_up)


# ------------------------------------------------------------------------------ output

def read_keys(out: str | os.PathLike) -> list[dict]:
    """The :data:`KEY_COLUMNS` of every row of an existing catalogue (empty when there is none)."""
    import pyarrow.dataset as ds

    out = Path(out)
    if not out.exists():
        return []
    if out.is_file():
        raise SourceError(f"{out} is a file; --out names a catalogue folder (a Parquet dataset), "
                          "created on the first run.")
    if not any(out.glob(PART_GLOB)):
        return []
    return ds.dataset(str(out), format="parquet", schema=SCHEMA).to_table(columns=list(KEY_COLUMNS)).to_pylist()


def read_rows(out: str | os.PathLike, hashes: Iterable[str]) -> list[dict]:
    """The full rows of an existing catalogue whose content hash is one of ``hashes``."""
    import pyarrow.compute as pc
    import pyarrow.dataset as ds

    d = ds.dataset(str(out), format="parquet", schema=SCHEMA)
    return d.to_table(filter=pc.field("content_hash").isin(list(hashes))).to_pylist()


class CatalogueWriter:
    """Appends rows to a Parquet dataset folder, one part file per batch, written atomically.

    Parameters
    ----------
    out : path
        The dataset folder (created if needed).
    batch_size : int
        Rows per part file; :meth:`add` writes a part when this many rows are waiting.
    """

    def __init__(self, out: str | os.PathLike, batch_size: int = BATCH_SIZE):
        self.out = Path(out)
        self.batch_size = max(1, int(batch_size))
        self.pending: list[dict] = []
        self.written = 0
        self.parts: list[Path] = []
        self._lock = None

    def lock(self) -> None:
        """Take the folder's lock (``.lock``, released when the process ends, even by a kill) so
        that two runs never write one catalogue at once; then delete temporary parts left by a
        killed run.

        Raises
        ------
        SourceError
            Another run holds the lock.
        """
        self.out.mkdir(parents=True, exist_ok=True)
        try:
            import fcntl
        except ImportError:  # pragma: no cover - not on POSIX: no lock
            return
        fh = open(self.out / ".lock", "a+")
        try:
            fcntl.flock(fh, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            fh.close()
            raise SourceError(f"Another catalogue run is writing to {self.out}; wait for it to end.") from None
        self._lock = fh
        for tmp in self.out.glob(".part-*.tmp"):
            tmp.unlink(missing_ok=True)

    def unlock(self) -> None:
        if self._lock is not None:
            self._lock.close()  # closing the file releases the flock
            self._lock = None

    def add(self, row: dict) -> None:
        self.pending.append(row)
        if len(self.pending) >= self.batch_size:
            self.flush()

    def flush(self) -> Path | None:
        """Write the waiting rows as one part file (nothing when none wait); returns its path."""
        if not self.pending:
            return None
        import pyarrow.parquet as pq

        rows = [{k: r.get(k) for k in SCHEMA.names} for r in self.pending]
        table = pa.Table.from_pylist(rows, schema=SCHEMA)
        self.out.mkdir(parents=True, exist_ok=True)
        stamp = _now().strftime("%Y%m%dT%H%M%S")
        name = f"part-{stamp}-{uuid.uuid4().hex[:12]}.parquet"
        tmp = self.out / f".{name}.tmp"
        pq.write_table(table, tmp, compression="zstd")
        with open(tmp, "rb") as f:
            os.fsync(f.fileno())
        os.replace(tmp, self.out / name)
        self.written += len(rows)
        self.pending = []
        self.parts.append(self.out / name)
        return self.out / name


# ------------------------------------------------------------------------------ the run

@dataclass
class RunSummary:
    """What :func:`run` did. Counts are tracks; ``elapsed_s`` (the work phase) excludes cluster
    start-up and model loading (``startup_s``); ``task_s`` / ``task_cpu_s``: the workers' summed
    wall / CPU time inside hashing and analysis tasks."""

    out: str
    found: int = 0
    skipped: int = 0
    analysed: int = 0
    duplicates: int = 0
    failed: int = 0
    written: int = 0
    startup_s: float = 0.0
    elapsed_s: float = 0.0
    task_s: float = 0.0
    task_cpu_s: float = 0.0
    n_workers: int = 0
    model: tuple = ("", "", "")
    errors: list = field(default_factory=list)

    @property
    def tracks_per_s(self) -> float:
        n = self.analysed + self.duplicates + self.failed
        return n / self.elapsed_s if self.elapsed_s > 0 else float("nan")

    def text(self) -> str:
        """One paragraph for a person."""
        if self.analysed + self.duplicates + self.failed == 0:
            return (f"{self.found} tracks, all already in {self.out} (model {self.model[0]} "
                    f"v{self.model[1]}): nothing to do.")
        return (f"{self.found} tracks: {self.analysed} analysed, {self.duplicates} duplicates, "
                f"{self.failed} failed, {self.skipped} already catalogued; {self.written} rows "
                f"written to {self.out} in {self.elapsed_s:.1f} s "
                f"({self.tracks_per_s:.2f} tracks/s on {self.n_workers} workers; cluster start "
                f"{self.startup_s:.1f} s). Model {self.model[0]} v{self.model[1]}.")


def local_cluster(n_workers: int | None = None, memory_limit: str | float | None = "auto"):
    """A ``distributed.LocalCluster`` for catalogue work: ``n_workers`` process workers (default
    one per core) of one thread each, with :data:`THREAD_ENV` and :data:`CLUSTER_CONFIG`; no web
    dashboard (its HTTP endpoints take a free port instead of 8787, which another cluster may hold)."""
    import dask
    from distributed import LocalCluster

    n = int(n_workers or os.cpu_count() or 1)
    with dask.config.set(CLUSTER_CONFIG):  # the nannies pass this config on to their workers
        return LocalCluster(n_workers=n, threads_per_worker=1, processes=True, memory_limit=memory_limit,
                            dashboard_address=None, env=dict(THREAD_ENV),
                            scheduler_kwargs={"dashboard": False, "dashboard_address": ":0"})


@contextlib.contextmanager
def dask_client(scheduler: str | None = None, n_workers: int | None = None,
                memory_limit: str | float | None = "auto", timeout: float = 60):
    """A ``distributed.Client``: to ``scheduler`` if given (used unchanged), else to a new
    :func:`local_cluster`, closed on exit."""
    from distributed import Client

    if scheduler:
        try:
            client = Client(scheduler, timeout=timeout)
        except (OSError, TimeoutError) as exc:
            raise SourceError(f"Cannot reach the Dask scheduler at {scheduler} ({exc}).") from exc
        try:
            yield client
        finally:
            client.close()
        return
    with local_cluster(n_workers, memory_limit) as cluster, Client(cluster, timeout=timeout) as client:
        yield client


def _copy_row(src: dict, path: str, size, mtime, hash_ms=None) -> dict:
    row = dict(src)
    row.update(path=path, size_bytes=size, mtime_ns=mtime, duplicate_of=src["path"], hash_ms=hash_ms,
               decode_ms=None, inference_ms=None, novelty_ms=None, total_ms=None, cpu_ms=None, finished_at=_now(),
               worker=None)
    return row


def run(sources: Sequence[str | os.PathLike], out: str | os.PathLike, *, model: str | None = None,
        scheduler: str | None = None, n_workers: int | None = None, batch_size: int = BATCH_SIZE,
        memory_limit: str | float | None = "auto", progress: bool = True,
        stall_timeout: float = 1800.0, relative_to: str | os.PathLike | None = None,
        client=None, on_row: Callable[[dict], None] | None = None) -> RunSummary:
    """Classify every track named by ``sources`` into the catalogue ``out`` (resumable).

    Parameters
    ----------
    sources : sequence
        Folders, lists, globs or files (:func:`find_tracks`).
    out : path
        The catalogue: a Parquet dataset folder, created or appended to.
    model : str or None
        Registry model name; None = the default model (``registry.default_name()``).
    scheduler : str or None
        Address of an existing Dask scheduler (``tcp://HOST:PORT``); None starts a LocalCluster.
    n_workers : int or None
        LocalCluster workers (one thread each); None = one per core.
    batch_size : int
        Rows per Parquet part (the most a crash can lose).
    memory_limit : str, float or None
        LocalCluster memory limit per worker (Dask's syntax; ``"auto"`` shares the machine's).
    progress : bool
        tqdm bar (tracks/s and ETA) on stderr.
    stall_timeout : float
        Seconds without any finished task after which the run stops with an error (a stuck
        cluster), after writing what it has.
    relative_to : path or None
        Store paths relative to this folder (paths outside it stay absolute).
    client : distributed.Client or None
        Use this client instead of making one (tests, notebooks); ``scheduler`` is then ignored.
    on_row : callable or None
        Called with every new row after it is queued for writing (e.g. a live view).

    Returns
    -------
    RunSummary

    Raises
    ------
    SourceError
        A source, ``out``, the scheduler address or the memory limit is unusable, or another run
        is writing the same catalogue.
    ModelError
        The model is unknown or fails its hash check (on the client or on a worker).
    """
    from genre import registry

    paths = find_tracks(sources)
    if isinstance(memory_limit, str) and memory_limit != "auto":
        from dask.utils import parse_bytes

        try:
            parse_bytes(memory_limit)
        except ValueError:
            raise SourceError(f"Memory limit {memory_limit!r} is not a size (e.g. 2GiB, 1500MB).") from None
    name = model or registry.default_name()
    key = model_key(registry.verify(name))  # fail early (before any cluster) on a bad model
    root = os.path.abspath(relative_to) if relative_to is not None else None

    def label(p: str) -> str:
        if root is None or not os.path.isabs(p):
            return p
        rel = os.path.relpath(p, root)
        return p if rel.startswith("..") else rel.replace(os.sep, "/")

    def real(stored: str) -> str:
        return stored if root is None or os.path.isabs(stored) else os.path.join(root, stored)

    summary = RunSummary(out=str(out), found=len(paths), model=key)
    if Path(out).is_file():
        raise SourceError(f"{out} is a file; --out names a catalogue folder (a Parquet dataset), "
                          "created on the first run.")
    writer = CatalogueWriter(out, batch_size)
    writer.lock()
    try:
        return _run(paths, out, name, key, summary, writer, label, real, scheduler, n_workers,
                    memory_limit, progress, stall_timeout, client, on_row)
    finally:
        writer.unlock()


def _run(paths, out, name, key, summary, writer, label, real, scheduler, n_workers, memory_limit,
         progress, stall_timeout, client, on_row) -> RunSummary:
    same = [r for r in read_keys(out) if (r["model"], r["model_version"], r["model_digest"]) == key]
    # (path, size, mtime): a missing or unreadable file's row has None there and matches again
    stat_done = {(real(r["path"]), r["size_bytes"], r["mtime_ns"]) for r in same}
    path_hash_done = {(real(r["path"]), r["content_hash"]) for r in same if r["content_hash"]}
    todo = []
    for p in paths:
        size, mtime = _stat(p)
        if (p, size, mtime) in stat_done:
            summary.skipped += 1
        else:
            todo.append(p)

    known = {r["content_hash"] for r in same if r["content_hash"]}  # content with a finished row
    waiting: dict[str, list] = {}    # content hash -> [(path, size, mtime, hash_ms)] copies to make

    def original(digest: str) -> dict | None:
        """The finished row of this content: in the unwritten batch, else on disk (only the hash set
        is kept in memory, so a run over a huge library stays small)."""
        for r in reversed(writer.pending):
            if r.get("content_hash") == digest and not r.get("duplicate_of"):
                return r
        rows = [r for r in read_rows(out, [digest])
                if (r["model"], r["model_version"], r["model_digest"]) == key] if writer.written or same else []
        rows.sort(key=lambda r: bool(r.get("duplicate_of")))
        return rows[0] if rows else None

    def emit(row: dict) -> None:
        row = dict(row)
        row["path"] = label(row["path"])
        if row.get("duplicate_of"):
            row["duplicate_of"] = label(row["duplicate_of"])
        writer.add(row)
        if row.get("error_kind"):
            summary.failed += 1
            summary.errors.append((row["path"], row["error_kind"], row.get("error_message")))
        elif row.get("duplicate_of"):
            summary.duplicates += 1
        else:
            summary.analysed += 1
        if on_row is not None:
            on_row(row)

    from tqdm.auto import tqdm

    bars: list = []

    def make_bar():  # made once the workers are ready, so that tracks/s and the ETA are the work's
        bars.append(tqdm(total=len(paths), initial=summary.skipped, desc="catalogue", unit="track",
                         disable=not progress, smoothing=0.1, dynamic_ncols=True))
        return bars[-1]

    t_start = time.perf_counter()
    ctx = contextlib.nullcontext(client) if client is not None else dask_client(
        scheduler, n_workers, memory_limit)
    try:
        if not todo:
            return summary
        if progress:
            print(f"catalogue: {len(todo)} of {len(paths)} tracks to check; starting the Dask "
                  "workers and loading the model...", file=sys.stderr, flush=True)
        with ctx as c:
            _run_on(c, todo, name, key, summary, emit, make_bar, stall_timeout, known, original,
                    waiting, path_hash_done, t_start)
    finally:
        for bar in bars:
            bar.close()
        writer.flush()
        summary.written = writer.written
    return summary


def _run_on(client, todo, name, key, summary, emit, make_bar, stall_timeout, known, original,
            waiting, path_hash_done, t_start) -> None:
    from distributed import wait

    try:
        client.wait_for_workers(1, timeout=120)
    except TimeoutError as exc:
        raise SourceError("The Dask cluster has no workers (waited 120 s).") from exc
    client.register_plugin(ModelPlugin(name))
    keys = client.run(worker_model_key, name)
    for addr, k in keys.items():
        if tuple(k) != key:
            raise ModelError(f"The worker {addr} has model {k[0]} v{k[1]} ({k[2]}), not {key[0]} "
                             f"v{key[1]} ({key[2]}) as here: give the cluster the same models/ folder.")
    summary.n_workers = len(keys)
    summary.startup_s = time.perf_counter() - t_start
    bar = make_bar()
    t0 = time.perf_counter()
    window = max(4, 4 * sum(client.nthreads().values()))
    queue = list(reversed(todo))
    kind: dict = {}      # future -> ("hash" | "analyse", path, size, mtime, hash_ms, digest)
    inflight: set = set()

    def submit_hashes() -> None:
        while queue and len(inflight) < window:
            p = queue.pop()
            f = client.submit(hash_track, p, pure=False, key=f"hash-{uuid.uuid4().hex}")
            kind[f] = ("hash", p, None, None, None, None)
            inflight.add(f)

    def finish_copies(digest: str, row: dict) -> None:
        for p, size, mtime, hms in waiting.pop(digest, []):
            emit(_copy_row(row, p, size, mtime, hms))
            bar.update()

    def on_hash(res: dict) -> None:
        p, digest = res["path"], res["content_hash"]
        summary.task_s += (res.get("hash_ms") or 0) / 1e3
        summary.task_cpu_s += (res.get("cpu_ms") or 0) / 1e3
        if res["error"]:
            emit(error_row(p, *res["error"], key=key, hash_ms=res["hash_ms"]))
            bar.update()
            return
        if (p, digest) in path_hash_done:
            summary.skipped += 1
            bar.update()
            return
        if digest in known:  # analysed before, under another path (this run or an earlier one)
            src = original(digest)
            if src is not None:
                emit(_copy_row(src, p, res["size_bytes"], res["mtime_ns"], res["hash_ms"]))
                bar.update()
                return
        if digest in waiting:  # the same content is being analysed now
            waiting[digest].append((p, res["size_bytes"], res["mtime_ns"], res["hash_ms"]))
            return
        waiting[digest] = []
        f = client.submit(analyse_track, p, name, digest, pure=False, key=f"analyse-{uuid.uuid4().hex}")
        kind[f] = ("analyse", p, res["size_bytes"], res["mtime_ns"], res["hash_ms"], digest)
        inflight.add(f)

    submit_hashes()
    while inflight:
        done, _ = wait(list(inflight), timeout=stall_timeout, return_when="FIRST_COMPLETED")
        if not done:
            raise TimeoutError(f"No track finished in {stall_timeout:g} s: the Dask cluster seems stuck.")
        for f in done:
            inflight.discard(f)
            what, p, size, mtime, hms, digest = kind.pop(f)
            try:
                res = f.result(timeout=60)
                err = None
            except Exception as exc:  # the worker died (KilledWorker), was cancelled...
                res, err = None, exc
            finally:
                f.release()
            if what == "hash":
                on_hash(res if err is None else {"path": p, "content_hash": None, "size_bytes": None,
                                                 "mtime_ns": None, "hash_ms": None,
                                                 "error": (type(err).__name__, str(err))})
                continue
            if err is not None:  # the same content would fail again: its copies share the error
                res = error_row(p, type(err).__name__, f"The worker failed on this track: {err}",
                                digest=digest, key=key, hash_ms=hms)
            res["size_bytes"], res["mtime_ns"] = size, mtime
            if not res.get("model"):  # failed before the worker knew its model: file it under the run's
                res["model"], res["model_version"], res["model_digest"] = key
            if hms is not None:
                res["hash_ms"] = hms
            if res.get("total_ms") is not None:
                summary.task_s += res["total_ms"] / 1e3
            summary.task_cpu_s += (res.get("cpu_ms") or 0) / 1e3
            emit(res)
            bar.update()
            known.add(digest)
            finish_copies(digest, res)
        submit_hashes()
        bar.set_postfix_str(f"{summary.failed} failed, {summary.duplicates} duplicates", refresh=False)
    summary.elapsed_s = time.perf_counter() - t0
