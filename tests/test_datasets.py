"""genre.training.datasets on the real GTZAN material in ../shared/gtzan."""

from __future__ import annotations

from pathlib import Path

import pytest

from genre.training import datasets
from genre.config import FEATURE_COLUMNS
from genre.training.datasets import GTZAN_GENRES as GENRES
from genre.errors import DataError


@pytest.fixture(scope="module")
def table():
    return datasets.dataset_table()


def test_published_table_shape_and_labels():
    t = datasets.published_table()
    assert t.shape == (1000, len(FEATURE_COLUMNS) + 1)
    assert list(t.columns) == [*FEATURE_COLUMNS, "genre"]
    assert t.index.name == "clip" and t.index.is_unique
    assert t.loc["blues.00000", "genre"] == "blues"
    assert t["genre"].value_counts().to_dict() == {g: 100 for g in GENRES}
    # every clip id is "<genre>.<5 digits>" of its own genre
    assert all(c.split(".")[0] == g and len(c.split(".")[1]) == 5 for c, g in t["genre"].items())
    assert not t[list(FEATURE_COLUMNS)].isna().any().any()


def test_clip_id_normalisation():
    for name in ("blues/blues.00029.wav", "blues.00029.au", "blues.00029", " blues.00029.wav\n",
                 "/x/y/blues.00029.flac"):
        assert datasets.clip_id(name) == "blues.00029"


def test_splits_sizes_disjoint_and_artist_disjoint():
    s = datasets.split_lists()
    assert {k: len(v) for k, v in s.items()} == {"train": 443, "valid": 197, "test": 290}
    sets = {k: set(v) for k, v in s.items()}
    assert len(sets["train"] | sets["valid"] | sets["test"]) == 930
    artists = datasets.artist_index()["artist"]
    known = artists[artists != ""]
    fit_artists = set(known.reindex(s["train"] + s["valid"]).dropna())
    test_artists = set(known.reindex(s["test"]).dropna())
    assert len(test_artists) > 10 and len(fit_artists) > 10
    assert not fit_artists & test_artists


def test_artist_groups_blank_artists_get_own_group():
    idx = datasets.artist_index()
    g = datasets.artist_groups()
    assert len(idx) == len(g) == 1000
    blank = idx.index[idx["artist"] == ""]
    assert len(blank) > 0
    assert g.loc[blank].is_unique
    assert g.loc["blues.00000"] == "John Lee Hooker"
    assert g.loc["blues.00000"] == g.loc["blues.00001"]


def test_clips_index_paths_absolute_and_existing():
    c = datasets.clips_index()
    assert len(c) == 565 and c["clip"].is_unique
    assert set(c["kind"]) == {"full", "excerpt"}
    paths = [Path(p) for p in c["path"]]
    assert all(p.is_absolute() for p in paths)
    assert all(p.is_file() for p in paths[:: max(1, len(paths) // 25)])


def test_dataset_table_joins_everything(table):
    assert len(table) == 1000
    assert table["split"].value_counts().to_dict() == {"train": 443, "valid": 197, "test": 290, "excluded": 70}
    test = table[table["split"] == "test"]
    assert int(test["has_audio"].sum()) == 144
    assert int((test["has_audio"] & (test["audio_kind"] == "full")).sum()) == 79
    assert int(table["has_audio"].sum()) == 565
    # our joins agree with the split and artist columns clips.csv carries
    c = datasets.clips_index().set_index("clip")
    assert (table.loc[c.index, "split"] == c["split"]).all()
    assert (table.loc[c.index, "artist"] == c["artist"]).all()
    assert set(table.loc[~table["has_audio"], "audio_kind"]) == {""}


def test_scan_folder(tmp_path):
    for genre, clip in (("rock", "rock.00001.wav"), ("jazz", "my song.flac"), ("jazz", "notes.txt")):
        (tmp_path / genre).mkdir(exist_ok=True)
        (tmp_path / genre / clip).write_bytes(b"x")
    df = datasets.scan_folder(tmp_path)
    assert list(df.columns) == ["clip", "genre", "path"]
    assert sorted(zip(df["genre"], df["clip"])) == [("jazz", "my song"), ("rock", "rock.00001")]
    assert all(Path(p).is_absolute() for p in df["path"])


def test_scan_folder_on_shared_audio():
    root = datasets.clips_index()["path"].iloc[0]
    audio_root = Path(root).parent.parent
    df = datasets.scan_folder(audio_root)
    assert set(df["genre"]) <= set(GENRES)
    assert len(df) == (datasets.clips_index()["kind"] == "full").sum()


def test_missing_data_raises_data_error(tmp_path):
    with pytest.raises(DataError, match="not found"):
        datasets.published_table(tmp_path / "nowhere")
    with pytest.raises(DataError, match="Missing GTZAN file"):
        datasets.split_lists(tmp_path)
    with pytest.raises(DataError):
        datasets.scan_folder(tmp_path / "nowhere")
    with pytest.raises(DataError, match="No audio files"):
        datasets.scan_folder(tmp_path)
