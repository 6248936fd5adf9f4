"""The Catalogue page's logic (genre.app.catalogue_view) and the page itself under AppTest, on the
shipped example catalogue (demo/catalogue.parquet) and catalogues made here."""

from __future__ import annotations

import io
import shutil

import numpy as np
import pandas as pd
import pyarrow.parquet as pq
import pytest

from genre.app import catalogue_view as cv
from genre.app.dashboard import demo_clips
from genre.config import ROOT
from genre.errors import DataError
from genre.training.datasets import GTZAN_GENRES as GENRES

AppTest = pytest.importorskip("streamlit.testing.v1").AppTest
APP = str(ROOT / "app.py")

pytestmark = pytest.mark.skipif(not cv.EXAMPLE.exists(), reason="demo/catalogue.parquet not built")


@pytest.fixture(scope="module")
def example() -> pd.DataFrame:
    return cv.read_catalogue(cv.EXAMPLE)


def _parts() -> list:
    return sorted(cv.EXAMPLE.glob("part-*.parquet"))


# ------------------------------------------------------------------------------ the example

def test_example_covers_the_demo_clips_without_server_paths(example):
    from genre import registry

    assert sorted(example["path"]) == sorted(list(demo_clips()["file"]) + ["broken_upload.mp3"])
    assert not example["path"].str.contains("/").any()  # file names only
    assert example["path"].is_unique
    bad = example[example["status"] == "failed"]
    assert list(bad["path"]) == ["broken_upload.mp3"] and list(bad["error_kind"]) == ["NotAudioError"]
    assert set(example["model"]) <= {m["name"] for m in registry.list_models()}
    ok = example[example["status"] != "failed"]
    assert ok["genre"].isin(GENRES).all()
    assert np.allclose([sum(p) for p in ok["probabilities"]], 1.0)


def test_summary_counts_and_genre_counts(example):
    s = cv.summary(example)
    assert s["tracks"] == len(example) == s["analysed"] + s["failed"]
    assert s["failed"] == 1
    assert s["not_music"] == int(example["not_music"].fillna(False).sum())
    assert s["hours"] == pytest.approx(example["duration_s"].sum() / 3600)
    counts = cv.genre_counts(example)
    assert counts["tracks"].sum() == s["analysed"]
    assert counts["not music"].sum() == s["not_music"]
    assert list(counts["genre"]) == [g for g in GENRES if g in set(counts["genre"])]
    fig = cv.genre_figure(counts)
    assert sum(sum(t.y) for t in fig.data) == s["analysed"]
    hist = cv.confidence_figure(example)
    assert len(hist.data[0].x) == s["analysed"]


def test_filters(example):
    assert len(cv.filter_tracks(example)) == len(example)
    g = cv.filter_tracks(example, query="GTZAN_")
    assert len(g) == int(example["path"].str.startswith("gtzan_").sum())
    assert list(cv.filter_tracks(example, query="not in an audio")["path"]) == ["broken_upload.mp3"]  # error text is searched too
    top = example["genre"].dropna().iloc[0]
    assert (cv.filter_tracks(example, genres=[top])["genre"] == top).all()
    flagged = cv.filter_tracks(example, statuses=["not music", "low confidence"])
    assert set(flagged["path"]) == set(cv.flagged(example)["path"])
    sure = cv.filter_tracks(example, confidence=(0.8, 1.0))
    assert (sure["confidence"] >= 0.8).all() and sure["status"].ne("failed").all()
    assert list(cv.failed(example)["path"]) == ["broken_upload.mp3"]


def test_csv_export_flattens_lists(example):
    back = pd.read_csv(io.BytesIO(cv.to_csv(example)))
    assert len(back) == len(example)
    pcols = [f"p_{g}" for g in GENRES]
    assert set(pcols) <= set(back.columns) and "probabilities" not in back.columns
    ok = back[back["status"] != "failed"]
    assert np.allclose(ok[pcols].sum(axis=1), 1.0)
    assert ok["timeline"].str.contains(" s").all()


def test_track_detail(example):
    ok = example[example["status"] == "ok"].iloc[0].to_dict()
    d = cv.track_detail(ok)
    assert d["top"][0] == (ok["genre"], ok["confidence"])
    assert len(d["timeline"]) == len(ok["timeline_genre"]) >= 1
    assert d["duplicate_of"] is None and d["timings_ms"]["total"] > 0
    assert len(cv.timeline_figure(d["timeline"]).data) == d["timeline"]["genre"].nunique()
    bad = cv.track_detail(cv.failed(example).iloc[0].to_dict())
    assert bad["top"] == [] and bad["timeline"].empty and bad["error_kind"] == "NotAudioError"


# ------------------------------------------------------------------------------ reading

