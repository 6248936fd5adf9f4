"""Evaluation protocols, metrics, and the results files the leaderboard is drawn from.

Protocols (all reported; the first is the headline):

``filtered_holdout``
    The fault-filtered, artist-conscious split (Kereliuk, Sturm & Larsen 2015): fit on
    train+valid (640 clips), score once on test (290 clips).
``random_10fold``
    Stratified 10-fold CV over all 1000 clips, shuffled with a fixed seed (the literature's
    protocol; leaks artists and repeated recordings, so it flatters every model).
``audio_holdout`` / ``audio_holdout_full``
    The ``filtered_holdout`` fit, scored only on the 144 test clips that have audio here /
    the 79 full-length clips among them: the subset deep models (trained on audio) can be
    scored on, so both families compare like for like.
``artist_cv_audio``
    Artist-grouped 5-fold CV (:func:`artist_folds`) over every non-excluded clip with audio.

Results live in ``models/results/<model>.json`` (schema in DESIGN.md); :func:`write_result`
merges one protocol's metrics into a model's file, :func:`leaderboard` reads them all.
"""

from __future__ import annotations

import json
import os
import tempfile
import time
from pathlib import Path
from typing import Sequence

import numpy as np
import pandas as pd

from genre.serialize import jsonable
from genre.threads import one_thread
from genre.config import FEATURE_COLUMNS
from genre.training.datasets import GTZAN_GENRES
from genre.results import (  # re-exported: the reading side lives in the core
    PROTOCOL_DESCRIPTIONS, PROTOCOLS, SCALAR_METRICS, USER_PROTOCOLS, leaderboard, load_result, results_dir,
)

RANDOM_SEED: int = 0

__all__ = [
    "PROTOCOLS", "USER_PROTOCOLS", "PROTOCOL_DESCRIPTIONS", "results_dir", "holdout_clips", "artist_cv_clips",
    "artist_folds", "random_folds", "compute_metrics", "time_predict_ms", "evaluate_protocol",
    "evaluate_all", "one_thread", "write_result", "load_result", "leaderboard", "SCALAR_METRICS",
]


# ---------------------------------------------------------------- which clips each protocol uses

def _table(table: pd.DataFrame | None) -> pd.DataFrame:
    if table is None:
        from genre.training.datasets import dataset_table

        table = dataset_table()
    return table


def holdout_clips(table: pd.DataFrame | None = None) -> dict[str, list[str]]:
    """Clip ids of the hold-out protocols.

    Returns
    -------
    dict
        ``train`` (train+valid, 640), ``test`` (290), ``audio_test`` (test clips with audio,
        144), ``audio_test_full`` (the full-length ones among them, 79); table order.
    """
    t = _table(table)
    test = t[t["split"] == "test"]
    return {
        "train": list(t.index[t["split"].isin(["train", "valid"])]),
        "test": list(test.index),
        "audio_test": list(test.index[test["has_audio"]]),
        "audio_test_full": list(test.index[test["has_audio"] & (test["audio_kind"] == "full")]),
    }


def artist_cv_clips(table: pd.DataFrame | None = None) -> list[str]:
    """Clip ids of ``artist_cv_audio``: every non-excluded clip that has audio here (table order)."""
    t = _table(table)
    return list(t.index[(t["split"] != "excluded") & t["has_audio"]])


