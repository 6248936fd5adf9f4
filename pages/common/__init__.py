"""Streamlit glue the pages share: cached loaders over genre's public API and the classify view.

A package (``pages/common/``), not a ``pages/common.py`` module: Streamlit's legacy scan of
``pages/`` lists every ``*.py`` file there (only ``__init__.py`` and dot-files are skipped), so a
plain module would show up as a page called "common". See :func:`use_router` for the other half.

Data and models are loaded once per process (``st.cache_data`` / ``st.cache_resource``). Nothing
here computes features or numbers of its own: it calls :mod:`genre` and draws what comes back.
TensorFlow is never imported here; a deep model's loader imports it only when that model is used.
"""

from __future__ import annotations

import hashlib
import logging
import runpy
import threading
from pathlib import Path

import pandas as pd
import streamlit as st

from genre.app import dashboard
from genre.app import plots
from genre.config import GENRES, HOP_LENGTH, SEGMENT_SECONDS
from genre.errors import GenreError

log = logging.getLogger("genre.app")

#: the entry point whose st.navigation routes the pages
APP = Path(__file__).resolve().parents[2] / "app.py"
_routing = threading.local()  # set while use_router runs app.py (no recursion)


# ------------------------------------------------------------------------------ routing

def use_router() -> None:
    """Make sure this page runs under ``app.py``'s ``st.navigation``; call it first in every page.

    Streamlit treats a ``pages/`` folder beside the entry point as a legacy (v1) multipage app
    until ``st.navigation`` has run in the process (it clears the process-wide
    ``PagesManager.uses_pages_directory``; Streamlit's AppTest sets it again before every run).
    In that mode a deep link (``/explore``) runs the page script alone, under a file-name sidebar
    and without ``app.py``'s page config: the first visitor of a fresh server got that. Here the
    page then runs ``app.py`` in place, in the same script run (so widget events such as a button
    click are kept): its router sends the real navigation and runs the requested page (found by
    its URL path or page hash, both the page's file name), and this outer run stops. A no-op once
    the router is in charge, and under Streamlit versions without the legacy flag.
    """
    try:
        from streamlit.runtime.pages_manager import PagesManager
    except ImportError:  # pragma: no cover - a Streamlit without the legacy mode
        return
    if not getattr(PagesManager, "uses_pages_directory", None) or getattr(_routing, "active", False):
        return
    _routing.active = True
    try:
        runpy.run_path(str(APP), run_name="__main__")
    finally:
        _routing.active = False
    st.stop()


# ------------------------------------------------------------------------------ cached data

@st.cache_data(show_spinner="Loading the GTZAN table...")
def dataset_table() -> pd.DataFrame:
    from genre.training.datasets import dataset_table as _table
    return _table()


@st.cache_data(show_spinner=False)
def clip_audio_paths() -> dict[str, str]:
    """clip id -> absolute audio path, for clips whose audio is in the data folder."""
    from genre.training.datasets import clips_index
    try:
        idx = clips_index()
    except GenreError:
        return {}
    idx = idx[[Path(p).is_file() for p in idx["path"]]]
    return dict(zip(idx["clip"], idx["path"]))


@st.cache_data(show_spinner=False)
def leaderboard() -> pd.DataFrame:
    from genre.results import leaderboard as _board
    return _board()


@st.cache_data(show_spinner=False)
def protocol_descriptions() -> dict[str, str]:
    from genre.results import PROTOCOL_DESCRIPTIONS
    return dict(PROTOCOL_DESCRIPTIONS)


@st.cache_data(show_spinner="Loading the embeddings...")
def embeddings() -> pd.DataFrame:
    from genre.training.embeddings import load
    return load()


@st.cache_data(show_spinner=False)
def manifests() -> list[dict]:
    from genre.registry import list_models
    return list_models()


@st.cache_data(show_spinner=False)
def default_model() -> str | None:
    from genre.registry import default_name
    try:
        return default_name()
    except GenreError:
        return None


@st.cache_data(show_spinner=False)
def model_options() -> list[dict]:
    try:
        board = leaderboard()
    except GenreError:
        board = None
    return dashboard.model_options(manifests(), board, default=default_model())


@st.cache_data(show_spinner=False)
def demo_clips() -> pd.DataFrame:
    return dashboard.demo_clips()


@st.cache_resource(show_spinner="Loading the model...")
def model(name: str | None):
    """A loaded Predictor, once per process per model (``None`` = the default model)."""
    from genre.predict import load_model
    return load_model(name)


@st.cache_resource(show_spinner=False)
def warm_detector():
    from genre.predict import load_detector
    return load_detector()


