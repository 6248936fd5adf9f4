"""Could a noise route work like the band route? A probe, on training clips only.

``python scripts/noise_floor_probe.py`` (about 30 s on 2 cores): for each of the 371 train+valid
clips, clean and with white noise at 30, 20 and 10 dB SNR (``genre.training.degrade.noise``), the
log-mel patches the pretrained model analyses (-17 dBFS, 6 patches) give two noise-floor measures
over the bands at or above 4 kHz:

- ``hf_floor_gap``: the median over those bands of (median - 10th percentile) of the frame levels
  (dB): small when a steady floor fills the gaps between notes;
- ``hf_floor_rel``: the median band floor (10th percentile, dB) relative to the total mel power.

It prints their percentiles per condition. A route needs a threshold that sends noisy input one
way and clean music the other; with these two the clean and the 20-dB distributions overlap
(2026-12-06: clean p5 4.48 dB against 20 dB p50 4.04 dB for the gap; clean p95 -40.6 dB against
20 dB p50 -46.0 dB for the floor), so no noise head was built.
"""
from __future__ import annotations

import numpy as np

SR = 22050


def measures(X: np.ndarray) -> dict[str, float]:
    import librosa

    from genre.models import musicnn

    centres = librosa.mel_frequencies(musicnn.MUSICNN_N_MELS + 2, fmax=musicnn.MUSICNN_SR / 2)[1:-1]
    hi = centres >= 4000
    P = (np.power(10.0, X.reshape(-1, musicnn.MUSICNN_N_MELS).astype(np.float64)) - 1) / 1e4 + 1e-10
    D = 10 * np.log10(P)
    floor, med = np.percentile(D, 10, axis=0), np.median(D, axis=0)
    return {"hf_floor_gap": float(np.median((med - floor)[hi])),
            "hf_floor_rel": float(np.median(floor[hi]) - 10 * np.log10(P.mean(0).sum()))}


def job(path: str, seed: int) -> dict[str, dict[str, float]]:
    from genre.audio import load
    from genre.models import pretrained
    from genre.training.degrade import noise

    y = load(path, min_seconds=0.5).y
    out = {}
    for name, yy in (("clean", y), ("snr30", noise(y, SR, 30, seed)), ("snr20", noise(y, SR, 20, seed)),
                     ("snr10", noise(y, SR, 10, seed))):
        _, X = pretrained.patches(yy, SR, rms_dbfs=-17.0)
        out[name] = measures(X[pretrained.select_patches(len(X), 6)])
    return out


def main() -> None:
    from joblib import Parallel, delayed

    from genre.training.train_deep import clip_table

    df = clip_table()
    tr = df[df["split"].isin(["train", "valid"])].reset_index(drop=True)
    res = Parallel(n_jobs=2)(delayed(job)(p, i) for i, p in enumerate(tr["path"]))
    for m in ("hf_floor_gap", "hf_floor_rel"):
        for c in ("clean", "snr30", "snr20", "snr10"):
            v = np.array([r[c][m] for r in res])
            print(f"{m} {c:6s} " + " ".join(f"p{q} {x:.2f}" for q, x in zip((1, 5, 50, 95, 99),
                                                                             np.percentile(v, [1, 5, 50, 95, 99]))))


if __name__ == "__main__":
    main()
