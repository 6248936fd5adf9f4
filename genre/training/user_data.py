"""Train, evaluate and register feature models on your own labelled dataset, with your own labels.

A dataset is a folder ``<root>/<label>/<clip>.<ext>`` (any number of labels, at least two) or a CSV of
``path,label[,group]`` (:func:`genre.training.datasets.labelled_folder`). Its models live in their own
models folder (``--models-dir DIR`` or ``GENRE_MODELS_DIR``), never over the shipped GTZAN models, with
their own ``results/`` (the leaderboard: ``python -m genre evaluate --models-dir DIR``), ``default.json``
and ``dataset.json`` (what was used and what was skipped). Every manifest carries the dataset's
classes, so prediction answers in them.

Protocols (shared with the networks of :mod:`genre.training.train_deep` on the same dataset)
--------------------------------------------------------------------------------------------
``group_holdout``
    The first of the ``k`` folds below is the test set; fit on the other clips, score once.
``group_cv``
    Stratified, group-aware ``k``-fold CV (:class:`~sklearn.model_selection.StratifiedGroupKFold`,
    seed 0, clips sorted by id): clips of one group (the CSV's ``group``; else each clip is its own
    group) are never on both sides of a fold.

Hyper-parameters are the defaults of :func:`genre.models.feature_models.build` (nothing is tuned on
your data, so neither score is optimistic through tuning), with two size guards for small datasets
(k-NN's neighbours and the SVM's calibration folds). Files that cannot be decoded are skipped and
counted, never fatal; a model that cannot be fitted on the data is reported and skipped.

Command line: ``python -m genre train --data-root DIR [--labels CSV] --models-dir OUT [--folds K]``.
"""

from __future__ import annotations

import json
import time
import warnings
from pathlib import Path
from typing import Callable, Iterable, Sequence

import numpy as np
import pandas as pd

from genre import config
from genre.config import FEATURE_COLUMNS
from genre.errors import DataError
from genre.results import USER_PROTOCOLS

#: Default number of folds.
DEFAULT_FOLDS: int = 5
#: Feature models trained by default on a user dataset.
DEFAULT_MODELS: tuple[str, ...] = ("knn", "logreg", "svm", "random_forest", "xgboost", "mlp", "soft_voting")
SEED: int = 0

__all__ = ["USER_PROTOCOLS", "DEFAULT_FOLDS", "DEFAULT_MODELS", "user_models_dir", "load_dataset",
           "dataset_folds", "feature_table", "train_feature_models", "write_dataset_summary"]


