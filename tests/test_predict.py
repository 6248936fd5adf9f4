"""genre.predict on real recordings: the openly licensed samples, a GTZAN clip, and bad input."""

from __future__ import annotations

import io
import json

import numpy as np
import pytest
import soundfile as sf

from genre import predict as P
from genre.config import SEGMENT_SECONDS, SR, data_dir, samples_dir
from genre.training.datasets import GTZAN_GENRES as GENRES
from genre.errors import AudioError, ModelError, NotAudioError, TooShortError

#: ../shared/samples/README.md: the expected answer of each recording.
EXPECTED = {
    "brahms_hungarian_dance_5.ogg": "classical",
    "macleod_vibe_ace.ogg": "jazz",
    "hobbs_lets_go_fishin.ogg": "country",
}
NOT_MUSIC = ["speech_librispeech.ogg", "humpback_whale.ogg"]


@pytest.fixture(scope="module")
def sample_predictions():
    return {name: P.predict(samples_dir() / name) for name in [*EXPECTED, *NOT_MUSIC]}


#: Measured misses, reported rather than hidden: {model name: {sample}}. The logistic regression
#: (57 features) ranks blues (0.24) just above jazz (0.22) on "Vibe Ace". For a listed pair the
#: test accepts the expected genre in second place only if the answer is flagged unsure, and
#: fails if the miss is gone (so the list stays true).
KNOWN_MISSES: dict[str, set[str]] = {"logreg": {"macleod_vibe_ace.ogg"}}
#: The pretrained ensemble (the default) answers pop (0.37, unsure) on the country sample, then
#: blues; version 1 answered pop at 0.82. Reported, not tuned away (the samples are never used to
#: fit or choose anything). The test fails if the miss is gone or if the answer becomes confident.
KNOWN_WRONG_UNSURE: dict[str, dict[str, str]] = {"pretrained": {"hobbs_lets_go_fishin.ogg": "pop"}}
#: Non-music samples a model's detector measurably misses (none at present: the pretrained
#: ensemble's detector missed the humpback whale until its contrast stage of 2026-12-06).
KNOWN_DETECTOR_MISSES: dict[str, set[str]] = {}


@pytest.mark.parametrize("name", list(EXPECTED))
def test_music_samples_get_their_genre(sample_predictions, name):
    p = sample_predictions[name]
    assert not p.not_music, p.verdict
    if name in KNOWN_WRONG_UNSURE.get(p.model, {}):
        assert p.genre == KNOWN_WRONG_UNSURE[p.model][name], f"{p.model} changed its answer: update the list"
        assert p.low_confidence and EXPECTED[name] in [g for g, _ in p.top(3)], p.top(3)
        pytest.xfail(f"known miss of {p.model}: {p.top(3)}")
    if name in KNOWN_MISSES.get(p.model, ()):
        assert p.genre != EXPECTED[name], f"{p.model} now gets {name} right: update KNOWN_MISSES"
        assert EXPECTED[name] in [g for g, _ in p.top(2)], p.top(3)
        assert p.low_confidence and p.verdict.startswith("Uncertain")
        pytest.xfail(f"known miss of {p.model}: {p.top(2)}")
    assert p.genre == EXPECTED[name], (p.model, p.top(3), p.verdict)


@pytest.mark.parametrize("name", NOT_MUSIC)
def test_non_music_samples_are_flagged(sample_predictions, name):
    p = sample_predictions[name]
    if name in KNOWN_DETECTOR_MISSES.get(p.model, ()):
        assert not p.not_music, f"{p.model} now flags {name}: update KNOWN_DETECTOR_MISSES"
        assert p.novelty["suspect"], p.novelty  # unusual for music, but under the threshold
        pytest.xfail(f"known detector miss of {p.model}: score {p.novelty['score']:.2f}")
    assert p.not_music, (p.novelty, p.top(3))
    assert "not sound like music" in p.verdict


def test_prediction_structure(sample_predictions):
    p = sample_predictions["hobbs_lets_go_fishin.ogg"]
    assert p.probabilities.shape == (len(GENRES),)
    assert p.probabilities.sum() == pytest.approx(1.0)
    # timeline: one row per analysed 3-s segment, each row a distribution: every segment of the
    # clip, or, for a model that pools a bounded number of patches (the pretrained default's
    # max_patches), that many, spread from the start to the end
    tl = p.timeline
    assert list(tl.columns) == ["start_s", "end_s", *GENRES]
    cap = (P.load_model(None).manifest.get("vector") or {}).get("max_patches")
    if cap:
        assert len(tl) == cap and tl["start_s"].iloc[0] == 0 and tl["end_s"].iloc[-1] > p.duration_s - 1
        assert tl["start_s"].is_monotonic_increasing
    else:
        assert len(tl) == pytest.approx(p.duration_s / SEGMENT_SECONDS, abs=1)
    assert (tl["end_s"] > tl["start_s"]).all() and tl["end_s"].max() <= p.duration_s + 1e-6
    np.testing.assert_allclose(tl[list(GENRES)].sum(axis=1), 1.0, atol=1e-6)
    # ranked top-k agrees with the probability vector
    top = p.top(3)
    assert [g for g, _ in top] == [GENRES[i] for i in np.argsort(-p.probabilities)[:3]]
    assert top[0][1] >= top[1][1] >= top[2][1]
    assert len(p.top(99)) == len(GENRES)
    assert set(p.timings_ms) >= {"decode", "inference", "novelty", "total"}
    assert p.timings_ms["total"] >= p.timings_ms["decode"] + p.timings_ms["inference"]
    assert p.model and p.model_display_name
    assert 0 <= p.segment_agreement <= 1


