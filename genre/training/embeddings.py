"""Offline 2-D embeddings of the 1000 GTZAN clips, cached as data for the explorer page.

``python -m genre.training.embeddings`` standardizes the 57 published features of every clip
(:func:`genre.training.datasets.dataset_table`), projects them to 2-D with PCA, t-SNE, UMAP and LDA, adds
an outlier score, and writes ``models/embeddings.parquet``. The dashboard only *reads* that file
(:func:`load`); UMAP (about 13 s of numba compilation on first use) never runs on page load.

Columns of the file: ``clip, genre, artist, title, split, has_audio, audio_kind``,
``pca_x, pca_y, tsne_x, tsne_y, umap_x, umap_y, lda_x, lda_y``, ``outlier_score`` (local outlier
factor in the standardized 57-D space; about 1 for typical clips, larger = more isolated),
``neighbour_agreement`` (share of the 10 nearest clips with the same label; low = sits among
another genre, a candidate mislabel), ``outlier`` (bool: in the top 5 % by ``outlier_score``).

The pretrained network's space (``python -m genre.training.embeddings --space pretrained``,
:func:`compute_pretrained`): the shipped ``models/pretrained`` ensemble's clip vector of every GTZAN
clip with audio (565; :meth:`genre.models.pretrained.PretrainedPredictor.pooled_vector`, the vector
its head classifies: same loudness normalisation, same patches), tags as logits when the head
takes them so, standardised and reduced by PCA to :data:`PRETRAINED_DIMS` dimensions fitted on
these clips (the "compact" space). The maps are computed there: PCA = its first two components,
LDA, t-SNE, UMAP. It writes ``models/embeddings_pretrained.parquet`` (the columns above minus the
57-feature ones, plus ``c00 ... c<dims-1>``: each clip's compact vector; the command, the model's
``embedding_id`` and the explained variance in the Parquet metadata key ``genre``) and
``models/embeddings_pretrained.npz`` (plain arrays, :data:`PROJECTION_ARRAYS`: what projects a new
clip vector into the compact space and onto the PCA and LDA maps, :func:`project`).
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd

from genre.config import FEATURE_COLUMNS, MODELS_DIR
from genre.errors import DataError

__all__ = ["METHODS", "DEFAULT_PATH", "PRETRAINED_PATH", "PRETRAINED_DIMS", "PROJECTION_ARRAYS",
           "compute", "save", "load", "pretrained_vectors", "compute_pretrained", "save_pretrained",
           "load_pretrained", "project", "linear_maps", "main"]

#: Projection methods, in display order, with a short description each.
METHODS: dict[str, str] = {
    "pca": "PCA: linear, unsupervised; the two directions of largest variance.",
    "tsne": "t-SNE: non-linear, unsupervised; keeps local neighbourhoods, distances between "
            "clusters mean little.",
    "umap": "UMAP: non-linear, unsupervised; keeps local neighbourhoods and some global layout.",
    "lda": "LDA: linear and supervised (uses the genre labels), so it separates genres by "
           "construction; it is fit on all 1000 clips and is not a measure of accuracy.",
}
#: Where ``python -m genre.training.embeddings`` writes and :func:`load` reads.
DEFAULT_PATH: Path = MODELS_DIR / "embeddings.parquet"
#: Where ``--space pretrained`` writes the pretrained network's maps (and, beside it, ``.npz``).
PRETRAINED_PATH: Path = MODELS_DIR / "embeddings_pretrained.parquet"
#: Dimensions of the compact pretrained space (PCA of the standardised clip vectors).
PRETRAINED_DIMS: int = 32
#: The arrays of ``embeddings_pretrained.npz``: standardisation (``scale_mean``, ``scale_std``),
#: PCA (``pca_mean``, ``pca_components`` (dims, FEATURE_DIM)), LDA on the compact vectors
#: (``lda_mean`` (dims,), ``lda_scalings`` (dims, 2)).
PROJECTION_ARRAYS: tuple[str, ...] = ("scale_mean", "scale_std", "pca_mean", "pca_components",
                                      "lda_mean", "lda_scalings")
#: Share of clips flagged as outliers.
OUTLIER_SHARE: float = 0.05
_META_COLUMNS = ("genre", "artist", "title", "split", "has_audio", "audio_kind")


def _import_umap():
    """Import umap without letting it pull in TensorFlow (its optional parametric mode)."""
    hidden = False
    if "tensorflow" not in sys.modules:
        sys.modules["tensorflow"] = None  # type: ignore[assignment]
        hidden = True
    try:
        import umap
    finally:
        if hidden and sys.modules.get("tensorflow", 0) is None:
            del sys.modules["tensorflow"]
    return umap


def compute(table: pd.DataFrame | None = None, *, methods=tuple(METHODS), random_state: int = 0,
            verbose: bool = False) -> pd.DataFrame:
    """Project every clip's standardized features to 2-D.

    Parameters
    ----------
    table : DataFrame, optional
        Index ``clip``; the 57 :data:`FEATURE_COLUMNS` and ``genre`` (other metadata columns are
        copied if present). Default: :func:`genre.training.datasets.dataset_table`.
    methods : iterable of str
        Any of :data:`METHODS`.
    random_state : int
        Seed for t-SNE and UMAP (results are reproducible on one machine).

    Returns
    -------
    DataFrame
        One row per clip (column ``clip``), see the module docstring for the columns.
    """
    from sklearn.discriminant_analysis import LinearDiscriminantAnalysis
    from sklearn.decomposition import PCA
    from sklearn.preprocessing import StandardScaler

    if table is None:
        from genre.training.datasets import dataset_table
        table = dataset_table()
    unknown = set(methods) - set(METHODS)
    if unknown:
        raise ValueError(f"Unknown embedding methods {sorted(unknown)}; choose from {list(METHODS)}.")
    missing = [c for c in (*FEATURE_COLUMNS, "genre") if c not in table.columns]
    if missing:
        raise DataError(f"The feature table lacks columns {missing[:5]}.")
    X = StandardScaler().fit_transform(table[list(FEATURE_COLUMNS)].to_numpy(dtype=np.float64))
    labels = table["genre"].astype(str).to_numpy()
    out = pd.DataFrame({"clip": table.index.astype(str)})
    for col in _META_COLUMNS:
        if col in table.columns:
            out[col] = table[col].to_numpy()
    if "has_audio" in out:
        out["has_audio"] = out["has_audio"].astype(bool)

    def log(msg: str) -> None:
        if verbose:
            print(msg, flush=True)

    for m in methods:
        t0 = time.perf_counter()
        if m == "pca":
            Z = PCA(n_components=2, random_state=random_state).fit_transform(X)
        elif m == "tsne":
            from sklearn.manifold import TSNE
            Z = TSNE(n_components=2, perplexity=30.0, init="pca", random_state=random_state,
                     n_jobs=1).fit_transform(X)
        elif m == "umap":
            umap = _import_umap()
            Z = umap.UMAP(n_components=2, n_neighbors=15, min_dist=0.1,
                          random_state=random_state, n_jobs=1).fit_transform(X)
        else:  # lda
            Z = LinearDiscriminantAnalysis(n_components=2).fit_transform(X, labels)
        out[f"{m}_x"], out[f"{m}_y"] = Z[:, 0].astype(np.float32), Z[:, 1].astype(np.float32)
        log(f"{m}: {time.perf_counter() - t0:.1f} s")

    return _neighbour_scores(out, X, labels)


def _neighbour_scores(out: pd.DataFrame, X: np.ndarray, labels: np.ndarray) -> pd.DataFrame:
    """Add ``outlier_score``, ``neighbour_agreement``, ``outlier`` (see the module docstring)."""
    from sklearn.neighbors import LocalOutlierFactor, NearestNeighbors

    lof = LocalOutlierFactor(n_neighbors=20).fit(X)
    out["outlier_score"] = (-lof.negative_outlier_factor_).astype(np.float32)
    _, idx = NearestNeighbors(n_neighbors=11).fit(X).kneighbors(X)
    out["neighbour_agreement"] = (labels[idx[:, 1:]] == labels[:, None]).mean(axis=1).astype(np.float32)
    cut = np.quantile(out["outlier_score"], 1 - OUTLIER_SHARE)
    out["outlier"] = out["outlier_score"] >= cut
    return out


# ------------------------------------------------------------------ the pretrained network's space

def _vector_job(path: str, model_dir: str) -> np.ndarray:
    """One clip's pooled vector through the shipped predictor (loaded once per process)."""
    from genre.audio import load as load_audio
    from genre.predict import load_model

    predictor = load_model("pretrained", model_dir)
    # GTZAN's 2-3-s excerpts are below the dashboard's 3-s minimum; the networks repeat-pad them
    # to one patch, as genre.training.pretrained_fit does
    y = load_audio(path, min_seconds=0.5).y
    return predictor.pooled_vector(y)


