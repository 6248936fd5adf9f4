"""Is this music at all? An out-of-distribution detector on the 57 published features.

The genre models always answer with one of ten genres, even for speech or a whale. This module
measures how far a recording's features lie from the music the models were trained on, so that
:func:`genre.predict.predict` can say "this does not sound like music" instead.

Method
------
1. Features: the 57 clip features of ``genre.features.clip_features`` (the published table's set),
   on 30-s windows like the table's clips. Columns that are positive in all training clips
   (variances, centroids, rolloff, tempo...) are log-transformed, then everything is standardised.
2. Model: one Gaussian per genre, covariance shrunk with Ledoit-Wolf (``sklearn.covariance``).
   The novelty score is the Mahalanobis distance to the *nearest* genre Gaussian
   (square root of the squared distance, in standard deviations).
3. Band-limited music. The published table was computed on full-band 22050 Hz audio, but users
   upload low-bitrate MP3s, phone recordings and 16-kHz copies with nothing above 4-8 kHz, which
   moves the spectral features (centroid, bandwidth, rolloff, zero-crossing rate, upper MFCCs).
   Version 1 (Gaussians on the table only) called such music "not music": 25 of the 43 GTZAN
   clips that reached us at 16 kHz, and 51 / 57 / 95 % of the 209 full-band clips passed
   through 16000 / 11025 / 8000 Hz. So every full-length GTZAN clip with audio in the *train
   and valid* parts of the fault-filtered split is also analysed after :func:`band_limit`
   through :data:`BANDLIMIT_RATES` (16000, 11025, 8000 Hz: cut-offs 8, 5.5, 4 kHz); the change
   of its log-features (band-limited minus full band; for the 16-kHz copies, minus the clip's
   table row) is a "shift" (474 in all). Each of the 1000 table rows enters its genre's Gaussian
   once as it is and three times more, moved by a randomly drawn shift (seed 0), so the
   Gaussians also cover music without its highs. Test clips' audio is never used to fit.
4. A second, classic speech/music cue (Scheirer & Slaney 1997): the *low-energy rate*, the share
   of 23-ms frames whose RMS is below half the mean RMS of their 1-s window. Speech pauses between
   words and sentences; music rarely does. Its distribution is measured on the real GTZAN audio
   here (the full-length clips), and its thresholds are the same percentiles of that distribution.
   (Added after a first check showed the speech sample at the 96th percentile of the 57-feature
   score: speech is only mildly unusual in the published feature space.)
5. Threshold: the score every training clip gets when it is *held out*: artist-grouped
   10-fold cross-validation (Sturm's artist index, so a clip is never scored by a model that has
   seen its artist, nor the shifts of that artist's audio). Two held-out music populations:
   the 1000 table clips, and the 474 band-limited copies of the train+valid audio. ``threshold``
   is the larger of their 99th percentiles (at most about 1 % of unseen music of either kind is
   flagged), ``suspect_threshold`` the larger of their 95th percentiles.
   Nothing else is tuned; no test recording (``../shared/samples``) and no test-split clip is
   used to fit or threshold.
   An input is ``novel`` (called "not music" by :func:`genre.predict.predict`) when either score
   is above its 99th-percentile threshold, and ``suspect`` when either is above its
   95th-percentile threshold (only mentioned in the verdict when the genre model is unsure).
   The false-alarm rate on real music is estimated and written to the manifest
   (``false_alarms_on_music``, with ``audio_by_rate``: held-out, per split and sample rate).
6. Validation only: synthetic non-music made here (noise of three colours, steady and swept
   tones, irregular clicks, and English sentences spoken by ``espeak-ng`` when it is installed)
   is scored and the detection rate is written to the manifest. It is not used for fitting or
   for the threshold.

Measured (version 2, 2026-11-21; ``python -m genre.training.novelty_fit`` writes the held-out figures to the
manifest, ``python -m genre.training.novelty_fit --check [MODELS_DIR]`` scores a saved detector). Threshold 13.31 (v1: 13.46), low-energy threshold 0.192 (unchanged).

* Held-out (artist-grouped) 57-feature false alarms: table clips 1.0 % (v1: 1.0 %);
  band-limited train+valid audio 0 of 474; *test* audio (never used): 0 of 67 full-band clips
  and of their 201 band-limited copies, 0 of the 12 test clips at 16 kHz and their 24 copies.
* Shipped detector, "not music" (either cue) on all 252 full GTZAN clips: at 22050 Hz 1.4 %
  (3 clips, all by the low-energy rate; v1 1.4 %); at 16 kHz 0 of 43 (v1: 58 %); through
  16000 / 11025 / 8000 Hz 1.4 / 1.4 / 1.9 % (v1: 51 / 57 / 95 %); test clips alone: 0 % at
  every rate (v1: 0 % full band, 58 % at 16 kHz, 43-100 % band-limited). 10-s excerpts
  (0-10, 10-20, 20-30 s) of the test clips, measured once with a throwaway script: 3.0 % full
  band, 4.5 % through 8000 Hz, 2.8 % of the 16-kHz ones (v1: 3.5 / 96 / 75 %).
* ``../shared/samples`` (never used to fit): whale 203.9 (flagged, 15x the threshold), speech
  9.8 with low-energy rate 0.28 (flagged by that cue), Brahms 6.6, Vibe Ace 9.3, Hobbs 8.2
  (not flagged); the same after band-limiting through 16000 / 11025 / 8000 Hz.
  The demo's 16-kHz GTZAN excerpts (country.00048, metal.00022, reggae.00047) now score
  9.0 / 8.7 / 7.4 (v1: 15.1 / 20.4 / 14.5, flagged).
* Synthetic non-music: all 10 flagged, also after band-limiting. The margin shrank for noise
  (white noise 24.3, and 15.6 through 8000 Hz; v1: 28.9 / 42.2) and for espeak speech on the
  57 features (13.2-15.0 band-limited; the low-energy rate, 0.21-0.27, still flags every one).

The fitted detector is saved as registry model ``novelty`` (kind ``"novelty"``) by
:func:`genre.training.novelty_fit.fit_and_save` (``python -m genre.training.novelty_fit``).
"""