def artist_folds(clips: Sequence[str], n_splits: int = 5, seed: int = RANDOM_SEED,
                 groups: pd.Series | None = None) -> list[tuple[list[str], list[str]]]:
    """Artist-grouped, genre-stratified folds over ``clips`` (shared by feature and deep models).

    Parameters
    ----------
    clips : sequence of str
        Clip ids like ``blues.00012`` (the genre is read from the id). Order does not matter:
        clips are sorted first, so the same set always gives the same folds.
    n_splits : int
        Number of folds.
    seed : int
        Shuffle seed of :class:`~sklearn.model_selection.StratifiedGroupKFold`.
    groups : Series, optional
        clip -> artist; default :func:`genre.training.datasets.artist_groups` (blank artist = own group).

    Returns
    -------
    list of (train_clips, test_clips)
        Lists of clip ids; no artist appears on both sides of any fold.
    """
    from sklearn.model_selection import StratifiedGroupKFold

    if groups is None:
        from genre.training.datasets import artist_groups

        groups = artist_groups()
    clips = sorted(set(clips))
    missing = [c for c in clips if c not in groups.index]
    if missing:
        raise ValueError(f"No artist known for clips {missing[:5]}")
    genres = [c.split(".")[0] for c in clips]
    g = groups.loc[clips].to_numpy()
    cv = StratifiedGroupKFold(n_splits=n_splits, shuffle=True, random_state=seed)
    arr = np.array(clips)
    return [(list(arr[a]), list(arr[b])) for a, b in cv.split(arr, genres, g)]


def random_folds(clips: Sequence[str], n_splits: int = 10, seed: int = RANDOM_SEED) -> list[tuple[list[str], list[str]]]:
    """Stratified (by genre, read from the id), shuffled K-fold over sorted ``clips``."""
    from sklearn.model_selection import StratifiedKFold

    clips = sorted(set(clips))
    genres = [c.split(".")[0] for c in clips]
    arr = np.array(clips)
    cv = StratifiedKFold(n_splits=n_splits, shuffle=True, random_state=seed)
    return [(list(arr[a]), list(arr[b])) for a, b in cv.split(arr, genres)]


# ---------------------------------------------------------------- metrics

def _as_index(labels, classes: Sequence[str]) -> np.ndarray:
    labels = np.asarray(labels)
    if labels.dtype.kind in "iu":
        return labels.astype(np.int64)
    lookup = {g: i for i, g in enumerate(classes)}
    try:
        return np.array([lookup[str(x)] for x in labels], dtype=np.int64)
    except KeyError as exc:
        raise ValueError(f"Label {exc.args[0]!r} is not one of the classes {list(classes)}.") from None


def compute_metrics(y_true, y_pred, classes: Sequence[str] | None = None) -> dict:
    """Accuracy, macro-F1 (over the classes present in ``y_true``), per-class F1, confusion.

    Parameters
    ----------
    y_true, y_pred : sequences of class names or integer indices into ``classes``;
        ``y_pred`` may also be an (n, k) probability array in ``classes`` order (argmax is taken).
    classes : sequence of str, optional
        The model's classes, in its probability-column order (default: GTZAN's ten genres).

    Returns
    -------
    dict
        ``accuracy``, ``macro_f1``, ``per_genre_f1`` ({class: F1 or None when the class has
        no test clip and was never predicted}; the key keeps its historical name), ``confusion``
        (counts, rows = true, columns = predicted, all classes), ``labels`` (the classes), ``n_test``.
    """
    from sklearn.metrics import confusion_matrix, f1_score

    classes = list(GTZAN_GENRES if classes is None else classes)
    yt = _as_index(y_true, classes)
    yp = np.asarray(y_pred)
    yp = yp.argmax(axis=1) if yp.ndim == 2 else _as_index(yp, classes)
    labels = list(range(len(classes)))
    present = sorted(set(yt.tolist()))
    f1 = f1_score(yt, yp, labels=labels, average=None, zero_division=0)
    cm = confusion_matrix(yt, yp, labels=labels)
    per = {}
    for i, g in enumerate(classes):
        per[g] = None if (cm[i].sum() == 0 and cm[:, i].sum() == 0) else float(f1[i])
    return {
        "accuracy": float(np.mean(yt == yp)),
        "macro_f1": float(f1_score(yt, yp, labels=present, average="macro", zero_division=0)),
        "per_genre_f1": per,
        "confusion": cm.astype(int).tolist(),
        "labels": classes,
        "n_test": int(len(yt)),
    }


