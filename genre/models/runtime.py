"""Network runtime: every shipped network runs through onnxruntime (CPU), never TensorFlow.

One :class:`onnxruntime.InferenceSession` per ``.onnx`` file per process, created on first use
under a lock and reused by every caller (``InferenceSession.run`` is thread-safe), so the dashboard's
sessions, the CLI and a Dask worker each pay the start-up once.

Threads: ``intra_op_num_threads`` comes from the ``GENRE_ONNX_THREADS`` environment variable
(default 1: the dashboard shares two cores with its users; a batch worker that owns its cores may
raise it); ``inter_op_num_threads`` is 1. Only ``CPUExecutionProvider`` is used. Several networks
on the same input (the pretrained ensemble's four) run side by side in a process-wide thread pool
of ``GENRE_ONNX_PARALLEL`` threads (:func:`run_many`; default 2, or 1 on a one-core machine):
one network per thread scales better here than two intra-op threads per network. A process that
shares the machine with sibling processes (joblib or Dask workers) calls :func:`one_core` first.

The networks are exported by ``scripts/export_onnx.py`` with one input (``logmel``) and two outputs,
``probs`` (tag or genre probabilities) and ``embedding`` (the penultimate layer), so one call gives
both.
"""

from __future__ import annotations

import os
import threading
from pathlib import Path

import numpy as np

from genre.errors import ModelError

__all__ = ["THREADS_ENV", "MEMORY_ENV", "PARALLEL_ENV", "threads", "parallel", "one_core", "memory_mode",
           "session", "run", "run_many", "clear"]

#: Environment variable that sets ``intra_op_num_threads`` (default 1).
THREADS_ENV = "GENRE_ONNX_THREADS"
#: Environment variable that sets how sessions hold memory (:func:`memory_mode`).
MEMORY_ENV = "GENRE_ONNX_MEMORY"
#: Environment variable that sets how many networks :func:`run_many` runs at once (:func:`parallel`).
PARALLEL_ENV = "GENRE_ONNX_PARALLEL"

_LOCK = threading.Lock()
_SESSIONS: dict[tuple[str, int, str], object] = {}
_POOL: list = []  # [(size, ThreadPoolExecutor)] once run_many has needed one


def threads() -> int:
    """``intra_op_num_threads`` for new sessions: ``$GENRE_ONNX_THREADS`` or 1 (at least 1)."""
    raw = os.environ.get(THREADS_ENV, "1")
    try:
        return max(1, int(raw))
    except ValueError:
        raise ModelError(f"{THREADS_ENV} must be a whole number of threads, not {raw!r}.") from None


def parallel() -> int:
    """Networks :func:`run_many` runs at once: ``$GENRE_ONNX_PARALLEL``, else 2 (1 on a one-core
    machine); at least 1.

    Measured on the 2-core machine, the pretrained ensemble's four networks on the six patches of a
    30-s clip, warm, one intra-op thread each (``python benchmarks/bench_pretrained.py``,
    2026-12-06): 1,174 ms one at a time, 589 ms two at a time. The peak resident memory of
    ``benchmarks/bench_predict.py`` (both models loaded) went from 595 MB to 724 MB: two networks'
    working memory at once.
    """
    raw = os.environ.get(PARALLEL_ENV)
    if raw is None:
        return 2 if (os.cpu_count() or 1) > 1 else 1
    try:
        return max(1, int(raw))
    except ValueError:
        raise ModelError(f"{PARALLEL_ENV} must be a whole number of networks, not {raw!r}.") from None


def one_core() -> None:
    """Settle this process on one core's worth of work (one intra-op thread, one network at a time)
    unless the environment already says otherwise: for processes that run beside sibling processes
    on the same cores (joblib or Dask workers)."""
    os.environ.setdefault(THREADS_ENV, "1")
    os.environ.setdefault(PARALLEL_ENV, "1")