from __future__ import annotations

import functools
from pathlib import Path
from typing import Iterable

import numpy as np

from genre.config import FEATURE_COLUMNS, HOP_LENGTH, N_FFT, SR
from genre.errors import ModelError

#: Registry name of the detector.
NAME = "novelty"
#: Percentile (of held-out music scores) above which an input is called "not music".
PERCENTILE = 99.0
#: Percentile above which an input is "unusual": not music only if the genre model is also unsure.
SUSPECT_PERCENTILE = 95.0
#: Length (s) of the windows features are computed on: the published table's clip length.
WINDOW_SECONDS = 30.0
#: At most this many windows (evenly spread) are scored for a long input (compute budget).
MAX_WINDOWS = 4
#: Cross-validation folds for the held-out scores.
N_FOLDS = 10
#: Sample rates (Hz) music is passed through (down, then back up to 22050 Hz) to make the
#: band-limited copies the detector learns from: cut-offs of 8, 5.5 and 4 kHz (16 kHz copies,
#: low-bitrate MP3s, phone recordings).
BANDLIMIT_RATES = (16000, 11025, 8000)


def band_limit(y: np.ndarray, rate: int, sr: int = SR) -> np.ndarray:
    """``y`` resampled to ``rate`` Hz and back to ``sr`` (soxr, high quality): nothing above rate/2.

    Same length as ``y``.
    """
    import soxr

    y = np.asarray(y, dtype=np.float32)
    z = soxr.resample(soxr.resample(y, sr, rate, quality="soxr_hq"), rate, sr, quality="soxr_hq")
    out = np.zeros(len(y), dtype=np.float32)
    n = min(len(y), len(z))
    out[:n] = z[:n]
    return out


