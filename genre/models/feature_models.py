"""Feature models: scikit-learn pipelines on the 57 published features, and their Predictor wrapper.

Every model is a :class:`~sklearn.pipeline.Pipeline` whose preprocessing travels with it:

``logvar``  :class:`LogVarTransformer` -- natural log of the heavy-tailed ``*_var`` columns
            (variances span 4-6 decades); its ``log`` parameter is tuned (on/off).
``scale``   :class:`~sklearn.preprocessing.StandardScaler`.
``clf``     the classifier.

Labels are integer indices into the model's classes (its manifest ``classes``, in order; XGBoost
requires 0..n-1 labels); :class:`FeatureModel` returns probabilities in that order. Any label set of
two or more classes works; GTZAN's ten genres are the shipped models' classes.

Models (the ones the source reports compare): ``knn``, ``logreg``, ``svm`` (RBF SVC with
probabilities from :class:`~sklearn.calibration.CalibratedClassifierCV`), ``random_forest``,
``gradient_boosting`` (HistGradientBoosting), ``xgboost`` (XGBClassifier), ``mlp`` and
``soft_voting`` (soft-voting ensemble of other tuned models).
"""

from __future__ import annotations

from pathlib import Path
from typing import NamedTuple

import numpy as np
from sklearn.base import BaseEstimator, TransformerMixin
from sklearn.pipeline import Pipeline

from genre.errors import ModelError
from genre.threads import one_thread
from genre.config import FEATURE_COLUMNS, SEGMENT_SECONDS, SR

#: Models built by :func:`build`, in leaderboard order. ``soft_voting`` must come last in training.
MODEL_NAMES: tuple[str, ...] = (
    "knn", "logreg", "svm", "random_forest", "gradient_boosting", "xgboost", "mlp", "soft_voting",
)
DISPLAY_NAMES: dict[str, str] = {
    "knn": "k-nearest neighbours", "logreg": "Logistic regression", "svm": "SVM (RBF, calibrated)",
    "random_forest": "Random forest", "gradient_boosting": "Gradient boosting (histogram)",
    "xgboost": "XGBoost", "mlp": "MLP", "soft_voting": "Soft-voting ensemble",
}
#: Models a soft-voting ensemble may draw its members from.
ENSEMBLE_CANDIDATES: tuple[str, ...] = ("logreg", "svm", "random_forest", "gradient_boosting", "xgboost", "mlp")
#: Number of members of the soft-voting ensemble (the best by training-only CV score).
ENSEMBLE_SIZE: int = 3
#: Length (s) of the clips the feature models were trained on.
TRAIN_CLIP_SECONDS: float = 30.0
#: Indices of the variance columns in FEATURE_COLUMNS.
VAR_COLUMNS: tuple[int, ...] = tuple(i for i, c in enumerate(FEATURE_COLUMNS) if c.endswith("_var"))

__all__ = [
    "MODEL_NAMES", "DISPLAY_NAMES", "ENSEMBLE_CANDIDATES", "LogVarTransformer", "build",
    "encode_labels", "FeatureModel", "WindowFeatures", "load_feature_model", "proba_in_class_order",
]


class LogVarTransformer(TransformerMixin, BaseEstimator):
    """Natural log of selected (non-negative) columns; the others pass through.

    Parameters
    ----------
    columns : tuple of int or None
        Column indices to transform; ``None`` = the ``*_var`` columns of FEATURE_COLUMNS.
    log : bool
        Apply the transform (``False`` = identity; lets a grid search switch it).
    eps : float
        Floor applied before the log, so a zero variance (silence) stays finite.
    """

    def __init__(self, columns: tuple[int, ...] | None = None, log: bool = True, eps: float = 1e-10):
        self.columns = columns
        self.log = log
        self.eps = eps

    def fit(self, X, y=None):
        X = np.asarray(X, dtype=float)
        self.n_features_in_ = X.shape[1]
        return self

    def transform(self, X):
        X = np.array(X, dtype=float, copy=True)
        if self.log:
            cols = list(VAR_COLUMNS if self.columns is None else self.columns)
            X[:, cols] = np.log(np.maximum(X[:, cols], self.eps))
        return X


def _pipeline(clf) -> Pipeline:
    from sklearn.preprocessing import StandardScaler

    return Pipeline([("logvar", LogVarTransformer()), ("scale", StandardScaler()), ("clf", clf)])