def pretrained_vectors(clips: pd.DataFrame | None = None, models_dir: str | Path | None = None,
                       jobs: int = 1, verbose: bool = True) -> tuple[np.ndarray, dict]:
    """Clip vectors of the shipped pretrained ensemble for GTZAN clips with audio.

    Parameters
    ----------
    clips : DataFrame, optional
        ``clip`` and ``path`` columns; default every clip of ``clips.csv``
        (:func:`genre.training.datasets.clips_index`).
    models_dir : path, optional
        Folder holding ``pretrained/``; default the shipped ``models/``.
    jobs : int
        joblib processes (each loads the model once; 1 = here).

    Returns
    -------
    V : np.ndarray
        ``(n, FEATURE_DIM)`` float32, :meth:`~genre.models.pretrained.PretrainedPredictor.pooled_vector`
        of each clip: the vector the model's head classifies.
    info : dict
        ``model`` (its display name), ``embedding_id``, ``tag_transform``, ``seconds``.
    """
    from joblib import Parallel, delayed
    from tqdm.auto import tqdm

    from genre.config import SHIPPED_MODELS_DIR
    from genre.predict import load_model

    if clips is None:
        from genre.training.datasets import clips_index
        clips = clips_index().drop_duplicates("clip").reset_index(drop=True)
    folder = str(models_dir if models_dir is not None else SHIPPED_MODELS_DIR)
    predictor = load_model("pretrained", folder)
    t0 = time.perf_counter()
    paths = [str(p) for p in clips["path"]]
    if jobs == 1:
        V = [_vector_job(p, folder) for p in tqdm(paths, desc="clip vectors", unit="clip",
                                                   disable=not verbose, mininterval=5)]
    else:
        V = Parallel(n_jobs=jobs, verbose=5 if verbose else 0)(delayed(_vector_job)(p, folder) for p in paths)
    info = {"model": predictor.manifest.get("display_name", predictor.name),
            "embedding_id": predictor.embedding_id, "tag_transform": predictor.tag_transform,
            "seconds": round(time.perf_counter() - t0, 1)}
    return np.vstack(V).astype(np.float32), info