def low_energy_rate(y: np.ndarray, sr: int = SR, window_s: float = 1.0) -> float:
    """Share of frames whose RMS is below half the mean RMS of their ``window_s`` window.

    Frames are ``N_FFT`` samples long every ``HOP_LENGTH`` samples (23 ms at 22050 Hz), as in the
    published features. High for speech (pauses), low for most music.
    """
    y = np.asarray(y, dtype=np.float32)
    if len(y) < N_FFT:
        return float("nan")
    # frame energies from a running sum of squares (no (frames x N_FFT) copy for long inputs)
    cs = np.concatenate(([0.0], np.cumsum(np.square(y, dtype=np.float64))))
    starts = np.arange(0, len(y) - N_FFT + 1, HOP_LENGTH)
    rms = np.sqrt(np.maximum(cs[starts + N_FFT] - cs[starts], 0.0) / N_FFT)
    w = max(1, int(round(window_s * sr / HOP_LENGTH)))
    n = len(rms) // w
    if n == 0:
        r = rms[None, :]
    else:
        r = rms[: n * w].reshape(n, w)
    mean = r.mean(axis=1, keepdims=True)
    return float(np.mean(r < 0.5 * mean))


#: :func:`steadiness`: mel bands, analysis frame and hop (samples at 22050 Hz), frames per block
#: (22 x 512 samples: 0.51 s), the band percentile, and how much of a long input it reads
#: (``STEADY_SPANS`` spans of ``STEADY_SPAN_S`` seconds, evenly spread).
STEADY_MELS, STEADY_FFT, STEADY_HOP, STEADY_BLOCK = 40, 2048, 512, 22
STEADY_PERCENTILE = 90
STEADY_SPANS, STEADY_SPAN_S = 6, 10.0
#: Bands more than this far (dB) below the loudest band are left out (no energy to vary).
STEADY_RANGE_DB = 60.0


def steadiness(y: np.ndarray, sr: int = SR) -> float:
    """How much the sound changes over time, in dB: mel-band power is averaged over blocks of half
    a second, each band's level (dB) has a standard deviation over the blocks, and the answer is
    the :data:`STEADY_PERCENTILE`-th percentile of those over the bands. Music changes strongly in
    some band (notes, chords, beats and phrases come and go), even under added noise; stationary
    noise (white, pink, brown), hum and steady tones change in none (white noise: about 0.5 dB).

    Gain-invariant. Bands more than :data:`STEADY_RANGE_DB` below the loudest are left out. A long
    input is read in :data:`STEADY_SPANS` evenly spread spans of :data:`STEADY_SPAN_S` seconds, so
    the cost is bounded (tens of milliseconds). NaN for input shorter than two blocks (about 1 s).
    """
    import librosa

    y = np.asarray(y, dtype=np.float32)
    span = int(STEADY_SPAN_S * sr)
    if len(y) > STEADY_SPANS * span:
        parts = [y[s:s + span] for s in np.linspace(0, len(y) - span, STEADY_SPANS).astype(int)]
    else:
        parts = [y]
    blocks = []
    for part in parts:
        if len(part) < STEADY_FFT:
            continue
        M = librosa.feature.melspectrogram(y=part, sr=sr, n_fft=STEADY_FFT, hop_length=STEADY_HOP,
                                           n_mels=STEADY_MELS, center=False)
        n = M.shape[1] // STEADY_BLOCK
        if n:
            blocks.append(M[:, :n * STEADY_BLOCK].reshape(STEADY_MELS, n, STEADY_BLOCK).mean(axis=2))
    if not blocks or sum(b.shape[1] for b in blocks) < 2:
        return float("nan")
    L = 10.0 * np.log10(np.hstack(blocks) + 1e-12)
    level = L.mean(axis=1)
    active = level > level.max() - STEADY_RANGE_DB
    return float(np.percentile(L[active].std(axis=1), STEADY_PERCENTILE))


