"""Stacked ensemble: a logistic-regression meta-classifier on the published 57 features' model
probabilities plus the deep models' probabilities.

Level 0 (members)
    - ``features``: standardise + balanced logistic regression on the 57 published features
      (:data:`genre.config.FEATURE_COLUMNS`; at prediction time computed from the audio with
      :func:`genre.features.clip_features` / :func:`genre.features.segment_features`);
    - the shipped deep models named in the manifest's ``members`` (e.g. ``cnn``, ``crnn``,
      ``musicnn_logreg``), loaded through :mod:`genre.registry`.
Level 1 (meta)
    On ``log(p + 1e-3)`` of every member's 10 probabilities, whichever of these scores best in a CV
    over the out-of-fold training rows (the same artist folds): :class:`LogLinearPool` (one weight
    per member, class-balanced) or a balanced multinomial logistic regression (C in
    :data:`META_C_GRID`).

No leakage: the meta-classifier is fitted on **out-of-fold** member probabilities of the training
clips (artist-grouped folds, :func:`genre.evaluate.artist_folds`, seed 0): each training clip's
probabilities come from member models that saw neither it nor any clip by its artist. The test clips
are scored with the members fitted on all training clips (the shipped ones).

:func:`load` is the registry loader for kind ``"stack"``. TensorFlow is only loaded through the
deep members.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any, Callable, Sequence

import numpy as np

from genre.config import FEATURE_COLUMNS, GENRES, SR
from genre.errors import ModelError

__all__ = ["feature_model", "meta_model", "meta_inputs", "StackPredictor", "load", "train_and_ship"]

#: Floor added to probabilities before the log (keeps one confident zero from dominating).
EPS = 1e-3


def feature_model(C: float = 0.1):
    """Level-0 model on the 57 published features: standardise + balanced logistic regression."""
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    return make_pipeline(StandardScaler(), LogisticRegression(C=C, class_weight="balanced", max_iter=5000))


#: Inverse regularisation strengths tried for the meta-classifier (CV over out-of-fold rows).
META_C_GRID: tuple[float, ...] = (0.01, 0.03, 0.1, 0.3, 1.0)


def meta_model(C: float = 0.3):
    """Level-1 model: balanced multinomial logistic regression on log member probabilities."""
    from sklearn.linear_model import LogisticRegression

    return LogisticRegression(C=C, class_weight="balanced", max_iter=5000)


class LogLinearPool:
    """Meta-classifier with one weight per member: ``softmax(sum_m w_m log p_m + b)``.

    Fitted by minimising the class-balanced cross-entropy (L-BFGS, small L2 penalty ``alpha``);
    ``k + 10`` parameters instead of the ``10 (10 k + 1)`` of a full logistic regression, so it
    cannot overfit a few hundred training clips the way the full one can.
    """

    def __init__(self, n_classes: int = len(GENRES), alpha: float = 1e-3):
        self.n_classes = n_classes
        self.alpha = alpha

    def _logits(self, X: np.ndarray, w: np.ndarray, b: np.ndarray) -> np.ndarray:
        k = X.shape[1] // self.n_classes
        return X.reshape(len(X), k, self.n_classes).transpose(0, 2, 1) @ w + b

    def fit(self, X: np.ndarray, y: np.ndarray) -> "LogLinearPool":
        from scipy.optimize import minimize

        X = np.asarray(X, dtype=np.float64)
        y = np.asarray(y, dtype=int)
        K = self.n_classes
        k = X.shape[1] // K
        counts = np.bincount(y, minlength=K).astype(float)
        sw = (len(y) / (np.count_nonzero(counts) * np.maximum(counts, 1)))[y]
        Y = np.eye(K)[y]
        Xr = X.reshape(len(X), k, K)

        def loss(theta):
            w, b = theta[:k], theta[k:]
            z = np.einsum("nmc,m->nc", Xr, w) + b
            z -= z.max(axis=1, keepdims=True)
            logp = z - np.log(np.exp(z).sum(axis=1, keepdims=True))
            L = -(sw * (Y * logp).sum(axis=1)).sum() / sw.sum() + self.alpha * (theta ** 2).sum()
            G = (np.exp(logp) - Y) * sw[:, None] / sw.sum()
            gw = np.einsum("nmc,nc->m", Xr, G) + 2 * self.alpha * w
            gb = G.sum(axis=0) + 2 * self.alpha * b
            return L, np.concatenate([gw, gb])

        theta0 = np.concatenate([np.full(k, 1.0 / k), np.zeros(K)])
        res = minimize(loss, theta0, jac=True, method="L-BFGS-B")
        self.coef_ = res.x[:k]
        self.intercept_ = res.x[k:]
        self.classes_ = np.arange(K)
        return self

    def predict_proba(self, X: np.ndarray) -> np.ndarray:
        X = np.asarray(X, dtype=np.float64)
        z = np.einsum("nmc,m->nc", X.reshape(len(X), -1, self.n_classes), self.coef_) + self.intercept_
        z -= z.max(axis=1, keepdims=True)
        e = np.exp(z)
        return e / e.sum(axis=1, keepdims=True)

    def predict(self, X: np.ndarray) -> np.ndarray:
        return self.predict_proba(X).argmax(axis=1)


def meta_inputs(probs: Sequence[np.ndarray]) -> np.ndarray:
    """Concatenate member probabilities ``[(n, 10), ...]`` into ``(n, 10 * k)`` log-probabilities."""
    return np.concatenate([np.log(np.asarray(p, dtype=np.float64) + EPS) for p in probs], axis=1)


def _proba10(est: Any, X: np.ndarray) -> np.ndarray:
    p = est.predict_proba(X)
    out = np.zeros((len(X), len(GENRES)))
    out[:, [int(c) for c in est.classes_]] = p
    return out


class StackPredictor:
    """The stacked ensemble behind the shared Predictor interface.

    Parameters
    ----------
    features : sklearn estimator
        Level-0 model on the 57 features (``classes_`` are genre indices).
    meta : sklearn estimator
        Level-1 model.
    members : dict
        Member name -> Predictor (deep models), in manifest order.
    manifest : dict
    """

    def __init__(self, features: Any, meta: Any, members: dict[str, Any], manifest: dict):
        self.features = features
        self.meta = meta
        self.members = members
        self.manifest = manifest
        self.name = manifest.get("name", "stack")

    def _combine(self, feats: np.ndarray, member_probs: list[np.ndarray]) -> np.ndarray:
        X = meta_inputs([_proba10(self.features, feats), *member_probs])
        return _proba10(self.meta, X)

    def predict_clip(self, y: np.ndarray) -> np.ndarray:
        """``(10,)`` probabilities for the whole input (mono float32 at 22050 Hz)."""
        from genre.features import clip_features

        f = np.asarray(clip_features(y, sr=SR), dtype=np.float64)[None]
        probs = [np.asarray(m.predict_clip(y))[None] for m in self.members.values()]
        return self._combine(f, probs)[0]

    def predict_segments(self, y: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Per 3-s segment (the feature segments' grid); each member's nearest segment is used."""
        from genre.features import segment_features

        starts, F = segment_features(y, sr=SR, seconds=3.0, hop=3.0)
        starts = np.asarray(starts, dtype=float)
        probs = []
        for m in self.members.values():
            s, p = m.predict_segments(y)
            s = np.asarray(s, dtype=float)
            idx = np.abs(s[None, :] - starts[:, None]).argmin(axis=1)
            probs.append(np.asarray(p)[idx])
        return starts, self._combine(np.asarray(F, dtype=np.float64), probs)