def test_to_dict_is_json(sample_predictions):
    for p in sample_predictions.values():
        d = json.loads(json.dumps(p.to_dict(), allow_nan=False))
        assert d["genre"] == p.genre
        assert set(d["probabilities"]) == set(GENRES)
        assert len(d["timeline"]["start_s"]) == len(p.timeline)
        assert d["not_music"] == p.not_music and d["verdict"] == p.verdict


def test_real_gtzan_clip():
    p = P.predict(data_dir() / "audio" / "classical" / "classical.00000.flac")
    assert p.genre == "classical"
    assert not p.not_music
    assert p.duration_s == pytest.approx(30.0, abs=0.7)


@pytest.mark.parametrize("clip", ["country.00048", "metal.00022", "reggae.00047"])
def test_16khz_gtzan_clip_is_not_called_non_music(clip):
    # full-length test-split clips that reached us at 16 kHz (nothing above 8 kHz): band-limited
    # music, like a low-bitrate MP3 or a phone recording, is still music
    genre = clip.split(".")[0]
    p = P.predict(data_dir() / "audio" / genre / f"{clip}.flac")
    assert not p.not_music, (p.novelty, p.verdict)
    assert "not sound like music" not in p.verdict


def test_bytes_input_matches_path_input():
    path = samples_dir() / "brahms_hungarian_dance_5.ogg"
    a = P.predict(path)
    b = P.predict(path.read_bytes())
    np.testing.assert_allclose(a.probabilities, b.probabilities, atol=1e-9)
    assert b.source == "<bytes>"


def test_shared_feature_path_matches_the_model(sample_predictions):
    # predict() computes a feature model's window features itself (to share them with the
    # non-music check); the answer must be exactly the model's own predict_clip.
    from genre import audio

    model = P.load_model(None)
    name = "hobbs_lets_go_fishin.ogg"  # 133 s: several 30-s windows
    sig = audio.load(samples_dir() / name)
    np.testing.assert_allclose(sample_predictions[name].probabilities, model.predict_clip(sig.y),
                               rtol=1e-6, atol=1e-9)
    starts, seg = model.predict_segments(sig.y)
    np.testing.assert_allclose(sample_predictions[name].timeline[list(GENRES)].to_numpy(), seg,
                               rtol=1e-6, atol=1e-9)


def test_models_are_cached_per_process():
    assert P.load_model(None) is P.load_model(None)


def test_bad_bytes_raise_typed_audio_error():
    with pytest.raises(NotAudioError):
        P.predict(b"definitely not an audio file" * 50)
    with pytest.raises(AudioError):
        P.predict(b"")


def test_too_short_audio_is_refused():
    buf = io.BytesIO()
    sf.write(buf, (0.3 * np.sin(np.arange(SR) * 0.05)).astype(np.float32), SR, format="WAV")
    with pytest.raises(TooShortError):
        P.predict(buf.getvalue())


def test_unknown_model_is_a_model_error():
    with pytest.raises(ModelError):
        P.predict(samples_dir() / "speech_librispeech.ogg", model="no_such_model")


class _Fixed:
    """A duck-typed Predictor returning given probabilities (to check the flag logic alone)."""

    name = "fixed"
    manifest = {"display_name": "Fixed"}
    classes = GENRES

    def __init__(self, probs):
        self.probs = np.asarray(probs, float)

    def predict_segments(self, y):
        starts = np.arange(0, len(y) / SR - SEGMENT_SECONDS + 1e-9, SEGMENT_SECONDS)
        return starts, np.tile(self.probs, (len(starts), 1))

    def predict_clip(self, y):
        return self.probs


def test_low_confidence_flag_follows_top_probability():
    path = data_dir() / "audio" / "blues" / "blues.00000.flac"
    sure = np.full(10, 0.2 / 9)
    sure[0] = 0.8
    unsure = np.full(10, 0.6 / 9)
    unsure[0] = 0.4
    a = P.predict(path, model=_Fixed(sure), novelty=False)
    b = P.predict(path, model=_Fixed(unsure), novelty=False)
    assert a.model == "fixed" and a.model_display_name == "Fixed"
    assert not a.low_confidence and a.genre == "blues"
    assert b.low_confidence and "Uncertain" in b.verdict
    assert not b.not_music  # the detector was not run
    # with the shipped detector, the non-music check runs and its numbers are reported
    nov = P.predict(path, model=_Fixed(sure)).novelty
    assert nov is not None and nov["score"] <= nov["threshold"]