class NoveltyDetector:
    """Distance of 57-feature vectors to the nearest genre Gaussian.

    Parameters
    ----------
    percentile, suspect_percentile : float
        Percentiles of the held-out training scores used as thresholds by :meth:`calibrate`.

    Attributes
    ----------
    log_mask_ : ndarray of bool (57,)
        Columns log-transformed (positive in every training clip).
    mean_, scale_ : ndarray (57,)
        Standardisation after the log transform.
    classes_ : list of str
        Genres, one Gaussian each.
    locations_ : ndarray (n_classes, 57)
    precisions_ : ndarray (n_classes, 57, 57)
        Ledoit-Wolf shrunk inverse covariances.
    threshold_, suspect_threshold_ : float
        Score thresholds (set by :meth:`calibrate`).
    heldout_scores_ : ndarray
        Sorted held-out scores of all music populations pooled (for percentiles of new scores).
    heldout_parts_ : dict of str -> ndarray
        The same, per population (``table``; ``bandlimited`` audio), as given to :meth:`calibrate`.
    n_pairs_ : int
        Full-band / band-limited pairs the Gaussians were widened with (0: none).
    ler_music_ : ndarray
        Sorted low-energy rates of real GTZAN music (set by :meth:`calibrate_ler`).
    ler_threshold_, ler_suspect_threshold_ : float
        Low-energy-rate thresholds (same percentiles).
    """

    def __init__(self, percentile: float = PERCENTILE, suspect_percentile: float = SUSPECT_PERCENTILE):
        self.percentile = percentile
        self.suspect_percentile = suspect_percentile

    # -- fitting ---------------------------------------------------------------------------
    def _transform(self, X: np.ndarray) -> np.ndarray:
        X = np.asarray(X, dtype=np.float64)
        if X.ndim == 1:
            X = X[None, :]
        if X.shape[1] != len(FEATURE_COLUMNS):
            raise ValueError(f"expected {len(FEATURE_COLUMNS)} features, got {X.shape[1]}")
        # tiny positive floor: a new input may reach 0 where no training clip did (e.g. silence)
        return (self._log(X) - self.mean_) / self.scale_

    def _log(self, X: np.ndarray) -> np.ndarray:
        Z = np.asarray(X, dtype=np.float64).copy()
        m = self.log_mask_
        Z[:, m] = np.log(np.maximum(Z[:, m], self.log_floor_[m]))
        return Z

    def fit(self, X: np.ndarray, y: Iterable[str], pairs: tuple[np.ndarray, np.ndarray] | None = None,
            seed: int = 0) -> "NoveltyDetector":
        """Fit the per-genre Gaussians on music feature rows ``X`` (n, 57) with genre labels ``y``.

        Parameters
        ----------
        pairs : (X_ref, X_band) of shape (m, 57) each, optional
            Features of the same recordings at full band and band-limited. Each row of ``X``
            then also enters its genre's Gaussian :data:`BANDLIMIT_RATES`-many more times, moved by
            the (log-space) change ``X_band - X_ref`` of a randomly drawn pair, so that the
            Gaussians cover music with the high frequencies missing.
        seed : int
            Seed of the draw of pairs.
        """
        from sklearn.covariance import LedoitWolf

        X = np.asarray(X, dtype=np.float64)
        y = np.asarray(list(y))
        self.log_mask_ = np.all(X > 0, axis=0)
        # floor = 1e-3 of the smallest training value of each logged column
        self.log_floor_ = np.where(self.log_mask_, np.min(np.where(X > 0, X, np.inf), axis=0) * 1e-3, 0.0)
        Z = self._log(X)
        self.mean_ = Z.mean(axis=0)
        self.scale_ = Z.std(axis=0)
        self.scale_[self.scale_ == 0] = 1.0
        self.n_pairs_ = 0
        if pairs is not None and len(pairs[0]):
            shifts = self._log(pairs[1]) - self._log(pairs[0])
            rng = np.random.default_rng(seed)
            k = len(BANDLIMIT_RATES)
            pick = rng.integers(0, len(shifts), size=(k, len(Z)))
            Z = np.vstack([Z] + [Z + shifts[pick[i]] for i in range(k)])
            y = np.concatenate([y] * (k + 1))
            self.n_pairs_ = int(len(shifts))
        Z = (Z - self.mean_) / self.scale_
        self.classes_ = sorted({str(g) for g in y})
        locs, precs = [], []
        for g in self.classes_:
            lw = LedoitWolf().fit(Z[y == g])
            locs.append(lw.location_)
            precs.append(lw.precision_)
        self.locations_ = np.asarray(locs)
        self.precisions_ = np.asarray(precs)
        return self

    def distances(self, X: np.ndarray) -> np.ndarray:
        """Mahalanobis distance (standard deviations) of each row to every genre: (n, n_classes)."""
        Z = self._transform(X)
        out = np.empty((Z.shape[0], len(self.classes_)))
        for k in range(len(self.classes_)):
            d = Z - self.locations_[k]
            out[:, k] = np.sqrt(np.maximum(np.einsum("ij,jk,ik->i", d, self.precisions_[k], d), 0.0))
        return out

    def score_samples(self, X: np.ndarray) -> np.ndarray:
        """Novelty score of each row: distance to the nearest genre Gaussian (higher = less like music)."""
        return self.distances(X).min(axis=1)

    def calibrate(self, heldout_scores: np.ndarray, **more: np.ndarray) -> "NoveltyDetector":
        """Set the thresholds from held-out music scores (percentiles ``percentile``, ``suspect_percentile``).

        Parameters
        ----------
        heldout_scores : ndarray
            Held-out scores of music (the published table's clips).
        **more : ndarray
            Other held-out music populations by name (e.g. ``bandlimited=...``). Each threshold
            is then the largest of the populations' percentiles, so that no population has more
            than ``100 - percentile`` % above it; all scores pooled serve :meth:`percentile_of`.
        """
        parts = {"table": heldout_scores, **more}
        parts = {k: np.sort(np.asarray(v, dtype=np.float64)) for k, v in parts.items()}
        self.heldout_parts_ = parts
        self.heldout_scores_ = np.sort(np.concatenate(list(parts.values())))
        self.threshold_ = float(max(np.percentile(v, self.percentile) for v in parts.values()))
        self.suspect_threshold_ = float(max(np.percentile(v, self.suspect_percentile)
                                            for v in parts.values()))
        return self

    def calibrate_ler(self, music_rates: np.ndarray) -> "NoveltyDetector":
        """Set the low-energy-rate thresholds from the rates of real music recordings."""
        r = np.sort(np.asarray(music_rates, dtype=np.float64))
        r = r[np.isfinite(r)]
        self.ler_music_ = r
        self.ler_threshold_ = float(np.percentile(r, self.percentile))
        self.ler_suspect_threshold_ = float(np.percentile(r, self.suspect_percentile))
        return self

    def percentile_of(self, score: float) -> float:
        """Share (%) of held-out training music scoring at or below ``score``."""
        s = self.heldout_scores_
        return float(100.0 * np.searchsorted(s, score, side="right") / len(s))

    def ler_percentile_of(self, rate: float) -> float:
        """Share (%) of GTZAN music with a low-energy rate at or below ``rate``."""
        r = self.ler_music_
        return float(100.0 * np.searchsorted(r, rate, side="right") / len(r))

    # -- audio -----------------------------------------------------------------------------
    def score_signal(self, y: np.ndarray, sr: int = SR, X: np.ndarray | None = None,
                     spans: list[tuple[int, int]] | None = None) -> dict:
        """Score audio: features on up to :data:`MAX_WINDOWS` 30-s windows, median of their scores.

        Parameters
        ----------
        y : ndarray
            Mono signal at ``sr`` Hz.
        X, spans : optional
            Clip features (n, 57) already computed on the sample spans ``[(start, end), ...]``
            of ``y`` (e.g. by the genre model); when given they are used instead of recomputing.

        Returns
        -------
        dict
            ``score`` (float), ``window_scores`` (list), ``windows_s`` (list of [start, end] in s),
            ``threshold``, ``suspect_threshold``, ``percentile`` (% of held-out music at or below);
            ``low_energy_rate`` (whole input), ``ler_threshold``, ``ler_suspect_threshold``,
            ``ler_percentile``; ``novel`` (either score above its threshold), ``suspect`` (either
            above its suspect threshold) and ``reasons`` (list of str, why it is novel/suspect).
        """
        from genre import features

        if X is None:
            spans = windows(len(y), sr)
            X = np.vstack([features.clip_features(y[a:b], sr) for a, b in spans])
        elif spans is None or len(spans) != len(X):
            raise ValueError("X needs the matching sample spans")
        scores = self.score_samples(X)
        score = float(np.median(scores))
        ler = low_energy_rate(y, sr)
        out = {"score": score, "window_scores": [float(s) for s in scores],
               "windows_s": [[a / sr, b / sr] for a, b in spans],
               "threshold": self.threshold_, "suspect_threshold": self.suspect_threshold_,
               "percentile": self.percentile_of(score),
               "low_energy_rate": ler, "ler_threshold": self.ler_threshold_,
               "ler_suspect_threshold": self.ler_suspect_threshold_,
               "ler_percentile": self.ler_percentile_of(ler)}
        reasons, suspect = [], False
        if score > self.threshold_:
            reasons.append(f"its features are farther from every genre than {out['percentile']:.1f} % "
                           f"of held-out GTZAN music (score {score:.1f}, threshold {self.threshold_:.1f})")
        if ler > self.ler_threshold_:
            reasons.append(f"{ler:.0%} of its frames are quiet gaps, more than in "
                           f"{out['ler_percentile']:.1f} % of GTZAN music (threshold {self.ler_threshold_:.0%})")
        if score > self.suspect_threshold_:
            suspect = True
        if ler > self.ler_suspect_threshold_:
            suspect = True
        out["novel"] = bool(reasons)
        out["suspect"] = bool(suspect or reasons)
        out["reasons"] = reasons
        return out