def test_read_paths_uploads_and_bad_input(example, tmp_path):
    parts = _parts()
    up = cv.read_catalogue([p.read_bytes() for p in parts])
    pd.testing.assert_frame_equal(up.sort_values("path").reset_index(drop=True),
                                  example.sort_values("path").reset_index(drop=True))
    one = cv.read_catalogue(parts[0])  # a single part file
    assert len(one) == pq.read_metadata(parts[0]).num_rows
    with pytest.raises(DataError, match="does not exist"):
        cv.read_catalogue(tmp_path / "nope.parquet")
    (tmp_path / "empty").mkdir()
    with pytest.raises(DataError, match="no Parquet"):
        cv.read_catalogue(tmp_path / "empty")
    with pytest.raises(DataError, match="not a Parquet file"):
        cv.read_catalogue([b"PK\x03\x04 a zip, say"])
    buf = io.BytesIO()
    pd.DataFrame({"path": ["a.ogg"], "genre": ["rock"]}).to_parquet(buf)
    with pytest.raises(DataError, match="not a genre catalogue"):
        cv.read_catalogue([buf.getvalue()])
    minimal = example[list(cv.REQUIRED)].copy()
    buf = io.BytesIO()
    minimal.to_parquet(buf)
    got = cv.read_catalogue([buf.getvalue()])  # only the required columns: the rest is missing
    assert len(got) == len(example) and got["top2_genre"].isna().all()
    assert cv.track_detail(got.iloc[0].to_dict())["timeline"].empty
    with pytest.raises(DataError, match="No catalogue file"):
        cv.read_catalogue([])


def test_configured_path_and_stamp(tmp_path):
    assert cv.configured_path({}, {}) is None
    assert cv.configured_path({}, {cv.ENV_VAR: "/x/c.parquet"}).name == "c.parquet"
    assert cv.configured_path({cv.SECRET_KEY: "/y/d.parquet"}, {cv.ENV_VAR: "/x/c.parquet"}).name == "d.parquet"
    shutil.copytree(cv.EXAMPLE, tmp_path / "c.parquet")
    before = cv.stamp(tmp_path / "c.parquet")
    shutil.copy(_parts()[0], tmp_path / "c.parquet" / "part-zzz.parquet")
    assert cv.stamp(tmp_path / "c.parquet") != before  # a growing catalogue is re-read


# ------------------------------------------------------------------------------ the page

def _page(monkeypatch, env: str | None = None) -> AppTest:
    if env:
        monkeypatch.setenv(cv.ENV_VAR, env)
    else:
        monkeypatch.delenv(cv.ENV_VAR, raising=False)
    at = AppTest.from_file(APP, default_timeout=180)
    at.run()
    at.switch_page("pages/catalogue.py")
    at.run()
    assert not at.exception, [e.value for e in at.exception]
    return at


def _metric(at, label):
    return next(m.value for m in at.metric if m.label == label)


def test_page_shows_the_example(monkeypatch, example):
    at = _page(monkeypatch)
    assert "Catalogue" in at.title[0].value
    s = cv.summary(example)
    for label, key in [("Tracks", "tracks"), ("Analysed", "analysed"), ("Not music", "not_music"),
                       ("Low confidence", "low_confidence"), ("Failed", "failed")]:
        assert _metric(at, label) == str(s[key])
    # the only error box: the detail of the selected track, when that track is the failed one
    first = cv.current(example)[0].iloc[0]
    assert [e.value for e in at.error] == (
        [f"**{first['error_kind']}**: {first['error_message']}"] if first["status"] == "failed" else [])
    assert len(at.dataframe) == 3  # flagged, failed, browse
    assert any(f"{len(example)} of {len(example)} tracks" == c.value for c in at.caption)

    at.text_input(key="cat_query").input("broken").run()
    assert any(c.value == f"1 of {len(example)} tracks" for c in at.caption)
    assert at.error and "NotAudioError" in at.error[0].value  # its detail says why it failed

    at.text_input(key="cat_query").input("").run()
    at.multiselect(key="cat_status_filter").select("not music").run()
    n = s["not_music"]
    assert any(c.value == f"{n} of {len(example)} tracks" for c in at.caption)
    assert not at.exception


def test_page_opens_the_configured_catalogue_and_says_when_it_is_bad(monkeypatch, tmp_path):
    target = tmp_path / "mine.parquet"
    shutil.copytree(cv.EXAMPLE, target)
    at = _page(monkeypatch, str(target))
    at.radio(key="cat_source").set_value("configured").run()
    assert not at.exception and _metric(at, "Tracks") == str(len(cv.read_catalogue(target)))
    at = _page(monkeypatch, str(tmp_path / "missing.parquet"))
    at.radio(key="cat_source").set_value("configured").run()
    assert not at.exception
    assert at.error and "does not exist" in at.error[0].value
    assert str(tmp_path) not in at.error[0].value  # no server path on the page


def test_current_keeps_one_model_and_the_newest_row_per_path(example):
    later = example.copy()
    later["model"] = "other_model"
    later["finished_at"] = later["finished_at"] + pd.Timedelta(hours=1)
    changed = example.iloc[[0]].copy()
    changed["content_hash"] = "f" * 64
    changed["finished_at"] = changed["finished_at"] + pd.Timedelta(minutes=30)
    both = pd.concat([example, later, changed], ignore_index=True)
    assert cv.model_labels(both)[0].startswith("other_model")  # the most recent first
    rows, older = cv.current(both)
    assert set(rows["model"]) == {"other_model"} and len(rows) == len(example) and older == 0
    first = cv.model_labels(example)[0]
    rows, older = cv.current(both, first)
    assert len(rows) == len(example) and rows["path"].is_unique and older == 1
    assert rows.loc[rows["path"] == changed["path"].iloc[0], "content_hash"].iloc[0] == "f" * 64
