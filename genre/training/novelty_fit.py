"""Fitting, calibrating and checking the non-music detector (offline; see :mod:`genre.novelty`).

``python -m genre.training.novelty_fit`` fits the detector on the published table and the
band-limited GTZAN audio, calibrates its thresholds on artist-grouped held-out scores, validates
it on synthetic non-music and saves it as registry model ``novelty``;
``python -m genre.training.novelty_fit --check [MODELS_DIR]`` measures a saved detector.
The method and the measured figures are in :mod:`genre.novelty`'s docstring.
"""

from __future__ import annotations

import shutil
import subprocess
import tempfile
from pathlib import Path
from typing import Iterable

import numpy as np

from genre.config import FEATURE_COLUMNS, SR
from genre.errors import ModelError
from genre.novelty import (
    BANDLIMIT_RATES, N_FOLDS, NAME, WINDOW_SECONDS, NoveltyDetector, band_limit, load, low_energy_rate,
)

# ------------------------------------------------------------------------------ training

def heldout_scores(X: np.ndarray, y: np.ndarray, groups: np.ndarray, n_folds: int = N_FOLDS,
                   seed: int = 0, pairs: tuple[np.ndarray, np.ndarray, np.ndarray] | None = None,
                   extra: tuple[np.ndarray, np.ndarray] | None = None):
    """Score of every row by a detector fitted without its fold (artist-grouped, stratified).

    Parameters
    ----------
    pairs : (X_ref, X_band, groups), optional
        Full-band / band-limited feature pairs (see :meth:`NoveltyDetector.fit`) with the artist
        group of each; a fold's detector uses only the pairs of artists outside the fold.
    extra : (X_extra, groups), optional
        More rows (e.g. features of band-limited audio) to score, each by the detector of the
        fold that holds its artist (NaN if the artist is in no fold).

    Returns
    -------
    ndarray (n,), or a tuple (ndarray (n,), ndarray (n_extra,)) when ``extra`` is given.
    """
    from sklearn.model_selection import StratifiedGroupKFold

    out = np.empty(len(X))
    out_extra = np.full(len(extra[0]) if extra is not None else 0, np.nan)
    cv = StratifiedGroupKFold(n_splits=n_folds, shuffle=True, random_state=seed)
    for tr, te in cv.split(X, y, groups):
        held = set(groups[te])
        fold_pairs = None
        if pairs is not None:
            keep = ~np.isin(pairs[2], list(held))
            fold_pairs = (pairs[0][keep], pairs[1][keep])
        det = NoveltyDetector().fit(X[tr], y[tr], pairs=fold_pairs, seed=seed)
        out[te] = det.score_samples(X[te])
        if extra is not None:
            sel = np.isin(extra[1], list(held))
            if sel.any():
                out_extra[sel] = det.score_samples(extra[0][sel])
    return out if extra is None else (out, out_extra)


def audio_features(data_dir: str | Path | None = None, rates: Iterable[int] = BANDLIMIT_RATES,
                   cache: bool = True):
    """Features of every full-length GTZAN clip with audio, as decoded and band-limited.

    Each clip is scored as it is (``rate`` = its native sample rate: 22050, or 16000 for the
    copies that reached us at 16 kHz) and after :func:`band_limit` through every rate of
    ``rates`` below its native rate.

    Returns
    -------
    pandas.DataFrame
        One row per (clip, rate): ``clip, genre, split, native_sr, rate, low_energy_rate`` and
        the 57 :data:`~genre.config.FEATURE_COLUMNS`. Cached in ``config.CACHE_DIR`` (keyed by
        the extractor version, the rates and the clip list) when ``cache``.
    """
    import pandas as pd

    from genre import audio, config, features
    from genre.training import datasets

    rates = tuple(int(r) for r in rates)
    clips = datasets.clips_index(data_dir)
    clips = clips[clips["kind"] == "full"].drop_duplicates("clip").reset_index(drop=True)
    path = Path(config.CACHE_DIR) / (f"novelty_audio_{features.EXTRACTOR_VERSION}_"
                                     f"{'-'.join(map(str, rates))}.parquet")
    if cache and path.is_file():
        df = pd.read_parquet(path)
        if set(zip(df["clip"], df["native_sr"])) == set(zip(clips["clip"], clips["sample_rate"].astype(int))):
            # the features are cached; genre and split always come from today's clips.csv
            meta = clips.set_index("clip")
            return df.assign(genre=meta.loc[df["clip"], "genre"].to_numpy(),
                             split=meta.loc[df["clip"], "split"].to_numpy())
    rows = []
    for rec in clips.itertuples(index=False):
        sig = audio.load(rec.path)
        native = int(rec.sample_rate)
        for rate in (native, *[r for r in rates if r < native]):
            yb = sig.y if rate == native else band_limit(sig.y, rate, sig.sr)
            rows.append({"clip": rec.clip, "genre": rec.genre, "split": rec.split, "native_sr": native,
                         "rate": rate, "low_energy_rate": low_energy_rate(yb, sig.sr),
                         **dict(zip(FEATURE_COLUMNS, features.clip_features(yb, sig.sr)))})
    df = pd.DataFrame(rows)
    if cache:
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_suffix(".tmp")
        df.to_parquet(tmp)
        tmp.replace(path)
    return df


