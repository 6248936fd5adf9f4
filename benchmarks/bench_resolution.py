"""Training speed of the networks at input resolution 1, 1/4 and 1/16: seconds per epoch, as ratios.

Usage::

    nice python benchmarks/bench_resolution.py [--rounds 3] [--epochs 1] [--patches 800] [--models cnn cnn_r4 ...]

The MagnaTagATune study found that a lower input resolution trains several times faster. This measures
it here with the recipe of ``genre.training.train_deep`` (same patches, batch size, optimiser, two
threads): one process, the same fixed set of augmented 3-s patches from the GTZAN training clips for
every network, a warm-up epoch (graph tracing), then ``--rounds`` interleaved rounds of ``--epochs`` timed
epochs per network (median reported). Figures are printed as seconds per epoch and as ratios to the
full-resolution CNN measured in the same run, so a busy machine slows every network alike; rerun it on
a quiet machine for absolute figures.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))


def main(argv=None) -> int:
    from genre.training.train_deep import ARCH_SETTINGS

    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--models", nargs="+", default=["cnn", "cnn_r4", "cnn_r16", "lstm", "lstm_r4", "lstm_r16"],
                    choices=list(ARCH_SETTINGS))
    ap.add_argument("--epochs", type=int, default=1, help="timed epochs per network and round")
    ap.add_argument("--rounds", type=int, default=3, help="interleaved rounds; the median is reported")
    ap.add_argument("--patches", type=int, default=800, help="patches per epoch")
    ap.add_argument("--clips", type=int, default=120, help="training clips the patches are drawn from")
    args = ap.parse_args(argv)

    from genre.models import deep
    from genre.training import networks
    from genre.training.datasets import GTZAN_GENRES
    from genre.training.train_deep import clip_table

    keras = networks.configure_tensorflow(deterministic=True)
    df = clip_table()
    train = df[df["split"].isin(["train", "valid"])].sort_values("clip").iloc[:: max(1, 371 // args.clips)]
    mels = deep.logmel_cache(list(train["path"]), progress=None)
    y = np.array([GTZAN_GENRES.index(g) for g in train["genre"]])
    X, labels = deep.PatchSampler(mels, y, seed=0).sample(args.patches)
    scale = float((X - X.mean(axis=(1, 2), keepdims=True)).std())
    Xn = deep.normalise(X, scale)
    Y = np.eye(len(GTZAN_GENRES), dtype=np.float32)[labels]
    print(f"{len(mels)} clips, {args.patches} patches/epoch, batch 32, {args.rounds} interleaved rounds of "
          f"{args.epochs} timed epoch(s) per network (after one warm-up epoch each)")
    models = {}
    for name in args.models:
        s = ARCH_SETTINGS[name]
        keras.utils.set_random_seed(0)
        model = networks.build_model(s["arch"], n_classes=len(GTZAN_GENRES), resolution=s["resolution"])
        model.compile(optimizer=keras.optimizers.Adam(2e-3), loss="categorical_crossentropy")
        model.fit(Xn, Y, batch_size=32, epochs=1, verbose=0)  # warm-up: tracing, allocation
        models[name] = model
    # interleaved rounds: a change of load during the run hits every network alike
    times: dict[str, list[float]] = {n: [] for n in models}
    for r in range(args.rounds):
        for name, model in models.items():
            t0 = time.perf_counter()
            model.fit(Xn, Y, batch_size=32, epochs=args.epochs, verbose=0)
            times[name].append((time.perf_counter() - t0) / args.epochs)
        print(f"  round {r + 1}/{args.rounds}: " + ", ".join(f"{n} {t[-1]:.2f}" for n, t in times.items())
              + " s/epoch", flush=True)
    rows = []
    for name, model in models.items():
        s = ARCH_SETTINGS[name]
        rows.append((name, s["arch"], s["resolution"], int(model.count_params()), float(np.median(times[name]))))
    ref = next((r[4] for r in rows if r[0] == "cnn"), rows[0][4])
    ref_name = "cnn" if any(r[0] == "cnn" for r in rows) else rows[0][0]
    print(f"\n{'model':9s} {'arch':5s} {'input':>6s} {'weights':>8s} {'s/epoch':>8s} {'vs ' + ref_name:>8s}")
    for name, arch, res, n, t in rows:
        print(f"{name:9s} {arch:5s} {'1/' + str(res) if res > 1 else 'full':>6s} {n:8d} {t:8.2f} {ref / t:7.1f}x")
    print(f"(ratio = {ref_name}'s seconds per epoch / the model's: above 1 = faster than {ref_name})")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
