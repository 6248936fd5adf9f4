"""Deep-model inference cost: warm latency on a 30-s clip, cold load time, model size, peak memory.

Usage::

    nice python benchmarks/bench_deep.py [--models cnn crnn musicnn_logreg stack] [--repeat 5]

Each model is measured in its own process (so peak memory is that model's alone, TensorFlow
included). Warm latency = median of ``--repeat`` calls of ``predict_clip`` on a 30-s GTZAN clip
(decoded once, outside the timing), after one warm-up call. The product target is < 1.5 s warm on the
2-core development machine; the figures depend on what else is running, so run it on a quiet machine.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

CHILD = r"""
import json, resource, statistics, sys, time
import numpy as np
from genre import registry
from genre.audio import load
from genre.training.datasets import clips_index
name, repeat = sys.argv[1], int(sys.argv[2])
c = clips_index()
path = c[(c.kind == "full") & (c.sample_rate == 22050)].sort_values("clip").iloc[0]
y = load(path["path"]).y
t0 = time.perf_counter(); pred = registry.load(name); load_s = time.perf_counter() - t0
t0 = time.perf_counter(); pred.predict_clip(y); first_s = time.perf_counter() - t0
times = []
for _ in range(repeat):
    t0 = time.perf_counter(); p = pred.predict_clip(y); times.append(time.perf_counter() - t0)
folder = registry.model_dir(name)
size = sum(f.stat().st_size for f in folder.iterdir() if f.is_file())
for m in registry.read_manifest(name).get("members", []):
    size += sum(f.stat().st_size for f in registry.model_dir(m).iterdir() if f.is_file())
if registry.read_manifest(name).get("kind") == "musicnn":
    pass
print(json.dumps({"model": name, "clip": path["clip"], "seconds": round(len(y) / 22050, 2),
                  "load_s": round(load_s, 2), "first_call_s": round(first_s, 3),
                  "warm_median_s": round(statistics.median(times), 3), "warm_max_s": round(max(times), 3),
                  "size_mb": round(size / 1e6, 2),
                  "peak_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 0),
                  "top": int(np.argmax(p))}))
"""


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--models", nargs="+", default=["cnn", "crnn", "musicnn_logreg", "stack"])
    ap.add_argument("--repeat", type=int, default=5)
    a = ap.parse_args(argv)
    rows = []
    for name in a.models:
        out = subprocess.run([sys.executable, "-c", CHILD, name, str(a.repeat)], cwd=ROOT,
                             capture_output=True, text=True)
        if out.returncode:
            print(f"{name}: failed\n{out.stderr[-2000:]}")
            continue
        rows.append(json.loads(out.stdout.strip().splitlines()[-1]))
    print(f"{'model':16s} {'load s':>7s} {'1st call s':>10s} {'warm s (median)':>15s} {'warm max':>8s} "
          f"{'size MB':>8s} {'peak RSS MB':>11s}   (30-s clip {rows[0]['clip'] if rows else '?'})")
    for r in rows:
        flag = "" if r["warm_median_s"] < 1.5 else "  > 1.5 s target"
        print(f"{r['model']:16s} {r['load_s']:7.2f} {r['first_call_s']:10.3f} {r['warm_median_s']:15.3f} "
              f"{r['warm_max_s']:8.3f} {r['size_mb']:8.2f} {r['peak_rss_mb']:11.0f}{flag}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