def bandlimited_pairs(af, table):
    """Full-band / band-limited pairs from :func:`audio_features` rows ``af`` (and the table).

    The reference of a band-limited copy of a 22050-Hz clip is that clip's own decoded features;
    a clip that reached us at 16 kHz (and its copies) is paired with its published table row.

    Returns
    -------
    (X_ref, X_band, clips) : ndarray (m, 57), ndarray (m, 57), ndarray (m,) of clip ids
    """
    cols = list(FEATURE_COLUMNS)
    band = af[af["rate"] < SR]
    full = af[af["rate"] == SR].set_index("clip")[cols]
    ref = np.vstack([full.loc[c].to_numpy() if ns == SR else table.loc[c, cols].to_numpy(np.float64)
                     for c, ns in zip(band["clip"], band["native_sr"])])
    return ref.astype(np.float64), band[cols].to_numpy(np.float64), band["clip"].to_numpy()


def music_low_energy_rates(data_dir: str | Path | None = None):
    """Low-energy rate of every full-length GTZAN clip with audio (decoded with genre.audio).

    Returns
    -------
    pandas.Series
        Indexed by clip id.
    """
    import pandas as pd

    from genre import audio
    from genre.training import datasets

    clips = datasets.clips_index(data_dir)
    clips = clips[clips["kind"] == "full"].drop_duplicates("clip")
    rates = {}
    for clip, path in zip(clips["clip"], clips["path"]):
        sig = audio.load(path)
        rates[clip] = low_energy_rate(sig.y, sig.sr)
    if not rates:
        raise ModelError("No full-length GTZAN audio found to calibrate the low-energy rate.")
    return pd.Series(rates, name="low_energy_rate", dtype=float)


def heldout_confidence(X: np.ndarray, y: np.ndarray, groups: np.ndarray, n_folds: int = N_FOLDS,
                       seed: int = 0) -> np.ndarray:
    """Out-of-fold top probability of a stand-in genre model (logistic regression, genre.models.feature_models).

    Same folds as :func:`heldout_scores`. The served model's own held-out probabilities are not
    available here (it is refitted on all clips); this proxy only serves to *estimate* how often
    the "unusual and unsure" rule of :func:`genre.predict.predict` fires on real music.
    """
    from sklearn.model_selection import StratifiedGroupKFold

    from genre.models import feature_models as models

    out = np.empty(len(X))
    cv = StratifiedGroupKFold(n_splits=n_folds, shuffle=True, random_state=seed)
    for tr, te in cv.split(X, y, groups):
        pipe, _ = models.build("logreg", seed=seed)
        classes = sorted({str(g) for g in y})
        pipe.fit(X[tr], models.encode_labels(y[tr], classes))
        out[te] = models.proba_in_class_order(pipe, X[te], classes).max(axis=1)
    return out


def _espeak() -> str | None:
    """Path of espeak-ng, installing it with apt-get (as root) if it is missing; None if unavailable."""
    exe = shutil.which("espeak-ng")
    if exe is None and shutil.which("apt-get"):
        try:
            subprocess.run(["apt-get", "install", "-y", "-qq", "espeak-ng"], check=True,
                           capture_output=True, timeout=600)
        except (OSError, subprocess.SubprocessError):
            return None
        exe = shutil.which("espeak-ng")
    return exe


