"""From one recording to an answer: genre probabilities, a 3-s timeline, and honest flags.

>>> from genre.predict import predict
>>> p = predict("song.ogg")            # doctest: +SKIP
>>> p.genre, p.top(3), p.verdict       # doctest: +SKIP
>>> p.to_dict()                        # JSON-serialisable   # doctest: +SKIP

Flags
-----
``not_music``
    The non-music detector (:mod:`genre.novelty`) finds the recording novel: its 57 features are
    farther from the nearest genre than 99 % of held-out GTZAN music, or it has more quiet gaps
    (low-energy frames) than 99 % of GTZAN music. The measured false-alarm rate on real music is
    in ``models/novelty/manifest.json`` (``false_alarms_on_music``: ``novel``).
    A recording above only the 95th percentiles ("suspect") is not called non-music; when the
    model is also unsure, the verdict says so. (Calling such inputs non-music too would raise
    the false alarms on real music, see ``novel_or_unsure_suspect`` in the same manifest.)
``novelty_missing``
    The non-music check was asked for but no detector is shipped (``models/novelty`` is
    missing): ``not_music`` is then False *because nothing was checked*, a note says so, and
    the CLI refuses to answer (exit 3) unless ``--no-novelty`` is given.
``low_confidence``
    The top probability is below :data:`LOW_CONFIDENCE_PROB` (0.5): with calibrated
    probabilities the best guess is then more likely wrong than right.
"""

from __future__ import annotations

import functools
import time
from pathlib import Path
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from genre.config import SEGMENT_SECONDS
from genre.errors import GenreError, ModelError
from genre.serialize import finite, jsonable

#: Note added (and ``novelty_missing`` set) when the non-music detector is not shipped.
#: Note on a prediction made by a model's band head (telephone-band input; see
#: :class:`genre.models.pretrained.PretrainedPredictor`).
BAND_NOTE: str = ("Telephone-band input (almost nothing above 4 kHz): classified by the model's head "
                  "for band-limited audio, which is less accurate than on full-band music.")
NOVELTY_MISSING_NOTE: str = ("The non-music check is unavailable (models/novelty is missing): the "
                             "answer assumes the input is music and cannot flag speech, noise or "
                             "silence-like recordings.")

#: Top probability below which the answer is flagged ``low_confidence`` (a calibrated model's
#: best guess is then more likely wrong than right).
LOW_CONFIDENCE_PROB: float = 0.5

__all__ = ["Prediction", "Failure", "predict", "predict_many", "load_model", "load_detector",
           "model_classes", "LOW_CONFIDENCE_PROB", "NOVELTY_MISSING_NOTE", "BAND_NOTE"]