def _say(msg: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {msg}", flush=True)


def user_models_dir(models_dir: str | Path | None) -> Path:
    """The models folder for a user dataset: ``models_dir``, else ``GENRE_MODELS_DIR``.

    Raises
    ------
    DataError
        If it would be the shipped ``models/`` folder (its GTZAN models would be replaced).
    """
    out = Path(models_dir) if models_dir is not None else Path(config.MODELS_DIR)
    shipped = (config.ROOT / "models").resolve()
    if out.resolve() == shipped:
        raise DataError(f"Models trained on your own data need their own folder: pass --models-dir DIR (or set "
                        f"GENRE_MODELS_DIR) so the shipped GTZAN models in {shipped} are not replaced.")
    return out


def load_dataset(data_root: str | Path | None, labels_csv: str | Path | None = None,
                 n_folds: int = DEFAULT_FOLDS) -> pd.DataFrame:
    """:func:`genre.training.datasets.labelled_folder`, checked for ``n_folds``-fold CV."""
    from genre.training.datasets import check_folds, labelled_folder

    clips = labelled_folder(data_root, labels_csv)
    check_folds(clips, n_folds)
    return clips


def dataset_folds(clips: pd.DataFrame, n_folds: int = DEFAULT_FOLDS, seed: int = SEED,
                  label: str = "label") -> list[tuple[np.ndarray, np.ndarray]]:
    """Stratified, group-aware folds as row positions of ``clips`` (``clip``, ``label``, ``group``).

    The same set of clips always gives the same folds (rows are ordered by clip id first). The
    first fold's test part is the ``group_holdout`` test set.
    """
    from sklearn.model_selection import StratifiedGroupKFold

    order = np.argsort(clips["clip"].to_numpy(), kind="stable")
    y = clips[label].to_numpy()[order]
    g = clips["group"].to_numpy()[order]
    cv = StratifiedGroupKFold(n_splits=n_folds, shuffle=True, random_state=seed)
    return [(np.sort(order[a]), np.sort(order[b])) for a, b in cv.split(order, y, g)]


def feature_table(clips: pd.DataFrame, *, n_jobs: int = 1, progress: bool = True) -> tuple[pd.DataFrame, dict]:
    """The 57 features of every clip (cached, :func:`genre.training.cache.extract_many`).

    Returns
    -------
    (DataFrame, dict)
        The clips that could be read (index ``clip``; ``label``, ``group``, ``path`` and the 57
        features) and ``{path: reason}`` of the files that could not (skipped, never fatal).
    """
    from genre.training.cache import extract_many

    feats = extract_many(list(clips["path"]), n_jobs=n_jobs, progress=progress)
    failed = dict(feats.attrs.get("errors", {}))
    ok = clips[clips["path"].isin(feats.index)].copy()
    table = ok.set_index("clip")
    table[list(FEATURE_COLUMNS)] = feats.loc[list(ok["path"]), list(FEATURE_COLUMNS)].to_numpy()
    return table, failed


def write_dataset_summary(out: Path, clips: pd.DataFrame, used: pd.DataFrame, failed: dict, *,
                          data_root, labels_csv, n_folds: int, classes: Sequence[str]) -> Path:
    """``<out>/dataset.json``: classes, clips per label, folds, and every skipped or unreadable file."""
    summary = {
        "data_root": None if data_root is None else str(data_root),
        "labels_csv": None if labels_csv is None else str(labels_csv),
        "classes": list(classes), "n_clips": int(len(used)),
        "clips_per_label": {str(k): int(v) for k, v in used["label"].value_counts().sort_index().items()},
        "groups": "csv group column" if bool((clips["group"] != clips["clip"]).any()) else "each clip its own",
        "n_folds": int(n_folds),
        "unreadable": {str(k): str(v) for k, v in failed.items()},
        "skipped_rows": {str(k): str(v) for k, v in (clips.attrs.get("skipped") or {}).items()},
    }
    out.mkdir(parents=True, exist_ok=True)
    path = out / "dataset.json"
    path.write_text(json.dumps(summary, indent=1) + "\n")
    return path


def _guarded(name: str, y: np.ndarray) -> dict:
    """Parameter changes that let a default model fit ``y`` (small datasets); ``{}`` when none."""
    counts = np.bincount(y)
    counts = counts[counts > 0]
    if name == "knn":
        return {"clf__n_neighbors": int(max(1, min(15, len(y) - 1)))}
    if name == "svm":
        return {"clf__cv": int(max(2, min(5, counts.min())))}
    if name == "soft_voting":
        return {"svm": {"clf__cv": int(max(2, min(5, counts.min())))}}
    return {}


def _fit(name: str, X: np.ndarray, y: np.ndarray, seed: int):
    from genre.models.feature_models import build
    from genre.threads import one_thread

    params = _guarded(name, y)
    est, _ = build(name, params, seed=seed)
    with warnings.catch_warnings(), one_thread():
        warnings.simplefilter("ignore")
        t0 = time.perf_counter()
        est.fit(X, y)
    return est, time.perf_counter() - t0, params


def _scores(name, X, y, folds, classes, seed) -> dict[str, dict]:
    from genre.models.feature_models import proba_in_class_order
    from genre.threads import one_thread
    from genre.training.evaluate import compute_metrics, time_predict_ms

    out: dict[str, dict] = {}
    P = np.zeros((len(y), len(classes)))
    fold_acc, fit_times = [], []
    for k, (tr, te) in enumerate(folds):
        est, fit_s, params = _fit(name, X[tr], y[tr], seed)
        with one_thread():
            P[te] = proba_in_class_order(est, X[te], classes)
        fold_acc.append(float((P[te].argmax(1) == y[te]).mean()))
        fit_times.append(fit_s)
        if k == 0:
            m = compute_metrics(y[te], P[te], classes)
            with one_thread():
                lat = time_predict_ms(est, X[te])
            m.update({"n_train": int(len(tr)), "fit_time_s": fit_s, "latency_ms": lat, "params": params})
            out["group_holdout"] = m
    m = compute_metrics(y, P, classes)
    m.update({"n_train": int(round(np.mean([len(tr) for tr, _ in folds]))), "n_folds": len(folds),
              "fold_accuracy": fold_acc, "accuracy_std": float(np.std(fold_acc)),
              "fit_time_s": float(np.mean(fit_times))})
    out["group_cv"] = m
    return out


def train_feature_models(data_root: str | Path | None, labels_csv: str | Path | None = None,
                         models_dir: str | Path | None = None, names: Iterable[str] | None = None, *,
                         n_folds: int = DEFAULT_FOLDS, seed: int = SEED, n_jobs: int = 1,
                         progress: bool = True, say: Callable[[str], None] = _say) -> pd.DataFrame:
    """Evaluate (``group_holdout``, ``group_cv``), fit on every clip and register feature models.

    Parameters
    ----------
    data_root : path
        ``<root>/<label>/<clip>.<ext>``, or the folder the CSV's relative paths start from.
    labels_csv : path, optional
        ``path,label[,group]`` CSV replacing the folder names.
    models_dir : path, optional
        Where the models, ``results/``, ``default.json`` and ``dataset.json`` go
        (:func:`user_models_dir`).
    names : iterable of str, optional
        Feature models (default :data:`DEFAULT_MODELS`).
    n_folds : int
        Folds of ``group_cv`` (every label needs at least this many clips, or groups).
    n_jobs : int
        Parallel feature extraction.

    Returns
    -------
    DataFrame
        The leaderboard rows of the models trained; ``attrs["failed_models"]`` ``{name: reason}``,
        ``attrs["unreadable"]`` ``{path: reason}``.

    Raises
    ------
    DataError
        Bad folder or CSV, one label, an unsafe label name, a label too small for ``n_folds``
        (checked again after unreadable files are dropped), or the shipped models folder as output.
    """
    from genre import registry
    from genre.models.feature_models import DISPLAY_NAMES, MODEL_NAMES, encode_labels
    from genre.training.datasets import check_folds
    from genre.training.evaluate import PROTOCOL_DESCRIPTIONS, leaderboard, write_result

    out = user_models_dir(models_dir)
    names = list(DEFAULT_MODELS if names is None else names)
    unknown = [n for n in names if n not in MODEL_NAMES]
    if unknown:
        raise DataError(f"Unknown feature models {unknown}; choose from {list(MODEL_NAMES)}.")
    clips = load_dataset(data_root, labels_csv, n_folds)
    say(f"{len(clips)} clips, {clips['label'].nunique()} labels: "
        + ", ".join(f"{k} {v}" for k, v in clips["label"].value_counts().sort_index().items()))
    table, failed = feature_table(clips.reset_index(drop=True), n_jobs=n_jobs, progress=progress)
    if failed:
        say(f"{len(failed)} file(s) could not be read and were skipped:")
        for p, why in failed.items():
            say(f"  {p}: {why}")
    used = table.reset_index()
    if used["label"].nunique() < 2:
        raise DataError("Fewer than 2 labels have readable audio; nothing to train.")
    check_folds(used, n_folds)
    classes = sorted(used["label"].unique())
    folds = dataset_folds(used, n_folds, seed)
    X = used[list(FEATURE_COLUMNS)].to_numpy(dtype=float)
    y = encode_labels(used["label"], classes)
    write_dataset_summary(out, clips, used, failed, data_root=data_root, labels_csv=labels_csv,
                          n_folds=n_folds, classes=classes)
    results = out / "results"
    where = str(labels_csv or data_root)
    failed_models: dict[str, str] = {}
    descriptions = {"group_holdout": PROTOCOL_DESCRIPTIONS["group_holdout"].replace("k folds", f"{n_folds} folds"),
                    "group_cv": PROTOCOL_DESCRIPTIONS["group_cv"].replace("k-fold", f"{n_folds}-fold")}
    for name in [n for n in MODEL_NAMES if n in names]:
        try:
            metrics = _scores(name, X, y, folds, classes, seed)
            est, fit_s, params = _fit(name, X, y, seed)
        except (ValueError, IndexError) as exc:  # e.g. a label too small for a model's own inner CV
            failed_models[name] = f"{type(exc).__name__}: {exc}"
            say(f"{name}: could not be trained on this dataset ({failed_models[name]}); skipped")
            continue
        family = "ensemble" if name == "soft_voting" else "features"
        manifest = {
            "display_name": DISPLAY_NAMES[name], "kind": "sklearn", "family": family, "version": "1",
            "classes": list(classes), "feature_columns": list(FEATURE_COLUMNS), "input": "features57",
            "trained_on": f"your dataset {where}: all {len(used)} readable clips", "n_train": int(len(used)),
            "protocol": "default hyper-parameters (not tuned on this dataset); metrics: see results/"
                        + name + ".json", "params": params, "seed": seed, "dataset": "dataset.json",
            "metrics": {p: {"accuracy": m["accuracy"], "macro_f1": m["macro_f1"]} for p, m in metrics.items()},
        }
        folder = registry.save_sklearn(name, est, manifest, models_dir=out)
        size = (folder / "model.skops").stat().st_size
        for proto, m in metrics.items():
            m["protocol_description"] = descriptions[proto]
            write_result(name, proto, m, display_name=DISPLAY_NAMES[name], family=family, size_bytes=size,
                         latency_ms=metrics["group_holdout"]["latency_ms"], results=results,
                         input="features57", classes=list(classes))
        say(f"{name:18s} " + "  ".join(f"{p}={m['accuracy']:.3f}" for p, m in metrics.items()))
    trained = [n for n in names if n not in failed_models]
    if not trained:
        raise DataError("No model could be trained on this dataset: "
                        + "; ".join(f"{k}: {v}" for k, v in failed_models.items()))
    registry.choose_default("group_cv", "accuracy", models_dir=out)
    board = leaderboard(results)
    board = board[board["model"].isin(trained)].reset_index(drop=True)
    board.attrs["failed_models"] = failed_models
    board.attrs["unreadable"] = failed
    return board
