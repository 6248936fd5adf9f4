"""Shared helpers of the offline trainers: metrics from probabilities, results files, size, latency.

Used by :mod:`genre.training.train_deep` and :mod:`genre.training.stack_fit` (kept here so that
neither imports the other).
"""

from __future__ import annotations

import sys
import time
from pathlib import Path
from typing import Sequence

import numpy as np

__all__ = ["metrics", "write_model_result", "latency_ms", "dir_size"]


def _say(msg: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {msg}")
    sys.stdout.flush()


def metrics(y_true: Sequence[int], probs: np.ndarray, classes: Sequence[str] | None = None) -> dict:
    """:func:`genre.training.evaluate.compute_metrics` of clip probabilities (accuracy, macro-F1 over the classes
    present in ``y_true``, per-class F1, confusion over all ``classes`` (default GTZAN's), ``n_test``)."""
    from genre.training.evaluate import compute_metrics

    out = compute_metrics(np.asarray(y_true, dtype=int), np.asarray(probs), classes)
    out["n_test"] = int(len(y_true))
    return out


def write_model_result(model: str, display: str, family: str, protocols: dict, size_bytes: int | None = None,
                       latency_ms: float | None = None, results: str | Path | None = None, **extra) -> Path:
    """Merge ``protocols`` into ``<results>/<model>.json`` (default ``models/results``) via
    :func:`genre.training.evaluate.write_result`."""
    from genre.training.evaluate import write_result

    path = write_result(model, display_name=display, family=family, size_bytes=size_bytes,
                        latency_ms=latency_ms, results=results, **extra)
    for name, m in protocols.items():
        path = write_result(model, name, m, results=results)
    return path


def latency_ms(name: str, repeat: int = 3, models_dir: str | Path | None = None) -> float | None:
    """Warm latency (ms, median of ``repeat``) of shipped model ``name``'s ``predict_clip`` on a 30-s
    GTZAN clip (the first full 22050-Hz one). Measured on whatever machine trains; see
    ``benchmarks/bench_deep.py`` for the standalone figure."""
    from genre import registry
    from genre.audio import load as load_audio
    from genre.training.datasets import clips_index

    try:
        c = clips_index()
        row = c[(c["kind"] == "full") & (c["sample_rate"] == 22050)].sort_values("clip").iloc[0]
        y = load_audio(row["path"]).y
        pred = registry.load(name, models_dir)
        pred.predict_clip(y)
        times = []
        for _ in range(repeat):
            t0 = time.perf_counter()
            pred.predict_clip(y)
            times.append(time.perf_counter() - t0)
        return round(1000 * float(np.median(times)), 1)
    except Exception as exc:  # a missing data folder must not stop training
        _say(f"latency of {name} not measured: {exc}")
        return None


def dir_size(path: Path) -> int:
    return sum(p.stat().st_size for p in Path(path).rglob("*") if p.is_file())
