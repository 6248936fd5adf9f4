"""Where a classified recording sits among the 1000 GTZAN clips: its map position and its nearest clips.

An :class:`EmbeddingSpace` turns a recording into a vector, places that vector on the Explore
page's 2-D maps (``models/embeddings.parquet``) and lists the nearest GTZAN clips ("sounds
like"). :class:`FeatureSpace` is the space of the 57 standardized features the maps are built
from: PCA and LDA are linear, so refitting them here on the shipped table
(``models/dataset.parquet``, exactly as :func:`genre.training.embeddings.compute` does) projects a
new clip exactly; t-SNE and UMAP have no transform for new points here, so the clip is placed at
the distance-weighted mean of its nearest clips' map positions, and the page says so. Another
space (a pretrained network's embedding) plugs in by implementing the same three methods.
"""

from __future__ import annotations

from typing import Any, Protocol

import numpy as np
import pandas as pd

from genre.config import FEATURE_COLUMNS, SR

__all__ = ["EmbeddingSpace", "FeatureSpace", "EXACT", "NEIGHBOURS", "clip_vector"]

#: Map methods a linear transform projects exactly, and the number of neighbours otherwise used.
EXACT = ("pca", "lda")
NEIGHBOURS = 5


class EmbeddingSpace(Protocol):
    """What the Classify and Explore pages need from a space of clip vectors."""

    name: str

    def vector(self, y: np.ndarray, sr: int = SR, prediction: Any = None) -> np.ndarray: ...

    def place(self, vector: np.ndarray, maps: pd.DataFrame, method: str) -> tuple[float, float, str]: ...

    def neighbours(self, vector: np.ndarray, k: int = NEIGHBOURS) -> pd.DataFrame: ...


def clip_vector(y: np.ndarray, sr: int = SR) -> np.ndarray:
    """The 57 features of a recording: mean over the (at most four) 30-s windows the non-music
    check analyses (:func:`genre.novelty.windows`), so a long file costs at most four analyses."""
    from genre import features
    from genre.novelty import windows

    spans = windows(len(y), sr)
    X = np.vstack([features.clip_features(y[a:b], sr) for a, b in spans])
    return X.mean(axis=0)


class FeatureSpace:
    """The standardized 57-feature space of the shipped GTZAN table.

    Parameters
    ----------
    table : DataFrame
        Index ``clip``; the 57 :data:`FEATURE_COLUMNS`, ``genre``, ``artist``, ``title`` and
        optionally ``audio_path`` (:func:`genre.app.dashboard.shipped_dataset`).
    """

    name = "the 57 audio features (standardized)"

    def __init__(self, table: pd.DataFrame):
        from sklearn.decomposition import PCA
        from sklearn.discriminant_analysis import LinearDiscriminantAnalysis
        from sklearn.neighbors import NearestNeighbors
        from sklearn.preprocessing import StandardScaler

        self.table = table
        X = table[list(FEATURE_COLUMNS)].to_numpy(dtype=np.float64)
        self.scaler = StandardScaler().fit(X)
        Z = self.scaler.transform(X)
        labels = table["genre"].astype(str).to_numpy()
        # the same fits as genre.training.embeddings.compute, so the maps' coordinates match
        self.linear = {"pca": PCA(n_components=2, random_state=0).fit(Z),
                       "lda": LinearDiscriminantAnalysis(n_components=2).fit(Z, labels)}
        self.nn = NearestNeighbors(n_neighbors=NEIGHBOURS).fit(Z)
        self._Z = Z

    def vector(self, y: np.ndarray, sr: int = SR, prediction: Any = None) -> np.ndarray:
        """Standardized features of a recording (uses ``prediction.features`` when present)."""
        feats = getattr(prediction, "features", None)
        v = np.asarray(feats, dtype=np.float64).reshape(-1, len(FEATURE_COLUMNS)).mean(axis=0) \
            if feats is not None else clip_vector(y, sr)
        return self.scaler.transform(v[None, :])[0]

    def project_linear(self, vectors: np.ndarray, method: str) -> np.ndarray:
        """(n, 2) map coordinates of standardized vectors by the refitted PCA or LDA."""
        return self.linear[method].transform(np.atleast_2d(vectors))

    def place(self, vector: np.ndarray, maps: pd.DataFrame, method: str) -> tuple[float, float, str]:
        """``(x, y, how)`` of a standardized vector on ``maps``' ``<method>_x/_y`` columns.

        ``how`` is ``"exact"`` (PCA, LDA: the fitted transform, sign-aligned with the shipped map)
        or ``"nearest-neighbour"`` (t-SNE, UMAP: inverse-distance-weighted mean of the
        :data:`NEIGHBOURS` nearest clips' positions).
        """
        coords = maps.set_index("clip")[[f"{method}_x", f"{method}_y"]].reindex(self.table.index)
        if method in EXACT:
            ref = self.project_linear(self._Z, method)
            z = self.project_linear(vector, method)[0]
            for j in range(2):  # the shipped map may differ by an axis sign (SVD convention)
                if np.corrcoef(ref[:, j], coords.iloc[:, j].to_numpy(dtype=float))[0, 1] < 0:
                    z[j] = -z[j]
            return float(z[0]), float(z[1]), "exact"
        dist, idx = self.nn.kneighbors(np.atleast_2d(vector), n_neighbors=NEIGHBOURS)
        w = 1.0 / np.maximum(dist[0], 1e-9)
        xy = coords.iloc[idx[0]].to_numpy(dtype=float)
        ok = np.isfinite(xy).all(axis=1)
        if not ok.any():
            return float("nan"), float("nan"), "nearest-neighbour"
        p = (xy[ok] * w[ok, None]).sum(axis=0) / w[ok].sum()
        return float(p[0]), float(p[1]), "nearest-neighbour"

    def neighbours(self, vector: np.ndarray, k: int = NEIGHBOURS) -> pd.DataFrame:
        """The ``k`` nearest GTZAN clips: ``clip, genre, artist, title, distance, audio_path``."""
        dist, idx = self.nn.kneighbors(np.atleast_2d(vector), n_neighbors=k)
        rows = self.table.iloc[idx[0]]
        out = pd.DataFrame({
            "clip": rows.index.astype(str), "genre": rows["genre"].astype(str).to_numpy(),
            "artist": rows.get("artist", pd.Series("", index=rows.index)).fillna("").astype(str).to_numpy(),
            "title": rows.get("title", pd.Series("", index=rows.index)).fillna("").astype(str).to_numpy(),
            "distance": dist[0],
            "audio_path": rows.get("audio_path", pd.Series("", index=rows.index)).fillna("").astype(str).to_numpy(),
        })
        return out.reset_index(drop=True)