def _json_to_params(params: dict) -> dict:
    out = {}
    for k, v in params.items():
        out[k] = tuple(v) if k.endswith("hidden_layer_sizes") and isinstance(v, list) else v
    return out


def build(name: str, params: dict | None = None, seed: int = 0) -> tuple[Pipeline, dict]:
    """A fresh, unfitted pipeline and its (small) hyper-parameter grid.

    Parameters
    ----------
    name : str
        One of :data:`MODEL_NAMES`.
    params : dict, optional
        Pipeline parameters to set (as recorded in the results files, e.g. ``{"clf__C": 0.1}``).
        For ``soft_voting``: ``{"members": [names], "<member>": {params of that member}}``.
    seed : int
        Random seed of every random component.

    Returns
    -------
    (Pipeline, dict)
        The pipeline (labels: integer indices into the classes) and the grid for GridSearchCV
        (``{}`` for ``soft_voting``, whose members are tuned on their own).
    """
    from sklearn.calibration import CalibratedClassifierCV
    from sklearn.ensemble import HistGradientBoostingClassifier, RandomForestClassifier, VotingClassifier
    from sklearn.linear_model import LogisticRegression
    from sklearn.neural_network import MLPClassifier
    from sklearn.neighbors import KNeighborsClassifier
    from sklearn.svm import SVC

    params = dict(params or {})
    log = [True, False]
    if name == "knn":
        pipe = _pipeline(KNeighborsClassifier(n_neighbors=15, weights="distance"))
        grid = {"logvar__log": log, "clf__n_neighbors": [5, 9, 15, 25], "clf__weights": ["uniform", "distance"]}
    elif name == "logreg":
        pipe = _pipeline(LogisticRegression(C=0.1, max_iter=5000))
        grid = {"logvar__log": log, "clf__C": [0.01, 0.03, 0.1, 0.3, 1.0]}
    elif name == "svm":
        svc = SVC(kernel="rbf", C=3.0, gamma=0.01, random_state=seed)
        pipe = _pipeline(CalibratedClassifierCV(svc, method="sigmoid", cv=5))
        grid = {"logvar__log": log, "clf__estimator__C": [1.0, 3.0, 10.0, 30.0],
                "clf__estimator__gamma": [0.003, 0.01, 0.03]}
    elif name == "random_forest":
        rf = RandomForestClassifier(n_estimators=200, max_depth=14, min_samples_leaf=1,
                                    max_features="sqrt", random_state=seed, n_jobs=1)
        pipe = _pipeline(rf)
        grid = {"clf__max_features": ["sqrt", 0.3], "clf__min_samples_leaf": [1, 3]}
    elif name == "gradient_boosting":
        hgb = HistGradientBoostingClassifier(learning_rate=0.05, max_iter=200, max_depth=3,
                                             l2_regularization=1.0, early_stopping=False, random_state=seed)
        pipe = _pipeline(hgb)
        grid = {"clf__learning_rate": [0.05, 0.1], "clf__max_depth": [3, 6]}
    elif name == "xgboost":
        from xgboost import XGBClassifier

        xgb = XGBClassifier(n_estimators=300, max_depth=4, learning_rate=0.05, subsample=0.8,
                            colsample_bytree=0.5, tree_method="hist", random_state=seed, n_jobs=1,
                            eval_metric="mlogloss")
        pipe = _pipeline(xgb)
        grid = {"clf__max_depth": [2, 4], "clf__n_estimators": [200, 400]}
    elif name == "mlp":
        mlp = MLPClassifier(hidden_layer_sizes=(64,), alpha=1.0, max_iter=2000, random_state=seed)
        pipe = _pipeline(mlp)
        grid = {"logvar__log": log, "clf__hidden_layer_sizes": [(64,), (128, 64)],
                "clf__alpha": [0.1, 1.0, 3.0]}
    elif name == "soft_voting":
        members = list(params.pop("members", None) or ["logreg", "svm", "xgboost"])
        unknown = [m for m in members if m not in ENSEMBLE_CANDIDATES]
        if unknown:
            raise ValueError(f"soft_voting members must be among {ENSEMBLE_CANDIDATES}, got {unknown}")
        estimators = [(m, build(m, params.pop(m, None), seed)[0]) for m in members]
        pipe = Pipeline([("clf", VotingClassifier(estimators, voting="soft", n_jobs=1))])
        if params:
            pipe.set_params(**_json_to_params(params))
        return pipe, {}
    else:
        raise ValueError(f"Unknown feature model {name!r}; choose from {MODEL_NAMES}.")
    if params:
        pipe.set_params(**_json_to_params(params))
    return pipe, grid


