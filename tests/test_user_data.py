"""Your own dataset and taxonomy: train, evaluate, register and predict with labels that are not GTZAN's.

The dataset (``tests/conftest.py``) is made from ``../shared`` GTZAN audio: 4-s excerpts of full clips, under three labels
that are not GTZAN genre names (one deliberately tiny), plus corrupt files. Feature models only, so the
whole module runs in well under a minute.
"""

from __future__ import annotations

import json

import numpy as np
import pytest
import soundfile as sf

from genre import cli, config, registry
from genre.errors import DataError
from genre.training import datasets, user_data


@pytest.fixture(scope="module")
def dataset(user_dataset):
    """``root/<label>/<clip>.wav`` excerpts, two corrupt files, and a CSV with the source clip as group
    (``tests/conftest.py``)."""
    return user_dataset


@pytest.fixture()
def tmp_cache(tmp_path_factory, monkeypatch):
    monkeypatch.setattr(config, "CACHE_DIR", tmp_path_factory.getbasetemp() / "cache")


def test_folder_is_read_with_its_own_labels(dataset):
    root, _ = dataset
    clips = datasets.labelled_folder(root)
    assert sorted(clips["label"].unique()) == ["beats", "strings", "tiny"]
    assert clips["label"].value_counts().to_dict() == {"strings": 9, "beats": 9, "tiny": 2}  # corrupt files listed
    assert clips["clip"].is_unique and (clips["group"] == clips["clip"]).all()


def test_csv_groups_never_straddle_a_fold(dataset):
    root, csv = dataset
    clips = datasets.labelled_folder(root, csv)
    assert len(clips) == 18 and clips["group"].nunique() == 10
    for tr, te in user_data.dataset_folds(clips, 2):
        assert not set(clips["group"].iloc[tr]) & set(clips["group"].iloc[te])
        assert set(clips["label"].iloc[te]) == {"strings", "beats", "tiny"}


def test_clear_errors(dataset, tmp_path):
    root, csv = dataset
    # a label too small for the folds: named, with its count and what to do
    with pytest.raises(DataError, match=r"'tiny' has 2 clips.*at least 3 clips.*--folds"):
        user_data.load_dataset(root, None, 3)
    with pytest.raises(DataError, match=r"'tiny' has 2 groups \(2 clips\)"):
        user_data.load_dataset(root, csv, 3)
    # one label only
    one = tmp_path / "one"
    (one / "solo").mkdir(parents=True)
    for f in sorted((root / "strings").glob("*.wav"))[:3]:
        (one / "solo" / f.name).write_bytes(f.read_bytes())
    with pytest.raises(DataError, match="Only one label.*at least 2 labels"):
        datasets.labelled_folder(one)
    # a label name that is not a safe identifier
    (one / "hip hop!").mkdir()
    (one / "hip hop!" / "a.wav").write_bytes(next((root / "beats").glob("*_0.wav")).read_bytes())
    with pytest.raises(DataError, match=r"Label 'hip hop!' is not a safe name.*'hip_hop'"):
        datasets.labelled_folder(one)
    # a CSV without its columns, and one naming files that do not exist
    bad = tmp_path / "bad.csv"
    bad.write_text("file,genre\na.wav,x\n")
    with pytest.raises(DataError, match="path,label"):
        datasets.labelled_folder(root, bad)
    gone = tmp_path / "gone.csv"
    gone.write_text("path,label\nnope.wav,a\n")
    with pytest.raises(DataError, match="No existing audio file"):
        datasets.labelled_folder(root, gone)


def test_own_models_folder_is_required():
    with pytest.raises(DataError, match="--models-dir"):
        user_data.user_models_dir(config.ROOT / "models")


