""""Where does my song sit": the pretrained network's space (PretrainedSpace) and its shipped maps.

The 57-feature space (FeatureSpace) is tested in tests/test_dashboard.py.
"""

from __future__ import annotations

import json
from types import SimpleNamespace

import numpy as np
import pandas as pd
import pytest

from genre.app.placement import EXACT, NEIGHBOURS, PretrainedSpace
from genre.config import SHIPPED_MODELS_DIR, data_dir
from genre.models.pretrained import FEATURE_DIM, embedding_id
from genre.training import embeddings

SHIPPED = SHIPPED_MODELS_DIR / "embeddings_pretrained.parquet"
GENRES = ("blues", "classical", "jazz", "metal", "pop")


# ------------------------------------------------------------------------------ synthetic space

@pytest.fixture(scope="module")
def synthetic(tmp_path_factory):
    """100 random clip vectors in 5 genres, through the same offline code as the shipped file."""
    rng = np.random.default_rng(0)
    n = 100
    labels = np.repeat(GENRES, n // len(GENRES))
    centres = {g: rng.normal(0, 1, FEATURE_DIM) for g in GENRES}
    V = np.stack([centres[g] + rng.normal(0, 1.5, FEATURE_DIM) for g in labels]).astype(np.float32)
    tags = np.array([i for i, c in enumerate(__import__("genre.models.pretrained", fromlist=["x"]).feature_names())
                     if ".tag." in c])
    V[:, tags] = 1 / (1 + np.exp(-V[:, tags]))  # tag columns are probabilities
    meta = pd.DataFrame({"clip": [f"{g}.{i:05d}" for i, g in enumerate(labels)], "genre": labels,
                         "artist": [f"artist {i % 17}" for i in range(n)],
                         "title": [f"song {i}" for i in range(n)], "split": "train", "kind": "full"})
    frame, arrays, info = embeddings.compute_pretrained(V, meta, dims=16, tag_transform="logit",
                                                        methods=("pca", "lda", "tsne"))
    info.update(embedding_id="synthetic0000000")
    path = tmp_path_factory.mktemp("space") / "maps.parquet"
    embeddings.save_pretrained(frame, arrays, info, path)
    space = PretrainedSpace.load(path, audio_paths={meta["clip"][3]: "/somewhere/x.flac"})
    return SimpleNamespace(V=V, meta=meta, frame=frame, space=space, path=path)


def test_files_round_trip_with_their_metadata(synthetic):
    frame, arrays, info = embeddings.load_pretrained(synthetic.path)
    assert len(frame) == 100 and frame["clip"].is_unique
    assert info["dims"] == 16 and info["embedding_id"] == "synthetic0000000"
    assert info["tag_transform"] == "logit" and 0 < info["explained_variance"] <= 1
    assert set(embeddings.PROJECTION_ARRAYS) <= set(arrays)
    assert [c for c in frame.columns if c.startswith("c") and c[1:].isdigit()] == [f"c{j:02d}" for j in range(16)]
    for col in ("genre", "artist", "title", "split", "has_audio", "outlier_score", "neighbour_agreement", "outlier"):
        assert col in frame.columns, col


def test_a_clip_vector_projects_exactly_onto_its_own_map_point(synthetic):
    space, frame = synthetic.space, synthetic.frame
    C = space.project(synthetic.V)
    np.testing.assert_allclose(C, frame[[f"c{j:02d}" for j in range(16)]].to_numpy(), rtol=1e-4, atol=1e-3)
    for i in (0, 37, 99):
        v = space.project(synthetic.V[i])[0]
        for method in EXACT:
            x, y, how = space.place(v, None, method)
            assert how == "exact"
            assert (x, y) == pytest.approx(tuple(frame.loc[i, [f"{method}_x", f"{method}_y"]]), rel=1e-4, abs=1e-3)
        x, y, how = space.place(v, None, "tsne")  # its own point dominates the weighted mean
        assert how == "nearest-neighbour"
        assert (x, y) == pytest.approx(tuple(frame.loc[i, ["tsne_x", "tsne_y"]]), abs=1e-3)


def test_nearest_clip_of_a_shipped_vector_is_itself(synthetic):
    space = synthetic.space
    near = space.neighbours(space.project(synthetic.V[3])[0])
    assert len(near) == NEIGHBOURS and near["clip"][0] == synthetic.meta["clip"][3]
    assert near["distance"][0] < 1e-3 and list(near["distance"]) == sorted(near["distance"])
    assert near["artist"][0] == "artist 3" and near["title"][0] == "song 3"
    assert near["audio_path"][0] == "/somewhere/x.flac" and near["audio_path"][1] == ""


def test_vector_reuses_the_predictions_embedding_only_from_the_same_networks(synthetic, monkeypatch):
    space = synthetic.space
    calls = []

    class Fake:
        embedding_id = "synthetic0000000"

        def pooled_vector(self, y):
            calls.append(len(y))
            return synthetic.V[7]

    monkeypatch.setattr(space, "_predictor", lambda: Fake())
    same = SimpleNamespace(embedding=synthetic.V[5], embedding_id="synthetic0000000")
    np.testing.assert_allclose(space.vector(np.zeros(10), prediction=same), space.project(synthetic.V[5])[0])
    assert calls == []  # no second network pass
    other = SimpleNamespace(embedding=synthetic.V[5], embedding_id="another-model")
    np.testing.assert_allclose(space.vector(np.zeros(10), prediction=other), space.project(synthetic.V[7])[0])
    feature_model = SimpleNamespace(features=np.zeros((1, 57)))  # a prediction without an embedding
    space.vector(np.zeros(10), prediction=feature_model)
    assert calls == [10, 10]


def test_missing_or_broken_files_are_data_errors(tmp_path, synthetic):
    from genre.errors import DataError

    with pytest.raises(DataError, match="--space pretrained"):
        embeddings.load_pretrained(tmp_path / "none.parquet")
    bad = tmp_path / "bad.parquet"
    bad.write_bytes(b"not parquet")
    bad.with_suffix(".npz").write_bytes(synthetic.path.with_suffix(".npz").read_bytes())
    with pytest.raises(DataError):
        embeddings.load_pretrained(bad)


def test_model_matches_only_the_same_networks_and_settings(synthetic):
    man = json.loads((SHIPPED_MODELS_DIR / "pretrained" / "manifest.json").read_text())
    space = synthetic.space
    assert not space.model_matches(man)  # another embedding id
    assert not space.model_matches(None)
    assert not space.model_matches({"kind": "sklearn"})


# ------------------------------------------------------------------------------ the shipped file

needs_shipped = pytest.mark.skipif(not SHIPPED.is_file(),
                                   reason="models/embeddings_pretrained.parquet not built")


@pytest.fixture(scope="module")
def shipped():
    return PretrainedSpace.load(SHIPPED)


@needs_shipped
def test_shipped_maps_cover_every_clip_with_audio_and_are_small(shipped):
    frame, info = shipped.maps, shipped.info
    assert len(frame) == 565 and frame["clip"].is_unique and frame["has_audio"].all()
    for m in embeddings.METHODS:
        assert frame[[f"{m}_x", f"{m}_y"]].notna().all().all(), m
    assert set(frame["split"]) <= {"train", "valid", "test", "excluded"}
    assert frame["artist"].astype(bool).mean() > 0.8
    size = SHIPPED.stat().st_size + SHIPPED.with_suffix(".npz").stat().st_size
    assert size < 2 * 2**20, size
    assert "python -m genre.training.embeddings" in info["command"] and "--space pretrained" in info["command"]
    # built with the shipped model's networks and settings
    man = json.loads((SHIPPED_MODELS_DIR / "pretrained" / "manifest.json").read_text())
    assert info["embedding_id"] == embedding_id(man) and shipped.model_matches(man)


@needs_shipped
def test_a_gtzan_clip_predicted_by_the_default_model_lands_on_itself(shipped):
    """The prediction's own vector (no second pass) lands exactly on the clip's PCA and LDA map
    points and its nearest clip is itself."""
    from genre.predict import predict

    clip = "blues.00003"
    path = data_dir() / "audio" / "blues" / f"{clip}.flac"
    if not path.is_file():
        pytest.skip("GTZAN audio not found")
    pred = predict(path, "pretrained")
    assert pred.embedding is not None and pred.embedding.shape == (FEATURE_DIM,)
    assert pred.embedding_id == shipped.embedding_id
    assert "embedding" not in pred.to_dict()
    v = shipped.vector(None, prediction=pred)
    near = shipped.neighbours(v)
    assert near["clip"][0] == clip and near["distance"][0] < 1e-2 * max(near["distance"][1], 1e-9)
    row = shipped.maps.set_index("clip").loc[clip]
    for method in EXACT:
        x, y, how = shipped.place(v, None, method)
        assert how == "exact"
        assert (x, y) == pytest.approx((row[f"{method}_x"], row[f"{method}_y"]), rel=1e-3, abs=1e-3)
    x, y, how = shipped.place(v, None, "umap")
    assert how == "nearest-neighbour"
    assert (x, y) == pytest.approx((row["umap_x"], row["umap_y"]), abs=1e-2)


@needs_shipped
def test_an_excerpt_recomputed_by_the_shipped_model_is_its_own_nearest_clip(shipped):
    """Without a prediction's vector the space runs the shipped model itself (a 2-3-s excerpt:
    decoded as the offline step does)."""
    from genre.audio import load

    excerpts = shipped.maps[shipped.maps["audio_kind"] == "excerpt"]["clip"]
    clip = excerpts.iloc[0]
    path = data_dir() / "excerpts" / clip.split(".")[0] / f"{clip}.flac"
    if not path.is_file():
        pytest.skip("GTZAN excerpts not found")
    y = load(path, min_seconds=0.5).y
    near = shipped.neighbours(shipped.vector(y))
    assert near["clip"][0] == clip and near["distance"][0] < 1e-3
