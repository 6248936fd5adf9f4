"""Training entry points for the feature models on GTZAN (deep models train in their own modules; your own
labelled dataset: :mod:`genre.training.user_data`).

:func:`train_feature_models` does, for each model in :data:`genre.models.feature_models.MODEL_NAMES`:

1. **Tune** the pipeline's small grid with GridSearchCV on the fault-filtered train+valid
   clips only (640), using artist-grouped, genre-stratified 5-fold CV
   (:class:`~sklearn.model_selection.StratifiedGroupKFold`, Sturm's artists, seed 0).
   The test split is never seen while choosing anything. The soft-voting ensemble takes the
   k candidates with the best tuning scores, k (2..6) chosen by the same CV.
2. **Evaluate** those fixed hyper-parameters on every protocol of :mod:`genre.training.evaluate`
   (for ``random_10fold`` and ``artist_cv_audio`` the parameters are the ones tuned once on
   filtered train+valid, which overlaps those protocols' test folds: a mild optimism,
   recorded in each results file).
3. **Write** ``models/results/<name>.json``.
4. **Fit** on the whole published table (1000 clips) and **save** through the registry.

Finally it writes ``models/dataset.parquet`` and ``models/default.json``
(:func:`genre.registry.choose_default` among feature models). Seeds are fixed: a rerun
reproduces every number.

Command line: ``python -m genre train`` (wired in ``genre/__main__.py``) or
``python -m genre.training.train [names...]``.
"""

from __future__ import annotations

import time
import warnings
from pathlib import Path
from typing import Iterable

import numpy as np
import pandas as pd

from genre.config import FEATURE_COLUMNS, MODELS_DIR
from genre.training.datasets import GTZAN_GENRES

#: Seed of every random component and of the CV shuffles.
SEED: int = 0
#: Folds of the tuning CV (artist-grouped, within filtered train+valid).
TUNE_FOLDS: int = 5
TUNING_PROTOCOL = ("GridSearchCV, accuracy, StratifiedGroupKFold(n_splits=5, shuffle=True, random_state=0) "
                   "grouped by artist (Sturm's index) over the fault-filtered train+valid clips (640); "
                   "test split unseen")

__all__ = ["SEED", "tune", "tune_ensemble", "write_dataset", "train_feature_models", "main"]


def _train_part(table: pd.DataFrame):
    from genre.training.datasets import artist_groups
    from genre.training.evaluate import holdout_clips
    from genre.models.feature_models import encode_labels

    clips = holdout_clips(table)["train"]
    rows = table.loc[clips]
    X = rows[list(FEATURE_COLUMNS)].to_numpy(dtype=float)
    y = encode_labels(rows["genre"], GTZAN_GENRES)
    groups = artist_groups().loc[clips].to_numpy()
    return X, y, groups


def _cv(seed: int):
    from sklearn.model_selection import StratifiedGroupKFold

    return StratifiedGroupKFold(n_splits=TUNE_FOLDS, shuffle=True, random_state=seed)


def _plain(params: dict) -> dict:
    out = {}
    for k, v in params.items():
        if isinstance(v, tuple):
            v = list(v)
        elif isinstance(v, np.generic):
            v = v.item()
        out[k] = v
    return out


def tune(name: str, table: pd.DataFrame, *, seed: int = SEED, n_jobs: int = 2) -> dict:
    """Grid-search model ``name`` on filtered train+valid with artist-grouped CV.

    Returns
    -------
    dict
        ``params`` (best, JSON-ready), ``cv_accuracy`` (mean over folds), ``cv_accuracy_std``,
        ``grid_size``, ``time_s``, ``method``.
    """
    from sklearn.model_selection import GridSearchCV

    from genre.training.evaluate import one_thread
    from genre.models.feature_models import build

    X, y, groups = _train_part(table)
    pipe, grid = build(name, seed=seed)
    t0 = time.perf_counter()
    with warnings.catch_warnings(), one_thread():
        warnings.simplefilter("ignore", category=UserWarning)
        gs = GridSearchCV(pipe, grid, scoring="accuracy", cv=_cv(seed), n_jobs=n_jobs, refit=False)
        gs.fit(X, y, groups=groups)
    i = int(gs.best_index_)
    return {
        "params": _plain(gs.best_params_),
        "cv_accuracy": float(gs.cv_results_["mean_test_score"][i]),
        "cv_accuracy_std": float(gs.cv_results_["std_test_score"][i]),
        "grid": {k: [_plain({"v": x})["v"] for x in v] for k, v in grid.items()},
        "grid_size": int(len(gs.cv_results_["params"])),
        "time_s": time.perf_counter() - t0,
        "method": TUNING_PROTOCOL,
    }