def _cached_vectors(clips: pd.DataFrame, jobs: int = 1) -> tuple[np.ndarray, dict]:
    """:func:`pretrained_vectors`, kept in ``.cache/pretrained/space_<embedding_id>.npz`` (keyed
    by the model's :func:`~genre.models.pretrained.embedding_id` and the clip list), so changing
    only the reduction or the maps does not rerun the networks (about 0.8 s per clip)."""
    import json

    from genre.config import CACHE_DIR, SHIPPED_MODELS_DIR
    from genre.models.pretrained import embedding_id

    man = json.loads((SHIPPED_MODELS_DIR / "pretrained" / "manifest.json").read_text())
    cache = CACHE_DIR / "pretrained" / f"space_{embedding_id(man)}.npz"
    ids = clips["clip"].astype(str).to_numpy().astype("U")
    if cache.is_file():
        try:
            with np.load(cache, allow_pickle=False) as z:
                if list(z["clips"]) == list(ids):
                    return z["V"], json.loads(str(z["info"]))
        except (OSError, ValueError, KeyError) as exc:  # a damaged cache is recomputed
            print(f"ignoring the cache {cache.name}: {exc}", flush=True)
    V, info = pretrained_vectors(clips, jobs=jobs)
    cache.parent.mkdir(parents=True, exist_ok=True)
    np.savez(cache, V=V, clips=ids, info=np.asarray(json.dumps(info)))
    return V, info


