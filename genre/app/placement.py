"""Where a classified recording sits among the 1000 GTZAN clips: its map position and its nearest clips.

An :class:`EmbeddingSpace` turns a recording into a vector, places that vector on the Explore
page's 2-D maps (``models/embeddings.parquet``) and lists the nearest GTZAN clips ("sounds
like"). :class:`FeatureSpace` is the space of the 57 standardized features the maps are built
from: PCA and LDA are linear, so refitting them here on the shipped table
(``models/dataset.parquet``, exactly as :func:`genre.training.embeddings.compute` does) projects a
new clip exactly; t-SNE and UMAP have no transform for new points here, so the clip is placed at
the distance-weighted mean of its nearest clips' map positions, and the page says so.

:class:`PretrainedSpace` is the shipped pretrained ensemble's space (``models/pretrained``: its
pooled clip vector, reduced to a compact PCA space by ``python -m genre.training.embeddings --space
pretrained``) over the 565 GTZAN clips with audio, with its own maps
(``models/embeddings_pretrained.parquet`` + ``.npz``): PCA and LDA project exactly by the stored
arrays, t-SNE and UMAP by the same nearest-neighbour placement. Its :meth:`~PretrainedSpace.vector`
reuses the vector the prediction already computed (``Prediction.embedding``) when the same
networks made it.
"""

from __future__ import annotations

from typing import Any, Protocol

import numpy as np
import pandas as pd

from genre.config import FEATURE_COLUMNS, SR

__all__ = ["EmbeddingSpace", "FeatureSpace", "PretrainedSpace", "EXACT", "NEIGHBOURS", "clip_vector",
           "placement_note"]

#: Map methods a linear transform projects exactly, and the number of neighbours otherwise used.
EXACT = ("pca", "lda")
NEIGHBOURS = 5


class EmbeddingSpace(Protocol):
    """What the Classify and Explore pages need from a space of clip vectors.

    ``name`` (a phrase: "nearest in <name>"), ``label`` (a short name for a selector), ``key``
    (``"features"`` or ``"pretrained"``) and ``maps``: the space's own 2-D maps (a frame with
    ``clip`` and ``<method>_x/_y`` columns) or None when they are the Explore page's
    ``models/embeddings.parquet``.
    """

    name: str
    label: str
    key: str
    maps: pd.DataFrame | None

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


def placement_note(how: str, method_name: str) -> str:
    """One sentence saying how the recording was placed on a map (``how`` from ``place``)."""
    if how == "exact":
        return "Placed exactly by the same fitted projection as the map (exact projection)."
    return (f"{method_name} has no formula for new points: the star sits at the weighted mean "
            f"position of its {NEIGHBOURS} nearest clips in this space (nearest-neighbour placement).")


class _NearestClips:
    """Shared by the spaces: ``table`` (index ``clip``; ``genre``, ``artist``, ``title``,
    ``audio_path``), ``_Z`` (one vector per table row) and ``nn`` fitted on it."""

    table: pd.DataFrame
    _Z: np.ndarray

    def _fit_neighbours(self) -> None:
        from sklearn.neighbors import NearestNeighbors

        self.nn = NearestNeighbors(n_neighbors=NEIGHBOURS).fit(self._Z)

    def _neighbour_place(self, vector: np.ndarray, coords: pd.DataFrame) -> tuple[float, float, str]:
        """Inverse-distance-weighted mean of the :data:`NEIGHBOURS` nearest clips' positions."""
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


class FeatureSpace(_NearestClips):
    """The standardized 57-feature space of the shipped GTZAN table.

    Parameters
    ----------
    table : DataFrame
        Index ``clip``; the 57 :data:`FEATURE_COLUMNS`, ``genre``, ``artist``, ``title`` and
        optionally ``audio_path`` (:func:`genre.app.dashboard.shipped_dataset`).
    """

    name = "the 57 audio features (standardized)"
    label = "57 features"
    key = "features"
    maps = None  # the Explore page's models/embeddings.parquet

    def __init__(self, table: pd.DataFrame):
        from sklearn.decomposition import PCA
        from sklearn.discriminant_analysis import LinearDiscriminantAnalysis
        from sklearn.preprocessing import StandardScaler

        self.table = table
        X = table[list(FEATURE_COLUMNS)].to_numpy(dtype=np.float64)
        self.scaler = StandardScaler().fit(X)
        Z = self.scaler.transform(X)
        labels = table["genre"].astype(str).to_numpy()
        # the same fits as genre.training.embeddings.compute, so the maps' coordinates match
        self.linear = {"pca": PCA(n_components=2, random_state=0).fit(Z),
                       "lda": LinearDiscriminantAnalysis(n_components=2).fit(Z, labels)}
        self._Z = Z
        self._fit_neighbours()

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
        return self._neighbour_place(vector, coords)


