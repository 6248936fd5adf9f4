"""Run every benchmark script in this folder, one after the other, and print their reports.

    nice .venv/bin/python benchmarks/run_all.py [--only NAME ...] [--list]

Each ``bench_*.py`` runs in its own fresh process (so each measures its own cold start) with
this interpreter; the combined report is printed with a header per script and its exit status.
Figures are measured on this machine in this run; nothing is typed by hand.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent


def scripts() -> list[Path]:
    return sorted(p for p in HERE.glob("bench_*.py") if p.is_file())


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--only", nargs="+", metavar="NAME", help="script names (e.g. bench_predict) to run")
    ap.add_argument("--list", action="store_true", help="list the benchmark scripts and exit")
    args = ap.parse_args(argv)
    todo = scripts()
    if args.only:
        wanted = {n.removesuffix(".py") for n in args.only}
        todo = [p for p in todo if p.stem in wanted]
        missing = wanted - {p.stem for p in todo}
        if missing:
            print(f"unknown benchmark(s): {', '.join(sorted(missing))}", file=sys.stderr)
            return 2
    if args.list:
        print("\n".join(p.stem for p in todo))
        return 0
    worst = 0
    for path in todo:
        print(f"===== {path.stem} =====", flush=True)
        t = time.perf_counter()
        rc = subprocess.call([sys.executable, str(path)], cwd=HERE.parent)
        print(f"----- {path.stem}: exit {rc}, {time.perf_counter() - t:.1f} s -----\n", flush=True)
        worst = max(worst, rc)
    return worst


if __name__ == "__main__":
    raise SystemExit(main())