def project(V: np.ndarray, arrays: dict, tag_transform: str | None = None) -> np.ndarray:
    """Clip vectors ``V`` ``(n, FEATURE_DIM)`` -> ``(n, dims)`` compact vectors (float64):
    tags as the head sees them (:func:`genre.models.pretrained.transform`), standardised, PCA."""
    from genre.models.pretrained import transform

    F = transform(np.atleast_2d(np.asarray(V, dtype=np.float32)), tag_transform).astype(np.float64)
    Z = (F - arrays["scale_mean"]) / arrays["scale_std"]
    return (Z - arrays["pca_mean"]) @ np.asarray(arrays["pca_components"], dtype=np.float64).T


def linear_maps(C: np.ndarray, arrays: dict) -> dict[str, np.ndarray]:
    """``{"pca": (n, 2), "lda": (n, 2)}`` map coordinates of compact vectors ``C``: the first two
    principal components, and the LDA transform (``(C - lda_mean) @ lda_scalings``)."""
    C = np.atleast_2d(np.asarray(C, dtype=np.float64))
    return {"pca": C[:, :2].copy(),
            "lda": (C - arrays["lda_mean"]) @ np.asarray(arrays["lda_scalings"], dtype=np.float64)}


def compute_pretrained(V: np.ndarray, meta: pd.DataFrame, *, dims: int = PRETRAINED_DIMS,
                       tag_transform: str | None = "logit", methods=tuple(METHODS),
                       random_state: int = 0, verbose: bool = False) -> tuple[pd.DataFrame, dict, dict]:
    """Maps of the pretrained network's space from clip vectors ``V`` (one row per ``meta`` row).

    Parameters
    ----------
    V : np.ndarray
        ``(n, FEATURE_DIM)`` clip vectors (:func:`pretrained_vectors`).
    meta : DataFrame
        ``clip``, ``genre`` and optionally ``artist, title, split, kind`` per row of ``V``.
    dims : int
        Dimensions of the compact space (PCA of the standardised vectors).

    Returns
    -------
    frame : DataFrame
        One row per clip: ``clip, genre, artist, title, split, has_audio, audio_kind``, the
        ``<method>_x/_y`` columns, the neighbour scores and ``c00 ...`` (the compact vector).
    arrays : dict
        :data:`PROJECTION_ARRAYS` (float32).
    info : dict
        ``dims``, ``explained_variance`` (share of the standardised variance kept).
    """
    from sklearn.decomposition import PCA
    from sklearn.discriminant_analysis import LinearDiscriminantAnalysis
    from genre.models.pretrained import transform

    labels = meta["genre"].astype(str).to_numpy()
    F = transform(np.asarray(V, dtype=np.float32), tag_transform).astype(np.float64)
    mean, std = F.mean(axis=0), F.std(axis=0)
    std = np.where(std > 1e-8, std, 1.0)
    dims = int(min(dims, len(F) - 1, F.shape[1]))
    pca = PCA(n_components=dims, svd_solver="full", random_state=random_state).fit((F - mean) / std)
    arrays = {"scale_mean": mean, "scale_std": std, "pca_mean": pca.mean_,
              "pca_components": pca.components_}
    arrays = {k: np.asarray(v, dtype=np.float32) for k, v in arrays.items()}
    C = project(V, arrays, tag_transform)  # exactly what placing a new clip computes
    lda = LinearDiscriminantAnalysis(n_components=2, solver="svd").fit(C, labels)
    arrays["lda_mean"] = np.asarray(lda.xbar_, dtype=np.float32)
    arrays["lda_scalings"] = np.asarray(lda.scalings_[:, :2], dtype=np.float32)

    out = pd.DataFrame({"clip": meta["clip"].astype(str).to_numpy(), "genre": labels})
    for col in ("artist", "title", "split"):
        out[col] = meta[col].fillna("").astype(str).to_numpy() if col in meta else ""
    out["has_audio"] = True
    out["audio_kind"] = meta["kind"].astype(str).to_numpy() if "kind" in meta else ""
    lin = linear_maps(C, arrays)
    for m in methods:
        t0 = time.perf_counter()
        if m in lin:
            Z = lin[m]
        elif m == "tsne":
            from sklearn.manifold import TSNE
            Z = TSNE(n_components=2, perplexity=30.0, init="pca", random_state=random_state,
                     n_jobs=1).fit_transform(C)
        else:  # umap
            umap = _import_umap()
            Z = umap.UMAP(n_components=2, n_neighbors=15, min_dist=0.1,
                          random_state=random_state, n_jobs=1).fit_transform(C)
        out[f"{m}_x"], out[f"{m}_y"] = Z[:, 0].astype(np.float32), Z[:, 1].astype(np.float32)
        if verbose:
            print(f"{m}: {time.perf_counter() - t0:.1f} s", flush=True)
    _neighbour_scores(out, C, labels)
    for j in range(C.shape[1]):
        out[f"c{j:02d}"] = C[:, j].astype(np.float32)
    info = {"dims": dims, "explained_variance": round(float(pca.explained_variance_ratio_.sum()), 4),
            "tag_transform": tag_transform}
    return out, arrays, info


