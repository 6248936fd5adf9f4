"""genre.novelty: the shipped non-music detector flags speech and a whale, and not music.

The recordings in ../shared/samples were never used to fit or tune the detector; they are the test.
"""

from __future__ import annotations

import json

import numpy as np
import pytest

from genre import audio, novelty, registry
from genre.training import datasets, novelty_fit
from genre.config import FEATURE_COLUMNS, SR, data_dir, samples_dir

MUSIC = ["brahms_hungarian_dance_5.ogg", "macleod_vibe_ace.ogg", "hobbs_lets_go_fishin.ogg"]
NOT_MUSIC = ["speech_librispeech.ogg", "humpback_whale.ogg"]


@pytest.fixture(scope="module")
def detector():
    return novelty.load()


@pytest.fixture(scope="module")
def sample_scores(detector):
    out = {}
    for name in MUSIC + NOT_MUSIC:
        sig = audio.load(samples_dir() / name)
        out[name] = detector.score_signal(sig.y, sig.sr)
    return out


def test_shipped_artifact_is_verified_and_documented():
    man = registry.verify(novelty.NAME)
    assert man["kind"] == "novelty"
    assert man["feature_columns"] == list(FEATURE_COLUMNS)
    # the thresholds are the stated percentiles of held-out music scores
    assert man["threshold"] > man["suspect_threshold"] > man["heldout_music"]["median"]
    assert man["heldout_music"]["flagged_share"] <= 1 - man["threshold_percentile"] / 100 + 1e-9


def test_thresholds_match_heldout_percentiles(detector):
    parts = detector.heldout_parts_
    assert set(parts) == {"table", "bandlimited"}
    assert len(parts["table"]) == 1000 and len(parts["bandlimited"]) > 400
    assert detector.threshold_ == pytest.approx(max(np.percentile(s, detector.percentile)
                                                    for s in parts.values()))
    assert detector.suspect_threshold_ == pytest.approx(max(np.percentile(s, detector.suspect_percentile)
                                                            for s in parts.values()))
    for s in parts.values():  # at most 1 % of either held-out music population is above
        assert np.mean(s > detector.threshold_) <= 1 - detector.percentile / 100 + 1e-9
    assert detector.percentile_of(detector.threshold_) >= detector.percentile


@pytest.mark.parametrize("name", NOT_MUSIC)
def test_non_music_samples_are_flagged(sample_scores, name):
    r = sample_scores[name]
    assert r["novel"] and r["reasons"], r


@pytest.mark.parametrize("name", MUSIC)
def test_music_samples_are_not_flagged(sample_scores, name):
    r = sample_scores[name]
    assert r["score"] <= r["threshold"] and r["low_energy_rate"] <= r["ler_threshold"], r
    assert not r["novel"]


def test_real_gtzan_audio_scores_like_music(detector):
    # decoded audio -> our extractor -> detector: a 22050 Hz GTZAN clip of each of three genres
    for clip in ("blues.00000", "classical.00000", "metal.00000"):
        genre = clip.split(".")[0]
        sig = audio.load(data_dir() / "audio" / genre / f"{clip}.flac")
        r = detector.score_signal(sig.y, sig.sr)
        assert not r["novel"], (clip, r)


#: Full-length test-split GTZAN clips that reached us at 16 kHz (nothing above 8 kHz). Test clips
#: are never used to fit or threshold the detector (only train/valid audio is).
TEST_16KHZ = ["country.00048", "metal.00022", "reggae.00047", "blues.00069", "pop.00066"]


@pytest.mark.parametrize("clip", TEST_16KHZ)
def test_16khz_gtzan_clips_score_like_music(detector, clip):
    # v1 flagged metal.00022 (19.8), blues.00069, pop.00066 (threshold 13.5)
    genre = clip.split(".")[0]
    sig = audio.load(data_dir() / "audio" / genre / f"{clip}.flac")
    r = detector.score_signal(sig.y, sig.sr)
    assert not r["novel"], (clip, r)


@pytest.mark.parametrize("rate", novelty.BANDLIMIT_RATES)
def test_band_limited_music_scores_like_music(detector, rate):
    # full-band test clips (never used to fit) and the openly licensed music, highs removed
    for clip in ("rock.00011", "disco.00001", "classical.00011"):
        genre = clip.split(".")[0]
        sig = audio.load(data_dir() / "audio" / genre / f"{clip}.flac")
        r = detector.score_signal(novelty.band_limit(sig.y, rate), sig.sr)
        assert not r["novel"], (clip, rate, r)
    for name in MUSIC:
        sig = audio.load(samples_dir() / name)
        r = detector.score_signal(novelty.band_limit(sig.y, rate), sig.sr)
        assert not r["novel"], (name, rate, r)


def test_band_limited_non_music_is_still_flagged(detector):
    for name in NOT_MUSIC:
        sig = audio.load(samples_dir() / name)
        r = detector.score_signal(novelty.band_limit(sig.y, 8000), sig.sr)
        assert r["novel"], (name, r)
    made = dict(novelty_fit.synthetic_negatives(seed=1, seconds=10.0, speech=False))
    for name in ("white_noise", "pink_noise", "tone_1khz", "sine_sweep"):
        for rate in novelty.BANDLIMIT_RATES:
            r = detector.score_signal(novelty.band_limit(made[name], rate), SR)
            assert r["score"] > r["threshold"], (name, rate, r)