def tune_ensemble(tuned: dict[str, dict], table: pd.DataFrame, *, seed: int = SEED,
                  n_jobs: int = 2, sizes: Iterable[int] | None = None) -> dict:
    """Choose the soft-voting ensemble's members from training-only CV scores.

    Candidates (:data:`genre.models.feature_models.ENSEMBLE_CANDIDATES` present in ``tuned``) are ranked by
    their tuning ``cv_accuracy``; the top-k ensemble for each k in ``sizes`` is scored with the
    same artist-grouped CV, and the best k is kept (``sizes`` default: 2 .. all candidates).
    """
    from sklearn.model_selection import cross_val_score

    from genre.training.evaluate import one_thread
    from genre.models.feature_models import ENSEMBLE_CANDIDATES, build

    ranked = sorted((m for m in ENSEMBLE_CANDIDATES if m in tuned),
                    key=lambda m: (-tuned[m]["cv_accuracy"], m))
    if len(ranked) < 2:
        raise ValueError("soft_voting needs at least two tuned candidate models.")
    X, y, groups = _train_part(table)
    sizes = range(2, len(ranked) + 1) if sizes is None else sizes
    t0 = time.perf_counter()
    best = None
    tried = []
    for k in sizes:
        if k > len(ranked):
            continue
        members = ranked[:k]
        params = {"members": members, **{m: tuned[m]["params"] for m in members}}
        pipe, _ = build("soft_voting", params, seed=seed)
        with warnings.catch_warnings(), one_thread():
            warnings.simplefilter("ignore", category=UserWarning)
            s = cross_val_score(pipe, X, y, groups=groups, cv=_cv(seed), scoring="accuracy", n_jobs=n_jobs)
        tried.append({"members": members, "cv_accuracy": float(s.mean())})
        if best is None or s.mean() > best[0] + 1e-12:
            best = (float(s.mean()), float(s.std()), params)
    return {"params": best[2], "cv_accuracy": best[0], "cv_accuracy_std": best[1], "tried": tried,
            "grid_size": len(tried), "time_s": time.perf_counter() - t0,
            "method": TUNING_PROTOCOL + "; members = top-k candidates by their own tuning score, "
                      "k chosen by the same CV"}


def write_dataset(out: str | Path = MODELS_DIR, table: pd.DataFrame | None = None) -> Path:
    """Write ``<out>/dataset.parquet``: :func:`genre.training.datasets.dataset_table` for the app.

    ``audio_path`` (absolute, machine-specific) is replaced by ``audio_file``, the path
    relative to the data folder (``""`` if no audio).
    """
    from genre.config import data_dir
    from genre.training.datasets import dataset_table

    t = (dataset_table() if table is None else table).copy()
    root = str(data_dir().resolve())
    t["audio_file"] = [p[len(root) + 1:] if p.startswith(root + "/") else p for p in t.pop("audio_path")]
    path = Path(out) / "dataset.parquet"
    path.parent.mkdir(parents=True, exist_ok=True)
    t.to_parquet(path)
    return path


def _fit_full(name: str, params: dict, table: pd.DataFrame, seed: int):
    from genre.models.feature_models import build, encode_labels

    from genre.training.evaluate import one_thread

    est, _ = build(name, params, seed=seed)
    with warnings.catch_warnings(), one_thread():
        warnings.simplefilter("ignore", category=UserWarning)
        est.fit(table[list(FEATURE_COLUMNS)].to_numpy(dtype=float), encode_labels(table["genre"], GTZAN_GENRES))
    return est