#: Sentences for the synthetic speech negatives (written for this project).
SENTENCES = (
    "The committee will meet again on Thursday to discuss the budget for the coming year, "
    "and every department is asked to send a short written summary before the meeting begins.",
    "Turn left at the second traffic light, continue past the old railway station, and you will "
    "find the library on your right, just opposite the bakery with the green door.",
    "In the early nineteenth century, most goods travelled by canal, because roads were slow, "
    "expensive and often impassable after heavy rain during the long winter months.",
    "Please remember to water the tomatoes twice a week, close the greenhouse window at night, "
    "and write down how many fruits you pick so that we can compare the harvest with last summer.",
)


def synthetic_negatives(seed: int = 0, seconds: float = WINDOW_SECONDS,
                        speech: bool = True) -> list[tuple[str, np.ndarray]]:
    """Non-music signals made here for validation: ``[(name, y at 22050 Hz), ...]``.

    Noise (white, pink, brown), a steady tone, a slow sine sweep, irregular clicks, and, when
    ``espeak-ng`` is available, the :data:`SENTENCES` spoken by two voices at two speeds.
    None of this comes from ``../shared/samples``.
    """
    rng = np.random.default_rng(seed)
    n = int(seconds * SR)
    t = np.arange(n) / SR
    out: list[tuple[str, np.ndarray]] = []

    def norm(x: np.ndarray, peak: float = 0.5) -> np.ndarray:
        return (peak * x / np.max(np.abs(x))).astype(np.float32)

    white = rng.standard_normal(n)
    out.append(("white_noise", norm(white)))
    spec = np.fft.rfft(rng.standard_normal(n))
    f = np.fft.rfftfreq(n, 1 / SR)
    f[0] = f[1]
    out.append(("pink_noise", norm(np.fft.irfft(spec / np.sqrt(f), n))))
    out.append(("brown_noise", norm(np.fft.irfft(spec / f, n))))
    out.append(("tone_1khz", norm(np.sin(2 * np.pi * 1000 * t))))
    f0, f1 = 100.0, 8000.0
    phase = 2 * np.pi * f0 * seconds / np.log(f1 / f0) * (np.exp(t / seconds * np.log(f1 / f0)) - 1)
    out.append(("sine_sweep", norm(np.sin(phase))))
    clicks = np.zeros(n)
    pos = np.cumsum(rng.exponential(0.4 * SR, size=int(seconds / 0.2))).astype(int)
    clicks[pos[pos < n]] = 1.0
    clicks = np.convolve(clicks, np.exp(-np.arange(200) / 20.0), mode="same") + 0.001 * white
    out.append(("irregular_clicks", norm(clicks)))

    exe = _espeak() if speech else None
    if exe:
        from genre import audio

        with tempfile.TemporaryDirectory() as tmp:
            for voice in ("en-us", "en-gb"):
                for speed in (150, 190):
                    wav = Path(tmp) / f"{voice}_{speed}.wav"
                    text = " ".join(SENTENCES)
                    subprocess.run([exe, "-v", voice, "-s", str(speed), "-w", str(wav), text],
                                   check=True, capture_output=True, timeout=120)
                    sig = audio.load(wav, max_seconds=seconds)
                    out.append((f"espeak_{voice}_{speed}wpm", sig.y))
    return out


def _false_alarm_estimate(det: NoveltyDetector, clips, held: np.ndarray, X: np.ndarray, y: np.ndarray,
                          groups: np.ndarray, rates, seed: int) -> dict:
    """How often real GTZAN music would be called "not music" (held-out 57-feature scores)."""
    from genre.predict import LOW_CONFIDENCE_PROB

    conf = heldout_confidence(X, y, groups, seed=seed)
    pos = {c: i for i, c in enumerate(clips)}
    have = [c for c in rates.index if c in pos]
    idx = np.array([pos[c] for c in have], dtype=int)
    s, c = held[idx], conf[idx]
    ler = rates.loc[have].to_numpy()
    novel = (s > det.threshold_) | (ler > det.ler_threshold_)
    suspect = (s > det.suspect_threshold_) | (ler > det.ler_suspect_threshold_)
    low = c < LOW_CONFIDENCE_PROB
    all_low = conf < LOW_CONFIDENCE_PROB
    return {
        "note": "held-out 57-feature scores (artist-grouped CV) and a stand-in logistic-regression "
                "model's out-of-fold top probability; low-energy rates on the decoded GTZAN audio",
        "features57_all_clips": {"n": int(len(held)),
                                 "novel": float(np.mean(held > det.threshold_)),
                                 "novel_or_unsure_suspect": float(np.mean(
                                     (held > det.threshold_) | ((held > det.suspect_threshold_) & all_low)))},
        "clips_with_audio": {"n": int(len(idx)), "novel": float(np.mean(novel)),
                             "novel_or_unsure_suspect": float(np.mean(novel | (suspect & low)))},
        "rule_used": "novel",
    }


