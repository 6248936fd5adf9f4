"""Offline: the robustness protocol -- every shipped model on degraded copies of the 144 test clips.

Usage (project virtualenv; long, run with ``nice`` in the background)::

    python -m genre.training.robustness [--jobs 2]

For each condition (``clean`` and every :data:`genre.training.degrade.DEGRADATIONS` entry) each of the 144
fault-filtered test clips with audio is decoded (22050 Hz mono), cut to its first
:data:`MAX_SECONDS` (10 s; the 2-3-s excerpts stay whole), degraded (deterministic seeds), and
passed through the same computations the shipped models make at prediction time, from which every
shipped classifier's clip probabilities follow:

- the 57 features (:func:`genre.features.clip_features`) -> every feature model and the stack's
  feature member;
- the CNN and CRNN (ONNX) segment-averaged probabilities;
- MSD_musicnn (ONNX) on non-overlapping patches -> the zero-shot model and ``musicnn_logreg``;
- the stack from its members' outputs (its own combiner, :class:`genre.models.stack.StackPredictor`);
- the pretrained ensemble through its own front end (loudness level, at most its patch limit;
  :func:`pretrained_probs`, from :func:`genre.training.pretrained_fit.degraded_test_vectors`).

The per-clip outputs are cached in ``.cache/robust/`` (by file hash, condition and the hashes of the
CNN, CRNN and musicnn files, so retraining a network invalidates its entries). Accuracy,
macro-F1 and the confusion per model and condition are merged into ``models/results/<model>.json``
under ``robust_<condition>`` with :func:`genre.training.evaluate.write_result`. ``robust_clean`` is the
same path on the undegraded audio (for feature models it differs from ``audio_holdout``, which uses
the published feature table; the full clips are also cut to 10 s here).
"""

from __future__ import annotations

import argparse
import functools
import sys
import time
from typing import Sequence

import numpy as np

from genre.config import CACHE_DIR, SR
from genre.training.datasets import GTZAN_GENRES
from genre.training.degrade import PROTOCOL_MAX_SECONDS

CACHE = CACHE_DIR / "robust"
VERSION = "2"  # 2: no pretrained vector among the shared components
CONDITIONS: tuple[str, ...] = ("clean", "mp3_64k", "phone", "noise_20db", "reverb", "gain_clip")
#: Each clip is cut to its first MAX_SECONDS before degrading (the 65 excerpts, 2-3 s, are whole):
#: the protocol's cost on this 2-core machine (six conditions x 144 clips through every model).
MAX_SECONDS: float = PROTOCOL_MAX_SECONDS

_MODELS: dict = {}


