"""Catalogue throughput: the sequential predict loop, ``--jobs``, and Dask on 1 and 2 workers, in one run.

    nice .venv/bin/python benchmarks/bench_catalogue.py [--tracks 40] [--model NAME] [--format flac]
                                                        [--keep DIR] [--skip-jobs] [--json]

1. Makes ``--tracks`` full-length tracks of 3-4 minutes (seed 0): each one 6-8 full 30-s GTZAN
   clips of one genre back to back (``../shared/gtzan``), written as FLAC (``--format mp3`` for
   MP3; slower to make). ``--keep DIR`` keeps them there and reuses them on the next run.
2. Classifies them four ways, each on the same files, one after the other in this run:
   - ``sequential``: ``genre.predict.predict`` in a plain loop in this process (model loaded and
     warmed first, native pools held to one thread as in a catalogue worker);
   - ``jobs``: ``predict_many(n_jobs=2)``, what ``python -m genre predict --jobs 2`` runs
     (joblib processes; their start and model load are inside its time);
   - ``dask-1`` and ``dask-2``: :func:`genre.catalogue.run` on a fresh ``LocalCluster`` of 1 and
     2 single-threaded workers writing a fresh catalogue (content hashing and Parquet included).
     Cluster start, model load and warm-up are timed apart (``startup``) from the work phase.
3. Prints per way: wall time, tracks per minute, audio-hours per hour, and for Dask the peak
   resident memory of each worker process (``ru_maxrss``) and the scheduling overhead:
   ``1 - (sum of the workers' task times) / (workers x work-phase wall time)``, i.e. the share of
   worker time not spent hashing or classifying (dispatch, result transfer, writing, and the
   idle tail when the last tracks run). Then the ratios against the sequential loop measured in
   this run, and the projection for 60,000 tracks a day: cores needed at the Dask-2 rate per
   core, and 2-core machines (rounded up). Also from CPU time, which other load on the machine
   disturbs far less than wall time: CPU seconds per track (the task threads' ``thread_time``;
   for the loop, the process's) and the CPU that Dask and the writer add (worker processes
   outside tasks, plus this process: scheduler, client, Parquet), as a share of the task CPU.

Targets (issue 11): Dask on 2 workers >= 1.8x the sequential loop on a 2-core machine; overhead
< 5 %; one 2-core machine for 60,000 tracks a day with the default model. Figures depend on the
machine's load: run it on a quiet machine; each way's figures come from this run only.
Runtime: about ``tracks x 5 x (seconds per track)`` plus ~1 min of start-ups and track making;
40 tracks take about 6-8 min on a quiet 2-core machine at ~1.5 s per track.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import resource
import shutil
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

TRACKS_PER_DAY = 60_000


def _peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0  # Linux: KiB -> MiB


def _cpu_s() -> float:
    r = resource.getrusage(resource.RUSAGE_SELF)
    return r.ru_utime + r.ru_stime


def make_tracks(folder: Path, n: int, fmt: str = "flac", seed: int = 0) -> list[Path]:
    """``n`` tracks of 6-8 full 30-s GTZAN clips of one genre each (3-4 min); reuses existing ones."""
    import numpy as np
    import pandas as pd
    import soundfile as sf

    from genre.config import data_dir

    folder.mkdir(parents=True, exist_ok=True)
    clips = pd.read_csv(data_dir() / "clips.csv")
    clips = clips[(clips["kind"] == "full") & (clips["sample_rate"] == 22050)]
    clips = clips[[(data_dir() / p).is_file() for p in clips["path"]]]
    if len(clips) < 8:
        raise SystemExit(f"Too few full GTZAN clips with audio under {data_dir()} to build tracks.")
    rng = np.random.default_rng(seed)
    by_genre = {g: list(t["path"]) for g, t in clips.groupby("genre") if len(t) >= 8}
    genres = sorted(by_genre)
    out = []
    for i in range(n):
        path = folder / f"track_{i:04d}.{fmt}"
        out.append(path)
        if path.is_file():
            continue
        g = genres[i % len(genres)]
        k = int(rng.integers(6, 9))
        picks = rng.choice(len(by_genre[g]), size=k, replace=False)
        y = np.concatenate([sf.read(data_dir() / by_genre[g][j], dtype="float32", always_2d=True)[0].mean(axis=1)
                            for j in picks])
        tmp = path.with_name("." + path.name)
        sf.write(tmp, y, 22050, format=fmt.upper())
        os.replace(tmp, path)
    return out


def bench_sequential(paths, model) -> dict:
    from genre import catalogue
    from genre.predict import predict

    t0 = time.perf_counter()
    predictor = catalogue.prepare_worker(model)  # load + warm-up, one-thread pools
    startup = time.perf_counter() - t0
    t0, c0 = time.perf_counter(), _cpu_s()
    task_ms = 0.0
    for p in paths:
        task_ms += predict(str(p), predictor).timings_ms["total"]
    wall = time.perf_counter() - t0
    cpu = _cpu_s() - c0
    return {"startup_s": startup, "work_s": wall, "wall_s": wall + startup, "task_s": task_ms / 1e3,
            "workers": 1, "peak_rss_mb": [_peak_rss_mb()], "cpu_per_track_s": cpu / len(paths),
            "cpu_overhead": 0.0}


def bench_jobs(paths, model, n_jobs=2) -> dict:
    from genre.predict import predict_many

    t0 = time.perf_counter()
    res = predict_many([str(p) for p in paths], model, n_jobs=n_jobs, progress=False)
    wall = time.perf_counter() - t0
    failed = sum(1 for r in res if not hasattr(r, "probabilities"))
    return {"startup_s": None, "work_s": wall, "wall_s": wall, "workers": n_jobs, "failed": failed,
            "peak_rss_mb": None}


def bench_dask(paths, model, n_workers: int, out: Path) -> dict:
    from distributed import Client

    from genre import catalogue

    t0 = time.perf_counter()
    with catalogue.local_cluster(n_workers) as lc, Client(lc, timeout=120) as client:
        cluster_s = time.perf_counter() - t0
        client.register_plugin(catalogue.ModelPlugin(model))  # load + warm up before counting CPU
        w0, m0 = sum(client.run(_cpu_s).values()), _cpu_s()
        s = catalogue.run([str(p) for p in paths], out, model=model, client=client, progress=False)
        w1, m1 = sum(client.run(_cpu_s).values()), _cpu_s()
        rss = client.run(_peak_rss_mb)
    if s.failed:
        print(f"  warning: {s.failed} tracks failed: {s.errors[:3]}", file=sys.stderr)
    machinery = (w1 - w0 - s.task_cpu_s) + (m1 - m0)  # workers outside tasks + scheduler/client/writer
    return {"startup_s": time.perf_counter() - t0 - s.elapsed_s, "work_s": s.elapsed_s,
            "wall_s": time.perf_counter() - t0, "task_s": s.task_s, "workers": s.n_workers,
            "overhead": 1 - s.task_s / (s.n_workers * s.elapsed_s) if s.elapsed_s > 0 else float("nan"),
            "cpu_per_track_s": s.task_cpu_s / len(paths), "cpu_overhead": machinery / s.task_cpu_s,
            "peak_rss_mb": sorted(rss.values()), "failed": s.failed}


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--tracks", type=int, default=40, help="tracks to make and classify (default 40)")
    ap.add_argument("--model", help="registry model (default: the default model)")
    ap.add_argument("--format", default="flac", choices=["flac", "mp3", "ogg"], help="track format")
    ap.add_argument("--keep", metavar="DIR", help="make/reuse the tracks in DIR (default: a temp folder)")
    ap.add_argument("--skip-jobs", action="store_true", help="leave out the --jobs way")
    ap.add_argument("--json", action="store_true", help="print the figures as JSON too")
    args = ap.parse_args(argv)

    import soundfile as sf

    from genre import registry

    model = args.model or registry.default_name()
    tmp = Path(tempfile.mkdtemp(prefix="bench_catalogue_"))
    try:
        folder = Path(args.keep) if args.keep else tmp / "tracks"
        t = time.perf_counter()
        paths = make_tracks(folder, args.tracks, args.format)
        audio_s = sum(sf.info(str(p)).duration for p in paths)
        print(f"{len(paths)} tracks, {audio_s / 60:.1f} min of audio ({audio_s / len(paths):.0f} s "
              f"each on average), made in {time.perf_counter() - t:.0f} s; model {model}; "
              f"{os.cpu_count()} CPUs; load average {os.getloadavg()[0]:.2f}", flush=True)
        results = {}
        ways = [("sequential", lambda: bench_sequential(paths, model))]
        if not args.skip_jobs:
            ways.append(("jobs", lambda: bench_jobs(paths, model, 2)))
        ways += [("dask-1", lambda: bench_dask(paths, model, 1, tmp / "c1.parquet")),
                 ("dask-2", lambda: bench_dask(paths, model, 2, tmp / "c2.parquet"))]
        for name, fn in ways:
            print(f"... {name} (load average {os.getloadavg()[0]:.2f})", flush=True)
            r = fn()
            r["tracks_per_min"] = len(paths) / r["work_s"] * 60
            r["audio_hours_per_hour"] = audio_s / r["work_s"]
            r["tracks_per_min_end_to_end"] = len(paths) / r["wall_s"] * 60
            results[name] = r

        print(f"\n{'way':<11} {'workers':>7} {'start s':>8} {'work s':>8} {'tracks/min':>10} "
              f"{'audio h/h':>9} {'end-to-end tracks/min':>22} {'overhead':>9} {'CPU s/track':>11} "
              f"{'CPU overhead':>12}  peak RSS per worker (MB)")
        for name, r in results.items():
            st = "-" if r["startup_s"] is None else f"{r['startup_s']:.1f}"
            ov = f"{100 * r['overhead']:.1f} %" if "overhead" in r else "-"
            rss = "-" if r["peak_rss_mb"] is None else ", ".join(f"{v:.0f}" for v in r["peak_rss_mb"])
            cpu = f"{r['cpu_per_track_s']:.2f}" if "cpu_per_track_s" in r else "-"
            cov = f"{100 * r['cpu_overhead']:.1f} %" if "cpu_overhead" in r else "-"
            print(f"{name:<11} {r['workers']:>7} {st:>8} {r['work_s']:>8.1f} {r['tracks_per_min']:>10.1f} "
                  f"{r['audio_hours_per_hour']:>9.1f} {r['tracks_per_min_end_to_end']:>22.1f} {ov:>9} "
                  f"{cpu:>11} {cov:>12}  {rss}")
        seq = results["sequential"]
        print("\nratios to the sequential loop (work phase; end to end in brackets):")
        for name, r in results.items():
            print(f"  {name:<11} {r['tracks_per_min'] / seq['tracks_per_min']:.2f}x "
                  f"({r['tracks_per_min_end_to_end'] / seq['tracks_per_min_end_to_end']:.2f}x)")
        d2 = results["dask-2"]
        per_core_per_day = d2["tracks_per_min"] / d2["workers"] * 60 * 24
        cores = TRACKS_PER_DAY / per_core_per_day
        cpu_cores = TRACKS_PER_DAY * d2["cpu_per_track_s"] * (1 + d2["cpu_overhead"]) / 86400
        speedup = d2["tracks_per_min"] / seq["tracks_per_min"]
        print(f"\ntargets: dask-2 / sequential = {speedup:.2f}x (target >= 1.8x: "
              f"{'met' if speedup >= 1.8 else 'NOT met'}); dask-2 overhead {100 * d2['overhead']:.1f} % "
              f"(target < 5 %: {'met' if d2['overhead'] < 0.05 else 'NOT met'})")
        print(f"projection for {TRACKS_PER_DAY:,} tracks a day of this length with {model}: "
              f"{cores:.2f} cores at the dask-2 rate per core ({per_core_per_day:,.0f} tracks/core/day) "
              f"-> {math.ceil(cores / 2)} two-core machine(s) running all day.\n"
              f"  from CPU time (less sensitive to other load): {d2['cpu_per_track_s']:.2f} CPU s per track "
              f"+ {100 * d2['cpu_overhead']:.1f} % Dask/writer CPU -> {cpu_cores:.2f} cores "
              f"-> {math.ceil(cpu_cores / 2)} two-core machine(s).")
        if args.json:
            print(json.dumps({"tracks": len(paths), "audio_s": audio_s, "model": model, "results": results,
                              "cores_for_60k_per_day": cores, "machines_2core": math.ceil(cores / 2),
                              "cores_for_60k_per_day_cpu": cpu_cores},
                             indent=1, default=float))
        return 0
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