def save_pretrained(frame: pd.DataFrame, arrays: dict, info: dict,
                    path: str | Path = PRETRAINED_PATH) -> tuple[Path, Path]:
    """Write ``path`` (Parquet, ``info`` as JSON under the metadata key ``genre``) and the
    projection arrays beside it (``.npz``, plain arrays)."""
    import json

    import pyarrow as pa
    import pyarrow.parquet as pq

    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    table = pa.Table.from_pandas(frame, preserve_index=False)
    table = table.replace_schema_metadata({**(table.schema.metadata or {}),
                                           b"genre": json.dumps(info, sort_keys=True).encode()})
    pq.write_table(table, path, compression="zstd")
    npz = path.with_suffix(".npz")
    with open(npz, "wb") as f:
        np.savez_compressed(f, **{k: np.asarray(arrays[k]) for k in PROJECTION_ARRAYS})
    return path, npz


def load_pretrained(path: str | Path | None = None) -> tuple[pd.DataFrame, dict, dict]:
    """``(frame, arrays, info)`` of the pretrained network's maps (see :func:`save_pretrained`).

    Raises
    ------
    DataError
        Either file is missing or unreadable, or an array is missing.
    """
    import json

    import pyarrow.parquet as pq

    path = Path(path) if path is not None else PRETRAINED_PATH
    npz = path.with_suffix(".npz")
    if not path.is_file() or not npz.is_file():
        raise DataError(f"No pretrained-network maps at {path}. Compute them once with "
                        "`python -m genre.training.embeddings --space pretrained`.")
    try:
        frame = pd.read_parquet(path)
        raw = (pq.read_schema(path).metadata or {}).get(b"genre", b"{}")
        info = json.loads(raw.decode())
        with np.load(npz, allow_pickle=False) as z:
            arrays = {k: np.asarray(z[k]) for k in z.files}
    except Exception as exc:  # pyarrow / numpy raise several types for a bad file
        raise DataError(f"Could not read the pretrained-network maps {path}: {exc}") from exc
    missing = [k for k in PROJECTION_ARRAYS if k not in arrays]
    if missing:
        raise DataError(f"The pretrained-network maps {npz} lack the arrays {missing}.")
    return frame, arrays, info


