"""Degradations of the robustness protocol, on a real GTZAN clip."""

from __future__ import annotations

import numpy as np
import pytest

from genre.training import degrade
from genre.config import SR, data_dir


@pytest.fixture(scope="module")
def y():
    from genre.audio import load

    return load(data_dir() / "audio" / "rock" / "rock.00003.flac").y[: 8 * SR]


def _snr(clean, z):
    return 10 * np.log10(np.mean(clean.astype(float) ** 2) / np.mean((z - clean).astype(float) ** 2))


def _band_energy(z, lo, hi):
    S = np.abs(np.fft.rfft(z)) ** 2
    f = np.fft.rfftfreq(len(z), 1 / SR)
    return S[(f >= lo) & (f < hi)].sum() / S.sum()


@pytest.mark.parametrize("name", sorted(degrade.DEGRADATIONS))
def test_same_length_dtype_and_deterministic(y, name):
    z = degrade.apply(name, y, SR)
    assert z.shape == y.shape and z.dtype == np.float32 and np.isfinite(z).all()
    assert np.array_equal(z, degrade.apply(name, y, SR))
    assert not np.allclose(z, y)


def test_noise_is_at_the_requested_snr(y):
    assert abs(_snr(y, degrade.noise(y, SR, 20.0)) - 20.0) < 0.2
    assert abs(_snr(y, degrade.noise(y, SR, 5.0)) - 5.0) < 0.2
    assert not np.array_equal(degrade.noise(y, SR, seed=0), degrade.noise(y, SR, seed=1))


def test_phone_band_removes_lows_and_highs(y):
    z = degrade.phone(y, SR)
    assert _band_energy(z, 4200, SR / 2) < 1e-3 and _band_energy(y, 4200, SR / 2) > 1e-3
    assert _band_energy(z, 0, 150) < 0.2 * _band_energy(y, 0, 150)


def test_mp3_is_aligned_and_close_to_the_input(y):
    z = degrade.mp3(y, SR, 64000)
    snr = _snr(y, z)
    assert 10 < snr < 60  # lossy, but aligned (a misaligned decode has an SNR near 0 dB)
    assert _band_energy(z, 16000, SR / 2) < _band_energy(y, 16000, SR / 2) + 1e-6


def test_reverb_keeps_level_and_smears_in_time(y):
    z = degrade.reverb(y, SR)
    assert abs(np.sqrt(np.mean(z ** 2)) / np.sqrt(np.mean(y ** 2)) - 1) < 1e-3
    h = degrade.room_impulse(SR, 0.3)
    assert len(h) == int(0.3 * SR) and h[0] == 1.0
    assert np.abs(h[-100:]).max() < 0.01 * np.abs(h[1:]).max()


def test_gain_clip_is_quiet_and_clipped(y):
    z = degrade.gain_clip(y, SR, -20.0, 0.25)
    peak = 0.1 * np.abs(y).max()
    assert np.isclose(np.abs(z).max(), 0.25 * peak, rtol=1e-5)
    assert np.mean(np.abs(z) >= 0.25 * peak * 0.9999) > 0.001


def test_unknown_degradation_and_stereo_input_are_refused(y):
    with pytest.raises(ValueError):
        degrade.apply("underwater", y, SR)
    with pytest.raises(ValueError):
        degrade.noise(np.zeros((2, 100)), SR)


def test_robustness_cache_key_follows_the_shipped_networks(monkeypatch):
    """The protocol caches the CNN/CRNN/musicnn outputs per clip; a retrained network (new file
    hashes in its manifest) must get new cache entries, never an older network's outputs."""
    from genre import registry
    from genre.training import robustness

    robustness._models_key.cache_clear()
    shipped = robustness._models_key()
    real = registry.read_manifest

    def retrained(name, *a, **k):
        man = real(name, *a, **k)
        return {**man, "files": {**man["files"], "model.onnx": "0" * 64}} if name == "crnn" else man

    monkeypatch.setattr(registry, "read_manifest", retrained)
    robustness._models_key.cache_clear()
    try:
        assert robustness._models_key() != shipped
    finally:
        robustness._models_key.cache_clear()
