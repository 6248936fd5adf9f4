"""Fitting and shipping the stacked ensemble (offline; the Predictor is :mod:`genre.models.stack`).

:func:`train_and_ship` fits the stack's feature member and meta-classifier on out-of-fold member
probabilities, scores it on the test clips and saves ``models/stack``. Called by
:mod:`genre.training.train_deep`.
"""

from __future__ import annotations

import time
from typing import Callable, Sequence

import numpy as np

from genre.config import FEATURE_COLUMNS
from genre.training.datasets import GTZAN_GENRES
from genre.errors import ModelError
from genre.models.stack import (
    META_C_GRID, LogLinearPool, feature_model, meta_inputs, meta_model, class_proba,
)

def train_and_ship(train, test, y_tr: np.ndarray, y_te: np.ndarray, full: np.ndarray,
                   oof_probs: dict[str, np.ndarray], test_probs: dict[str, np.ndarray],
                   members: Sequence[str], folds, trained_on: str, *, seed: int = 0,
                   say: Callable[[str], None] = print) -> dict:
    """Fit the stack on out-of-fold probabilities, score it on the test clips, ship ``models/stack``.

    Parameters
    ----------
    train, test : DataFrame
        Clip tables (``clip`` column) of the training and test clips.
    y_tr, y_te : np.ndarray
        Genre indices.
    full : np.ndarray
        Boolean mask of full-length test clips (``audio_holdout_full``).
    oof_probs, test_probs : dict
        Member name -> ``(n_train, 10)`` out-of-fold / ``(n_test, 10)`` test probabilities.
    members : sequence of str
        Deep members, in order (must be shipped models).
    folds : list of (train_idx, test_idx)
        Artist-grouped folds over ``train``.

    Returns
    -------
    dict
        ``{protocol: metrics}`` for the results file.
    """
    from genre import registry
    from genre.training.datasets import published_table
    from genre.training.reporting import dir_size as _dir_size, metrics, write_model_result as _write_result

    table = published_table()
    missing = [c for c in list(train["clip"]) + list(test["clip"]) if c not in table.index]
    if missing:
        raise ModelError(f"The stack needs published-table features; missing for {missing[:5]}.")
    F_tr = table.loc[list(train["clip"]), list(FEATURE_COLUMNS)].to_numpy(float)
    F_te = table.loc[list(test["clip"]), list(FEATURE_COLUMNS)].to_numpy(float)

    t0 = time.perf_counter()
    feat_oof = np.zeros((len(F_tr), len(GTZAN_GENRES)))
    for tr, te in folds:
        feat_oof[te] = class_proba(feature_model().fit(F_tr[tr], y_tr[tr]), F_tr[te], len(GTZAN_GENRES))
    feats = feature_model().fit(F_tr, y_tr)
    feat_te = class_proba(feats, F_te, len(GTZAN_GENRES))
    members = list(members)
    X_tr = meta_inputs([feat_oof, *[oof_probs[m] for m in members]])
    X_te = meta_inputs([feat_te, *[test_probs[m] for m in members]])
    # meta C chosen by CV over the out-of-fold training rows (same artist folds); test plays no part
    # candidates: the log-linear pool (one weight per member) and full logistic regressions
    makers = {"loglinear_pool": LogLinearPool, **{f"logreg_C{C:g}": (lambda C=C: meta_model(C)) for C in META_C_GRID}}
    scores = {}
    for cand, make in makers.items():
        P_c = np.zeros((len(X_tr), len(GTZAN_GENRES)))
        for tr, te in folds:
            P_c[te] = class_proba(make().fit(X_tr[tr], y_tr[tr]), X_tr[te], len(GTZAN_GENRES))
        scores[cand] = float((P_c.argmax(1) == y_tr).mean())
    best_c = max(scores, key=lambda c: scores[c])   # ties: the first listed (simplest) wins
    say("stack: meta inner-CV accuracy " + ", ".join(f"{c} {v:.3f}" for c, v in scores.items())
        + f" -> {best_c}")
    meta = makers[best_c]().fit(X_tr, y_tr)
    if isinstance(meta, LogLinearPool):
        say("stack: member weights " + ", ".join(
            f"{n} {w:.2f}" for n, w in zip(["features", *members], meta.coef_)))
    P = class_proba(meta, X_te, len(GTZAN_GENRES))
    fit_s = time.perf_counter() - t0

    def acc(p, y):
        return float((np.asarray(p).argmax(1) == y).mean())

    say(f"stack: members features+{'+'.join(members)}; out-of-fold train accuracy per member: "
        + ", ".join(f"{n} {acc(p, y_tr):.3f}" for n, p in
                    [("features", feat_oof), *[(m, oof_probs[m]) for m in members]]))
    extra = {"n_train": len(train), "fit_time_s": round(fit_s, 2),
             "params": {"members": ["features_logreg", *members], "meta": f"{best_c} on log(p + 1e-3), chosen by CV over the out-of-fold rows",
                        "meta_C_inner_cv_accuracy": {str(k): v for k, v in scores.items()},
                        "oof": "5 artist-grouped folds over the training clips", "seed": seed}}
    res = {"audio_holdout": {**metrics(y_te, P), **extra}}
    if np.any(full):
        res["audio_holdout_full"] = {**metrics(y_te[full], P[full]), **extra}
    # the level-0 feature model alone, for comparison on the same clips
    for k, v in res.items():
        say(f"stack {k}: accuracy {v['accuracy']:.3f} macro-F1 {v['macro_f1']:.3f} (n={v['n_test']}); "
            f"feature member alone {acc(feat_te if k == 'audio_holdout' else feat_te[full], y_te if k == 'audio_holdout' else y_te[full]):.3f}")
    man = {"display_name": "Stacked ensemble (features + deep)", "kind": "stack", "family": "ensemble",
           "classes": list(GTZAN_GENRES), "feature_columns": list(FEATURE_COLUMNS), "input": "audio",
           "members": members, "trained_on": trained_on + "; meta-classifier on out-of-fold probabilities",
           "protocol": "audio_holdout", "n_train": len(train),
           "metrics": {k: {"accuracy": v["accuracy"], "macro_f1": v["macro_f1"]} for k, v in res.items()}}
    path = registry.save_sklearn("stack", {"features": feats, "meta": meta}, {**man, "kind": "stack"})
    size = _dir_size(path) + sum(_dir_size(path.parent / m) for m in members)
    from genre.training.reporting import latency_ms

    _write_result("stack", man["display_name"], "ensemble", res, size_bytes=size, latency_ms=latency_ms("stack"))
    return res