def encode_labels(labels, classes) -> np.ndarray:
    """Label names -> integer indices into ``classes`` (the labels every pipeline is trained on)."""
    lookup = {str(g): i for i, g in enumerate(classes)}
    try:
        return np.array([lookup[str(g)] for g in labels], dtype=np.int64)
    except KeyError as exc:
        raise ValueError(f"Unknown label {exc.args[0]!r}; expected one of {list(classes)}.") from None


def proba_in_class_order(estimator, X, classes) -> np.ndarray:
    """``estimator.predict_proba(X)`` rearranged to (n, len(classes)) columns in ``classes`` order.

    Works for estimators trained on integer indices into ``classes`` (this module) or on the names;
    a class the estimator never saw gets probability 0.
    """
    X = np.asarray(X, dtype=float)
    if X.ndim == 1:
        X = X[None, :]
    p = np.asarray(estimator.predict_proba(X), dtype=float)
    names = list(classes)
    out = np.zeros((p.shape[0], len(names)))
    for j, c in enumerate(estimator.classes_):
        k = names.index(c) if isinstance(c, str) else int(c)
        out[:, k] = p[:, j]
    return out


class WindowFeatures(NamedTuple):
    """Features of one input, as :meth:`FeatureModel.window_features` computes them.

    ``spans``: the sample ranges of :meth:`FeatureModel.clip_windows`; ``X`` (len(spans), 57): their
    clip features; ``starts_s`` (n,) and ``segments`` (n, 57): the 3-s segments (start times in s).
    """

    spans: list
    X: np.ndarray
    starts_s: np.ndarray
    segments: np.ndarray