def test_train_evaluate_predict_with_your_labels(dataset, tmp_path, tmp_cache, capsys):
    root, _ = dataset
    out = tmp_path / "my_models"
    code = cli.main(["train", "--data-root", str(root), "--models-dir", str(out), "--models", "logreg", "knn",
                     "--folds", "2"])
    text = capsys.readouterr()
    assert code == cli.EXIT_OK, text.err
    assert "2 unreadable file(s) skipped" in text.out

    # the dataset summary counts what was skipped
    summary = json.loads((out / "dataset.json").read_text())
    assert summary["classes"] == ["beats", "strings", "tiny"]
    assert summary["clips_per_label"] == {"beats": 8, "strings": 8, "tiny": 2}
    assert sorted(p.rsplit("/", 1)[-1] for p in summary["unreadable"]) == ["broken.wav", "noise.mp3"]

    # manifests and results carry the dataset's classes; nothing was written to the shipped models
    for name in ("logreg", "knn"):
        man = registry.verify(name, out)
        assert man["classes"] == ["beats", "strings", "tiny"]
        res = json.loads((out / "results" / f"{name}.json").read_text())
        assert set(res["protocols"]) == {"group_holdout", "group_cv"}
        cv = res["protocols"]["group_cv"]
        assert cv["labels"] == man["classes"] and np.array(cv["confusion"]).shape == (3, 3)
        assert np.array(cv["confusion"]).sum() == 18 and cv["n_folds"] == 2
        assert set(cv["per_genre_f1"]) == {"beats", "strings", "tiny"}
    assert json.loads((out / "default.json").read_text())["model"] in ("logreg", "knn")
    assert not (config.ROOT / "models" / "dataset.json").exists()

    # its leaderboard
    assert cli.main(["evaluate", "--models-dir", str(out)]) == cli.EXIT_OK
    board = capsys.readouterr().out
    assert "group_cv:accuracy" in board and "Logistic regression" in board

    # predictions answer in the model's classes (the CLI and the Python API)
    clip = next((root / "beats").glob("*.wav"))
    assert cli.main(["predict", str(clip), "--models-dir", str(out), "--model", "logreg", "--json",
                     "--no-progress"]) == cli.EXIT_OK
    doc = json.loads(capsys.readouterr().out)[0]
    assert set(doc["probabilities"]) == {"beats", "strings", "tiny"} and doc["genre"] in doc["classes"]
    from genre.predict import predict

    p = predict(clip, "knn", models_dir=str(out))
    assert p.classes == ("beats", "strings", "tiny")
    assert list(p.timeline.columns) == ["start_s", "end_s", "beats", "strings", "tiny"]
    assert p.probabilities.shape == (3,) and p.probabilities.sum() == pytest.approx(1.0)
    assert registry.load("logreg", out).classes == ("beats", "strings", "tiny")


def test_train_refuses_a_label_too_small_for_the_folds(dataset, tmp_path, tmp_cache, capsys):
    root, _ = dataset
    code = cli.main(["train", "--data-root", str(root), "--models-dir", str(tmp_path / "m"), "--models", "logreg"])
    assert code == cli.EXIT_MODEL
    err = capsys.readouterr().err
    assert "'tiny' has 2 clips" in err and "Traceback" not in err
    assert not (tmp_path / "m" / "logreg").exists()


def test_a_network_trains_on_your_labels(dataset, tmp_path, tmp_cache):
    """One short epoch of the smallest network: the deep path skips unreadable files, registers the
    model with the dataset's classes, and the loaded model answers in them."""
    from genre.training import train_deep

    out = tmp_path / "deep_models"
    root, _ = dataset
    res = train_deep.train_on_folder(root, None, out, models=["cnn_r16"], n_folds=2, epochs=1)
    m = res["cnn_r16"]["group_holdout"]
    assert m["labels"] == ["beats", "strings", "tiny"] and m["n_test"] + m["n_train"] == 18
    man = registry.verify("cnn_r16", out)
    assert man["classes"] == ["beats", "strings", "tiny"] and man["protocol"] == "group_holdout"
    assert man["training"]["resolution"] == 16
    pred = registry.load("cnn_r16", out)
    clip, sr = sf.read(next((root / "tiny").glob("*.wav")), dtype="float32")
    starts, P = pred.predict_segments(clip)
    assert pred.classes == ("beats", "strings", "tiny") and P.shape == (len(starts), 3)
    saved = json.loads((out / "results" / "cnn_r16.json").read_text())
    assert saved["classes"] == man["classes"]
    hist = saved["protocols"]["group_holdout"]["history"]                # this fit's curves, one epoch
    assert len(hist["loss"]) == len(hist["accuracy"]) == len(hist["epoch_seconds"]) == 1
    assert "val_loss" not in hist and man["training"]["history"] == hist
    assert len(json.loads((out / "dataset.json").read_text())["unreadable"]) == 2