def train_feature_models(names: Iterable[str] | None = None, out: str | Path = MODELS_DIR, *,
                         seed: int = SEED, n_jobs: int = 2, choose_default: bool = True) -> pd.DataFrame:
    """Tune, evaluate (all protocols), write results, refit on all 1000 clips and save.

    Parameters
    ----------
    names : iterable of str, optional
        Subset of :data:`genre.models.feature_models.MODEL_NAMES` (default all). ``soft_voting`` uses the
        tuning results of its candidates from this run, or from their results files.
    out : path
        The models folder (``models/``): artifacts in ``<out>/<name>/``, results in
        ``<out>/results/``, plus ``dataset.parquet`` and ``default.json``.
    n_jobs : int
        Parallel CV fits (keep small on a shared machine).
    choose_default : bool
        Rewrite ``<out>/default.json`` (best feature model on filtered_holdout by accuracy).

    Returns
    -------
    DataFrame
        The leaderboard rows of the models trained (long format, see :func:`genre.training.evaluate.leaderboard`).
    """
    from tqdm.auto import tqdm

    from genre import registry
    from genre.training.datasets import dataset_table
    from genre.training.evaluate import PROTOCOL_DESCRIPTIONS, evaluate_all, leaderboard, load_result, write_result
    from genre.models.feature_models import DISPLAY_NAMES, ENSEMBLE_CANDIDATES, MODEL_NAMES

    names = list(MODEL_NAMES if names is None else names)
    unknown = [n for n in names if n not in MODEL_NAMES]
    if unknown:
        raise ValueError(f"Unknown feature models {unknown}; choose from {MODEL_NAMES}.")
    names = [n for n in MODEL_NAMES if n in names]  # soft_voting last
    out = Path(out)
    results = out / "results"
    table = dataset_table()
    write_dataset(out, table)
    tuned: dict[str, dict] = {}
    bar = tqdm(names, desc="feature models")
    for name in bar:
        bar.set_postfix_str(name)
        if name == "soft_voting":
            for cand in ENSEMBLE_CANDIDATES:
                if cand not in tuned:
                    prev = load_result(cand, results).get("tuning")
                    if prev:
                        tuned[cand] = prev
            tuning = tune_ensemble(tuned, table, seed=seed, n_jobs=n_jobs)
        else:
            tuning = tune(name, table, seed=seed, n_jobs=n_jobs)
        tuned[name] = tuning
        params = tuning["params"]
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", category=UserWarning)
            metrics = evaluate_all(name, params, table=table, seed=seed, n_jobs=n_jobs)
        est = _fit_full(name, params, table, seed)
        family = "ensemble" if name == "soft_voting" else "features"
        manifest = {
            "display_name": DISPLAY_NAMES[name], "kind": "sklearn", "family": family, "version": "1",
            "classes": list(GTZAN_GENRES), "feature_columns": list(FEATURE_COLUMNS), "input": "features57",
            "trained_on": "published table, all 1000 clips", "n_train": int(len(table)),
            "protocol": "hyper-parameters: " + tuning["method"] + "; metrics: see results/" + name + ".json",
            "params": params, "seed": seed,
            "metrics": {p: {"accuracy": m["accuracy"], "macro_f1": m["macro_f1"]} for p, m in metrics.items()},
        }
        folder = registry.save_sklearn(name, est, manifest, models_dir=out)
        size = (folder / "model.skops").stat().st_size
        note = ("hyper-parameters tuned once on filtered train+valid (artist-grouped CV); "
                "for random_10fold and artist_cv_audio they are kept fixed although those clips "
                "also appear in these protocols' test folds")
        for proto, m in metrics.items():
            m["params"] = params
            m["protocol_description"] = PROTOCOL_DESCRIPTIONS[proto]
            if proto in ("random_10fold", "artist_cv_audio"):
                m["note"] = note
            write_result(name, proto, m, display_name=DISPLAY_NAMES[name], family=family,
                         size_bytes=size, latency_ms=metrics["filtered_holdout"]["latency_ms"],
                         results=results, input="features57", tuning=tuning)
        tqdm.write(f"{name:18s} tune-cv={tuning['cv_accuracy']:.3f}  "
                   + "  ".join(f"{p}={m['accuracy']:.3f}" for p, m in metrics.items())
                   + f"  size={size / 1e6:.2f} MB")
    if choose_default:
        registry.choose_default("filtered_holdout", "accuracy", input="features57", models_dir=out)
    board = leaderboard(results)
    return board[board["model"].isin(names)].reset_index(drop=True)


def main(argv: list[str] | None = None) -> int:
    """``python -m genre.training.train [names...]``: train the named (default: all) feature models."""
    import argparse

    from genre.models.feature_models import MODEL_NAMES

    ap = argparse.ArgumentParser(prog="python -m genre.training.train", description=__doc__.splitlines()[0])
    ap.add_argument("names", nargs="*", help=f"models to train (default: all of {', '.join(MODEL_NAMES)})")
    ap.add_argument("--out", default=str(MODELS_DIR), help="models folder (default: %(default)s)")
    ap.add_argument("--n-jobs", type=int, default=2)
    args = ap.parse_args(argv)
    board = train_feature_models(args.names or None, args.out, n_jobs=args.n_jobs)
    cols = ["model", "protocol", "accuracy", "macro_f1", "n_train", "n_test"]
    print(board[cols].to_string(index=False))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