@dataclass
class Prediction:
    """What :func:`predict` returns.

    Attributes
    ----------
    probabilities : ndarray (k,)
        Clip probabilities in ``genres`` order.
    timeline : DataFrame
        One row per 3-s segment: ``start_s``, ``end_s`` (s) and one probability column per class.
    genres : tuple of str
        The model's classes (its manifest ``classes``), in probability order: GTZAN's ten genres
        for the shipped models, any label set for a model trained on your own data.
    model, model_display_name : str
        Registry name and display name of the model used.
    timings_ms : dict
        ``decode``, ``inference`` (features + model), ``novelty``, ``total`` (ms).
    notes : list of str
        The decoder's notes (e.g. cut to the 10-min limit) and the detector's.
    low_confidence, not_music : bool
        See the module docstring.
    verdict : str
        One sentence for a person.
    novelty : dict or None
        Detector output (``score``, ``threshold``, ``suspect_threshold``, ``percentile``,
        ``window_scores``, ``windows_s``); None when the check was not run.
    novelty_missing : bool
        True when the non-music check was asked for but ``models/novelty`` is not shipped, so
        ``not_music`` means nothing (see the module docstring).
    embedding : ndarray or None
        The model's pooled clip vector (the pretrained ensemble's :data:`FEATURE_DIM
        <genre.models.pretrained.FEATURE_DIM>` float32 values, 8 KB), for "where does it sit"
        (:class:`genre.app.placement.PretrainedSpace`); None for models without one. Not in
        :meth:`to_dict`. ``embedding_id`` names the networks and settings that made it.
    duration_s : float
        Seconds analysed. ``original_duration_s`` (or None), ``truncated``, ``source`` as in
        :class:`genre.audio.Signal`.
    """

    probabilities: np.ndarray
    timeline: pd.DataFrame
    model: str
    model_display_name: str
    timings_ms: dict
    notes: list
    low_confidence: bool
    not_music: bool
    verdict: str
    novelty: dict | None
    duration_s: float
    original_duration_s: float | None = None
    truncated: bool = False
    source: str = ""
    genres: tuple = field(default=())
    novelty_missing: bool = False
    embedding: np.ndarray | None = field(default=None, repr=False)
    embedding_id: str = ""

    @property
    def classes(self) -> tuple:
        """The model's classes (same as ``genres``)."""
        return tuple(self.genres)

    @property
    def genre(self) -> str:
        """Top-1 genre (even when flagged: check ``not_music`` / ``low_confidence``)."""
        return self.genres[int(np.argmax(self.probabilities))]

    @property
    def confidence(self) -> float:
        """Top-1 probability."""
        return float(np.max(self.probabilities))

    @property
    def segment_agreement(self) -> float:
        """Share of 3-s segments whose own top genre is the clip's top genre (NaN if none)."""
        if self.timeline.empty:
            return float("nan")
        seg_top = self.timeline[list(self.genres)].to_numpy().argmax(axis=1)
        return float(np.mean(seg_top == int(np.argmax(self.probabilities))))

    def top(self, k: int = 3) -> list[tuple[str, float]]:
        """The ``k`` most probable genres, ``[(genre, probability), ...]``, best first."""
        k = max(1, min(int(k), len(self.genres)))
        order = np.argsort(-self.probabilities, kind="stable")[:k]
        return [(self.genres[i], float(self.probabilities[i])) for i in order]

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON-serialisable form (lists, floats, str, bool, None)."""
        tl = self.timeline
        return {
            "source": self.source,
            "genre": self.genre,
            "classes": list(self.genres),
            "confidence": self.confidence,
            "verdict": self.verdict,
            "low_confidence": bool(self.low_confidence),
            "not_music": bool(self.not_music),
            "novelty_missing": bool(self.novelty_missing),
            "probabilities": {g: float(p) for g, p in zip(self.genres, self.probabilities)},
            "top": [{"genre": g, "probability": p} for g, p in self.top(3)],
            "segment_agreement": finite(self.segment_agreement),
            "timeline": {
                "start_s": [float(v) for v in tl["start_s"]],
                "end_s": [float(v) for v in tl["end_s"]],
                "probabilities": {g: [float(v) for v in tl[g]] for g in self.genres},
            },
            "model": {"name": self.model, "display_name": self.model_display_name},
            "timings_ms": {k: float(v) for k, v in self.timings_ms.items()},
            "notes": [str(n) for n in self.notes],
            "novelty": jsonable(self.novelty),
            "duration_s": float(self.duration_s),
            "original_duration_s": None if self.original_duration_s is None else float(self.original_duration_s),
            "truncated": bool(self.truncated),
        }


# ------------------------------------------------------------------------------ models

@functools.lru_cache(maxsize=8)
def _load_model(name: str, models_dir: str | None):
    from genre import registry

    model = registry.load(name, models_dir)
    if not (hasattr(model, "predict_segments") and hasattr(model, "predict_clip")):
        raise ModelError(f"Model {name!r} is not a genre classifier (it is a "
                         f"{type(model).__name__}); choose one of `python -m genre models`.")
    return model


def load_model(name: str | None = None, models_dir: str | None = None):
    """Load (verify + build) a registry model once per process; ``None`` = the default model.

    ``models_dir``: a models folder other than ``GENRE_MODELS_DIR`` / ``models/`` (e.g. one
    trained on your own labelled data). The default is resolved to its name first, so
    ``load_model()``, ``load_model("pretrained")`` and ``load_model("pretrained", None)`` return
    the same cached object: one copy of a model per process, however it is asked for.

    Raises
    ------
    ModelError
        Unknown name, missing file or hash mismatch.
    """
    from genre import registry

    folder = None if models_dir is None else str(models_dir)
    return _load_model(name if name is not None else registry.default_name(folder), folder)


load_model.cache_info = _load_model.cache_info  # type: ignore[attr-defined]
load_model.cache_clear = _load_model.cache_clear  # type: ignore[attr-defined]


def load_detector(models_dir: str | None = None):
    """The non-music detector of the models folder, or None if there is none.

    "Is this music at all?" does not depend on a taxonomy: a models folder of your own without a
    ``novelty`` model (``models_dir``, or ``GENRE_MODELS_DIR``) uses the shipped detector
    (``models/novelty``).

    Raises
    ------
    ModelError
        If it is present but fails its hash check.
    """
    from genre import config, novelty

    roots = [config.MODELS_DIR, config.SHIPPED_MODELS_DIR]
    if models_dir is not None:
        roots.insert(0, models_dir)
    for root in dict.fromkeys(str(r) for r in roots):  # in order, each folder once
        if (Path(root) / novelty.NAME / "manifest.json").is_file():
            return novelty.load(str(root))
    return None


def model_classes(predictor: Any) -> tuple[str, ...]:
    """The classes a loaded Predictor answers in: its ``classes``, else its manifest's ``classes``.

    Raises
    ------
    ModelError
        If the model names no classes.
    """
    classes = getattr(predictor, "classes", None) or (getattr(predictor, "manifest", None) or {}).get("classes")
    if not classes:
        raise ModelError(f"Model {getattr(predictor, 'name', '?')!r} does not say which classes it answers in "
                         "(no classes in its manifest).")
    return tuple(str(c) for c in classes)


def _resolve(model, models_dir: str | None = None) -> Any:
    if model is None or isinstance(model, str):
        return load_model(model, None if models_dir is None else str(models_dir))
    if hasattr(model, "predict_segments") and hasattr(model, "predict_clip"):
        return model
    raise TypeError(f"model must be a registry name, None or a loaded Predictor, not {type(model).__name__}")


def _probs(p: Any, what: str, k: int) -> np.ndarray:
    p = np.asarray(p, dtype=np.float64)
    if p.shape[-1] != k or not np.all(np.isfinite(p)):
        raise ModelError(f"The model returned {what} of shape {p.shape} (expected {k} "
                         "finite probabilities per row, one per class).")
    return p


# ------------------------------------------------------------------------------ predict

def _verdict(genre: str, conf: float, second: tuple[str, float], low: bool, not_music: bool,
             nov: dict | None) -> str:
    if not_music:
        return ("This does not sound like music: " + "; ".join(nov["reasons"])
                + ". The genre probabilities are not meaningful.")
    if low:
        text = (f"Uncertain: best guess {genre} ({conf:.0%}), then {second[0]} ({second[1]:.0%}); "
                "the model is more likely wrong than right here.")
        if nov is not None and nov.get("suspect"):
            if nov.get("method") == "pretrained":
                text += (" The recording is also unusual for music (less typical than "
                         f"{nov['percentile']:.0f} % of held-out GTZAN music): it may not be music.")
            else:
                text += (" The recording is also unusual for music (features at the "
                         f"{nov['percentile']:.0f}th percentile of held-out GTZAN music, low-energy "
                         f"rate at the {nov['ler_percentile']:.0f}th): it may not be music.")
        return text
    return f"{genre.capitalize()} ({conf:.0%})."


def predict(source, model=None, *, novelty: bool = True, progress=None,
            models_dir: str | None = None) -> Prediction:
    """Classify one recording.

    Parameters
    ----------
    source : str, os.PathLike, bytes, binary file-like or Signal
        Anything :func:`genre.audio.load` accepts (a path, raw bytes, a Streamlit upload, or an
        already decoded :class:`genre.audio.Signal`).
    model : str, Predictor or None
        Registry model name, an already loaded Predictor, or None for the default model.
        Models loaded by name are cached per process (:func:`load_model`).
    models_dir : path, optional
        Models folder to load a named model (and the non-music detector) from; default
        ``GENRE_MODELS_DIR`` or the shipped ``models/``.
    novelty : bool
        Run the non-music detector. With a feature model it reuses the model's 30-s window
        features (only the low-energy rate is added); with a deep model it computes the 57
        features on at most four 30-s windows.
    progress : callable ``(done, total)``, optional
        Called after each analysed 30-s window of a feature model (the dashboard's progress bar).

    Notes
    -----
    With a feature model (:class:`genre.models.feature_models.FeatureModel`) each 30-s window is analysed once
    (:meth:`~genre.models.feature_models.FeatureModel.predict_windows`): the clip answer, the timeline and the
    non-music check all come from that analysis.

    Returns
    -------
    Prediction

    Raises
    ------
    genre.errors.AudioError
        The input cannot be used as audio (empty, not audio, corrupt, too short, silent...).
    genre.errors.ModelError
        The model is unknown, missing or corrupt.
    """
    from genre import audio, config

    config.guard_numba_cache()  # a full or read-only cache folder must not fail a prediction
    t0 = time.perf_counter()
    sig = audio.load(source)
    t1 = time.perf_counter()
    predictor = _resolve(model, models_dir)
    classes = model_classes(predictor)
    k = len(classes)
    t2 = time.perf_counter()
    X = spans = None
    if hasattr(predictor, "predict_windows"):
        # A feature model (FeatureModel): one analysis per 30-s window gives both its clip
        # features (shared with the non-music check) and its 3-s segments, and all the rows go
        # through the model in one call (same answer as predict_clip / predict_segments).
        wf, clip_rows, seg = (predictor.predict_windows(sig.y, progress=progress)
                              if progress is not None else predictor.predict_windows(sig.y))
        starts, X, spans = wf.starts_s, wf.X, wf.spans
        clip = _probs(clip_rows, "clip probabilities", k).mean(axis=0)
    else:
        starts, seg = predictor.predict_segments(sig.y)
        clip = _probs(predictor.predict_clip(sig.y), "clip probabilities", k).reshape(-1)
    starts = np.asarray(starts, dtype=np.float64).reshape(-1)
    seg = _probs(seg, "segment probabilities", k).reshape(len(starts), k)
    total = clip.sum()
    if total > 0:
        clip = clip / total
    t3 = time.perf_counter()

    notes = list(sig.notes)
    band_limited = getattr(predictor, "band_limited", None)
    if callable(band_limited) and band_limited(sig.y):  # reuses the analysis made above
        notes.append(BAND_NOTE)
    nov = None
    novelty_missing = False
    own_check = getattr(predictor, "music_check", None)
    if novelty and callable(own_check) and getattr(predictor, "detector", None) is not None:
        # a model with its own music detector on its network outputs (the pretrained ensemble);
        # it names the signal cues it reads (steadiness costs 30-60 ms on a 30-s clip)
        from genre.novelty import low_energy_rate, steadiness

        cues = tuple(getattr(predictor, "music_cues", ("low_energy_rate", "steadiness")))
        ler = low_energy_rate(sig.y, sig.sr) if "low_energy_rate" in cues else float("nan")
        steady = steadiness(sig.y, sig.sr) if "steadiness" in cues else float("nan")
        nov = own_check(sig.y, ler, steady)
    elif novelty:
        det = load_detector(None if models_dir is None else str(models_dir))
        if det is None:
            novelty_missing = True
            notes.append(NOVELTY_MISSING_NOTE)
        else:
            nov = det.score_signal(sig.y, sig.sr, X=X, spans=spans)
    embedding, embedding_id = None, ""
    pooled = getattr(predictor, "pooled_vector", None)
    if callable(pooled):  # the networks' outputs of this input are cached: no second pass
        embedding = np.asarray(pooled(sig.y), dtype=np.float32)
        embedding_id = str(getattr(predictor, "embedding_id", ""))
    t4 = time.perf_counter()

    ends = np.minimum(starts + SEGMENT_SECONDS, sig.duration)
    timeline = pd.DataFrame(seg, columns=list(classes))
    timeline.insert(0, "end_s", ends)
    timeline.insert(0, "start_s", starts)

    order = np.argsort(-clip, kind="stable")
    conf = float(clip[order[0]])
    low = conf < LOW_CONFIDENCE_PROB
    not_music = False
    if nov is not None:
        not_music = bool(nov["novel"])
    manifest = getattr(predictor, "manifest", {}) or {}
    name = str(getattr(predictor, "name", None) or manifest.get("name", "model"))
    verdict = _verdict(classes[order[0]], conf, (classes[order[1]], float(clip[order[1]])), low,
                       not_music, nov)
    timings = {"decode": (t1 - t0) * 1e3, "model_load": (t2 - t1) * 1e3,
               "inference": (t3 - t2) * 1e3, "novelty": (t4 - t3) * 1e3}
    timings["total"] = (time.perf_counter() - t0) * 1e3
    return Prediction(
        probabilities=clip, timeline=timeline, model=name,
        model_display_name=str(manifest.get("display_name", name)), timings_ms=timings,
        notes=notes, low_confidence=bool(low), not_music=bool(not_music), verdict=verdict,
        novelty=nov, duration_s=float(sig.duration), original_duration_s=sig.original_duration,
        truncated=bool(sig.truncated), source=str(sig.source), novelty_missing=novelty_missing,
        genres=classes, embedding=embedding, embedding_id=embedding_id)


def predict_many(sources, model=None, n_jobs: int = 1, progress: bool = True, *,
                 novelty: bool = True, models_dir: str | None = None) -> list:
    """:func:`predict` over many inputs; a failing input gives a :class:`Failure` in its slot.

    Nothing is lost to one bad input: a ``GenreError`` (bad audio, a model error) and any other
    exception (a bug: ``Failure.internal`` is True and ``Failure.detail`` holds the traceback)
    are recorded against that input and the others go on. If a worker process dies (killed for
    memory, say), the inputs it had not answered are retried one by one in this process.

    Parameters
    ----------
    sources : list
        Paths (or bytes) to classify.
    n_jobs : int
        joblib workers (processes; each loads the model once). Use 1 for a loaded Predictor
        object that cannot be pickled.
    progress : bool
        tqdm progress bar on stderr.
    novelty : bool
        Run the non-music detector (see :func:`predict`).

    Returns
    -------
    list of Prediction or Failure, in input order (``Failure``: ``kind`` = the error class name,
    ``message`` for a person, ``model_error`` True for a ``ModelError``, ``internal`` True for
    an unexpected exception).
    """
    from tqdm.auto import tqdm

    sources = list(sources)
    bar = tqdm(total=len(sources), desc="predict", unit="file", disable=not progress)
    out: list = []
    try:
        if n_jobs != 1 and len(sources) > 1:
            from joblib import Parallel, delayed

            try:
                for r in Parallel(n_jobs=n_jobs, return_as="generator")(
                        delayed(_safe_predict)(s, model, novelty, models_dir) for s in sources):
                    out.append(r)
                    bar.update()
            except Exception as exc:  # the pool broke (a worker killed for memory, an object that
                # cannot be sent to a worker): keep what came back, do the rest here, one by one
                import warnings

                warnings.warn(f"Parallel prediction stopped ({type(exc).__name__}: {exc}); the "
                              f"{len(sources) - len(out)} remaining inputs are classified in this "
                              "process.", RuntimeWarning, stacklevel=2)
        for s in sources[len(out):]:
            out.append(_safe_predict(s, model, novelty, models_dir))
            bar.update()
        return out
    finally:
        bar.close()


def _safe_predict(source, model, novelty: bool = True, models_dir=None):
    try:
        return predict(source, model, novelty=novelty, models_dir=models_dir)
    except GenreError as exc:
        # GenreError subclasses rebuild their message in __init__; pass a picklable stand-in
        return Failure(type(exc).__name__, str(exc), isinstance(exc, ModelError))
    except Exception as exc:  # a bug: report it loudly, against this input only
        import traceback

        return Failure(type(exc).__name__,
                       f"Internal error ({type(exc).__name__}: {exc}). This is a bug in genre, "
                       "not necessarily a problem with the file; please report it.",
                       internal=True, detail=traceback.format_exc())


@dataclass
class Failure:
    """A per-input failure from :func:`predict_many` (picklable across joblib workers)."""

    kind: str
    message: str
    model_error: bool = False
    internal: bool = False  #: an unexpected exception (a bug), not a bad input
    detail: str = ""  #: the traceback when ``internal``

    def __str__(self) -> str:
        return self.message