def _digest(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


@st.cache_data(max_entries=16, show_spinner=False, hash_funcs={bytes: _digest})
def analyse(data: bytes, name: str, model_name: str | None) -> dict:
    """Decode, classify and draw one input (cached per content and model).

    Returns ``{"prediction": Prediction, "result": to_dict(), "waveform": Figure,
    "spectrogram": Figure, "duration": s}``. Raises :class:`GenreError` for bad input.
    """
    from genre import audio, features
    from genre.predict import predict

    sig = audio.load(data)
    pred = predict(sig, model=model(model_name))  # decoded once, above
    result = pred.to_dict()
    result["source"] = name
    mel = features.logmel(sig.y, sig.sr)
    return {"prediction": pred, "result": result, "duration": sig.duration,
            "waveform": plots.waveform(sig.y, sig.sr),
            "spectrogram": plots.spectrogram(mel, sig.sr, HOP_LENGTH)}


# ------------------------------------------------------------------------------ views

def chart(fig, key: str, **kwargs):
    """``st.plotly_chart`` without Streamlit's theme, so figures look as :mod:`genre.app.plots` built them."""
    return st.plotly_chart(fig, key=key, theme=None, **kwargs)


def model_picker(key: str = "model", label: str = "Model") -> str | None:
    """Selectbox over the shipped models, best honest accuracy first. Returns the model name."""
    opts = model_options()
    if not opts:
        st.warning("No trained models are shipped in models/ yet.")
        return None

    i = st.selectbox(label, range(len(opts)), format_func=lambda i: dashboard.model_label(opts[i]),
                     key=key, help="The default model first, then by accuracy on the fault-filtered "
                     "test split (the honest protocol). Deep models are scored on the test clips "
                     "with audio only.")
    return opts[i]["name"]


def show_result(out: dict, *, key: str, compact: bool = False) -> None:
    """Draw one classification: verdict, top genres, timeline, waveform and spectrogram, downloads."""
    pred, result = out["prediction"], out["result"]
    if pred.not_music:
        st.warning(f"**Not music?** {pred.verdict}", icon="🔇")
    elif pred.low_confidence:
        st.warning(f"**Low confidence.** {pred.verdict}", icon="🤔")
    else:
        st.success(f"**{pred.genre.capitalize()}** - {pred.confidence:.0%} confident.", icon="🎵")
    c1, c2, c3, c4 = st.columns([1, 1, 2, 1])
    c1.metric("Top genre", pred.genre)
    c2.metric("Probability", f"{pred.confidence:.0%}")
    c3.metric("Model", pred.model_display_name)
    c4.metric("Time", f"{pred.timings_ms.get('total', float('nan')) / 1000:.2f} s")
    for note in pred.notes:
        st.caption(f"Note: {note}")
    left, right = st.columns([2, 3])
    with left:
        chart(plots.probability_bars(result["probabilities"], top=5, title="Top genres"),
                        key=f"{key}_bars")
    with right:
        tl = pred.timeline
        if len(tl):
            chart(plots.timeline(tl["start_s"].to_numpy(), tl[list(GENRES)].to_numpy(),
                                           segment_s=SEGMENT_SECONDS,
                                           title="Per-3-s genre probabilities"), key=f"{key}_tl")
        else:
            st.info("Too short for a timeline.")
    if not compact:
        chart(out["waveform"], key=f"{key}_wave")
        chart(out["spectrogram"], key=f"{key}_mel")
        stem = Path(str(result.get("source") or "clip")).stem or "clip"
        d1, d2, _ = st.columns([1, 1, 3])
        d1.download_button("Download CSV", dashboard.prediction_csv(result),
                           file_name=f"{stem}_genres.csv", mime="text/csv", key=f"{key}_csv")
        d2.download_button("Download JSON", dashboard.prediction_json(result),
                           file_name=f"{stem}_genres.json", mime="application/json",
                           key=f"{key}_json")


def classify_and_show(data: bytes, name: str, model_name: str | None, *, key: str,
                      compact: bool = False) -> dict | None:
    """Run :func:`analyse` with a spinner; a bad input gives one ``st.error`` line, no traceback."""
    try:
        with st.spinner(f"Decoding and classifying {name}..."):
            out = analyse(data, name, model_name)
    except GenreError as exc:
        st.error(str(exc))
        return None
    except Exception as exc:  # a bug, not the user's fault: log it, keep the page alive
        log.exception("analysing %s failed", name)
        st.error(f"Sorry, analysing this input failed unexpectedly ({type(exc).__name__}); "
                 "the error was logged. Try another file or model.")
        return None
    show_result(out, key=key, compact=compact)
    return out