def test_broken_model_output_is_a_model_error():
    with pytest.raises(ModelError):
        P.predict(data_dir() / "audio" / "blues" / "blues.00000.flac", model=_Fixed(np.ones(7) / 7),
                  novelty=False)


# --------------------------------------------------------------------------- batches and flags (issue 8)

class _Buggy(_Fixed):
    """A model with a bug that shows on one input only (its length): not a GenreError."""

    def __init__(self, bad_len):
        super().__init__(np.full(10, 0.1))
        self.bad_len = bad_len

    def predict_segments(self, y):
        if len(y) == self.bad_len:
            raise ZeroDivisionError("a bug")
        return super().predict_segments(y)


def write_tone(path, seconds, scale=0.3):
    """A 440 Hz tone; ``scale`` over 1 is written as float samples (16-bit would clip it)."""
    t = np.arange(int(seconds * SR)) / SR
    sf.write(path, scale * np.sin(2 * np.pi * 440 * t), SR, subtype="FLOAT" if scale > 1 else "PCM_16")
    return path


def test_a_batch_records_every_failure_against_its_file(tmp_path):
    good = [write_tone(tmp_path / f"good{i}.wav", 4 + i) for i in range(2)]
    loud = write_tone(tmp_path / "loud.wav", 4, scale=1e18)  # finite, absurd: librosa used to raise
    buggy = write_tone(tmp_path / "buggy.wav", 7)
    out = P.predict_many([good[0], loud, buggy, good[1]], model=_Buggy(7 * SR), progress=False,
                         novelty=False)
    assert [type(r).__name__ for r in out] == ["Prediction", "Failure", "Failure", "Prediction"]
    assert out[1].kind == "CorruptAudioError" and "full scale" in out[1].message
    assert not out[1].internal
    assert out[2].internal and out[2].kind == "ZeroDivisionError" and "bug" in out[2].message
    assert "ZeroDivisionError" in out[2].detail  # the traceback is kept for a bug report
    assert out[3].duration_s == pytest.approx(5.0)


def test_missing_detector_is_flagged(tmp_path, monkeypatch):
    from genre import config

    monkeypatch.setattr(config, "MODELS_DIR", tmp_path)  # a models/ folder without novelty/
    monkeypatch.setattr(config, "SHIPPED_MODELS_DIR", tmp_path)  # and no shipped one to fall back on
    path = write_tone(tmp_path / "a.wav", 4)
    p = P.predict(path, model=_Fixed(np.full(10, 0.1)))
    assert p.novelty_missing and p.novelty is None and not p.not_music
    assert P.NOVELTY_MISSING_NOTE in p.notes
    assert p.to_dict()["novelty_missing"] is True
    # asked not to check, nothing is missing
    q = P.predict(path, model=_Fixed(np.full(10, 0.1)), novelty=False)
    assert not q.novelty_missing and q.to_dict()["novelty_missing"] is False


def test_a_models_folder_without_a_detector_uses_the_shipped_one(tmp_path, monkeypatch):
    """``GENRE_MODELS_DIR`` (config.MODELS_DIR) naming a folder of your own without ``novelty/``, or
    ``models_dir`` naming one: the shipped detector answers "is it music?"."""
    from genre import config, novelty

    if not (config.SHIPPED_MODELS_DIR / novelty.NAME / "manifest.json").is_file():
        pytest.skip("no shipped detector")
    monkeypatch.setattr(config, "MODELS_DIR", tmp_path)
    assert P.load_detector() is not None
    assert P.load_detector(str(tmp_path)) is not None
    monkeypatch.setattr(config, "SHIPPED_MODELS_DIR", tmp_path)
    assert P.load_detector() is None


def test_a_broken_worker_pool_loses_nothing(tmp_path):
    import threading

    model = _Fixed(np.full(10, 0.1))
    model.lock = threading.Lock()  # cannot be sent to a worker process: the pool fails
    paths = [write_tone(tmp_path / f"t{i}.wav", 4) for i in range(3)]
    with pytest.warns(RuntimeWarning, match="remaining inputs"):
        out = P.predict_many(paths, model=model, n_jobs=2, progress=False, novelty=False)
    assert [type(r).__name__ for r in out] == ["Prediction"] * 3
def test_a_predictor_without_classes_is_refused():
    class _NoClasses(_Fixed):
        classes = None

    with pytest.raises(ModelError, match="which classes"):
        P.predict(data_dir() / "audio" / "blues" / "blues.00000.flac", model=_NoClasses(np.full(10, 0.1)),
                  novelty=False)
