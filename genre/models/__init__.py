"""Model families behind one small Predictor protocol (runs at prediction time).

One module per family: :mod:`~genre.models.feature_models` (scikit-learn / XGBoost pipelines on
the 57 features), :mod:`~genre.models.deep` (CNN / CRNN on log-mel patches),
:mod:`~genre.models.musicnn` (the pretrained musicnn networks) and :mod:`~genre.models.stack`
(the stacked ensemble). Each family's ``load(model_dir, manifest)`` is a registry loader
(:data:`genre.registry.LOADERS`) and returns an object satisfying :class:`Predictor`.
Fitting lives in :mod:`genre.training`; nothing here imports it.
"""

from __future__ import annotations

from typing import Any, Protocol, runtime_checkable

import numpy as np

__all__ = ["Predictor"]


@runtime_checkable
class Predictor(Protocol):
    """What every registry loader returns.

    ``classes`` are the labels of the probability columns, in order; ``manifest`` is the model's
    verified ``manifest.json``.
    """

    name: str
    manifest: dict

    @property
    def classes(self) -> tuple[str, ...]: ...

    def predict_segments(self, y: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """``y``: mono float32 at 22050 Hz -> ``(starts_s (n,), probs (n, k))``, one row per 3-s segment."""
        ...

    def predict_clip(self, y: np.ndarray) -> np.ndarray:
        """``(k,)`` probabilities for the whole input, in :attr:`classes` order."""
        ...


def __getattr__(name: str) -> Any:
    # Model files saved before the package was split into layers name this type by its old
    # module path ("genre.models.LogVarTransformer"); skops resolves it here.
    if name == "LogVarTransformer":
        from genre.models.feature_models import LogVarTransformer

        return LogVarTransformer
    raise AttributeError(f"module 'genre.models' has no attribute {name!r}")
