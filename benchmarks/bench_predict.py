"""End-to-end prediction latency and memory, measured in one run on this machine.

    nice .venv/bin/python benchmarks/bench_predict.py [--runs 5] [--clip PATH] [--deep] [--json] [--compare]
    nice .venv/bin/python benchmarks/bench_predict.py --models pretrained soft_voting [--runs 5]

Prints, for a 30-s clip (default: GTZAN blues.00000):
- the cold first call of the default feature model in this fresh process (model load from the
  registry, numba compilation of librosa's kernels unless cached, decode, features, model),
- the median (and min/max) of ``--runs`` warm calls with the breakdown decode / inference
  (features + model) / non-music check,
- peak resident memory (``resource.getrusage().ru_maxrss``) and the peak Python allocation of
  one warm call (``tracemalloc``),
- with ``--deep``: the same for every shipped model whose manifest ``input`` is ``"audio"``
  (deep / pretrained), with ``import tensorflow`` timed separately.
- with ``--compare``: the previous two-pass path of the default feature model (``segment_features``
  of the whole input and ``clip_features`` of each 30-s window, two separate analyses, and two
  model calls without a thread limit) against today's ``predict()`` (one analysis per window,
  one model call held to one thread), interleaved run by run in this process so both see the
  same machine load; prints best-of, median and the ratio of medians.
- with ``--models A B ...``: for each named model, the cold latency of ``predict()`` in a FRESH
  process (wall time from starting ``python`` to the answer: interpreter, imports, registry load
  with hash checks, onnxruntime sessions, decode, features/networks; median of ``--cold-runs``
  processes) and the warm median in this process, side by side in one run, against the targets
  of the pretrained default (warm <= 0.3 s, cold <= 4 s).
The target is a warm end-to-end call under 0.5 s for the default model. Not a timed test:
figures depend on the load of the machine; run it with ``nice`` on a quiet machine.
"""

from __future__ import annotations

import argparse
import json
import resource
import statistics
import sys
import time
import tracemalloc
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

T_START = time.perf_counter()
import numpy as np  # noqa: E402

from genre import config  # noqa: E402

TARGET_MS = 500.0
#: Targets of the ``--models`` comparison (ms): warm call in a running process, first call in a fresh one.
WARM_TARGET_MS = 300.0
COLD_TARGET_MS = 4000.0

_COLD_CODE = """
import json, sys, time
t0 = time.perf_counter()
from genre import predict
p = predict.predict(sys.argv[1], model=sys.argv[2])
print(json.dumps({"in_process_ms": (time.perf_counter() - t0) * 1e3, "genre": p.genre,
                  "tensorflow": "tensorflow" in sys.modules}))
"""


def cold_fresh_process(clip: Path, model: str, runs: int) -> dict:
    """Wall time (ms) of one ``predict()`` in a fresh Python process, from spawn to exit."""
    import os
    import subprocess

    walls, inner, info = [], [], {}
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parent.parent)}
    for _ in range(runs):
        t = time.perf_counter()
        res = subprocess.run([sys.executable, "-c", _COLD_CODE, str(clip), model], capture_output=True,
                             text=True, env=env, cwd=str(Path(__file__).resolve().parent.parent))
        walls.append((time.perf_counter() - t) * 1e3)
        if res.returncode != 0:
            raise RuntimeError(f"cold run of {model} failed: {res.stderr[-2000:]}")
        info = json.loads(res.stdout.strip().splitlines()[-1])
        inner.append(info["in_process_ms"])
    return {"cold_process_wall_ms": _stats(walls), "cold_in_process_ms": _stats(inner),
            "tensorflow_imported": info.get("tensorflow"), "answer": info.get("genre")}


def _forget(predict_mod, name) -> None:
    """Drop a predictor's memo of its last input (pretrained models keep one), so that a warm run
    measures the networks, not a cache hit."""
    m = predict_mod.load_model(name)
    if hasattr(m, "_last"):
        m._last = None


def _warm_wall_ms(predict_mod, clip: Path, model: str | None, runs: int) -> list[float]:
    """Wall time (ms) of ``runs`` warm ``predict()`` calls, each after :func:`_forget`."""
    wall = []
    for _ in range(runs):
        _forget(predict_mod, model)
        t = time.perf_counter()
        predict_mod.predict(clip, model=model)
        wall.append((time.perf_counter() - t) * 1e3)
    return wall


def compare_models(predict_mod, clip: Path, models: list[str], runs: int, cold_runs: int) -> list[dict]:
    """Cold (fresh process) and warm latency of ``models``, measured in the same run."""
    out = []
    for name in models:
        cold = cold_fresh_process(clip, name, cold_runs)
        predict_mod.predict(clip, model=name)  # warm up this process
        wall = _warm_wall_ms(predict_mod, clip, name, runs)
        out.append({"model": name, **cold, "warm_wall_ms": _stats(wall),
                    "warm_under_target": statistics.median(wall) <= WARM_TARGET_MS,
                    "cold_under_target": cold["cold_process_wall_ms"]["median"] <= COLD_TARGET_MS})
    return out


