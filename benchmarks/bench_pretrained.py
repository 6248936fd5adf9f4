"""Where the pretrained default's warm time goes, and how far its 0.3-s target is from this CPU's floor.

    nice .venv/bin/python benchmarks/bench_pretrained.py [--runs 7] [--clip PATH] [--json]

For one 30-s clip (default: GTZAN blues.00000), measured in one process, in one run:

- the stages of a warm ``predict()`` with the default model (``models/pretrained``): decode,
  loudness + resampling + musicnn log-mel of the whole input, each of the four networks on the
  analysed patches, head + non-music check; each a median over ``--runs``;
- each network under four runtime settings (``GENRE_ONNX_THREADS`` 1 or 2 x ``GENRE_ONNX_MEMORY``
  shrink or arena), and the four side by side, two at a time (``GENRE_ONNX_PARALLEL=2``, what
  prediction does by default; :func:`genre.models.runtime.run_many`) at one thread each,
  interleaved run by run so that all see the same machine load;
- the work: multiply-accumulates per 3-s patch of every network, counted from its ONNX graph
  (Conv and MatMul/Gemm nodes, shapes from ONNX shape inference; needs the ``onnx`` package of
  requirements-train.txt), and the rate each setting reaches (GFLOP/s = 2 x MACs / s);
- the floor: the networks' time at the best rate measured, and how many patches per input fit in
  the 0.3-s warm target after the other stages, at one and at two threads;
- soft voting's warm ``predict()`` in the same run, as the reference (ratio printed).

Not a timed test: figures depend on the machine's load; run it with ``nice`` on a quiet machine.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import numpy as np  # noqa: E402

from genre import config  # noqa: E402

WARM_TARGET_MS = 300.0
SETTINGS = [(1, "shrink"), (1, "arena"), (2, "shrink"), (2, "arena")]
#: Settings under which the four networks also run two at a time (GENRE_ONNX_PARALLEL=2).
SIDE_BY_SIDE = [(1, "shrink"), (1, "arena")]


def network_macs(path: Path) -> int | None:
    """Multiply-accumulates of one example (batch 1) through the ONNX graph at ``path``, or None
    without the ``onnx`` package. Counts Conv (output size x kernel size x input channels per
    group) and MatMul/Gemm with a constant weight (output size x inner dimension)."""
    try:
        import onnx
        from onnx import shape_inference
    except ImportError:
        return None
    m = onnx.load(str(path))
    m.graph.input[0].type.tensor_type.shape.dim[0].dim_value = 1
    m = shape_inference.infer_shapes(m)
    shapes = {vi.name: [d.dim_value for d in vi.type.tensor_type.shape.dim]
              for vi in [*m.graph.value_info, *m.graph.output, *m.graph.input]}
    weights = {i.name: list(i.dims) for i in m.graph.initializer}
    macs = 0
    for node in m.graph.node:
        w, out = weights.get(node.input[1]) if len(node.input) > 1 else None, shapes.get(node.output[0])
        if not w or not out or 0 in out:
            continue
        if node.op_type == "Conv":
            macs += int(np.prod(out)) * int(np.prod(w[1:]))
        elif node.op_type in ("MatMul", "Gemm"):
            macs += int(np.prod(out)) * int(w[0])
    return macs


def _median_ms(fn, runs: int) -> float:
    """Median wall time (ms) of ``runs`` calls of ``fn`` after one untimed warm-up call."""
    fn()
    out = []
    for _ in range(runs):
        t = time.perf_counter()
        fn()
        out.append((time.perf_counter() - t) * 1e3)
    return statistics.median(out)


def main(argv=None) -> dict:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--runs", type=int, default=7)
    ap.add_argument("--clip", type=Path, default=config.data_dir() / "audio" / "blues" / "blues.00000.flac")
    ap.add_argument("--json", action="store_true")
    args = ap.parse_args(argv)

    from genre import audio, predict, registry
    from genre.models import pretrained, runtime

    name = registry.default_name()
    model = predict.load_model(name)
    if not isinstance(model, pretrained.PretrainedPredictor):
        raise SystemExit(f"the default model {name!r} is not the pretrained ensemble")
    folder = model.folder
    sig = audio.load(args.clip)
    y = sig.y
    stages = {"decode": _median_ms(lambda: audio.load(args.clip), args.runs)}
    stages["loudness + resample + log-mel"] = _median_ms(
        lambda: pretrained.patches(y, config.SR, rms_dbfs=model.rms_dbfs), args.runs)
    starts, X = pretrained.patches(y, config.SR, rms_dbfs=model.rms_dbfs)
    X = X[pretrained.select_patches(len(X), model.max_patches)]
    n_patches = len(X)

    # every network under every runtime setting, interleaved run by run
    saved = {k: os.environ.get(k) for k in (runtime.THREADS_ENV, runtime.MEMORY_ENV, runtime.PARALLEL_ENV)}
    times: dict[tuple, list[float]] = {}
    paths = [folder / f"{net}.onnx" for net in pretrained.NETS]
    try:
        os.environ[runtime.PARALLEL_ENV] = "2"
        for threads, mode in SETTINGS:  # create the sessions and warm them once
            os.environ[runtime.THREADS_ENV], os.environ[runtime.MEMORY_ENV] = str(threads), mode
            for net in pretrained.NETS:
                runtime.run(folder / f"{net}.onnx", X)
            if (threads, mode) in SIDE_BY_SIDE:
                runtime.run_many(paths, X)
        for _ in range(args.runs):
            for threads, mode in SETTINGS:
                os.environ[runtime.THREADS_ENV], os.environ[runtime.MEMORY_ENV] = str(threads), mode
                for net in pretrained.NETS:
                    t = time.perf_counter()
                    runtime.run(folder / f"{net}.onnx", X)
                    times.setdefault((threads, mode, net), []).append((time.perf_counter() - t) * 1e3)
                if (threads, mode) in SIDE_BY_SIDE:
                    t = time.perf_counter()
                    runtime.run_many(paths, X)
                    times.setdefault((threads, mode, "side by side"), []).append((time.perf_counter() - t) * 1e3)
    finally:
        for k, v in saved.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v
    outs = pretrained.network_outputs(X, folder)
    vec = pretrained.clip_vector(outs)
    stages["head + non-music check"] = _median_ms(
        lambda: (model.predict_vectors(vec[None]), model.detector and model.detector.check(vec)), args.runs)

    macs = {net: network_macs(folder / f"{net}.onnx") for net in pretrained.NETS}
    nets = {}
    for threads, mode in SETTINGS:
        per = {net: statistics.median(times[(threads, mode, net)]) for net in pretrained.NETS}
        total = sum(per.values())
        gflop = sum(2 * macs[n] * n_patches for n in pretrained.NETS) / 1e9 if all(macs.values()) else None
        nets[f"{threads} thread{'s' if threads > 1 else ''}, {mode}"] = {
            "per_network_ms": per, "networks_ms": total,
            "gflop_per_s": gflop / (total / 1e3) if gflop else None}
        if (threads, mode) in SIDE_BY_SIDE:
            total = statistics.median(times[(threads, mode, "side by side")])
            nets[f"{threads} thread, {mode}, 2 at once"] = {
                "per_network_ms": None, "networks_ms": total, "gflop_per_s": gflop / (total / 1e3) if gflop else None}
    other_ms = sum(stages.values()) - stages["decode"]  # decode counted separately below
    floor = {}
    for threads in (1, 2):  # "2 threads" includes the four networks two at a time, one thread each
        best = min((v for k, v in nets.items() if (k.startswith(f"{threads} ") and not k.endswith("2 at once"))
                    or (threads == 2 and k.endswith("2 at once"))), key=lambda v: v["networks_ms"])
        per_patch = best["networks_ms"] / n_patches
        budget = WARM_TARGET_MS - stages["decode"] - other_ms
        floor[threads] = {"networks_ms_per_patch": per_patch,
                          "patches_within_target": max(0, int(budget // per_patch)),
                          "warm_estimate_ms": stages["decode"] + other_ms + best["networks_ms"]}

    predict.predict(args.clip, model="soft_voting")
    soft_ms = _median_ms(lambda: predict.predict(args.clip, model="soft_voting"), args.runs)

    def pretrained_call():
        model._last = None
        predict.predict(args.clip, model=name)
    warm_ms = _median_ms(pretrained_call, args.runs)

    res = {"clip": str(args.clip.name), "model": name, "patches": n_patches, "stages_ms": stages,
           "macs_per_patch": macs, "networks": nets, "floor": floor,
           "warm_predict_ms": warm_ms, "soft_voting_warm_predict_ms": soft_ms,
           "ratio_to_soft_voting": warm_ms / soft_ms, "target_ms": WARM_TARGET_MS,
           "cpu_count": os.cpu_count(), "load_average": os.getloadavg()}
    if args.json:
        print(json.dumps(res, indent=1))
        return res
    print(f"{name} on {args.clip.name}: {n_patches} patches of 3 s; medians of {args.runs} runs; "
          f"load average {os.getloadavg()[0]:.2f}")
    for k, v in stages.items():
        print(f"  {k:<34s} {v:8.1f} ms")
    print("  networks on the analysed patches:")
    head = "  " + " " * 28 + "".join(f"{n:>13s}" for n in pretrained.NETS) + "       total   GFLOP/s"
    print(head)
    print("  " + f"{'M MACs per patch':<28s}" + "".join(
        f"{(macs[n] or 0) / 1e6:13.0f}" for n in pretrained.NETS))
    for k, v in nets.items():
        rate = f"{v['gflop_per_s']:9.1f}" if v["gflop_per_s"] else "        -"
        cells = ("".join(f"{v['per_network_ms'][n]:13.1f}" for n in pretrained.NETS) if v["per_network_ms"]
                 else f"{'(side by side)':>52s}")
        print("  " + f"{k:<28s}" + cells + f"{v['networks_ms']:12.1f}" + rate)
    for t, f in floor.items():
        print(f"  floor at {t} thread(s): {f['networks_ms_per_patch']:.1f} ms of networks per patch; "
              f"estimate {f['warm_estimate_ms']:.0f} ms for {n_patches} patches; "
              f"{f['patches_within_target']} patch(es) fit in {WARM_TARGET_MS:.0f} ms")
    print(f"  warm predict(): {name} {warm_ms:.0f} ms, soft_voting {soft_ms:.0f} ms "
          f"(ratio {warm_ms / soft_ms:.1f}x), target {WARM_TARGET_MS:.0f} ms")
    return res


if __name__ == "__main__":
    main()
