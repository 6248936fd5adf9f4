"""python -m genre: predict on files and folders, evaluate, models, and meaningful exit codes."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

from genre import cli, config
from genre.config import samples_dir
from genre.training.datasets import GTZAN_GENRES as GENRES

BRAHMS = samples_dir() / "brahms_hungarian_dance_5.ogg"
SPEECH = samples_dir() / "speech_librispeech.ogg"


def run(*args: str) -> subprocess.CompletedProcess:
    """The real entry point in a child process (as a user runs it)."""
    return subprocess.run([sys.executable, "-m", "genre", *args], capture_output=True, text=True,
                          cwd=config.ROOT, timeout=600, env={**os.environ, "PYTHONPATH": str(config.ROOT)})


def test_help_documents_exit_codes():
    r = run("--help")
    assert r.returncode == 0
    for code in cli.EXIT_CODES:
        assert f"  {code}  " in r.stdout


@pytest.mark.parametrize("argv", [[], ["bogus"], ["predict"], ["predict", "x.ogg", "--top", "0"],
                                  ["predict", "x.ogg", "--jobs", "zero"]])
def test_bad_usage_exits_2(argv, capsys):
    assert cli.main(argv) == cli.EXIT_USAGE


def test_missing_input_exits_2(tmp_path, capsys):
    assert cli.main(["predict", str(tmp_path / "nope.ogg")]) == cli.EXIT_USAGE
    assert "No such file" in capsys.readouterr().err


def test_predict_one_file_prints_top3():
    r = run("predict", str(BRAHMS), "--top", "3")
    assert r.returncode == 0, r.stderr
    line = r.stdout.splitlines()[0]
    assert line.startswith(str(BRAHMS))
    shown = [tok for tok in line.split() if tok in GENRES]
    assert len(shown) == 3


def test_predict_folder_with_a_bad_file(tmp_path, capsys):
    for f in (BRAHMS, SPEECH):
        (tmp_path / f.name).symlink_to(f)
    (tmp_path / "broken.wav").write_bytes(b"RIFF....WAVEfmt garbage" * 10)
    code = cli.main(["predict", str(tmp_path), "--json", "--jobs", "2", "--no-progress"])
    out = capsys.readouterr()
    assert code == cli.EXIT_INPUT_FAILED
    docs = json.loads(out.out)
    by_name = {os.path.basename(d["path"]): d for d in docs}
    assert set(by_name) == {BRAHMS.name, SPEECH.name, "broken.wav"}
    assert "error" in by_name["broken.wav"] and by_name["broken.wav"]["error"]["message"]
    assert by_name[BRAHMS.name]["genre"] in GENRES
    assert by_name[SPEECH.name]["not_music"] is True
    assert "broken.wav" in out.err


def test_unknown_model_exits_3(capsys):
    assert cli.main(["predict", str(BRAHMS), "--model", "no_such_model"]) == cli.EXIT_MODEL
    assert "no_such_model" in capsys.readouterr().err


def test_evaluate_prints_both_protocols(capsys):
    assert cli.main(["evaluate"]) == cli.EXIT_OK
    out = capsys.readouterr().out
    assert "filtered_holdout" in out and "random_10fold" in out


def test_evaluate_json(capsys):
    assert cli.main(["evaluate", "--json"]) == cli.EXIT_OK
    rows = json.loads(capsys.readouterr().out)
    assert {r["protocol"] for r in rows} >= {"filtered_holdout", "random_10fold"}


def test_models_lists_the_registry(capsys):
    from genre import registry

    assert cli.main(["models"]) == cli.EXIT_OK
    out = capsys.readouterr().out
    for m in registry.list_models():
        assert m["name"] in out


def test_features_on_a_folder(tmp_path, monkeypatch, capsys):
    import pandas as pd

    from genre.config import FEATURE_COLUMNS, data_dir

    monkeypatch.setattr(config, "CACHE_DIR", tmp_path / "cache")
    root = tmp_path / "audio"
    for clip in ("blues.00000", "metal.00000"):
        g = clip.split(".")[0]
        (root / g).mkdir(parents=True)
        (root / g / f"{clip}.flac").symlink_to(data_dir() / "audio" / g / f"{clip}.flac")
    out = tmp_path / "f.csv"
    assert cli.main(["features", str(root), "--out", str(out), "--jobs", "1", "--no-progress"]) == 0
    df = pd.read_csv(out)
    assert list(df["genre"]) == ["blues", "metal"]
    assert set(FEATURE_COLUMNS) <= set(df.columns)
    # the published table's values are reproduced from the audio (tempo aside)
    from genre.training import datasets

    table = datasets.published_table().loc[["blues.00000", "metal.00000"]]
    assert (df["spectral_centroid_mean"].to_numpy() / table["spectral_centroid_mean"].to_numpy()
            == pytest.approx(1.0, rel=0.01))
    # second run: everything from the cache
    assert cli.main(["features", str(root), "--jobs", "1", "--no-progress"]) == 0
    assert "2 from the cache" in capsys.readouterr().out


def test_train_rejects_unknown_model_names(capsys):
    assert cli.main(["train", "--models", "no_such_model"]) == cli.EXIT_USAGE
    assert "no_such_model" in capsys.readouterr().err


# --------------------------------------------------------------------------- hardening (issue 8)

def loud_wav(path):
    """5 s of a float WAV whose peak is 1e18: finite samples, but no real recording."""
    import numpy as np
    import soundfile as sf

    t = np.arange(5 * 22050) / 22050
    sf.write(path, 1e18 * np.sin(2 * np.pi * 440 * t), 22050, subtype="FLOAT")
    return path


@pytest.mark.parametrize("jobs", ["1", "2"])
def test_one_hostile_file_does_not_lose_the_batch(tmp_path, capsys, jobs):
    (tmp_path / BRAHMS.name).symlink_to(BRAHMS)
    loud_wav(tmp_path / "loud.wav")
    code = cli.main(["predict", str(tmp_path), "--json", "--jobs", jobs, "--no-progress"])
    out = capsys.readouterr()
    assert code == cli.EXIT_INPUT_FAILED
    by_name = {os.path.basename(d["path"]): d for d in json.loads(out.out)}
    assert by_name[BRAHMS.name]["genre"] in GENRES
    assert by_name["loud.wav"]["error"]["type"] == "CorruptAudioError"
    assert "full scale" in by_name["loud.wav"]["error"]["message"]
    assert "Traceback" not in out.err


def test_a_bug_on_one_file_is_reported_per_file(tmp_path, capsys, monkeypatch):
    from genre import predict as P

    real = P.predict

    def flaky(source, *a, **kw):
        if str(source).endswith("bug.ogg"):
            raise KeyError("a bug")
        return real(source, *a, **kw)

    monkeypatch.setattr(P, "predict", flaky)
    (tmp_path / BRAHMS.name).symlink_to(BRAHMS)
    (tmp_path / "bug.ogg").symlink_to(BRAHMS)
    code = cli.main(["predict", str(tmp_path), "--json", "--no-progress"])
    out = capsys.readouterr()
    assert code == cli.EXIT_INTERNAL
    by_name = {os.path.basename(d["path"]): d for d in json.loads(out.out)}
    assert by_name[BRAHMS.name]["genre"] in GENRES
    assert by_name["bug.ogg"]["error"]["internal"] is True
    assert "bug.ogg" in out.err and "Traceback" not in out.err


def test_missing_detector_is_loud(tmp_path, capsys, monkeypatch):
    import shutil

    shutil.copytree(config.SHIPPED_MODELS_DIR / "logreg", tmp_path / "logreg")  # a model, no novelty/
    monkeypatch.setattr(config, "MODELS_DIR", tmp_path)  # models/novelty is gone
    monkeypatch.setattr(config, "SHIPPED_MODELS_DIR", tmp_path)  # and no shipped one to fall back on
    code = cli.main(["predict", str(BRAHMS), "--json", "--model", "logreg"])
    out = capsys.readouterr()
    assert code == cli.EXIT_MODEL and out.out == ""
    assert "models/novelty" in out.err and "--no-novelty" in out.err
    assert cli.main(["predict", str(BRAHMS), "--json", "--no-novelty", "--model", "logreg"]) == cli.EXIT_OK
    doc = json.loads(capsys.readouterr().out)[0]
    assert doc["genre"] in GENRES and doc["novelty"] is None and doc["novelty_missing"] is False


def test_models_tree_sha256(capsys):
    from genre import registry

    assert cli.main(["models", "--tree-sha256"]) == cli.EXIT_OK
    assert capsys.readouterr().out.strip() == registry.tree_sha256()


@pytest.mark.parametrize("errno_", ["ENOSPC", "EROFS"])
def test_features_with_an_unwritable_cache(tmp_path, monkeypatch, capsys, errno_):
    import errno

    from genre.training import cache

    def refuse(*a, **kw):
        raise OSError(getattr(errno, errno_), os.strerror(getattr(errno, errno_)))

    monkeypatch.setattr(config, "CACHE_DIR", tmp_path / "cache")
    monkeypatch.setattr(cache.tempfile, "mkstemp", refuse)
    monkeypatch.setattr(config, "_CACHES_OFF", {})
    root = tmp_path / "audio"
    root.mkdir()
    (root / BRAHMS.name).symlink_to(BRAHMS)
    (root / SPEECH.name).symlink_to(SPEECH)
    out_csv = tmp_path / "f.csv"
    code = cli.main(["features", str(root), "--out", str(out_csv), "--jobs", "1", "--no-progress"])
    out = capsys.readouterr()
    assert code == cli.EXIT_OK
    assert "2 files: 0 from the cache, 2 computed, 0 failed" in out.out
    assert out_csv.is_file() and len(out_csv.read_text().splitlines()) == 3
    notes = [line for line in out.err.splitlines() if line.startswith("note:")]
    assert len(notes) == 1 and "feature cache" in notes[0] and "caching is off" in notes[0]
