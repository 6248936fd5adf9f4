"""Offline embeddings: shape, columns, reproducibility, and the shipped file."""

import subprocess
import sys

import numpy as np
import pytest

from genre import config
from genre.training import embeddings
from genre.training.datasets import GTZAN_GENRES as GENRES
from genre.errors import DataError


@pytest.fixture(scope="module")
def small():
    from genre.training.datasets import dataset_table
    t = dataset_table()
    # 20 clips per genre keep the test fast; the real run uses all 1000.
    return t.groupby("genre", group_keys=False).head(20)


def test_compute_pca_lda_columns_and_scores(small):
    out = embeddings.compute(small, methods=("pca", "lda"))
    assert len(out) == 200
    for c in ("clip", "genre", "artist", "title", "split", "has_audio", "pca_x", "pca_y",
              "lda_x", "lda_y", "outlier_score", "neighbour_agreement", "outlier"):
        assert c in out.columns, c
    assert out["clip"].tolist() == list(small.index)
    assert out["has_audio"].dtype == bool
    assert out["outlier"].sum() == pytest.approx(0.05 * len(out), abs=2)
    assert out["neighbour_agreement"].between(0, 1).all()
    # LDA is supervised: genre centroids should be far apart relative to the spread.
    cent = out.groupby("genre")[["lda_x", "lda_y"]].mean()
    assert len(cent) == len(GENRES)
    assert np.ptp(cent["lda_x"].to_numpy()) > out["lda_x"].groupby(out["genre"]).std().mean()


def test_tsne_is_reproducible(small):
    a = embeddings.compute(small.head(60), methods=("tsne",), random_state=3)
    b = embeddings.compute(small.head(60), methods=("tsne",), random_state=3)
    np.testing.assert_allclose(a[["tsne_x", "tsne_y"]], b[["tsne_x", "tsne_y"]])


def test_unknown_method_and_missing_columns(small):
    with pytest.raises(ValueError):
        embeddings.compute(small, methods=("mds",))
    with pytest.raises(DataError):
        embeddings.compute(small.drop(columns=["tempo"]), methods=("pca",))


def test_umap_import_hides_tensorflow():
    # A fresh interpreter: other tests in this process may have imported TensorFlow already.
    code = ("import sys; from genre.training import embeddings; u = embeddings._import_umap(); "
            "assert hasattr(u, 'UMAP'); assert 'tensorflow' not in sys.modules; print('ok')")
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300,
                       cwd=config.ROOT)
    assert r.returncode == 0 and r.stdout.strip().endswith("ok"), r.stderr


def test_shipped_file_has_every_clip_and_method():
    assert embeddings.DEFAULT_PATH.is_file(), "models/embeddings.parquet not built (python -m genre.training.embeddings)"
    df = embeddings.load()
    assert len(df) == 1000 and df["clip"].is_unique
    for m in embeddings.METHODS:
        assert df[[f"{m}_x", f"{m}_y"]].notna().all().all()
    assert set(df["split"]) == {"train", "valid", "test", "excluded"}
    assert (df["split"] == "excluded").sum() == 70


def test_load_missing_file_is_a_data_error(tmp_path):
    with pytest.raises(DataError, match="python -m genre.training.embeddings"):
        embeddings.load(tmp_path / "none.parquet")
    bad = tmp_path / "bad.parquet"
    bad.write_bytes(b"not parquet")
    with pytest.raises(DataError):
        embeddings.load(bad)