def windows(n: int, sr: int = SR, seconds: float = WINDOW_SECONDS,
            max_windows: int = MAX_WINDOWS) -> list[tuple[int, int]]:
    """Sample spans ``[(start, end), ...]`` of the 30-s windows scored for an input of ``n`` samples.

    Inputs up to 1.5 windows long are scored whole; longer ones in non-overlapping full windows,
    at most ``max_windows`` of them, evenly spread over the input.
    """
    w = int(round(seconds * sr))
    if n <= 1.5 * w:
        return [(0, n)]
    k = n // w
    idx = np.unique(np.linspace(0, k - 1, min(k, max_windows)).round().astype(int))
    return [(int(i * w), int((i + 1) * w)) for i in idx]


def load_artifact(model_dir: str | Path, manifest: dict) -> NoveltyDetector:
    """Registry-style loader ``(model_dir, manifest)`` for kind ``"novelty"`` (files already verified)."""
    from genre import registry

    det = registry.load_skops(Path(model_dir) / "model.skops", manifest)
    if not isinstance(det, NoveltyDetector):
        raise ModelError(f"{model_dir}/model.skops does not hold a NoveltyDetector.")
    return det


@functools.lru_cache(maxsize=4)
def load(models_dir: str | None = None) -> NoveltyDetector:
    """The shipped detector (verified against its manifest's hashes), cached per process.

    Raises
    ------
    ModelError
        If ``models/novelty`` is missing or fails its hash check.
    """
    from genre import registry

    man = registry.verify(NAME, models_dir)
    return load_artifact(registry.model_dir(NAME, models_dir), man)