#: Splits whose audio may shape the detector (pairs and thresholds); ``test`` is only measured.
FIT_SPLITS = ("train", "valid")


def _bandlimited_false_alarms(det: NoveltyDetector, af, held_a: np.ndarray) -> dict:
    """Share of GTZAN audio (as decoded and band-limited) called "not music", per split and rate.

    ``held_a`` are the held-out 57-feature scores of the rows of ``af`` (artist-grouped folds).
    """
    out = {}
    part = np.where(af["split"].isin(FIT_SPLITS), "train+valid", af["split"])
    for (p, ns, rate), idx in af.groupby([part, "native_sr", "rate"]).indices.items():
        s, ler = held_a[idx], af["low_energy_rate"].to_numpy()[idx]
        ok = np.isfinite(s)
        s57, sler = s[ok] > det.threshold_, ler[ok] > det.ler_threshold_
        key = f"{p}/native{ns}/rate{rate}"
        out[key] = {"n": int(ok.sum()), "features57": float(np.mean(s57)), "low_energy": float(np.mean(sler)),
                    "novel": float(np.mean(s57 | sler))}
    return {"note": "held-out scores (artist-grouped folds) of the 57 features of full-length GTZAN "
                    "audio, decoded (rate = native_sr) and passed through lower sample rates; "
                    "low-energy rate of the same copy; test clips are measured here, never used",
            "groups": dict(sorted(out.items()))}


