"""genre.app.dashboard: the non-drawing logic behind the pages."""

import io
import json

import numpy as np
import pandas as pd
import pytest
import soundfile as sf

from genre.app import dashboard
from genre.config import DEMO_DIR, GENRES, SR


def _board():
    rows = []
    for model, h, r in [("a", 0.5, 0.7), ("b", 0.6, 0.75), ("c", 0.4, np.nan)]:
        for proto, acc in [("filtered_holdout", h), ("random_10fold", r)]:
            if acc != acc:
                continue
            rows.append({"model": model, "display_name": model.upper(), "family": "features",
                         "protocol": proto, "accuracy": acc, "macro_f1": acc - 0.1,
                         "n_test": 290, "fit_time_s": 1.0, "model_latency_ms": 2.0,
                         "size_bytes": 1e6, "per_genre_f1": {g: acc for g in GENRES},
                         "confusion": None, "labels": None})
    return pd.DataFrame(rows)


def test_demo_clips_index_matches_files():
    df = dashboard.demo_clips()
    assert len(df) >= 10
    assert set(df["source"]) == {"gtzan", "sample"}
    assert all(p.startswith(str(DEMO_DIR)) for p in df["path"])
    total = sum((DEMO_DIR / f).stat().st_size for f in df["file"])
    assert total < 5e6
    # every openly licensed sample travels with its attribution file
    for f in df.loc[df["source"] == "sample", "file"]:
        assert (DEMO_DIR / f).with_suffix(".txt").is_file()
    # GTZAN demo clips come from the fault-filtered test split
    from genre.training.datasets import dataset_table
    splits = dataset_table()["split"]
    assert (splits.loc[df.loc[df["source"] == "gtzan", "clip"]] == "test").all()


def test_demo_clips_missing_index(tmp_path):
    assert dashboard.demo_clips(tmp_path).empty


def test_best_model_gap_and_tables():
    board = _board()
    assert dashboard.best_model(board)["model"] == "b"
    assert dashboard.best_model(board, shipped={"a", "c"})["model"] == "a"
    assert dashboard.best_model(board.iloc[:0]) is None
    gap = dashboard.gap_table(board)
    assert list(gap["model"]) == ["b", "a"]  # c has no random result
    np.testing.assert_allclose(gap["gap"], [0.15, 0.2])
    wide = dashboard.protocol_table(board)
    assert list(wide.columns[3:]) == ["filtered_holdout", "random_10fold"]
    assert list(wide["model"]) == ["b", "a", "c"]
    f1 = dashboard.f1_table(board)
    assert f1.shape == (3, 10) and f1.loc["B", "rock"] == pytest.approx(0.6)
    cost = dashboard.cost_table(board)
    assert cost["size_mb"].tolist() == [1.0, 1.0, 1.0]
    assert cost["model"].tolist() == ["b", "a", "c"]
    assert cost["audio_accuracy"].isna().all()  # no audio_holdout rows in this board
    assert all(cost[c].dtype == float for c in ("accuracy", "audio_accuracy", "latency_ms"))


def test_model_options_order_and_heavy_flag():
    mans = [{"name": "a", "kind": "sklearn"}, {"name": "b", "kind": "sklearn"},
            {"name": "cnn", "kind": "keras"}, {"name": "novelty", "kind": "novelty"}]
    opts = dashboard.model_options(mans, _board())
    assert [o["name"] for o in opts] == ["b", "a", "cnn"]
    assert [o["heavy"] for o in opts] == [False, False, True]
    opts = dashboard.model_options(mans, _board(), default="a")
    assert [o["name"] for o in opts] == ["a", "b", "cnn"]
    assert dashboard.model_label(opts[0]).endswith("(default)")
    assert "loads TensorFlow" in dashboard.model_label(opts[2])
    assert "not scored" in dashboard.model_label(opts[2])
    # networks exported to ONNX (and stacks of them) run on onnxruntime: not heavy
    onnx = [{"name": "cnn", "kind": "keras", "onnx": "model.onnx"},
            {"name": "st", "kind": "stack", "members": ["cnn"]},
            {"name": "st_old", "kind": "stack", "members": ["cnn_old"]},
            {"name": "cnn_old", "kind": "keras"}, {"name": "pretrained", "kind": "pretrained_onnx"}]
    heavy = {o["name"]: o["heavy"] for o in dashboard.model_options(onnx, _board())}
    assert heavy == {"cnn": False, "st": False, "st_old": True, "cnn_old": True, "pretrained": False}


