"""Feature extraction speed: the shared-STFT extractor against the plain librosa way, in one run.

    nice .venv/bin/python benchmarks/bench_features.py [--clips 5] [--runs 1] [--json]

For ``--clips`` full-length 22050 Hz GTZAN clips (one per genre, in ``clips.csv`` order), measures
warm (after one untimed call that loads numba kernels) wall times of
``genre.features.reference_clip_features`` (one librosa call per feature, each with its own
transform) and ``genre.features.clip_features`` (one STFT shared), interleaved clip by clip so both
see the same machine load, both with BLAS limited to one thread (what ``clip_features`` does
itself; multi-threaded BLAS on a busy machine makes small products erratic), and prints per clip and the medians: the time of each, the ratio, and
the largest relative deviation between the two outputs (``harmony_mean``/``perceptr_mean``, means
of zero-mean waveforms, as absolute differences). Also times ``segment_features`` (3-s windows)
and ``logmel`` on the same clips, and the cold first call of ``clip_features`` in this process.
No assertions: figures depend on the load of the machine.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
import soundfile as sf  # noqa: E402

from genre import config  # noqa: E402
from genre.config import FEATURE_COLUMNS, SR  # noqa: E402
from genre.threads import one_thread  # noqa: E402
from genre.training.datasets import GTZAN_GENRES as GENRES  # noqa: E402

NEAR_ZERO = ("harmony_mean", "perceptr_mean")


def _load(path: Path) -> np.ndarray:
    y, sr = sf.read(str(path), dtype="float32", always_2d=True)
    assert sr == SR, (path, sr)
    return y.mean(axis=1, dtype=np.float32)


def _pick(n: int) -> list[tuple[str, Path]]:
    clips = pd.read_csv(config.data_dir() / "clips.csv")
    full = clips[(clips["kind"] == "full") & (clips["sample_rate"] == SR)]
    picked = []
    for g in GENRES:  # one per genre first, then more in table order
        rows = full[full["genre"] == g]
        if len(rows):
            picked.append(rows.iloc[0])
    picked += [r for _, r in full.iterrows() if r["clip"] not in {p["clip"] for p in picked}]
    return [(r["clip"], config.data_dir() / r["path"]) for r in picked[:n]]


def _timed(fn, *args, runs: int = 1):
    best, out = float("inf"), None
    for _ in range(runs):
        t = time.perf_counter()
        out = fn(*args)
        best = min(best, time.perf_counter() - t)
    return best, out


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--clips", type=int, default=5, help="number of 30-s clips (default 5)")
    ap.add_argument("--runs", type=int, default=1, help="runs per clip and method; the best counts")
    ap.add_argument("--json", action="store_true", help="also print the figures as one JSON line")
    args = ap.parse_args(argv)

    t0 = time.perf_counter()
    from genre import features  # noqa: PLC0415 - timed: imports librosa
    import_s = time.perf_counter() - t0

    picked = _pick(args.clips)
    signals = [(clip, _load(path)) for clip, path in picked]
    first = signals[0][1]
    cold_s, _ = _timed(features.clip_features, first, SR)  # numba kernels: compile or load cache
    features.reference_clip_features(first, SR)  # warm the reference path too
    features.segment_features(first, SR)
    features.logmel(first, SR)

    near = [FEATURE_COLUMNS.index(c) for c in NEAR_ZERO]
    rest = [i for i in range(len(FEATURE_COLUMNS)) if i not in near]
    rows = []
    print(f"genre.features {features.EXTRACTOR_VERSION}: {len(signals)} clips, warm, best of "
          f"{args.runs} run(s) each")
    print(f"{'clip':16s} {'seconds':>7s} {'reference':>10s} {'ours':>8s} {'ratio':>6s} "
          f"{'max rel dev':>12s} {'max abs dev (near-zero means)':>30s}")
    for clip, y in signals:
        with one_thread("blas"):  # same BLAS setting as clip_features uses
            t_ref, ref = _timed(features.reference_clip_features, y, SR, runs=args.runs)
        t_ours, ours = _timed(features.clip_features, y, SR, runs=args.runs)
        t_seg, (starts, _) = _timed(features.segment_features, y, SR, runs=args.runs)
        t_mel, _ = _timed(features.logmel, y, SR, runs=args.runs)
        rel = np.abs(ours[rest] - ref[rest]) / np.maximum(np.abs(ref[rest]), 1e-12)
        j = int(np.argmax(rel))
        absdev = float(np.max(np.abs(ours[near] - ref[near])))
        row = {"clip": clip, "seconds": y.shape[0] / SR, "reference_s": t_ref, "ours_s": t_ours,
               "ratio": t_ref / t_ours, "max_rel_dev": float(rel[j]),
               "max_rel_dev_feature": FEATURE_COLUMNS[rest[j]], "near_zero_max_abs_dev": absdev,
               "tempo_equal": bool(ours[16] == ref[16]), "segment_s": t_seg,
               "n_segments": int(len(starts)), "logmel_s": t_mel}
        rows.append(row)
        print(f"{clip:16s} {row['seconds']:7.2f} {t_ref * 1e3:8.0f}ms {t_ours * 1e3:6.0f}ms "
              f"{row['ratio']:5.1f}x {row['max_rel_dev']:12.2e} {absdev:30.2e}")

    med = {k: statistics.median(r[k] for r in rows)
           for k in ("reference_s", "ours_s", "segment_s", "logmel_s")}
    summary = {
        "clips": len(rows), "import_s": import_s, "cold_first_clip_features_s": cold_s,
        "reference_median_s": med["reference_s"], "ours_median_s": med["ours_s"],
        "ratio_of_medians": med["reference_s"] / med["ours_s"],
        "median_ratio": statistics.median(r["ratio"] for r in rows),
        "max_rel_dev": max(r["max_rel_dev"] for r in rows),
        "max_rel_dev_feature": max(rows, key=lambda r: r["max_rel_dev"])["max_rel_dev_feature"],
        "near_zero_max_abs_dev": max(r["near_zero_max_abs_dev"] for r in rows),
        "tempo_equal_all": all(r["tempo_equal"] for r in rows),
        "segment_features_median_s": med["segment_s"], "logmel_median_s": med["logmel_s"],
    }
    print()
    print(f"median per clip: reference {med['reference_s'] * 1e3:.0f} ms, clip_features "
          f"{med['ours_s'] * 1e3:.0f} ms -> {summary['ratio_of_medians']:.1f}x faster "
          f"(median of per-clip ratios {summary['median_ratio']:.1f}x)")
    print(f"largest relative deviation from the reference: {summary['max_rel_dev']:.2e} "
          f"({summary['max_rel_dev_feature']}); harmony/perceptr means: "
          f"{summary['near_zero_max_abs_dev']:.1e} absolute; tempo identical on every clip: "
          f"{summary['tempo_equal_all']}")
    print(f"segment_features (3-s windows, whole clip): {med['segment_s'] * 1e3:.0f} ms; logmel: "
          f"{med['logmel_s'] * 1e3:.0f} ms; import genre.features {import_s:.2f} s; "
          f"cold first clip_features call (imports librosa, loads numba kernels) {cold_s:.2f} s")
    if args.json:
        print(json.dumps({"summary": summary, "clips": rows}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