def fit_and_save(models_dir: str | Path | None = None, data_dir: str | Path | None = None,
                 seed: int = 0, speech: bool = True) -> dict:
    """Fit the detector on the published table, calibrate it, validate it, save it as ``novelty``.

    Returns
    -------
    dict
        The manifest written (thresholds, held-out percentiles, validation scores).
    """
    from genre import registry
    from genre.training import datasets

    table = datasets.published_table(data_dir)
    groups = datasets.artist_groups(data_dir).reindex(table.index)
    groups = groups.fillna("?" + table.index.to_series())
    X = table[list(FEATURE_COLUMNS)].to_numpy(np.float64)
    y = table["genre"].to_numpy()
    # band-limited copies of the train+valid audio teach the Gaussians what missing highs look like
    af = audio_features(data_dir)
    fit_rows = af["split"].isin(FIT_SPLITS).to_numpy()
    X_ref, X_band, pair_clips = bandlimited_pairs(af[fit_rows], table)
    pair_groups = groups.reindex(pair_clips).to_numpy()
    held, held_a = heldout_scores(X, y, groups.to_numpy(), seed=seed,
                                  pairs=(X_ref, X_band, pair_groups),
                                  extra=(af[list(FEATURE_COLUMNS)].to_numpy(np.float64),
                                         groups.reindex(af["clip"]).to_numpy()))
    # thresholds: held-out scores of the 1000 table clips and of the band-limited train+valid audio
    band_fit = fit_rows & (af["rate"] < SR).to_numpy()
    det = NoveltyDetector().fit(X, y, pairs=(X_ref, X_band), seed=seed)
    det.calibrate(held, bandlimited=held_a[band_fit])
    native = af[af["rate"] == af["native_sr"]]
    rates = native.set_index("clip")["low_energy_rate"]  # = music_low_energy_rates(data_dir)
    det.calibrate_ler(rates.to_numpy())
    false_alarms = _false_alarm_estimate(det, table.index, held, X, y, groups.to_numpy(), rates, seed)
    false_alarms["audio_by_rate"] = _bandlimited_false_alarms(det, af, held_a)

    negatives = []
    for name, sig in synthetic_negatives(seed=seed, speech=speech):
        r = det.score_signal(sig)
        negatives.append({"name": name, "score": round(r["score"], 3),
                          "low_energy_rate": round(r["low_energy_rate"], 4), "flagged": r["novel"]})
    manifest = {
        "display_name": "Non-music detector",
        "kind": NAME, "family": "novelty", "version": "2", "input": "features57",
        "classes": list(det.classes_), "feature_columns": list(FEATURE_COLUMNS),
        "trained_on": "published table, all 1000 clips (music only), each also moved by the "
                      "feature change of band-limiting a train+valid GTZAN clip "
                      f"(through {', '.join(map(str, BANDLIMIT_RATES))} Hz)",
        "protocol": f"thresholds = percentiles of artist-grouped {N_FOLDS}-fold held-out scores of the "
                    "1000 table clips and of the band-limited train+valid GTZAN audio",
        "n_train": int(len(X)), "n_bandlimited_pairs": int(det.n_pairs_),
        "bandlimit_rates": list(BANDLIMIT_RATES),
        "method": "min Mahalanobis distance to per-genre Ledoit-Wolf Gaussians on standardised, "
                  "log-transformed 57 features (30-s windows, median score), and the low-energy "
                  "frame rate; novel if either exceeds its 99th-percentile music threshold",
        "threshold": det.threshold_, "threshold_percentile": det.percentile,
        "suspect_threshold": det.suspect_threshold_, "suspect_percentile": det.suspect_percentile,
        "ler_threshold": det.ler_threshold_, "ler_suspect_threshold": det.ler_suspect_threshold_,
        "ler_music": {"n": int(len(det.ler_music_)), "median": float(np.median(det.ler_music_)),
                      "max": float(det.ler_music_.max()),
                      "source": "GTZAN full-length clips with audio (clips.csv kind=full)"},
        "heldout_music": {"n": int(len(det.heldout_scores_)),
                          "n_table": int(len(held)), "n_bandlimited_audio": int(band_fit.sum()),
                          "median": float(np.median(det.heldout_scores_)),
                          "p90": float(np.percentile(det.heldout_scores_, 90)),
                          "max": float(det.heldout_scores_.max()),
                          "flagged_share": float(np.mean(det.heldout_scores_ > det.threshold_)),
                          "flagged_share_table": float(np.mean(held > det.threshold_)),
                          "flagged_share_bandlimited_audio": float(np.mean(held_a[band_fit] > det.threshold_))},
        "false_alarms_on_music": false_alarms,
        "validation_synthetic_negatives": {
            "note": "made here, not used for fitting or thresholds",
            "detected_share": float(np.mean([n["flagged"] for n in negatives])) if negatives else None,
            "items": negatives},
    }
    registry.save_sklearn(NAME, det, manifest, models_dir=models_dir)
    return registry.read_manifest(NAME, models_dir)


def check(models_dir: str | Path | None = None, data_dir: str | Path | None = None) -> dict:
    """Measure a saved detector (nothing is fitted): "not music" rates on GTZAN audio and samples.

    ``python -m genre.training.novelty_fit --check [MODELS_DIR]``. Scores every full-length GTZAN clip with
    audio, as decoded and through :data:`BANDLIMIT_RATES` (cached :func:`audio_features`), the
    recordings of ``../shared/samples`` as they are and band-limited, and the synthetic negatives.
    Scores of train/valid audio are in-sample for its shifts; the held-out figures are in the
    manifest.

    Returns
    -------
    dict
        ``gtzan`` {"native<sr>/rate<r>": share flagged}, ``gtzan_test`` (same, test split only),
        ``samples`` and ``synthetic`` {name: {rate: [score, low_energy_rate, novel]}}.
    """
    from genre import audio
    from genre.config import samples_dir

    det = load(None if models_dir is None else str(models_dir))
    af = audio_features(data_dir)
    s = det.score_samples(af[list(FEATURE_COLUMNS)].to_numpy(np.float64))
    novel = (s > det.threshold_) | (af["low_energy_rate"].to_numpy() > det.ler_threshold_)
    af = af.assign(novel=novel)
    key = "native" + af["native_sr"].astype(str) + "/rate" + af["rate"].astype(str)
    out = {"threshold": det.threshold_, "ler_threshold": det.ler_threshold_,
           "gtzan": af.groupby(key)["novel"].mean().round(4).to_dict(),
           "gtzan_test": af[af["split"] == "test"].groupby(key)["novel"].mean().round(4).to_dict(),
           "samples": {}, "synthetic": {}}
    items = [(p.name, "samples", audio.load(p).y) for p in sorted(Path(samples_dir()).glob("*.ogg"))]
    items += [(n, "synthetic", y) for n, y in synthetic_negatives(seed=1)]
    for name, part, y in items:
        res = {}
        for rate in (SR, *BANDLIMIT_RATES):
            r = det.score_signal(y if rate == SR else band_limit(y, rate), SR)
            res[rate] = [round(r["score"], 2), round(r["low_energy_rate"], 3), r["novel"]]
        out[part][name] = res
    return out