def _rss_mb() -> float:
    # Linux: ru_maxrss is in KiB
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0


def _stats(values: list[float]) -> dict:
    return {"median": statistics.median(values), "min": min(values), "max": max(values), "n": len(values)}


def bench_model(predict_mod, clip: Path, model: str | None, runs: int) -> dict:
    t0 = time.perf_counter()
    first = predict_mod.predict(clip, model=model)
    cold_ms = (time.perf_counter() - t0) * 1e3
    warm = []
    for _ in range(runs):
        _forget(predict_mod, model)
        warm.append(predict_mod.predict(clip, model=model))
    parts = {k: _stats([w.timings_ms[k] for w in warm]) for k in warm[0].timings_ms}
    wall = _warm_wall_ms(predict_mod, clip, model, runs)
    tracemalloc.start()
    predict_mod.predict(clip, model=model)
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    return {"model": first.model, "display_name": first.model_display_name,
            "clip_s": first.duration_s, "answer": first.genre,
            "cold_first_call_ms": cold_ms, "cold_breakdown_ms": first.timings_ms,
            "warm_wall_ms": _stats(wall), "warm_breakdown_ms": parts,
            "tracemalloc_peak_mb": peak / 2**20, "ru_maxrss_mb_after": _rss_mb(),
            "under_target": statistics.median(wall) < TARGET_MS}


def _two_pass_predict(clip: Path, predictor, detector) -> np.ndarray:
    """The default feature model's ``predict()`` as it was before the shared analysis (same steps:
    decode, 3-s segment features of the whole input, 30-s window clip features, two model calls
    with the library's default threading, the non-music check, the timeline table)."""
    import pandas as pd

    from genre import audio, features
    from genre.config import SEGMENT_SECONDS
    from genre.models.feature_models import proba_in_class_order

    sig = audio.load(clip)
    starts, Xs = features.segment_features(sig.y, sig.sr)
    seg = proba_in_class_order(predictor.estimator, Xs, predictor.classes)
    spans = predictor.clip_windows(len(sig.y))
    X = np.stack([features.clip_features(sig.y[a:b], sig.sr) for a, b in spans])
    probs = proba_in_class_order(predictor.estimator, X, predictor.classes).mean(axis=0)
    if detector is not None:
        detector.score_signal(sig.y, sig.sr, X=X, spans=spans)
    tl = pd.DataFrame(seg, columns=list(predictor.classes))
    tl.insert(0, "end_s", np.minimum(starts + SEGMENT_SECONDS, sig.duration))
    tl.insert(0, "start_s", starts)
    return probs / probs.sum()


def compare(predict_mod, clip: Path, runs: int) -> dict:
    """Interleaved warm timings (ms) of the old two-pass path and today's ``predict()``."""
    predictor = predict_mod.load_model(None)
    detector = predict_mod.load_detector()
    old_p = _two_pass_predict(clip, predictor, detector)  # warm both
    new_p = predict_mod.predict(clip).probabilities
    old, new = [], []
    for _ in range(runs):
        t = time.perf_counter()
        _two_pass_predict(clip, predictor, detector)
        old.append((time.perf_counter() - t) * 1e3)
        t = time.perf_counter()
        predict_mod.predict(clip)
        new.append((time.perf_counter() - t) * 1e3)
    return {"two_pass_ms": _stats(old), "shared_ms": _stats(new),
            "ratio_of_medians": statistics.median(old) / statistics.median(new),
            "ratio_of_best": min(old) / min(new),
            "max_abs_prob_diff": float(np.abs(old_p - new_p).max())}


