"""genre.app.dashboard: the non-drawing logic behind the pages."""

import io
import json

import numpy as np
import pandas as pd
import pytest
import soundfile as sf

from genre.app import dashboard
from genre.config import DEMO_DIR, SR
from genre.training.datasets import GTZAN_GENRES as GENRES


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


def test_model_options_order_and_no_onnx_flag():
    mans = [{"name": "a", "kind": "sklearn"}, {"name": "b", "kind": "sklearn"},
            {"name": "cnn", "kind": "keras"}, {"name": "novelty", "kind": "novelty"}]
    opts = dashboard.model_options(mans, _board())
    assert [o["name"] for o in opts] == ["b", "a", "cnn"]
    assert [o["no_onnx"] for o in opts] == [False, False, True]
    opts = dashboard.model_options(mans, _board(), default="a")
    assert [o["name"] for o in opts] == ["a", "b", "cnn"]
    assert dashboard.model_label(opts[0]).endswith("(default)")
    assert "not exported to ONNX" in dashboard.model_label(opts[2])
    assert "not scored" in dashboard.model_label(opts[2])
    # networks exported to ONNX (and stacks of them) run on onnxruntime
    onnx = [{"name": "cnn", "kind": "keras", "onnx": "model.onnx"},
            {"name": "st", "kind": "stack", "members": ["cnn"]},
            {"name": "st_old", "kind": "stack", "members": ["cnn_old"]},
            {"name": "cnn_old", "kind": "keras"}, {"name": "pretrained", "kind": "pretrained_onnx"}]
    no_onnx = {o["name"]: o["no_onnx"] for o in dashboard.model_options(onnx, _board())}
    assert no_onnx == {"cnn": False, "st": False, "st_old": True, "cnn_old": True, "pretrained": False}


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
    assert dashboard.ice_servers({"ice_servers": [{"urls": "stun:a.example"}]}, {}) == [
        {"urls": ["stun:a.example"]}]


@pytest.mark.parametrize("secrets,env,says", [
    ({"ice_servers": "stun:stun.example.org:3478"}, {}, "must be a list"),
    ({}, {"GENRE_ICE_SERVERS": "5"}, "must be a list"),
    ({}, {"GENRE_ICE_SERVERS": "not json"}, "not valid JSON"),
    ({}, {"GENRE_ICE_SERVERS": "[{"}, "not valid JSON"),
    ({"ice_servers": [5]}, {}, "server 1"),
    ({"ice_servers": [{"username": "u"}]}, {}, "needs \"urls\""),
    ({"ice_servers": [{"urls": ["http://x"]}]}, {}, "not stun:"),
    ({"ice_servers": [{"urls": "turn:t.example"}]}, {}, "username"),
])
def test_ice_servers_malformed_values_say_what_is_wrong(secrets, env, says):
    """A string, a number, invalid JSON or an incomplete server used to raise ValueError or
    TypeError deep in live mode, or to be ignored silently; now one clear IceConfigError."""
    with pytest.raises(dashboard.IceConfigError, match=says.replace("(", r"\(")):
        dashboard.ice_servers(secrets, env)


def test_secrets_example_parses_to_ice_servers():
    import tomllib

    from genre.config import ROOT
    example = tomllib.loads((ROOT / ".streamlit" / "secrets.toml.example").read_text())
    servers = dashboard.ice_servers(example, {})
    assert servers and all("urls" in s for s in servers)


# ------------------------------------------------------------------------------ shipped data (Cloud)

def test_shipped_dataset_needs_no_data_folder(tmp_path):
    table = dashboard.shipped_dataset(gtzan_dir=tmp_path / "nowhere")
    assert len(table) == 1000 and table.index.name == "clip"
    assert set(dashboard.dataset_summary(table)) >= {"clips", "splits"}
    assert (table["audio_path"] == "").all() and dashboard.audio_paths(table) == {}
    s = dashboard.dataset_summary(table)
    assert s["clips"] == 1000 and s["genres"] == 10 and s["splits"]["test"] == 290


def test_shipped_dataset_paths_only_where_files_exist(tmp_path):
    (tmp_path / "audio" / "blues").mkdir(parents=True)
    (tmp_path / "audio" / "blues" / "blues.00000.flac").write_bytes(b"x")
    table = dashboard.shipped_dataset(gtzan_dir=tmp_path)
    assert dashboard.audio_paths(table) == {"blues.00000": str(tmp_path / "audio/blues/blues.00000.flac")}


