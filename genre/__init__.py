"""genre: music-genre classification, from any audio file to calibrated probabilities over a model's classes.

Data flows one way::

    bytes/path -> genre.audio -> Signal -> genre.features -> genre.models.feature_models/deep
    genre.training.datasets -> genre.training.train -> genre.training.evaluate -> genre.registry -> genre.predict

Heavy dependencies (TensorFlow, UMAP) are imported lazily by the modules that need them.
"""

from genre.config import FEATURE_COLUMNS, SR

__version__ = "1.0.0"
__all__ = ["FEATURE_COLUMNS", "SR", "__version__"]
