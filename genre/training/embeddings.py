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
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd

from genre.config import FEATURE_COLUMNS, MODELS_DIR
from genre.errors import DataError

__all__ = ["METHODS", "DEFAULT_PATH", "compute", "save", "load", "main"]

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
    from sklearn.neighbors import LocalOutlierFactor, NearestNeighbors
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

    lof = LocalOutlierFactor(n_neighbors=20).fit(X)
    out["outlier_score"] = (-lof.negative_outlier_factor_).astype(np.float32)
    _, idx = NearestNeighbors(n_neighbors=11).fit(X).kneighbors(X)
    out["neighbour_agreement"] = (labels[idx[:, 1:]] == labels[:, None]).mean(axis=1).astype(np.float32)
    cut = np.quantile(out["outlier_score"], 1 - OUTLIER_SHARE)
    out["outlier"] = out["outlier_score"] >= cut
    return out


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
    """Command line: ``python -m genre.training.embeddings [--out PATH] [--methods pca,tsne,umap,lda]``."""
    import argparse

    ap = argparse.ArgumentParser(prog="python -m genre.training.embeddings", description=__doc__.splitlines()[0])
    ap.add_argument("--out", default=str(DEFAULT_PATH), help="Parquet file to write")
    ap.add_argument("--methods", default=",".join(METHODS), help="comma-separated subset of "
                    + ",".join(METHODS))
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args(argv)
    t0 = time.perf_counter()
    frame = compute(methods=[m.strip() for m in args.methods.split(",") if m.strip()],
                    random_state=args.seed, verbose=True)
    path = save(frame, args.out)
    print(f"{len(frame)} clips, {int(frame['outlier'].sum())} flagged outliers -> {path} "
          f"({path.stat().st_size / 1024:.0f} KiB, {time.perf_counter() - t0:.1f} s)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
