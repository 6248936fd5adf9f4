"""Catalogue mode (genre.catalogue, ``python -m genre catalogue``) on a real Dask cluster.

One LocalCluster of two single-threaded process workers serves the module (GUIDE.md's Dask
pattern); every wait on it has a timeout. Tracks are the shipped demo clips (10-15 s each) and
bad files made here: an empty file, text named .mp3, a cut-off OGG, and a byte-identical copy.
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import soundfile as sf

from genre import catalogue as C
from genre import registry
from genre.config import DEMO_DIR, ROOT
from genre.errors import ModelError
from genre.training.datasets import GTZAN_GENRES as GENRES

distributed = pytest.importorskip("distributed")

GOOD = ["gtzan_blues.00016.ogg", "gtzan_classical.00011.ogg", "gtzan_disco.00001.ogg",
        "gtzan_metal.00022.ogg", "gtzan_pop.00000.ogg", "speech_librispeech.ogg"]
TIMEOUT = 300


@pytest.fixture(scope="module")
def cluster():
    from distributed import Client

    # LocalCluster(n_workers=2, processes=True, threads_per_worker=1), one-thread native pools
    with C.local_cluster(n_workers=2) as lc, Client(lc, timeout=60) as client:
        yield lc, client


@pytest.fixture(scope="module")
def library(tmp_path_factory) -> Path:
    """Six good demo clips, one byte-identical copy in a sub-folder, three bad files."""
    root = tmp_path_factory.mktemp("library")
    for name in GOOD:
        shutil.copy(DEMO_DIR / name, root / name)
    (root / "sub").mkdir()
    shutil.copy(DEMO_DIR / GOOD[2], root / "sub" / "copy_of_disco.ogg")
    (root / "empty.wav").write_bytes(b"")
    (root / "notes.mp3").write_text("these are not the droids you are looking for\n" * 50)
    (root / "cut.ogg").write_bytes((DEMO_DIR / GOOD[4]).read_bytes()[:4000])
    (root / "readme.txt").write_text("not searched: not an audio file name")
    return root


def _read(out: Path) -> pd.DataFrame:
    return pd.read_parquet(out)


# ------------------------------------------------------------------------------ inputs

def test_find_tracks_folder_list_glob_and_missing(library, tmp_path):
    found = C.find_tracks([library])
    assert len(found) == len(GOOD) + 1 + 3  # readme.txt is not audio
    assert all(os.path.isabs(p) for p in found)
    lst = tmp_path / "list.txt"
    lst.write_text(f"# two tracks\n{library / GOOD[0]}\n\n{library / 'sub' / 'copy_of_disco.ogg'}\n")
    csv = tmp_path / "list.csv"
    pd.DataFrame({"title": ["a"], "path": [str(library / GOOD[1])]}).to_csv(csv, index=False)
    got = C.find_tracks([lst, csv, str(library / "gtzan_*.ogg"), library / GOOD[0]])
    assert got == sorted({str(library / g) for g in GOOD if g.startswith("gtzan_")}
                         | {str(library / "sub" / "copy_of_disco.ogg")})
    with pytest.raises(C.SourceError, match="No such file"):
        C.find_tracks([tmp_path / "nope"])
    with pytest.raises(C.SourceError, match="matches no audio"):
        C.find_tracks([str(tmp_path / "*.flac")])
    (tmp_path / "empty_dir").mkdir()
    with pytest.raises(C.SourceError, match="No audio files"):
        C.find_tracks([tmp_path / "empty_dir"])


def test_timeline_summary_bins_cover_the_track():
    n = 30
    rng = np.random.default_rng(1)
    P = rng.dirichlet(np.ones(len(GENRES)), size=n)
    P[:15, GENRES.index("rock")] += 5   # first half rock, second half jazz
    P[15:, GENRES.index("jazz")] += 5
    P /= P.sum(axis=1, keepdims=True)
    tl = pd.DataFrame(P, columns=list(GENRES))
    tl.insert(0, "end_s", np.arange(n) * 3.0 + 3)
    tl.insert(0, "start_s", np.arange(n) * 3.0)
    s = C.timeline_summary(tl, bins=6)
    assert len(s["timeline_genre"]) == 6
    assert s["timeline_start_s"][0] == 0 and s["timeline_end_s"][-1] == 90
    assert s["timeline_genre"] == ["rock"] * 3 + ["jazz"] * 3
    assert C.timeline_summary(tl.iloc[:2], bins=6)["timeline_genre"].__len__() == 2
    assert C.timeline_summary(tl.iloc[:0])["timeline_genre"] == []


def test_bad_model_and_bad_out_fail_before_any_work(library, tmp_path):
    with pytest.raises(ModelError):
        C.run([library], tmp_path / "c.parquet", model="no_such_model", progress=False)
    (tmp_path / "file.parquet").write_bytes(b"x")
    with pytest.raises(C.SourceError, match="is a file"):
        C.run([library], tmp_path / "file.parquet", progress=False)


# ------------------------------------------------------------------------------ on the cluster

def test_cluster_run_good_bad_duplicate_and_rerun(cluster, library, tmp_path):
    from genre.predict import predict

    lc, _ = cluster
    out = tmp_path / "catalogue.parquet"
    s = C.run([library], out, scheduler=lc.scheduler_address, batch_size=4, progress=False)
    assert (s.found, s.analysed, s.duplicates, s.failed, s.skipped) == (10, 6, 1, 3, 0)
    assert s.n_workers == 2
    df = _read(out)
    assert len(df) == 10 and df["path"].is_unique
    assert len(list(out.glob("part-*.parquet"))) == 3  # 10 rows in batches of 4
    rows = df.set_index(df["path"].map(lambda p: Path(p).relative_to(library).as_posix()))

    errs = rows.loc[["empty.wav", "notes.mp3", "cut.ogg"], "error_kind"].tolist()
    assert errs == ["EmptyAudioError", "NotAudioError", "CorruptAudioError"]
    assert rows.loc["notes.mp3", "error_message"].startswith("The data is not")
    assert rows.loc[["empty.wav", "notes.mp3", "cut.ogg"], "genre"].isna().all()

    good = rows.loc[GOOD]
    assert good["error_kind"].isna().all()
    assert set(good["genre"]) <= set(GENRES)
    assert np.allclose([sum(p) for p in good["probabilities"]], 1.0)
    assert (good["top1_prob"] >= good["top2_prob"]).all() and (good["top2_prob"] >= good["top3_prob"]).all()
    assert (good["duration_s"] >= 9.9).all() and good["content_hash"].str.len().eq(64).all()
    assert good["timeline_genre"].map(len).between(1, C.TIMELINE_BINS).all()
    assert rows.loc["speech_librispeech.ogg", "not_music"]
    name = registry.default_name()
    key = C.model_key(registry.read_manifest(name))
    assert set(zip(df["model"], df["model_version"], df["model_digest"])) == {key}
    assert good["worker"].nunique() == 2  # both workers did work
    assert (good["cpu_ms"] > 0).all() and (good["total_ms"] > 0).all()

    # the duplicate: one analysis, two rows with the same answer
    copy, orig = rows.loc["sub/copy_of_disco.ogg"], rows.loc[GOOD[2]]
    pair = {copy["duplicate_of"], orig["duplicate_of"]}
    assert None in pair or any(pd.isna(v) for v in pair)
    assert copy["content_hash"] == orig["content_hash"]
    assert list(copy["probabilities"]) == list(orig["probabilities"])

    # byte for byte the probabilities of genre.predict on the same file (in this process)
    for g in GOOD[:3]:
        expected = predict(str(library / g), name).probabilities
        assert list(rows.loc[g, "probabilities"]) == [float(v) for v in expected]

    # a rerun finds everything done: no work, no rows, the same files
    parts = sorted(out.glob("part-*.parquet"))
    again = C.run([library], out, scheduler=lc.scheduler_address, progress=False)
    assert (again.skipped, again.analysed, again.written) == (10, 0, 0)
    assert sorted(out.glob("part-*.parquet")) == parts

    # a new path with known content is copied, not analysed; a touched file is re-hashed only
    extra = tmp_path / "more"
    extra.mkdir()
    shutil.copy(library / GOOD[0], extra / "blues_again.ogg")
    os.utime(library / GOOD[1])  # same content, new modification time
    s3 = C.run([library, extra], out, scheduler=lc.scheduler_address, progress=False)
    assert (s3.analysed, s3.duplicates, s3.written) == (0, 1, 1)
    df = _read(out)
    assert len(df) == 11 and df["path"].is_unique
    new = df[df["path"] == str(extra / "blues_again.ogg")].iloc[0]
    assert new["duplicate_of"] == str(library / GOOD[0])


def test_resume_after_interrupted_run(cluster, library, tmp_path):
    lc, _ = cluster
    out = tmp_path / "catalogue.parquet"
    seen = []

    def interrupt(row):  # Ctrl-C after five rows: two batches of two written, one row pending
        seen.append(row["path"])
        if len(seen) == 5:
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        C.run([library], out, scheduler=lc.scheduler_address, batch_size=2, progress=False,
              on_row=interrupt)
    first = _read(out)
    assert 4 <= len(first) < 10  # the pending row is flushed on the way out
    s = C.run([library], out, scheduler=lc.scheduler_address, batch_size=2, progress=False)
    assert s.skipped == len(first) and s.written == 10 - len(first)
    df = _read(out)
    assert len(df) == 10 and df["path"].is_unique
    kept = df.set_index("path").loc[first["path"], "finished_at"]
    assert (kept.to_numpy() == first["finished_at"].to_numpy()).all()  # earlier rows untouched


def _tracks(folder: Path, n: int) -> list[Path]:
    """``n`` distinct 20-s WAV tracks, each two demo clips back to back."""
    folder.mkdir(parents=True, exist_ok=True)
    clips = [sf.read(DEMO_DIR / g, dtype="float32", always_2d=True) for g in GOOD[:5]]
    out = []
    for i in range(n):
        (a, sr), (b, _) = clips[i % 5], clips[(i + 1 + i // 5) % 5]
        y = np.concatenate([a.mean(axis=1), b.mean(axis=1)])
        p = folder / f"track_{i:02d}.wav"
        sf.write(p, y, sr, subtype="PCM_16")
        out.append(p)
    return out


def test_cli_with_scheduler_address_survives_kill_9(cluster, tmp_path):
    lc, _ = cluster
    _tracks(tmp_path / "lib", 12)
    out = tmp_path / "catalogue.parquet"
    cmd = [sys.executable, "-m", "genre", "catalogue", str(tmp_path / "lib"), "--out", str(out),
           "--scheduler", lc.scheduler_address, "--batch-size", "1", "--no-progress"]
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    proc = subprocess.Popen(cmd, cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            start_new_session=True)
    deadline = time.monotonic() + TIMEOUT
    while not list(out.glob("part-*.parquet")) and proc.poll() is None and time.monotonic() < deadline:
        time.sleep(0.05)
    os.killpg(proc.pid, signal.SIGKILL)  # no clean-up code runs
    proc.communicate(timeout=60)
    first = _read(out)
    assert 1 <= len(first) < 12, "the run should have been killed part-way"

    r = subprocess.run(cmd, cwd=ROOT, env=env, capture_output=True, text=True, timeout=TIMEOUT)
    assert r.returncode == 0, r.stderr
    assert f"{len(first)} already catalogued" in r.stdout
    df = _read(out)
    assert len(df) == 12 and df["path"].is_unique and df["error_kind"].isna().all()


def test_default_local_cluster_and_relative_paths(tmp_path):
    lib = tmp_path / "lib"
    lib.mkdir()
    for g in GOOD[:2]:
        shutil.copy(DEMO_DIR / g, lib / g)
    (lib / "empty.flac").write_bytes(b"")
    out = tmp_path / "c.parquet"
    s = C.run([lib], out, n_workers=1, progress=False, relative_to=lib)  # its own LocalCluster
    assert (s.analysed, s.failed, s.n_workers) == (2, 1, 1)
    df = _read(out)
    assert sorted(df["path"]) == sorted(GOOD[:2] + ["empty.flac"])
    again = C.run([lib], out, progress=False, relative_to=lib)
    assert again.skipped == 3 and again.written == 0


def test_cli_usage_errors_exit_2(tmp_path, capsys):
    from genre import cli

    assert cli.main(["catalogue", str(tmp_path / "nope"), "--out", str(tmp_path / "c")]) == cli.EXIT_USAGE
    assert "No such file" in capsys.readouterr().err
    assert cli.main(["catalogue", str(tmp_path)]) == cli.EXIT_USAGE  # --out is required
    assert cli.main(["catalogue", str(DEMO_DIR), "--out", str(tmp_path / "c"), "--batch-size", "0"]) == cli.EXIT_USAGE
    assert cli.main(["catalogue", str(DEMO_DIR), "--out", str(tmp_path / "c"), "--memory-limit", "lots"]) == cli.EXIT_USAGE
    assert "not a size" in capsys.readouterr().err
    assert cli.main(["catalogue", str(DEMO_DIR), "--out", str(tmp_path / "c"), "--model", "nope"]) == cli.EXIT_MODEL


def test_one_writer_at_a_time_and_stale_temporary_parts(tmp_path):
    out = tmp_path / "c.parquet"
    a = C.CatalogueWriter(out, batch_size=2)
    a.lock()
    row = C.error_row("/x/a.ogg", "NotAudioError", "no", digest="0" * 64)
    a.add(row)
    a.add({**row, "path": "/x/b.ogg"})  # a full batch: one part file
    assert len(list(out.glob("part-*.parquet"))) == 1
    (out / ".part-killed.parquet.tmp").write_bytes(b"half a file")  # what a kill -9 can leave
    assert len(pd.read_parquet(out)) == 2  # readers skip it
    with pytest.raises(C.SourceError, match="Another catalogue run"):
        C.CatalogueWriter(out).lock()
    a.unlock()
    b = C.CatalogueWriter(out)
    b.lock()  # free again; the stale temporary part is cleaned up
    assert not list(out.glob(".part-*.tmp"))
    b.unlock()


def test_missing_listed_file_is_one_error_row_across_reruns(cluster, tmp_path):
    lc, _ = cluster
    lst = tmp_path / "tracks.txt"
    lst.write_text(f"{DEMO_DIR / GOOD[0]}\n{tmp_path / 'gone.ogg'}\n")
    out = tmp_path / "c.parquet"
    s = C.run([lst], out, scheduler=lc.scheduler_address, progress=False)
    assert (s.analysed, s.failed) == (1, 1)
    assert C.run([lst], out, scheduler=lc.scheduler_address, progress=False).written == 0
    df = _read(out)
    assert len(df) == 2 and df.loc[df["path"].str.endswith("gone.ogg"), "error_kind"].item() == "FileNotFoundError"