def test_band_limit_removes_the_highs():
    rng = np.random.default_rng(0)
    y = rng.standard_normal(5 * SR).astype(np.float32)
    z = novelty.band_limit(y, 8000)
    assert z.shape == y.shape and z.dtype == np.float32
    f = np.fft.rfftfreq(len(z), 1 / SR)
    p = np.abs(np.fft.rfft(z)) ** 2
    assert p[f > 4200].sum() < 1e-3 * p[f < 3800].sum()


def test_synthetic_noise_and_tone_are_flagged(detector):
    made = dict(novelty_fit.synthetic_negatives(seed=1, seconds=10.0, speech=False))
    for name in ("white_noise", "tone_1khz"):
        r = detector.score_signal(made[name], SR)
        assert r["score"] > r["threshold"], (name, r)


def test_low_energy_rate_sees_pauses():
    t = np.arange(10 * SR) / SR
    tone = (0.3 * np.sin(2 * np.pi * 330 * t)).astype(np.float32)
    gated = tone * (np.sin(2 * np.pi * 1.5 * t) > 0)  # sound half the time, in 1/3-s bursts
    assert novelty.low_energy_rate(tone) < 0.05
    assert 0.35 < novelty.low_energy_rate(gated) < 0.65


def test_steadiness_separates_stationary_sound_from_music():
    # stationary noise and a steady tone barely change; GTZAN music and a synthetic piano do
    neg = dict(novelty_fit.synthetic_negatives(seconds=10, speech=False))
    for name in ("white_noise", "pink_noise", "brown_noise", "tone_1khz"):
        assert novelty.steadiness(neg[name]) < 0.7, name
    piano = novelty_fit.synthetic_piano(seconds=10)
    music = audio.load(data_dir() / "audio" / "blues" / "blues.00000.flac").y
    for y in (piano, music):
        assert novelty.steadiness(y) > 2.0
    # gain-invariant, and NaN for input shorter than one frame
    assert novelty.steadiness(0.01 * music) == pytest.approx(novelty.steadiness(music), abs=1e-3)
    assert np.isnan(novelty.steadiness(np.zeros(SR // 2, np.float32)))


def test_steadiness_reads_long_input_in_spread_blocks():
    # 3 minutes of steady noise that starts pulsing (20 dB up and down) in its last minute: the
    # spread blocks reach the change
    rng = np.random.default_rng(0)
    y = (0.1 * rng.standard_normal(180 * SR)).astype(np.float32)
    t = np.arange(60 * SR) / SR
    y[-60 * SR:] *= np.where(np.sin(2 * np.pi * 0.5 * t) > 0, 1.0, 0.1).astype(np.float32)
    assert novelty.steadiness(y) > novelty.steadiness(y[:120 * SR]) + 1.0


def test_ler_thresholds_come_from_gtzan_audio(detector):
    r = detector.ler_music_
    assert len(r) == (datasets.clips_index()["kind"] == "full").sum()
    assert detector.ler_threshold_ == pytest.approx(np.percentile(r, detector.percentile))


def test_windows_cover_long_inputs_evenly():
    w = int(novelty.WINDOW_SECONDS * SR)
    assert novelty.windows(10 * SR) == [(0, 10 * SR)]
    assert novelty.windows(int(1.4 * w)) == [(0, int(1.4 * w))]
    spans = novelty.windows(20 * w)
    assert len(spans) == novelty.MAX_WINDOWS
    assert spans[0][0] == 0 and spans[-1][1] == 20 * w
    assert all(b - a == w for a, b in spans)


def test_heldout_scores_exceed_training_scores():
    # a clip scored by a detector that never saw it (or its artist) is farther than when seen
    table = datasets.published_table()
    groups = datasets.artist_groups().reindex(table.index).fillna("?")
    X = table[list(FEATURE_COLUMNS)].to_numpy()
    y = table["genre"].to_numpy()
    held = novelty_fit.heldout_scores(X, y, groups.to_numpy(), n_folds=5)
    fitted = novelty.NoveltyDetector().fit(X, y).score_samples(X)
    assert np.median(held) > np.median(fitted)


@pytest.fixture(scope="module")
def saved(tmp_path_factory):
    root = tmp_path_factory.mktemp("models")
    return root, novelty_fit.fit_and_save(models_dir=root, speech=False)


def test_fit_and_save_round_trip(saved):
    root, man = saved
    assert (root / "novelty" / "model.skops").is_file()
    json.dumps(man)
    det = novelty.load(str(root))
    assert det.threshold_ == pytest.approx(man["threshold"])
    items = man["validation_synthetic_negatives"]["items"]
    assert {i["name"] for i in items} >= {"white_noise", "pink_noise", "tone_1khz"}
    # band-limited copies of train+valid audio only: (22050-Hz clips x 3 rates) + (16-kHz clips x 3)
    clips = datasets.clips_index()
    fit = clips[(clips["kind"] == "full") & clips["split"].isin(["train", "valid"])]
    assert man["n_bandlimited_pairs"] == 3 * len(fit) == det.n_pairs_
    assert man["heldout_music"]["n_bandlimited_audio"] == man["n_bandlimited_pairs"]
    groups = man["false_alarms_on_music"]["audio_by_rate"]["groups"]
    assert not any(k.startswith("test/") and v["features57"] > 0.05 for k, v in groups.items()), groups


def test_tampered_artifact_is_refused(saved, tmp_path):
    import shutil

    from genre.errors import ModelError

    shutil.copytree(saved[0] / "novelty", tmp_path / "novelty")
    f = tmp_path / "novelty" / "model.skops"
    f.write_bytes(f.read_bytes() + b"x")
    with pytest.raises(ModelError):
        novelty.load(str(tmp_path))