def save(frame: pd.DataFrame, path: str | Path = DEFAULT_PATH) -> Path:
    """Write ``frame`` as Parquet (creating the folder)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    frame.to_parquet(path, index=False)
    return path


def load(path: str | Path | None = None) -> pd.DataFrame:
    """Read the cached embeddings; raises :class:`DataError` if they were never computed."""
    path = Path(path) if path is not None else DEFAULT_PATH
    if not path.is_file():
        raise DataError(f"No embeddings at {path}. Compute them once with `python -m genre.training.embeddings`.")
    try:
        return pd.read_parquet(path)
    except Exception as exc:  # pyarrow raises several types for a bad file
        raise DataError(f"Could not read the embeddings file {path}: {exc}") from exc


def main(argv: list[str] | None = None) -> int:
    """Command line: ``python -m genre.training.embeddings [--space features|pretrained] [--out PATH]
    [--methods pca,tsne,umap,lda] [--dims N] [--jobs N]``."""
    import argparse

    ap = argparse.ArgumentParser(prog="python -m genre.training.embeddings", description=__doc__.splitlines()[0])
    ap.add_argument("--space", choices=("features", "pretrained"), default="features",
                    help="features: the 57 published features of all 1000 clips (models/embeddings.parquet); "
                         "pretrained: the shipped pretrained ensemble's clip vectors of the 565 clips "
                         "with audio (models/embeddings_pretrained.parquet + .npz; needs the GTZAN audio)")
    ap.add_argument("--out", default=None, help="Parquet file to write (default: per space)")
    ap.add_argument("--methods", default=",".join(METHODS), help="comma-separated subset of "
                    + ",".join(METHODS))
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--dims", type=int, default=PRETRAINED_DIMS, help="pretrained: compact dimensions")
    ap.add_argument("--jobs", type=int, default=1, help="pretrained: joblib processes for the clip vectors")
    args = ap.parse_args(argv)
    t0 = time.perf_counter()
    methods = [m.strip() for m in args.methods.split(",") if m.strip()]
    if args.space == "pretrained":
        import datetime

        from genre.training.datasets import clips_index

        clips = clips_index().drop_duplicates("clip").reset_index(drop=True)
        V, vinfo = _cached_vectors(clips, args.jobs)
        print(f"{len(V)} clip vectors in {vinfo['seconds']:.0f} s", flush=True)
        frame, arrays, info = compute_pretrained(V, clips, dims=args.dims,
                                                 tag_transform=vinfo["tag_transform"], methods=methods,
                                                 random_state=args.seed, verbose=True)
        cmd = "python -m genre.training.embeddings " + " ".join(argv if argv is not None else sys.argv[1:])
        info.update(model="pretrained", model_display_name=vinfo["model"],
                    embedding_id=vinfo["embedding_id"], n_clips=len(frame), command=cmd.strip(),
                    vector_seconds=vinfo["seconds"],
                    created=datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"))
        path, npz = save_pretrained(frame, arrays, info, args.out or PRETRAINED_PATH)
        size = path.stat().st_size + npz.stat().st_size
        print(f"{len(frame)} clips, {info['dims']} dims ({info['explained_variance']:.0%} of the "
              f"standardised variance) -> {path} + {npz.name} ({size / 1024:.0f} KiB, "
              f"{time.perf_counter() - t0:.1f} s)")
        return 0
    frame = compute(methods=methods, random_state=args.seed, verbose=True)
    path = save(frame, args.out or DEFAULT_PATH)
    print(f"{len(frame)} clips, {int(frame['outlier'].sum())} flagged outliers -> {path} "
          f"({path.stat().st_size / 1024:.0f} KiB, {time.perf_counter() - t0:.1f} s)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