def time_predict_ms(estimator, X: np.ndarray, n: int = 50) -> float:
    """Median wall time (ms) of ``predict_proba`` on one row (features -> probabilities)."""
    X = np.asarray(X, dtype=float)
    rows = X[: max(1, min(n, len(X)))]
    estimator.predict_proba(rows[:1])  # warm-up
    times = []
    for r in rows:
        t0 = time.perf_counter()
        estimator.predict_proba(r[None, :])
        times.append((time.perf_counter() - t0) * 1000.0)
    return float(np.median(times))


# ---------------------------------------------------------------- protocols for feature models

def _xy(table: pd.DataFrame, clips: Sequence[str]) -> tuple[np.ndarray, np.ndarray]:
    from genre.models.feature_models import encode_labels

    rows = table.loc[list(clips)]
    return rows[list(FEATURE_COLUMNS)].to_numpy(dtype=float), encode_labels(rows["genre"], GTZAN_GENRES)


def _fit(name: str, params: dict | None, X, y, seed: int = RANDOM_SEED):
    from genre.models.feature_models import build

    est, _ = build(name, params, seed=seed)
    with one_thread():
        t0 = time.perf_counter()
        est.fit(X, y)
        return est, time.perf_counter() - t0


def _fit_predict_fold(name, params, table, train, test, seed):
    X, y = _xy(table, train)
    est, fit_s = _fit(name, params, X, y, seed)
    Xt, _ = _xy(table, test)
    from genre.models.feature_models import proba_in_class_order

    with one_thread():
        return proba_in_class_order(est, Xt, GTZAN_GENRES), fit_s


def _cv(name, params, table, folds, seed, n_jobs, desc):
    from joblib import Parallel, delayed
    from tqdm.auto import tqdm

    jobs = (delayed(_fit_predict_fold)(name, params, table, tr, te, seed) for tr, te in folds)
    out = list(tqdm(Parallel(n_jobs=n_jobs, return_as="generator")(jobs), total=len(folds),
                    desc=desc, leave=False))
    test = [c for _, te in folds for c in te]
    proba = np.concatenate([p for p, _ in out])
    _, y = _xy(table, test)
    m = compute_metrics(y, proba)
    fold_acc = []
    start = 0
    for _, te in folds:
        fold_acc.append(float(np.mean(proba[start:start + len(te)].argmax(1) == y[start:start + len(te)])))
        start += len(te)
    m.update({
        "n_train": int(round(np.mean([len(tr) for tr, _ in folds]))),
        "n_folds": len(folds),
        "fold_accuracy": fold_acc,
        "accuracy_std": float(np.std(fold_acc)),
        "fit_time_s": float(np.mean([s for _, s in out])),
    })
    return m


def evaluate_protocol(name: str, protocol: str, params: dict | None = None, *,
                      table: pd.DataFrame | None = None, seed: int = RANDOM_SEED,
                      n_jobs: int = 2) -> dict | dict[str, dict]:
    """Evaluate feature model ``name`` with fixed hyper-parameters under one protocol.

    Parameters
    ----------
    name : str
        A :data:`genre.models.feature_models.MODEL_NAMES` entry.
    protocol : str
        One of :data:`PROTOCOLS`. ``filtered_holdout`` also returns ``audio_holdout`` and
        ``audio_holdout_full`` (same fit, smaller test sets) -- see Returns.
    params : dict
        Pipeline parameters (as recorded in the results files).
    table : DataFrame, optional
        :func:`genre.training.datasets.dataset_table` (read when omitted).
    n_jobs : int
        Folds fitted in parallel (CV protocols).

    Returns
    -------
    dict
        The protocol's metrics (see :func:`compute_metrics`, plus ``n_train``, ``fit_time_s``,
        and ``latency_ms`` for hold-out). For ``filtered_holdout``: ``{protocol: metrics}`` for
        the three hold-out protocols.
    """
    t = _table(table)
    if protocol in ("filtered_holdout", "audio_holdout", "audio_holdout_full"):
        from genre.models.feature_models import proba_in_class_order

        h = holdout_clips(t)
        X, y = _xy(t, h["train"])
        est, fit_s = _fit(name, params, X, y, seed)
        Xt, _ = _xy(t, h["test"])
        with one_thread():
            proba = pd.DataFrame(proba_in_class_order(est, Xt, GTZAN_GENRES), index=h["test"])
            latency = time_predict_ms(est, Xt)
        out = {}
        for proto, key in (("filtered_holdout", "test"), ("audio_holdout", "audio_test"),
                           ("audio_holdout_full", "audio_test_full")):
            clips = h[key]
            m = compute_metrics(t.loc[clips, "genre"], proba.loc[clips].to_numpy())
            m.update({"n_train": len(h["train"]), "fit_time_s": fit_s, "latency_ms": latency})
            out[proto] = m
        return out if protocol == "filtered_holdout" else out[protocol]
    if protocol == "random_10fold":
        return _cv(name, params, t, random_folds(list(t.index), 10, seed), seed, n_jobs, f"{name} random_10fold")
    if protocol == "artist_cv_audio":
        return _cv(name, params, t, artist_folds(artist_cv_clips(t), 5, seed), seed, n_jobs, f"{name} artist_cv")
    raise ValueError(f"Unknown protocol {protocol!r}; choose from {PROTOCOLS}.")