def session(path: str | Path):
    """The process-wide :class:`onnxruntime.InferenceSession` of ``path`` (created once, cached).

    Parameters
    ----------
    path : path
        An ``.onnx`` file.

    Raises
    ------
    ModelError
        If the file is missing or onnxruntime cannot load it.
    """
    path = Path(path)
    key = (str(path.resolve()), threads(), memory_mode())
    s = _SESSIONS.get(key)
    if s is not None:
        return s
    with _LOCK:
        s = _SESSIONS.get(key)
        if s is None:
            if not path.is_file():
                raise ModelError(f"Network file {path} is missing.")
            import onnxruntime as ort

            opts = ort.SessionOptions()
            opts.intra_op_num_threads = key[1]
            opts.inter_op_num_threads = 1
            opts.log_severity_level = 3
            opts.enable_cpu_mem_arena = memory_mode() != "off"
            try:
                s = ort.InferenceSession(str(path), sess_options=opts, providers=["CPUExecutionProvider"])
            except Exception as exc:  # corrupt or incompatible file
                raise ModelError(f"onnxruntime could not load {path}: {exc}") from exc
            _SESSIONS[key] = s
    return s


def run(path: str | Path, X: np.ndarray, batch_size: int = 32) -> dict[str, np.ndarray]:
    """Run the network ``path`` on ``X`` in batches; all outputs by name.

    Parameters
    ----------
    path : path
        ``.onnx`` file (one input).
    X : np.ndarray
        Input batch, float32, first axis = examples (e.g. ``(n, 187, 96)`` log-mel patches).
    batch_size : int
        Examples per call (bounds memory).

    Returns
    -------
    dict
        Output name -> ``(n, ...)`` float32 array (e.g. ``probs`` and ``embedding``).
    """
    s = session(path)
    X = np.ascontiguousarray(X, dtype=np.float32)
    name = s.get_inputs()[0].name
    outs = [o.name for o in s.get_outputs()]
    if X.shape[0] == 0:
        raise ValueError("X holds no examples.")
    parts: dict[str, list[np.ndarray]] = {o: [] for o in outs}
    ro = _run_options()
    for i in range(0, X.shape[0], batch_size):
        for o, v in zip(outs, s.run(outs, {name: X[i:i + batch_size]}, ro)):
            parts[o].append(v)
    return {o: np.concatenate(v, axis=0) for o, v in parts.items()}


def run_many(paths, X: np.ndarray, batch_size: int = 32) -> list[dict[str, np.ndarray]]:
    """:func:`run` of every network in ``paths`` on the same ``X``, up to :func:`parallel` of them
    at once (in the order given: put the costliest first). The outputs are those of :func:`run`,
    bit for bit; an error in any network is raised here (the first in the order given).
    """
    paths = list(paths)
    n = parallel()
    if n <= 1 or len(paths) <= 1:
        return [run(p, X, batch_size) for p in paths]
    from concurrent.futures import ThreadPoolExecutor

    with _LOCK:
        if not _POOL or _POOL[0][0] != n:
            if _POOL:
                _POOL.pop()[1].shutdown(wait=False)
            _POOL.append((n, ThreadPoolExecutor(max_workers=n, thread_name_prefix="genre-onnx")))
        pool = _POOL[0][1]
    futures = [pool.submit(run, p, X, batch_size) for p in paths]
    return [f.result() for f in futures]


def memory_mode() -> str:
    """How sessions hold memory between runs: ``$GENRE_ONNX_MEMORY`` (default ``shrink``).

    - ``shrink``: an arena per session, shrunk back after every run (lowest resident memory);
    - ``arena``: the arena keeps its high-water mark (fastest; a catalogue worker, which owns its
      process, uses it);
    - ``off``: no arena.

    Measured on the 2-core machine, pretrained ensemble, 30-s clip, one process: ``arena`` 0.58 s
    warm and 919 MB resident, ``shrink`` 0.81 s and 422 MB, ``off`` 0.81 s and 584 MB (each of the
    four networks' arenas otherwise keeps about 115 MB).
    """
    mode = os.environ.get(MEMORY_ENV, "shrink")
    if mode not in ("shrink", "arena", "off"):
        raise ModelError(f"{MEMORY_ENV} must be shrink, arena or off, not {mode!r}.")
    return mode


def _run_options():
    import onnxruntime as ort

    ro = ort.RunOptions()
    if memory_mode() == "shrink":
        ro.add_run_config_entry("memory.enable_memory_arena_shrinkage", "cpu:0")
    return ro


def clear() -> None:
    """Forget every cached session (tests; frees memory)."""
    with _LOCK:
        _SESSIONS.clear()