def test_no_table_anywhere_gives_a_message_without_paths(tmp_path):
    with pytest.raises(dashboard.DataUnavailable) as info:
        dashboard.shipped_dataset(models_dir=tmp_path / "m", gtzan_dir=tmp_path / "g")
    assert str(tmp_path) not in str(info.value) and "GENRE_" not in str(info.value)


def test_public_message_hides_server_paths():
    msg = dashboard.public_message("No embeddings at /srv/app/models/embeddings.parquet, sorry.")
    assert "/srv" not in msg and "embeddings.parquet" in msg


def test_plain_text_escapes_markdown():
    import re

    name = "**bold**[link](http://x).wav"
    esc = dashboard.plain_text(name)
    assert re.sub(r"\\(.)", r"\1", esc) == name  # unescaping gives the name back
    for ch in "*[]():":
        assert ch not in re.sub(r"\\.", "", esc)  # every special character is escaped


# ------------------------------------------------------------------------------ leaderboard statistics

def test_wilson_interval_known_values():
    lo, hi = dashboard.wilson_interval(50, 100)
    assert lo == pytest.approx(0.4038, abs=1e-4) and hi == pytest.approx(0.5962, abs=1e-4)
    lo, hi = dashboard.wilson_interval(0, 10)
    assert lo == 0.0 and hi == pytest.approx(0.2775, abs=1e-4)
    assert np.isnan(dashboard.wilson_interval(3, 0)[0])
    # n = 290 at 59 %: about +-5.7 points, as the issue estimated
    lo, hi = dashboard.wilson_interval(171, 290)
    assert 0.10 < hi - lo < 0.12


def test_macro_f1_bootstrap_interval_brackets_the_estimate_and_narrows_with_n():
    cm = np.diag([10] * 10) + 2
    f1 = np.diag(cm) * 2 / (cm.sum(axis=0) + cm.sum(axis=1))
    lo, hi = dashboard.macro_f1_interval(cm.tolist())
    assert lo < f1.mean() < hi
    lo4, hi4 = dashboard.macro_f1_interval((cm * 4).tolist())
    assert hi4 - lo4 < hi - lo


def test_absent_genre_is_na_not_zero_and_counts_come_from_the_confusion():
    from genre.results import leaderboard

    board = leaderboard()
    rows = board[board["protocol"] == "audio_holdout"]
    if rows.empty:
        pytest.skip("no audio_holdout results shipped")
    counts = dashboard.genre_counts(rows.iloc[0]["confusion"], rows.iloc[0]["labels"])
    assert sum(counts.values()) == int(rows.iloc[0]["n_test"])
    table = dashboard.f1_table(board, "audio_holdout")
    for g, n in counts.items():
        assert table[g].isna().all() == (n == 0), g
    cells = dashboard.accuracy_table(board)
    r = cells.iloc[0]
    assert r["low"] <= r["value"] <= r["high"] and "(" in r["cell"]


def test_training_curves_read_histories_in_either_place():
    res = {"history": {"loss": [1.0, 0.5], "val_accuracy": [0.2, 0.4]},
           "protocols": {"audio_holdout": {"history": [{"loss": [2, 1, 0.5]}, {"loss": [3, None]}]}}}
    c = dashboard.training_curves(res)
    assert len(c) == 2 + 2 + 3 + 1
    assert set(c["protocol"]) == {"", "audio_holdout"}
    assert dashboard.training_curves({}).empty