if __name__ == "__main__":  # python -m genre.training.novelty_fit [--check [MODELS_DIR]]
    import json
    import sys

    from genre.training.novelty_fit import check as _check
    from genre.training.novelty_fit import fit_and_save as _fit  # the importable module, not __main__

    if len(sys.argv) > 1 and sys.argv[1] == "--check":
        print(json.dumps(_check(*sys.argv[2:3]), indent=1))
        raise SystemExit(0)
    man = _fit()
    keys = ("threshold", "suspect_threshold", "heldout_music", "ler_threshold", "ler_suspect_threshold",
            "ler_music", "false_alarms_on_music", "validation_synthetic_negatives")
    print(json.dumps({k: man[k] for k in keys}, indent=1))


def synthetic_piano(seconds: float = 30.0, seed: int = 0, sr: int = SR) -> np.ndarray:
    """A solo-piano-like recording made here (validation of "no false alarm on solo instruments").

    A right-hand melody (a seeded random walk on a C-major scale, eighth and quarter notes at 96
    bpm) over left-hand chords on every beat. Each note is additive synthesis with a piano's
    traits: 14 slightly inharmonic partials (``f_k = k f0 sqrt(1 + B k^2)``, B = 4e-4), amplitudes
    falling as ``k^-1.3``, a 4-ms attack, and decays that are faster for higher partials and higher
    notes. Peak -6 dBFS. Not from ``../shared/samples``.
    """
    rng = np.random.default_rng(seed)
    n = int(seconds * sr)
    out = np.zeros(n + 4 * sr, dtype=np.float64)
    beat = 60.0 / 96.0
    scale = np.array([0, 2, 4, 5, 7, 9, 11])

    def note(midi: float, dur: float, vel: float) -> np.ndarray:
        f0 = 440.0 * 2 ** ((midi - 69) / 12)
        length = int(min(dur + 1.5, 4.0) * sr)
        t = np.arange(length) / sr
        y = np.zeros(length)
        for k in range(1, 15):
            fk = k * f0 * np.sqrt(1 + 4e-4 * k * k)
            if fk > 0.45 * sr:
                break
            decay = (0.6 + 0.25 * k) * (f0 / 262.0) ** 0.5
            y += k ** -1.3 * np.exp(-decay * t) * np.sin(2 * np.pi * fk * t + rng.uniform(0, 2 * np.pi))
        release = np.clip((dur + 0.3 - t) / 0.3, 0, 1)  # damper after the key is released
        attack = np.clip(t / 0.004, 0, 1)
        return vel * y * attack * np.maximum(release, np.exp(-8 * t))

    t, deg = 0.0, 14
    while t < seconds:
        dur = beat * (0.5 if rng.random() < 0.6 else 1.0)
        deg = int(np.clip(deg + rng.integers(-2, 3), 7, 21))
        midi = 60 + 12 * (deg // 7 - 1) + scale[deg % 7]
        y = note(midi, dur, rng.uniform(0.5, 0.9))
        i = int(t * sr)
        out[i:i + len(y)] += y[: len(out) - i]
        t += dur
    for b in range(int(seconds / beat)):
        root = [0, 5, 7, 9][(b // 4) % 4]
        for iv in (0, 4, 7):
            y = note(48 + root + iv, beat * 0.9, 0.35)
            i = int(b * beat * sr)
            out[i:i + len(y)] += y[: len(out) - i]
    out = out[:n]
    return (0.5 * out / np.max(np.abs(out))).astype(np.float32)