def _say(msg: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {msg}", flush=True)


def _model(name: str):
    if name not in _MODELS:
        from genre import registry

        _MODELS[name] = registry.load(name)
    return _MODELS[name]


@functools.lru_cache(maxsize=1)
def _models_key() -> str:
    """Short hash of the shipped files whose outputs :func:`clip_components` caches (the CNN, CRNN
    and musicnn files named in their manifests), so a retrained network never reads an older
    network's cached outputs."""
    import hashlib
    import json

    from genre import registry

    files = {n: (registry.read_manifest(n).get("files") or {}) for n in ("cnn", "crnn", "musicnn")}
    return hashlib.sha256(json.dumps(files, sort_keys=True).encode()).hexdigest()[:10]


def clip_components(path: str, condition: str) -> dict[str, np.ndarray]:
    """The model-independent outputs for one clip and condition (cached)."""
    from genre.models import musicnn
    from genre.training import degrade
    from genre.audio import load
    from genre.features import clip_features
    from genre.registry import sha256

    sha = sha256(path)
    y = load(path, min_seconds=0.5).y
    tag = condition
    if len(y) > int(MAX_SECONDS * SR):
        y = y[: int(MAX_SECONDS * SR)]
        tag = f"{condition}_first{MAX_SECONDS:g}s"
    key = CACHE / f"{sha[:32]}_{tag}_v{VERSION}_{_models_key()}.npz"
    if key.is_file():
        with np.load(key) as z:
            return {k: z[k] for k in z.files}
    fn = None if condition == "clean" else degrade.DEGRADATIONS[condition]
    if fn is not None:
        y = fn(y, SR)
    out = {"features57": np.asarray(clip_features(y, sr=SR), dtype=np.float64)}
    for name in ("cnn", "crnn"):
        out[name] = np.asarray(_model(name).predict_clip(y), dtype=np.float64)
    mz = _model("musicnn")
    _, X = musicnn.patches(y, SR)
    f = musicnn.forward(X, mz.weights)
    out["msd_tags_mean"] = f["probs"].mean(axis=0)
    out["msd_pool400"] = musicnn.pool_embeddings(f["penultimate"])
    CACHE.mkdir(parents=True, exist_ok=True)
    tmp = key.with_suffix(".tmp.npz")
    np.savez(tmp, **out)
    tmp.replace(key)
    return out


def model_probs(name: str, manifest: dict, comp: dict[str, np.ndarray]) -> np.ndarray:
    """``(10,)`` probabilities of shipped model ``name`` from a clip's components."""
    from genre.models import musicnn

    kind = manifest.get("kind")
    if kind == "sklearn":
        return _model(name).predict_features(comp["features57"][None])[0]
    if kind == "keras":
        return comp[name]
    if kind == "musicnn":
        m = _model(name)
        if isinstance(m, musicnn.MusicnnHead):
            return m._proba(comp["msd_pool400"][None])[0]
        return musicnn.zero_shot(comp["msd_tags_mean"])
    if kind == "stack":
        m = _model(name)
        probs = [model_probs(n, m.members[n].manifest, comp)[None] for n in m.members]
        return m._combine(comp["features57"][None], probs)[0]
    if kind == "pretrained_onnx":
        # its own front end (loudness level, patch limit) makes its vector: see pretrained_probs
        raise ValueError(f"{name}: the pretrained ensemble is scored by pretrained_probs, not from "
                         "the shared components (a stack with it as a member has no path here yet)")
    raise ValueError(f"no robustness path for model kind {kind!r}")


def pretrained_probs(name: str, paths: Sequence[str], conditions: Sequence[str],
                     jobs: int = 1) -> dict[str, np.ndarray]:
    """Per condition, ``(n, k)`` probabilities of the pretrained ensemble ``name`` through its own
    front end (loudness level, patches pooled, its band route), from cached network outputs
    (:func:`genre.training.pretrained_fit.degraded_test_vectors`)."""
    from genre.training.pretrained_fit import degraded_test_vectors

    m = _model(name)
    V = degraded_test_vectors(paths, m.rms_dbfs, m.max_patches, jobs, conditions, with_ler=False)
    return {c: m.predict_vectors(np.stack([v[c][0] for v in V]), np.array([v[c][2] for v in V]))
            for c in conditions}


def table_markdown() -> str:
    """Markdown table of accuracy per model (rows) and condition (columns) from ``models/results``."""
    from genre.results import load_result
    from genre import registry

    heads = ["model", *CONDITIONS, "worst drop (pts)"]
    lines = ["| " + " | ".join(heads) + " |", "|" + "---|" * len(heads)]
    rows = []
    for m in registry.list_models():
        prot = load_result(m["name"]).get("protocols", {})
        acc = [prot.get(f"robust_{c}", {}).get("accuracy") for c in CONDITIONS]
        if acc[0] is None:
            continue
        drop = max((acc[0] - a) for a in acc[1:] if a is not None) if any(a is not None for a in acc[1:]) else None
        rows.append((acc[0], m.get("display_name", m["name"]), acc, drop))
    for _, name, acc, drop in sorted(rows, key=lambda r: -r[0]):
        cells = ["–" if a is None else f"{100 * a:.1f} %" for a in acc]
        lines.append("| " + " | ".join([name, *cells, "–" if drop is None else f"{100 * drop:.1f}"]) + " |")
    return "\n".join(lines)


def _components_job(path: str, conditions: Sequence[str]) -> list[dict]:
    from genre.models import runtime

    runtime.one_core()
    return [clip_components(path, c) for c in conditions]


def main(argv: Sequence[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m genre.training.robustness", description=__doc__.split("\n\n")[0])
    ap.add_argument("--jobs", type=int, default=2, help="processes (clips in parallel)")
    ap.add_argument("--conditions", nargs="*", default=list(CONDITIONS), choices=list(CONDITIONS))
    ap.add_argument("--limit", type=int, default=None, help="only the first N test clips (timing)")
    ap.add_argument("--table", action="store_true", help="only print the accuracy table from models/results")
    ap.add_argument("--models", nargs="*", default=None, help="only these models (default: every shipped one)")
    ap.add_argument("--reverse", action="store_true",
                    help="work through the clips last to first (a second process can share the cache)")
    args = ap.parse_args(argv)
    if args.table:
        print(table_markdown())
        return 0

    from joblib import Parallel, delayed

    from genre import registry
    from genre.training.evaluate import write_result
    from genre.training.reporting import metrics
    from genre.training.train_deep import clip_table

    df = clip_table()
    test = df[df["split"] == "test"].reset_index(drop=True)
    if args.limit:
        test = test.head(args.limit)
    y_te = np.array([GTZAN_GENRES.index(g) for g in test["genre"]])
    models = [m for m in registry.list_models() if m.get("kind") != "novelty"
              and (args.models is None or m["name"] in args.models)]
    _say(f"{len(test)} test clips x {len(args.conditions)} conditions; models: "
         + ", ".join(m["name"] for m in models))
    t0 = time.perf_counter()
    paths = list(test["path"])
    order = list(reversed(range(len(paths)))) if args.reverse else list(range(len(paths)))
    only_pre = all(m.get("kind") == "pretrained_onnx" for m in models)
    done = [[{}] * len(args.conditions)] * len(order) if only_pre else Parallel(n_jobs=args.jobs, verbose=5)(
        delayed(_components_job)(paths[i], args.conditions) for i in order)
    comps = [None] * len(paths)
    for i, c in zip(order, done):
        comps[i] = c
    _say(f"components in {time.perf_counter() - t0:.0f} s")
    if args.limit:
        return 0
    pre = {m["name"]: pretrained_probs(m["name"], paths, args.conditions, args.jobs)
           for m in models if m.get("kind") == "pretrained_onnx"}
    for j, cond in enumerate(args.conditions):
        doc = "undegraded audio through the prediction path" if cond == "clean" else \
            f"genre.training.degrade.DEGRADATIONS[{cond!r}] (deterministic)"
        doc += f"; each clip cut to its first {MAX_SECONDS:g} s (excerpts whole)"
        line = []
        for m in models:
            P = (pre[m["name"]][cond] if m["name"] in pre
                 else np.stack([model_probs(m["name"], m, c[j]) for c in comps]))
            res = {**metrics(y_te, P), "n_train": m.get("n_train"),
                   "params": {"condition": cond, "applied": doc, "clips": "the 144 fault-filtered test "
                              "clips with audio", "max_seconds": MAX_SECONDS}}
            write_result(m["name"], f"robust_{cond}", res)
            line.append(f"{m['name']} {res['accuracy']:.3f}")
        _say(f"robust_{cond}: " + ", ".join(line))
    return 0


if __name__ == "__main__":
    sys.exit(main())