def test_curve_models_summary_and_retrain_command():
    board = pd.DataFrame({"model": ["a", "cnn", "lstm", "cnn"], "family": ["features", "deep", "deep", "deep"]})
    assert dashboard.curve_models(board) == ["cnn", "lstm"]               # every network, curves or not
    assert dashboard.curve_models(board, ["a"]) == ["a", "cnn", "lstm"]   # and any model with curves
    res = {"protocols": {"audio_holdout": {"history": {
        "loss": [2.0, 1.5, 1.2, 1.0], "accuracy": [0.2, 0.4, 0.5, 0.6], "epoch_seconds": [3.0, 4.0, 5.0, 4.0],
        "val_loss": [None, 1.9, None, 1.7], "val_accuracy": [None, 0.3, None, 0.4], "val_every": 2}}}}
    c = dashboard.training_curves(res)
    info = dashboard.curves_summary(c)
    assert info == {"epochs": 4, "folds": 1, "validation": True, "val_every": 2,
                    "seconds_median": 4.0, "seconds_total": 16.0}
    plain = dashboard.curves_summary(c[~c["series"].str.startswith("val")])
    assert not plain["validation"] and plain["val_every"] is None
    assert dashboard.curves_summary(c.iloc[:0])["epochs"] == 0
    cmd = dashboard.retrain_command("lstm_r4")
    assert cmd.endswith("python -m genre.training.train_deep --models lstm_r4")


# ------------------------------------------------------------------------------ analysis: queue, spooling, memory

def test_gate_runs_at_most_limit_at_once_first_come_first_served():
    import threading
    import time

    from genre.app.analysis import AnalysisGate

    gate = AnalysisGate(limit=2)
    running, peak, order, seen = [0], [0], [], {}
    lock = threading.Lock()
    release = threading.Event()

    def job(i):
        with gate.slot(on_wait=lambda ahead: seen.setdefault(i, ahead), poll_s=0.01):
            with lock:
                running[0] += 1
                peak[0] = max(peak[0], running[0])
                order.append(i)
            release.wait(5)
            with lock:
                running[0] -= 1

    threads = []
    for i in range(5):
        t = threading.Thread(target=job, args=(i,))
        t.start()
        threads.append(t)
        while gate.running + gate.waiting < i + 1:  # arrival order is the start order
            time.sleep(0.001)
    assert gate.running == 2 and gate.waiting == 3
    release.set()
    for t in threads:
        t.join(10)
    assert peak[0] == 2
    assert order[:2] == [0, 1] and sorted(order) == list(range(5))
    assert order == sorted(order)  # first come, first served
    assert seen[2] == 2 and seen[3] == 3 and seen[4] == 4  # "waiting for N other analyses"


def test_gate_a_stopped_waiter_leaves_the_queue():
    from genre.app.analysis import AnalysisGate

    gate = AnalysisGate(limit=1)

    class Stop(BaseException):
        pass

    def stop(_):
        raise Stop

    with gate.slot():
        with pytest.raises(Stop):
            with gate.slot(on_wait=stop):
                pass
        assert gate.waiting == 0
    assert gate.running == 0
    with gate.slot():  # still usable
        assert gate.running == 1


def test_spooled_input_copies_and_deletes_its_file():
    import gc
    import os

    from genre.app.analysis import SpooledInput

    data = os.urandom(3 << 20)
    sp = SpooledInput(io.BytesIO(data), "my song.WAV", key="k")
    assert sp.size == len(data) and sp.path.endswith(".wav")
    with open(sp.path, "rb") as f:
        assert f.read() == data
    path = sp.path
    del sp
    gc.collect()
    assert not os.path.exists(path)
    odd = SpooledInput(io.BytesIO(b"abc"), "**x**[y](http:z).w/a?v")
    assert "*" not in odd.path and "[" not in odd.path
    odd.close()


def test_aggregate_timeline_bounds_points_and_keeps_probabilities():
    from genre.app.analysis import aggregate_timeline

    n = 200  # a 10-minute input at 3-s segments
    p = np.random.default_rng(0).dirichlet(np.ones(10), size=n)
    t = np.arange(n) * 3.0
    t2, p2, bin_s = aggregate_timeline(t, p, max_points=100)
    assert len(t2) <= 100 and bin_s == 6.0
    np.testing.assert_allclose(p2.sum(axis=1), 1.0)
    np.testing.assert_allclose(p2[0], p[:2].mean(axis=0))
    t3, p3, b3 = aggregate_timeline(t[:10], p[:10])
    assert len(t3) == 10 and b3 == 3.0