def evaluate_all(name: str, params: dict | None = None, *, table: pd.DataFrame | None = None,
                 seed: int = RANDOM_SEED, n_jobs: int = 2) -> dict[str, dict]:
    """All :data:`PROTOCOLS` for one feature model with fixed parameters: ``{protocol: metrics}``."""
    t = _table(table)
    out = dict(evaluate_protocol(name, "filtered_holdout", params, table=t, seed=seed))
    for proto in ("random_10fold", "artist_cv_audio"):
        out[proto] = evaluate_protocol(name, proto, params, table=t, seed=seed, n_jobs=n_jobs)
    return out


# ---------------------------------------------------------------- results files

def write_result(model: str, protocol: str | None = None, metrics: dict | None = None, *,
                 display_name: str | None = None, family: str | None = None,
                 size_bytes: int | None = None, latency_ms: float | None = None,
                 results: str | Path | None = None, **extra) -> Path:
    """Merge one protocol's metrics (and/or model-level fields) into ``results/<model>.json``.

    Parameters
    ----------
    model : str
        Model name (file name).
    protocol : str, optional
        Protocol name (any string; the standard ones are :data:`PROTOCOLS`). With ``metrics``,
        replaces that protocol's entry; other protocols already in the file are kept.
    metrics : dict, optional
        E.g. from :func:`compute_metrics` plus ``n_train``, ``fit_time_s``, ``params``.
    display_name, family, size_bytes, latency_ms : optional model-level fields
        (``family``: ``features|deep|pretrained|ensemble``; size in bytes; latency in ms/clip).
    results : path, optional
        The results folder (default ``models/results``).
    **extra
        Further model-level fields (JSON-serialisable).

    Returns
    -------
    Path
        The file written (atomically).
    """
    folder = Path(results) if results is not None else results_dir()
    folder.mkdir(parents=True, exist_ok=True)
    data = load_result(model, folder)
    data["model"] = model
    for key, val in (("display_name", display_name), ("family", family),
                     ("size_bytes", size_bytes), ("latency_ms", latency_ms), *extra.items()):
        if val is not None:
            data[key] = val
    data.setdefault("display_name", model)
    data.setdefault("protocols", {})
    if protocol is not None and metrics is not None:
        data["protocols"][protocol] = metrics
    path = folder / f"{model}.json"
    fd, tmp = tempfile.mkstemp(prefix=f".{model}-", suffix=".json", dir=folder)
    with os.fdopen(fd, "w") as fh:
        json.dump(jsonable(data), fh, indent=1)
        fh.write("\n")
    os.chmod(tmp, 0o644)  # mkstemp makes it private; results are read by everyone
    os.replace(tmp, path)
    return path