def main(argv=None) -> dict:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--runs", type=int, default=5, help="warm runs per model (default 5)")
    ap.add_argument("--clip", type=Path, default=config.data_dir() / "audio" / "blues" / "blues.00000.flac")
    ap.add_argument("--deep", action="store_true", help="also benchmark the audio-input (deep) models")
    ap.add_argument("--json", action="store_true", help="print the figures as JSON")
    ap.add_argument("--compare", action="store_true",
                    help="also time the old two-pass feature path against predict(), interleaved")
    ap.add_argument("--models", nargs="*", default=None,
                    help="compare these models: cold latency in a fresh process and warm latency")
    ap.add_argument("--cold-runs", type=int, default=3, help="fresh processes per model (--models)")
    args = ap.parse_args(argv)

    import os

    report: dict = {"clip": str(args.clip), "runs": args.runs, "target_ms": TARGET_MS,
                    "cpus": os.cpu_count(), "loadavg_start": os.getloadavg()}
    rss0 = _rss_mb()
    t = time.perf_counter()
    from genre import predict as P

    report["import_genre_predict_ms"] = (time.perf_counter() - t) * 1e3
    report["rss_before_mb"] = rss0
    from genre.errors import GenreError

    try:
        report["default"] = bench_model(P, args.clip, None, args.runs)
    except GenreError as exc:  # e.g. no default model shipped yet
        report["default"] = None
        report["default_error"] = str(exc)

    if args.models:
        report["models"] = compare_models(P, args.clip, args.models, args.runs, args.cold_runs)

    if args.compare and report["default"] is not None:
        report["compare"] = compare(P, args.clip, args.runs)

    if args.deep:
        from genre import registry

        deep = [m["name"] for m in registry.list_models() if m.get("input") == "audio"]
        report["deep"] = []
        if deep:
            t = time.perf_counter()
            import tensorflow  # noqa: F401

            report["import_tensorflow_ms"] = (time.perf_counter() - t) * 1e3
            report["rss_after_tf_import_mb"] = _rss_mb()
        for name in deep:
            report["deep"].append(bench_model(P, args.clip, name, args.runs))
    report["ru_maxrss_mb"] = _rss_mb()
    report["loadavg_end"] = os.getloadavg()
    report["total_s"] = time.perf_counter() - T_START

    if args.json:
        print(json.dumps(report, indent=1, default=float))
        return report
    print(f"clip: {args.clip}; {args.runs} warm runs per model; "
          f"import genre.predict {report['import_genre_predict_ms']:.0f} ms")
    if "import_tensorflow_ms" in report:
        print(f"import tensorflow: {report['import_tensorflow_ms']:.0f} ms "
              f"(RSS {report['rss_after_tf_import_mb']:.0f} MB after)")
    if report["default"] is None:
        print(f"default model: not measured ({report['default_error']})")
    rows = [r for r in (report["default"], *report.get("deep", [])) if r is not None]
    print(f"{'model':<24}{'cold ms':>9}{'warm ms':>9}{'min':>7}{'max':>7}{'decode':>8}{'infer':>8}"
          f"{'novelty':>9}{'alloc MB':>10}  <{TARGET_MS:.0f} ms")
    for r in rows:
        b = r["warm_breakdown_ms"]
        w = r["warm_wall_ms"]
        print(f"{r['model']:<24}{r['cold_first_call_ms']:>9.0f}{w['median']:>9.0f}{w['min']:>7.0f}"
              f"{w['max']:>7.0f}{b['decode']['median']:>8.0f}{b['inference']['median']:>8.0f}"
              f"{b['novelty']['median']:>9.0f}{r['tracemalloc_peak_mb']:>10.1f}  "
              f"{'yes' if r['under_target'] else 'NO'}")
    if "compare" in report:
        c = report["compare"]
        o, n = c["two_pass_ms"], c["shared_ms"]
        print(f"compare (interleaved, {o['n']} runs each): old two-pass path median {o['median']:.0f} ms "
              f"(best {o['min']:.0f}), predict() median {n['median']:.0f} ms (best {n['min']:.0f}); "
              f"old/new {c['ratio_of_medians']:.2f}x by median, {c['ratio_of_best']:.2f}x by best; "
              f"max |probability difference| {c['max_abs_prob_diff']:.1e}")
    if report.get("models"):
        print(f"{'model':<16}{'cold process ms':>16}{'(in-process)':>14}{'warm ms':>9}{'min':>7}{'max':>7}"
              f"  cold<={COLD_TARGET_MS / 1e3:.0f} s  warm<={WARM_TARGET_MS / 1e3:.1f} s  TF imported")
        for r in report["models"]:
            c, w = r["cold_process_wall_ms"], r["warm_wall_ms"]
            print(f"{r['model']:<16}{c['median']:>16.0f}{r['cold_in_process_ms']['median']:>14.0f}"
                  f"{w['median']:>9.0f}{w['min']:>7.0f}{w['max']:>7.0f}"
                  f"  {'yes' if r['cold_under_target'] else 'NO':>11}  {'yes' if r['warm_under_target'] else 'NO':>12}"
                  f"  {r['tensorflow_imported']}")
    print(f"peak resident memory (ru_maxrss): {report['ru_maxrss_mb']:.0f} MB "
          f"(before importing genre.predict: {rss0:.0f} MB)")
    print(f"machine: {report['cpus']} CPUs, load average {report['loadavg_start'][0]:.1f} at start, "
          f"{report['loadavg_end'][0]:.1f} at end (figures scale with load on a shared machine)")
    return report


if __name__ == "__main__":
    main()