def test_analyse_real_clip_matches_predict_and_stays_small():
    from genre.app import analysis
    from genre.config import data_dir
    from genre.predict import predict

    clip = data_dir() / "audio" / "classical" / "classical.00011.flac"
    if not clip.is_file():
        pytest.skip("GTZAN audio not found")
    calls = []
    out = analysis.analyse(str(clip), None, name="c.flac", progress=lambda f, t: calls.append(f))
    ref = predict(str(clip))
    assert out.prediction.genre == ref.genre
    np.testing.assert_allclose(out.prediction.probabilities, ref.probabilities, atol=1e-9)
    assert out.result["source"] == "c.flac"
    assert calls == sorted(calls) and calls[-1] == 1.0 and len(calls) >= 4
    assert out.nbytes < 2e6  # a 30-s clip: envelope, small spectrogram, Ogg for the player
    back, sr = sf.read(io.BytesIO(out.audio))
    assert abs(len(back) / sr - out.prediction.duration_s) < 0.1


def test_long_input_reports_progress_per_window():
    from genre.app import analysis

    sr = SR
    t = np.arange(sr * 95) / sr
    y = (0.2 * np.sin(2 * np.pi * 220 * t) + 0.05 * np.random.default_rng(0).normal(size=len(t)))
    texts = []
    # a feature model analyses 30-s windows (the default pretrained ensemble six fixed excerpts)
    analysis.analyse(dashboard.to_wav_bytes(y.astype(np.float32), sr), "soft_voting", keep_audio=False,
                     progress=lambda f, text: texts.append(text))
    windows = [x for x in texts if x.startswith("Analysed window")]
    assert windows[-1] == "Analysed window 4 of 4..." and len(windows) == 4


def test_webrtc_is_never_imported_after_tensorflow():
    """``import tensorflow; import pylibsrtp`` segfaults; preload_webrtc refuses that order."""
    import subprocess
    import sys

    code = ("import tensorflow, sys\n"
            "from genre.app import analysis\n"
            "ok, why = analysis.webrtc_status()\n"
            "assert not ok and 'pylibsrtp' not in sys.modules, why\n"
            "print('refused:', why)\n")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, (out.returncode, out.stderr[-2000:])
    assert "Restart the server" in out.stdout
    code = ("from genre.app import analysis\nimport sys\n"
            "assert analysis.preload_webrtc() and 'pylibsrtp' in sys.modules\n"
            "import tensorflow\nprint('fine')\n")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300)
    assert out.returncode == 0 and "fine" in out.stdout, (out.returncode, out.stderr[-2000:])


# ------------------------------------------------------------------------------ where does it sit

@pytest.fixture(scope="module")
def space():
    from genre.app.placement import FeatureSpace
    return FeatureSpace(dashboard.shipped_dataset())


def test_pca_and_lda_place_a_clip_exactly_on_the_shipped_map(space):
    from genre.config import FEATURE_COLUMNS
    from genre.training.embeddings import load

    maps = load().set_index("clip")
    for clip in ("blues.00000", "metal.00042", "jazz.00010"):
        v = space.scaler.transform(space.table.loc[[clip], list(FEATURE_COLUMNS)])[0]
        for method in ("pca", "lda"):
            x, y, how = space.place(v, maps.reset_index(), method)
            assert how == "exact"
            assert (x, y) == pytest.approx(tuple(maps.loc[clip, [f"{method}_x", f"{method}_y"]]), abs=1e-4)
        x, y, how = space.place(v, maps.reset_index(), "tsne")
        assert how == "nearest-neighbour" and np.isfinite(x)


def test_nearest_clips_of_a_gtzan_clip_start_with_itself(space):
    from genre.config import FEATURE_COLUMNS

    v = space.scaler.transform(space.table.loc[["disco.00005"], list(FEATURE_COLUMNS)])[0]
    near = space.neighbours(v)
    assert len(near) == 5 and near["clip"][0] == "disco.00005" and near["distance"][0] < 1e-6
    assert list(near["distance"]) == sorted(near["distance"])
    assert {"artist", "title", "audio_path"} <= set(near.columns)


