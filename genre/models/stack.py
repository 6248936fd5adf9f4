"""Stacked ensemble: a logistic-regression meta-classifier on the published 57 features' model
probabilities plus the deep models' probabilities.

Level 0 (members)
    - ``features``: standardise + balanced logistic regression on the 57 published features
      (:data:`genre.config.FEATURE_COLUMNS`; at prediction time computed from the audio with
      :func:`genre.features.clip_features` / :func:`genre.features.segment_features`);
    - the shipped deep models named in the manifest's ``members`` (e.g. ``cnn``, ``crnn``,
      ``musicnn_logreg``), loaded through :mod:`genre.registry`.
Level 1 (meta)
    On ``log(p + 1e-3)`` of every member's class probabilities, whichever of these scores best in a CV
    over the out-of-fold training rows (the same artist folds): :class:`LogLinearPool` (one weight
    per member, class-balanced) or a balanced multinomial logistic regression (C in
    :data:`META_C_GRID`).

No leakage: the meta-classifier is fitted on **out-of-fold** member probabilities of the training
clips (artist-grouped folds, :func:`genre.training.evaluate.artist_folds`, seed 0): each training clip's
probabilities come from member models that saw neither it nor any clip by its artist. The test clips
are scored with the members fitted on all training clips (the shipped ones).

Fitting lives in :mod:`genre.training.stack_fit`. :func:`load` is the registry loader for kind ``"stack"``. TensorFlow is only loaded through the
deep members.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Sequence

import numpy as np

from genre.config import SR
from genre.errors import ModelError

__all__ = ["feature_model", "meta_model", "meta_inputs", "StackPredictor", "load", "LogLinearPool", "class_proba"]

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

    def __init__(self, n_classes: int = 10, alpha: float = 1e-3):
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
    """Concatenate member probabilities ``[(n, c), ...]`` into ``(n, c * k)`` log-probabilities."""
    return np.concatenate([np.log(np.asarray(p, dtype=np.float64) + EPS) for p in probs], axis=1)


def class_proba(est: Any, X: np.ndarray, n_classes: int) -> np.ndarray:
    """``est.predict_proba(X)`` as ``(n, n_classes)`` columns (``est.classes_`` are class indices;
    a class the estimator never saw gets probability 0)."""
    p = est.predict_proba(X)
    out = np.zeros((len(X), int(n_classes)))
    out[:, [int(c) for c in est.classes_]] = p
    return out


class StackPredictor:
    """The stacked ensemble behind the shared Predictor interface.

    Parameters
    ----------
    features : sklearn estimator
        Level-0 model on the 57 features (``classes_`` are class indices).
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
        self.classes = tuple(str(c) for c in manifest.get("classes") or ())
        if not self.classes:
            raise ModelError(f"Stack {self.name!r}: its manifest lists no classes.")
        for n, m in members.items():
            mc = tuple(getattr(m, "classes", self.classes))
            if mc != self.classes:
                raise ModelError(f"Stack {self.name!r}: member {n!r} answers in classes {list(mc)}, "
                                 f"the stack in {list(self.classes)}.")

    def _combine(self, feats: np.ndarray, member_probs: list[np.ndarray]) -> np.ndarray:
        k = len(self.classes)
        X = meta_inputs([class_proba(self.features, feats, k), *member_probs])
        return class_proba(self.meta, X, k)

    def predict_clip(self, y: np.ndarray) -> np.ndarray:
        """``(k,)`` probabilities (:attr:`classes` order) for the whole input (mono float32 at 22050 Hz)."""
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