class PretrainedSpace(_NearestClips):
    """The shipped pretrained ensemble's clip vectors, in the compact PCA space of the 565 GTZAN
    clips with audio (``python -m genre.training.embeddings --space pretrained``).

    Parameters
    ----------
    frame : DataFrame
        The maps file (:func:`genre.training.embeddings.load_pretrained`): ``clip, genre, artist,
        title, ...``, ``<method>_x/_y`` and the compact vectors ``c00 ...``.
    arrays : dict
        :data:`genre.training.embeddings.PROJECTION_ARRAYS`.
    info : dict
        The file's metadata (``embedding_id``, ``tag_transform``, ``dims``, ``command`` ...).
    audio_paths : dict, optional
        clip id -> audio path of the clips whose audio exists here (``{}`` on Community Cloud).
    models_dir : path, optional
        Folder of the ``pretrained`` model that recomputes vectors; default the shipped ``models/``.
    """

    label = "Pretrained network embedding"
    key = "pretrained"

    def __init__(self, frame: pd.DataFrame, arrays: dict, info: dict,
                 audio_paths: dict[str, str] | None = None, models_dir: Any = None):
        cols = sorted(c for c in frame.columns if len(c) == 3 and c[0] == "c" and c[1:].isdigit())
        if not cols:
            raise ValueError("The pretrained-network maps hold no compact vectors (c00 ...).")
        self.maps = frame
        self.arrays = arrays
        self.info = dict(info)
        self.embedding_id = str(self.info.get("embedding_id", ""))
        self.tag_transform = self.info.get("tag_transform")
        self.models_dir = models_dir
        self.name = (f"the pretrained network embedding (4 musicnn networks, {len(cols)}-D PCA of "
                     "the pooled clip vector)")
        table = frame.set_index("clip")[[c for c in ("genre", "artist", "title") if c in frame]].copy()
        paths = audio_paths or {}
        table["audio_path"] = [paths.get(str(c), "") for c in table.index]
        self.table = table
        self._Z = frame[cols].to_numpy(dtype=np.float64)
        self._fit_neighbours()

    @classmethod
    def load(cls, path: Any = None, audio_paths: dict[str, str] | None = None,
             models_dir: Any = None) -> "PretrainedSpace":
        """From the shipped files (default ``models/embeddings_pretrained.parquet`` + ``.npz``).

        Raises
        ------
        genre.errors.DataError
            The files are missing or unreadable.
        """
        from genre.training.embeddings import load_pretrained

        frame, arrays, info = load_pretrained(path)
        return cls(frame, arrays, info, audio_paths=audio_paths, models_dir=models_dir)

    def model_matches(self, manifest: dict | None) -> bool:
        """Does a model with this manifest make the vectors this space was built from?"""
        from genre.models.pretrained import embedding_id

        return bool(manifest) and manifest.get("kind") == "pretrained_onnx" \
            and embedding_id(manifest) == self.embedding_id

    def _predictor(self):
        from genre.config import SHIPPED_MODELS_DIR
        from genre.errors import ModelError
        from genre.predict import load_model

        model = load_model("pretrained", str(self.models_dir or SHIPPED_MODELS_DIR))
        if getattr(model, "embedding_id", None) != self.embedding_id:
            raise ModelError("The pretrained model has changed since its maps were built; rebuild "
                             "them with `python -m genre.training.embeddings --space pretrained`.")
        return model

    def raw_vector(self, y: np.ndarray, sr: int = SR, prediction: Any = None) -> np.ndarray:
        """The ensemble's pooled clip vector (``FEATURE_DIM``): ``prediction.embedding`` when the
        same networks made it (no second pass), else computed by the shipped model."""
        emb = getattr(prediction, "embedding", None)
        if emb is not None and getattr(prediction, "embedding_id", "") == self.embedding_id:
            return np.asarray(emb, dtype=np.float32)
        if sr != SR:
            import librosa

            y = librosa.resample(np.asarray(y, dtype=np.float32), orig_sr=sr, target_sr=SR)
        return self._predictor().pooled_vector(y)

    def vector(self, y: np.ndarray, sr: int = SR, prediction: Any = None) -> np.ndarray:
        """The recording's compact vector (see :meth:`raw_vector` and :meth:`project`)."""
        return self.project(self.raw_vector(y, sr, prediction))[0]

    def project(self, raw: np.ndarray) -> np.ndarray:
        """``(n, dims)`` compact vectors of pooled clip vectors (:func:`genre.training.embeddings.project`)."""
        from genre.training.embeddings import project

        return project(raw, self.arrays, self.tag_transform)

    def project_linear(self, vectors: np.ndarray, method: str) -> np.ndarray:
        """(n, 2) PCA or LDA map coordinates of compact vectors, by the shipped arrays."""
        from genre.training.embeddings import linear_maps

        return linear_maps(vectors, self.arrays)[method]

    def place(self, vector: np.ndarray, maps: pd.DataFrame | None, method: str) -> tuple[float, float, str]:
        """``(x, y, how)`` of a compact vector on this space's maps (``maps`` None: its own).

        ``how`` is ``"exact"`` (PCA, LDA: the stored linear maps, which made the map) or
        ``"nearest-neighbour"`` (t-SNE, UMAP: inverse-distance-weighted mean of the
        :data:`NEIGHBOURS` nearest clips' positions in the compact space).
        """
        if method in EXACT:
            z = self.project_linear(vector, method)[0]
            return float(z[0]), float(z[1]), "exact"
        maps = self.maps if maps is None else maps
        coords = maps.set_index("clip")[[f"{method}_x", f"{method}_y"]].reindex(self.table.index)
        return self._neighbour_place(vector, coords)