def test_warmup_loads_the_default_model_once_in_the_background():
    import subprocess
    import sys

    code = ("import time, json\n"
            "from genre.app import analysis\n"
            "from genre.predict import load_model\n"
            "first = analysis.start_warmup(); again = analysis.start_warmup()\n"
            "while analysis.warmup_state()['state'] == 'running': time.sleep(0.2)\n"
            "s = analysis.warmup_state()\n"
            "print(json.dumps({'first': first, 'again': again, 'state': s['state'],\n"
            "                  'cached': load_model.cache_info().currsize}))\n")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=600)
    assert out.returncode == 0, out.stderr[-2000:]
    res = json.loads(out.stdout.strip().splitlines()[-1])
    assert res == {"first": True, "again": False, "state": "done", "cached": 1}
    off = subprocess.run([sys.executable, "-c", "from genre.app import analysis; "
                          "print(analysis.start_warmup(), analysis.warmup_state()['state'])"],
                         capture_output=True, text=True, timeout=300, env={**__import__("os").environ,
                                                                           "GENRE_WARMUP": "0"})
    assert off.stdout.split()[-2:] == ["False", "off"]


# ------------------------------------------------------------------------------ any taxonomy

def _user_board():
    labels = ["strings", "beats", "tiny"]
    cm = [[4, 0, 0], [1, 3, 0], [0, 0, 0]]
    return pd.DataFrame([{"model": "logreg", "display_name": "Logistic regression", "family": "linear",
                          "protocol": p, "accuracy": 0.875, "macro_f1": 0.8, "n_test": 8, "fit_time_s": 0.1,
                          "model_latency_ms": 1.0, "size_bytes": 1e4,
                          "per_genre_f1": {"strings": 0.9, "beats": 0.85, "tiny": 0.0},
                          "confusion": cm, "labels": labels} for p in ("group_holdout", "group_cv")])


def test_tables_take_the_classes_from_the_results_rows():
    board = _user_board()
    f1 = dashboard.f1_table(board, "group_cv")
    assert list(f1.columns) == ["strings", "beats", "tiny"]
    assert f1.loc["Logistic regression", "beats"] == pytest.approx(0.85)
    assert np.isnan(f1.loc["Logistic regression", "tiny"])  # no test clip of it: n/a, not 0.00
    assert dashboard.genre_counts(board["confusion"][0], board["labels"][0]) == {"strings": 4, "beats": 4, "tiny": 0}
    assert dashboard.genre_counts(board["confusion"][0]) == {}  # rows without names are not guessed
    assert dashboard.headline_protocol(board) == "group_cv"
    assert dashboard.headline_protocol(_board()) == dashboard.HONEST
    assert dashboard.best_model(board, dashboard.headline_protocol(board))["model"] == "logreg"
    cost = dashboard.cost_table(board, "group_cv")
    assert cost["accuracy"].tolist() == [0.875]


def test_prediction_csv_in_the_model_classes():
    d = {"source": "x.ogg", "duration_s": 6.0, "classes": ["strings", "beats"],
         "probabilities": {"strings": 0.3, "beats": 0.7},
         "timeline": {"start_s": [0.0, 3.0], "end_s": [3.0, 6.0],
                      "probabilities": {"strings": [0.2, 0.4], "beats": [0.8, 0.6]}}}
    csv = pd.read_csv(io.StringIO(dashboard.prediction_csv(d)))
    assert list(csv.columns) == ["segment", "start_s", "end_s", "strings", "beats"]
    assert csv["beats"].tolist() == pytest.approx([0.7, 0.8, 0.6])


def test_models_folder_and_taxonomy(tmp_path):
    from genre.config import SHIPPED_MODELS_DIR

    shipped = dashboard.models_folder(SHIPPED_MODELS_DIR)
    assert shipped["shipped"] and shipped["name"] == "models"
    mine = tmp_path / "deep" / "my_models"
    mine.mkdir(parents=True)
    (mine / "dataset.json").write_text(json.dumps({"classes": ["beats", "strings"]}))
    info = dashboard.models_folder(mine)
    assert info == {"name": "my_models", "shipped": False, "dataset": {"classes": ["beats", "strings"]}}
    (mine / "dataset.json").write_text("{not json")
    assert dashboard.models_folder(mine)["dataset"] == {}
    mans = [{"name": "novelty", "kind": "novelty"}, {"name": "knn", "classes": ["a", "b"]},
            {"name": "logreg", "classes": ["b", "c"]}]
    assert dashboard.taxonomy(mans, "logreg") == ["b", "c"]
    assert dashboard.taxonomy(mans, None) == ["a", "b"]
    assert dashboard.taxonomy([], None) == []
