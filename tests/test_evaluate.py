"""genre.training.evaluate: protocols, metrics, results files, and that shipped results reproduce."""

from __future__ import annotations

import json

import numpy as np
import pytest

from genre.training import evaluate
from genre.config import MODELS_DIR
from genre.training.datasets import GTZAN_GENRES as GENRES
from genre.training.datasets import artist_groups, dataset_table


@pytest.fixture(scope="module")
def table():
    return dataset_table()


def test_holdout_clips(table):
    h = evaluate.holdout_clips(table)
    assert {k: len(v) for k, v in h.items()} == {"train": 640, "test": 290, "audio_test": 144,
                                                 "audio_test_full": 79}
    assert not set(h["train"]) & set(h["test"])
    assert set(h["audio_test_full"]) <= set(h["audio_test"]) <= set(h["test"])


def test_artist_folds_disjoint_complete_deterministic(table):
    clips = evaluate.artist_cv_clips(table)
    assert len(clips) == int(((table["split"] != "excluded") & table["has_audio"]).sum())
    folds = evaluate.artist_folds(clips, n_splits=5, seed=0)
    assert len(folds) == 5
    groups = artist_groups()
    tested = []
    for train, test in folds:
        assert not set(train) & set(test)
        assert set(train) | set(test) == set(clips)
        assert not set(groups.loc[train]) & set(groups.loc[test])
        tested += test
    assert sorted(tested) == sorted(clips)
    # same folds whatever the input order; a different seed gives different folds
    again = evaluate.artist_folds(list(reversed(clips)), n_splits=5, seed=0)
    assert again == folds
    assert evaluate.artist_folds(clips, n_splits=5, seed=1) != folds


def test_compute_metrics_known_example():
    y_true = ["blues", "blues", "rock", "rock", "jazz"]
    y_pred = ["blues", "rock", "rock", "rock", "blues"]
    m = evaluate.compute_metrics(y_true, y_pred)
    assert m["accuracy"] == pytest.approx(3 / 5)
    assert m["labels"] == list(GENRES)
    cm = np.array(m["confusion"])
    assert cm.shape == (10, 10) and cm.sum() == 5
    b, r, j = GENRES.index("blues"), GENRES.index("rock"), GENRES.index("jazz")
    assert cm[b, b] == 1 and cm[b, r] == 1 and cm[r, r] == 2 and cm[j, b] == 1
    assert m["per_genre_f1"]["rock"] == pytest.approx(0.8)
    assert m["per_genre_f1"]["jazz"] == 0.0
    assert m["per_genre_f1"]["metal"] is None  # absent and never predicted
    # macro over the genres present in y_true: blues 0.5, rock 0.8, jazz 0
    assert m["macro_f1"] == pytest.approx((0.5 + 0.8 + 0.0) / 3)
    # probabilities and integer labels give the same answer
    proba = np.eye(10)[[GENRES.index(g) for g in y_pred]]
    assert evaluate.compute_metrics([GENRES.index(g) for g in y_true], proba) == m


def test_write_result_merges_and_leaderboard(tmp_path):
    m1 = evaluate.compute_metrics(["rock", "jazz"], ["rock", "rock"]) | {"n_train": 10}
    m2 = evaluate.compute_metrics(["rock", "jazz"], ["rock", "jazz"]) | {"n_train": 20}
    evaluate.write_result("a", "filtered_holdout", m1, family="features", results=tmp_path)
    evaluate.write_result("a", "random_10fold", m2, size_bytes=123, results=tmp_path)
    evaluate.write_result("b", "filtered_holdout", m2, family="deep", results=tmp_path)
    data = json.loads((tmp_path / "a.json").read_text())
    assert set(data["protocols"]) == {"filtered_holdout", "random_10fold"}
    assert data["family"] == "features" and data["size_bytes"] == 123
    board = evaluate.leaderboard(tmp_path)
    assert len(board) == 3
    fh = board[board["protocol"] == "filtered_holdout"]
    assert list(fh["model"]) == ["b", "a"]  # sorted by accuracy
    assert fh["accuracy"].tolist() == [1.0, 0.5]
    assert evaluate.load_result("missing", tmp_path) == {}


def _shipped_results():
    return evaluate.leaderboard(evaluate.results_dir(MODELS_DIR))


def test_shipped_results_cover_all_protocols():
    from genre.models.feature_models import MODEL_NAMES

    board = _shipped_results()
    feats = board[board["model"].isin(MODEL_NAMES)]
    assert set(feats["model"]) == set(MODEL_NAMES)
    for name, rows in feats.groupby("model"):
        assert set(evaluate.PROTOCOLS) <= set(rows["protocol"]), name
        r = rows.set_index("protocol")
        assert r.loc["filtered_holdout", "n_test"] == 290
        assert r.loc["audio_holdout", "n_test"] == 144
        assert r.loc["audio_holdout_full", "n_test"] == 79
        assert r.loc["random_10fold", "n_test"] == 1000
        for cm, n in zip(r["confusion"], r["n_test"]):
            assert np.array(cm).shape == (10, 10) and np.array(cm).sum() == n


@pytest.mark.parametrize("name", ["logreg", "knn"])
def test_retrain_reproduces_recorded_score(name, table):
    recorded = evaluate.load_result(name, evaluate.results_dir(MODELS_DIR))["protocols"]["filtered_holdout"]
    got = evaluate.evaluate_protocol(name, "filtered_holdout", recorded["params"], table=table)
    for proto in ("filtered_holdout", "audio_holdout", "audio_holdout_full"):
        rec = evaluate.load_result(name, evaluate.results_dir(MODELS_DIR))["protocols"][proto]
        assert got[proto]["accuracy"] == pytest.approx(rec["accuracy"], abs=1e-9)
        assert got[proto]["macro_f1"] == pytest.approx(rec["macro_f1"], abs=1e-9)
        assert got[proto]["confusion"] == rec["confusion"]