def load(model_dir: str | Path, manifest: dict) -> StackPredictor:
    """Registry loader for kind ``"stack"``: ``model.skops`` (level 0 features + meta) + members."""
    from genre import registry

    d = registry.load_skops(Path(model_dir) / "model.skops", manifest)
    if not isinstance(d, dict) or not {"features", "meta"} <= set(d):
        raise ModelError(f"{model_dir}/model.skops does not hold a stacked ensemble.")
    names = list(manifest.get("members") or [])
    members = {n: registry.load(n, Path(model_dir).parent) for n in names}
    return StackPredictor(d["features"], d["meta"], members, manifest)


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
    from genre.datasets import published_table
    from genre.train_deep import _dir_size, _write_result, metrics

    table = published_table()
    missing = [c for c in list(train["clip"]) + list(test["clip"]) if c not in table.index]
    if missing:
        raise ModelError(f"The stack needs published-table features; missing for {missing[:5]}.")
    F_tr = table.loc[list(train["clip"]), list(FEATURE_COLUMNS)].to_numpy(float)
    F_te = table.loc[list(test["clip"]), list(FEATURE_COLUMNS)].to_numpy(float)

    t0 = time.perf_counter()
    feat_oof = np.zeros((len(F_tr), len(GENRES)))
    for tr, te in folds:
        feat_oof[te] = _proba10(feature_model().fit(F_tr[tr], y_tr[tr]), F_tr[te])
    feats = feature_model().fit(F_tr, y_tr)
    feat_te = _proba10(feats, F_te)
    members = list(members)
    X_tr = meta_inputs([feat_oof, *[oof_probs[m] for m in members]])
    X_te = meta_inputs([feat_te, *[test_probs[m] for m in members]])
    # meta C chosen by CV over the out-of-fold training rows (same artist folds); test plays no part
    # candidates: the log-linear pool (one weight per member) and full logistic regressions
    makers = {"loglinear_pool": LogLinearPool, **{f"logreg_C{C:g}": (lambda C=C: meta_model(C)) for C in META_C_GRID}}
    scores = {}
    for cand, make in makers.items():
        P_c = np.zeros((len(X_tr), len(GENRES)))
        for tr, te in folds:
            P_c[te] = _proba10(make().fit(X_tr[tr], y_tr[tr]), X_tr[te])
        scores[cand] = float((P_c.argmax(1) == y_tr).mean())
    best_c = max(scores, key=lambda c: scores[c])   # ties: the first listed (simplest) wins
    say("stack: meta inner-CV accuracy " + ", ".join(f"{c} {v:.3f}" for c, v in scores.items())
        + f" -> {best_c}")
    meta = makers[best_c]().fit(X_tr, y_tr)
    if isinstance(meta, LogLinearPool):
        say("stack: member weights " + ", ".join(
            f"{n} {w:.2f}" for n, w in zip(["features", *members], meta.coef_)))
    P = _proba10(meta, X_te)
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
           "classes": list(GENRES), "feature_columns": list(FEATURE_COLUMNS), "input": "audio",
           "members": members, "trained_on": trained_on + "; meta-classifier on out-of-fold probabilities",
           "protocol": "audio_holdout", "n_train": len(train),
           "metrics": {k: {"accuracy": v["accuracy"], "macro_f1": v["macro_f1"]} for k, v in res.items()}}
    path = registry.save_sklearn("stack", {"features": feats, "meta": meta}, {**man, "kind": "stack"})
    size = _dir_size(path) + sum(_dir_size(path.parent / m) for m in members)
    from genre.train_deep import latency_ms

    _write_result("stack", man["display_name"], "ensemble", res, size_bytes=size, latency_ms=latency_ms("stack"))
    return res
