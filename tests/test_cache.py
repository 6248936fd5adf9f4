"""genre.training.cache: features computed once per (content, extractor version), in a Parquet file."""

from __future__ import annotations

import shutil

import numpy as np
import pytest
import soundfile as sf

from genre import config, features
from genre.training import cache
from genre.config import FEATURE_COLUMNS, SR
from genre.errors import AudioError


def _write_clip(path, freq: float, seconds: float = 4.0, seed: int = 0) -> None:
    rng = np.random.default_rng(seed)
    t = np.arange(int(seconds * SR)) / SR
    y = 0.4 * np.sin(2 * np.pi * freq * t) * (1 + 0.5 * np.sin(2 * np.pi * 2 * t))
    y = y + 0.02 * rng.standard_normal(len(t))
    sf.write(path, y.astype(np.float32), SR)


@pytest.fixture()
def clips(tmp_path):
    a, b = tmp_path / "a.wav", tmp_path / "b.wav"
    _write_clip(a, 440.0, seed=1)
    _write_clip(b, 220.0, seed=2)
    return a, b


@pytest.fixture()
def cache_file(tmp_path, monkeypatch):
    # the default location follows config.CACHE_DIR at call time
    monkeypatch.setattr(config, "CACHE_DIR", tmp_path / "cachedir")
    return tmp_path / "cachedir" / "features.parquet"


def _forbid_extraction(monkeypatch):
    def boom(path):
        raise AssertionError(f"{path} was recomputed although it is cached")

    monkeypatch.setattr(cache, "_extract_one", boom)


def test_miss_then_hit(clips, cache_file, monkeypatch):
    assert cache.default_path() == cache_file
    df = cache.extract_many(clips, n_jobs=1, progress=False)
    assert list(df.index) == [str(p) for p in clips]
    assert not df["cached"].any()
    assert cache_file.is_file()
    assert list(df.columns[-len(FEATURE_COLUMNS):]) == list(FEATURE_COLUMNS)
    # the values are the extractor's
    from genre import audio

    sig = audio.load(clips[0])
    np.testing.assert_allclose(df.loc[str(clips[0]), list(FEATURE_COLUMNS)].to_numpy(float),
                               features.clip_features(sig.y, sig.sr), rtol=1e-6, atol=1e-9)
    assert df.loc[str(clips[0]), "sha256"] == cache.file_sha256(clips[0])

    _forbid_extraction(monkeypatch)
    again = cache.extract_many(clips, n_jobs=1, progress=False)
    assert again["cached"].all()
    np.testing.assert_array_equal(again[list(FEATURE_COLUMNS)].to_numpy(), df[list(FEATURE_COLUMNS)].to_numpy())


def test_keyed_by_content_not_name(clips, cache_file, tmp_path, monkeypatch):
    cache.extract_many([clips[0]], n_jobs=1, progress=False)
    renamed = tmp_path / "renamed_copy.wav"
    shutil.copyfile(clips[0], renamed)
    _forbid_extraction(monkeypatch)
    df = cache.extract_many([renamed], n_jobs=1, progress=False)
    assert bool(df.loc[str(renamed), "cached"])


def test_changed_content_is_a_miss(clips, cache_file):
    cache.extract_many([clips[0]], n_jobs=1, progress=False)
    _write_clip(clips[0], 660.0, seed=3)  # same name, new audio
    df = cache.extract_many([clips[0]], n_jobs=1, progress=False)
    assert not bool(df.loc[str(clips[0]), "cached"])


def test_new_extractor_version_invalidates(clips, cache_file, monkeypatch):
    first = cache.extract_many(clips, n_jobs=1, progress=False)
    assert len(cache.FeatureCache(cache_file)) == 2
    monkeypatch.setattr(features, "EXTRACTOR_VERSION", str(features.EXTRACTOR_VERSION) + "-next")
    assert len(cache.FeatureCache(cache_file)) == 0
    df = cache.extract_many(clips, n_jobs=1, progress=False)
    assert not df["cached"].any()
    np.testing.assert_allclose(df[list(FEATURE_COLUMNS)].to_numpy(), first[list(FEATURE_COLUMNS)].to_numpy())


def test_parallel_matches_serial(clips, tmp_path):
    serial = cache.extract_many(clips, n_jobs=1, progress=False, cache_path=tmp_path / "s.parquet")
    par = cache.extract_many(clips, n_jobs=2, progress=False, cache_path=tmp_path / "p.parquet")
    # worker processes may differ in the last float32 bits (FFT/BLAS threading)
    np.testing.assert_allclose(par[list(FEATURE_COLUMNS)].to_numpy(), serial[list(FEATURE_COLUMNS)].to_numpy(),
                               rtol=1e-5, atol=1e-7)


def test_bad_files_are_collected_or_raised(clips, tmp_path):
    bad = tmp_path / "bad.wav"
    bad.write_bytes(b"this is not audio at all" * 100)
    missing = tmp_path / "missing.wav"
    path = tmp_path / "c.parquet"
    df = cache.extract_many([clips[0], bad, missing], n_jobs=1, progress=False, cache_path=path)
    assert list(df.index) == [str(clips[0])]
    assert set(df.attrs["errors"]) == {str(bad), str(missing)}
    assert all(isinstance(m, str) and m for m in df.attrs["errors"].values())
    with pytest.raises(AudioError):
        cache.extract_many([bad], n_jobs=1, progress=False, cache_path=path, errors="raise")


def test_damaged_cache_file_is_rebuilt(clips, tmp_path):
    path = tmp_path / "features.parquet"
    path.write_bytes(b"not parquet")
    df = cache.extract_many([clips[0]], n_jobs=1, progress=False, cache_path=path)
    assert not bool(df["cached"].iloc[0])
    assert len(cache.FeatureCache(path)) == 1


@pytest.mark.parametrize("err", ["ENOSPC", "EROFS"])
def test_unwritable_cache_loses_no_work(clips, cache_file, monkeypatch, err):
    import errno
    import os

    import pandas as pd

    def full(self, path, *a, **kw):
        code = getattr(errno, err)
        raise OSError(code, os.strerror(code))

    monkeypatch.setattr(pd.DataFrame, "to_parquet", full)
    monkeypatch.setattr(config, "_CACHES_OFF", {})
    with pytest.warns(config.CacheWarning, match="caching is off") as record:
        df = cache.extract_many([str(p) for p in clips], n_jobs=1, progress=False)
        df2 = cache.extract_many([str(p) for p in clips], n_jobs=1, progress=False)
    assert len(record) == 1  # said once
    assert list(df.index) == [str(p) for p in clips] and not df["cached"].any()
    assert df.attrs["errors"] == {}
    np.testing.assert_array_equal(df[list(FEATURE_COLUMNS)], df2[list(FEATURE_COLUMNS)])
    assert not cache_file.exists() and list(cache_file.parent.glob(".features-*")) == []