def test_dataset_summary_counts():
    from genre.training.datasets import dataset_table
    s = dashboard.dataset_summary(dataset_table())
    assert s["clips"] == 1000 and s["genres"] == 10 and s["per_genre"] == 100
    assert s["splits"] == {"train": 443, "test": 290, "valid": 197, "excluded": 70}
    assert 0 < s["with_audio"] <= 565


def test_prediction_downloads_roundtrip():
    d = {"source": "x.ogg", "duration_s": 6.0,
         "probabilities": {g: 0.1 for g in GENRES},
         "timeline": {"start_s": [0.0, 3.0], "end_s": [3.0, 6.0],
                      "probabilities": {g: [0.1, 0.1] for g in GENRES}}}
    csv = pd.read_csv(io.StringIO(dashboard.prediction_csv(d)))
    assert list(csv.columns) == ["segment", "start_s", "end_s", *GENRES]
    assert list(csv["segment"].astype(str)) == ["clip", "0", "1"]
    assert json.loads(dashboard.prediction_json(d)) == d


def test_frame_to_mono_deinterleaves_stereo_int16():
    left = np.full(960, 16384, dtype=np.int16)
    right = np.zeros(960, dtype=np.int16)
    packed = np.stack([left, right], axis=1).reshape(1, -1)  # s16 interleaved, as av gives
    y = dashboard.frame_to_mono(packed, 2, "s16")
    assert y.shape == (960,) and y.dtype == np.float32
    np.testing.assert_allclose(y, 0.25)
    planar = np.stack([left, right])  # s16p: (channels, n)
    np.testing.assert_allclose(dashboard.frame_to_mono(planar, 2, "s16p"), 0.25)


class _Frame:
    """Stand-in for av.AudioFrame (48 kHz interleaved stereo s16, 20 ms)."""

    def __init__(self, data):
        self._d = data
        self.sample_rate = 48000

        class L:
            channels = (0, 1)

        class F:
            name = "s16"

        self.layout, self.format = L(), F()

    def to_ndarray(self):
        return self._d


def test_live_buffer_resamples_and_keeps_a_rolling_window():
    buf = dashboard.LiveBuffer(seconds=4.0)
    t = np.arange(48000 * 6) / 48000
    tone = (0.5 * np.sin(2 * np.pi * 440 * t) * 32767).astype(np.int16)
    for i in range(0, len(tone), 960):
        block = tone[i:i + 960]
        frame = _Frame(np.stack([block, block], axis=1).reshape(1, -1))
        assert buf.push_frame(frame) is frame
    assert buf.buffered_seconds == pytest.approx(4.0, abs=0.05)
    y = buf.window(3.0, SR)
    assert len(y) == pytest.approx(3 * SR, abs=5)
    spec = np.abs(np.fft.rfft(y))
    assert np.fft.rfftfreq(len(y), 1 / SR)[spec.argmax()] == pytest.approx(440, abs=2)
    wav = dashboard.to_wav_bytes(y)
    back, sr = sf.read(io.BytesIO(wav))
    assert sr == SR and len(back) == len(y)
    buf.clear()
    assert buf.buffered_seconds == 0 and len(buf.window(3.0)) == 0


def test_ice_servers_from_secrets_env_or_none():
    assert dashboard.ice_servers({}, {}) == []
    s = {"ice_servers": [{"urls": ["stun:stun.example.org:3478"]}]}
    assert dashboard.ice_servers(s, {}) == [{"urls": ["stun:stun.example.org:3478"]}]
    env = {"GENRE_ICE_SERVERS": json.dumps({"iceServers": [{"urls": "turn:t.example", "username": "u",
                                                           "credential": "c"}]})}
    assert dashboard.ice_servers(None, env)[0]["username"] == "u"
    assert dashboard.ice_servers(None, {"GENRE_ICE_SERVERS": "not json"}) == []


def test_secrets_example_parses_to_ice_servers():
    import tomllib

    from genre.config import ROOT
    example = tomllib.loads((ROOT / ".streamlit" / "secrets.toml.example").read_text())
    servers = dashboard.ice_servers(example, {})
    assert servers and all("urls" in s for s in servers)