class FeatureModel:
    """Predictor (DESIGN.md) around a fitted feature pipeline.

    Parameters
    ----------
    estimator : fitted scikit-learn estimator on the 57 FEATURE_COLUMNS.
    manifest : dict
        Its registry manifest (``name`` is taken from it).
    """

    def __init__(self, estimator, manifest: dict | None = None):
        self.estimator = estimator
        self.manifest = dict(manifest or {})
        self.name = self.manifest.get("name", type(estimator).__name__)
        classes = self.manifest.get("classes")
        if not classes:
            raise ModelError(f"Model {self.name!r}: its manifest lists no classes.")
        self.classes = tuple(str(c) for c in classes)

    def __repr__(self) -> str:
        return f"FeatureModel({self.name!r})"

    def predict_features(self, X) -> np.ndarray:
        """Probabilities (n, len(classes)) in :attr:`classes` order for rows of the 57 features (FEATURE_COLUMNS order).

        ``X`` may be an array (n, 57) or (57,), or a DataFrame holding the FEATURE_COLUMNS.
        """
        if hasattr(X, "loc") and hasattr(X, "columns"):
            X = X[list(FEATURE_COLUMNS)].to_numpy(dtype=float)
        X = np.asarray(X, dtype=float)
        if X.ndim == 1:
            X = X[None, :]
        if X.shape[1] != len(FEATURE_COLUMNS):
            raise ValueError(f"Expected {len(FEATURE_COLUMNS)} features per row, got {X.shape[1]}.")
        with one_thread():  # per-row maths: values do not depend on thread count
            return proba_in_class_order(self.estimator, X, self.classes)

    @staticmethod
    def clip_windows(n_samples: int, sr: int = SR, seconds: float = TRAIN_CLIP_SECONDS) -> list[tuple[int, int]]:
        """Sample ranges predict_clip analyses: the whole input up to 1.5 x ``seconds``, else
        consecutive ``seconds``-long windows (a last remainder shorter than half a window is dropped)."""
        win = int(round(seconds * sr))
        if n_samples <= int(1.5 * win):
            return [(0, n_samples)]
        spans = [(a, min(n_samples, a + win)) for a in range(0, n_samples, win)]
        return [(a, b) for a, b in spans if b - a >= win // 2]

    def predict_clip(self, y: np.ndarray) -> np.ndarray:
        """(len(classes),) probabilities for a whole input (mono float32 @ 22050 Hz), :attr:`classes` order.

        The models were trained on 30-s clips: longer inputs are cut into consecutive 30-s
        windows (:meth:`clip_windows`) whose probabilities are averaged.
        """
        from genre.features import clip_features

        y = np.asarray(y, dtype=np.float32)
        X = np.stack([clip_features(y[a:b], sr=SR) for a, b in self.clip_windows(len(y))])
        return self.predict_features(X).mean(axis=0)

    def window_features(self, y: np.ndarray, progress=None) -> WindowFeatures:
        """Clip features of the :meth:`clip_windows` and 3-s segment features, from one analysis.

        An input of up to 45 s is analysed once (:func:`genre.features.analyse`): its clip features
        are ``clip_features(y)`` and its segments ``segment_features(y)``, bit for bit. A longer
        input is analysed in consecutive 30-s blocks (those of :meth:`clip_windows`, plus a last
        remainder shorter than 15 s, analysed for its segments only): each block's clip features
        are ``clip_features`` of that block (as :meth:`predict_clip` computes them) and its 3-s
        segments (which never straddle a block, 30 s being ten segments) are the segments of that
        block's analysis. The segment start times are those of ``segment_features(y)``; the values
        differ slightly from it (HPSS context and chroma tuning are per block, not whole-input).
        ``progress(done, total)``, if given, is called after each analysed block.
        """
        from genre import features

        y = np.asarray(y, dtype=np.float32)
        n = len(y)
        spans = self.clip_windows(n)
        if spans == [(0, n)]:
            an = features.analyse(y, SR)
            starts, S = an.segment_features(SEGMENT_SECONDS, SEGMENT_SECONDS)
            if progress is not None:
                progress(1, 1)
            return WindowFeatures(spans, an.clip_features()[None, :], starts, S)
        win = int(round(TRAIN_CLIP_SECONDS * SR))
        seg = int(round(SEGMENT_SECONDS * SR))
        wanted = set(spans)
        X, starts, S = [], [], []
        total = -(-n // win)
        for k, a in enumerate(range(0, n, win), start=1):
            b = min(n, a + win)
            if (a, b) not in wanted and b - a < seg:
                continue  # no whole segment in it, and not a clip window
            an = features.analyse(y[a:b], SR)
            if (a, b) in wanted:
                X.append(an.clip_features())
            if b - a >= seg:
                st, x = an.segment_features(SEGMENT_SECONDS, SEGMENT_SECONDS, offset=a)
                starts.append(st)
                S.append(x)
            if progress is not None:
                progress(k, total)
        return WindowFeatures(spans, np.stack(X), np.concatenate(starts), np.concatenate(S))

    def predict_windows(self, y: np.ndarray, progress=None) -> tuple[WindowFeatures, np.ndarray, np.ndarray]:
        """Everything ``genre.predict.predict`` needs from one analysis and one model call.

        Returns
        -------
        (WindowFeatures, ndarray (len(spans), k), ndarray (n_segments, k))
            The features (:meth:`window_features`), the probabilities of each clip window (their
            mean is :meth:`predict_clip`) and of each 3-s segment (:meth:`predict_segments`),
            :attr:`classes` order. The rows go through the model in one batch.
        """
        wf = self.window_features(y, progress=progress)
        p = self.predict_features(np.vstack([wf.X, wf.segments]))
        k = len(wf.X)
        return wf, p[:k], p[k:]

    def predict_segments(self, y: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Per 3-s segment: (starts_s (n,), probabilities (n, k) in :attr:`classes` order).

        Segment features as in :meth:`window_features` (``segment_features(y)`` for inputs up
        to 45 s, per 30-s block beyond). Note the model saw 30-s statistics in training; 3-s
        statistics are noisier, so segment probabilities are less reliable than :meth:`predict_clip`.
        """
        wf = self.window_features(y)
        starts = np.asarray(wf.starts_s, dtype=float)
        if len(wf.segments) == 0:
            return starts, np.zeros((0, len(self.classes)))
        return starts, self.predict_features(wf.segments)


def load_feature_model(model_dir: str | Path, manifest: dict) -> FeatureModel:
    """Registry loader for kind ``"sklearn"``: the verified ``model.skops`` as a :class:`FeatureModel`."""
    from genre.registry import load_skops

    estimator = load_skops(Path(model_dir) / "model.skops", manifest)
    return FeatureModel(estimator, manifest)
