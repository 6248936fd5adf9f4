"""Streamlit glue the pages share: cached loaders over genre's public API and the classify view.

A package (``pages/common/``), not a ``pages/common.py`` module: Streamlit's legacy scan of
``pages/`` lists every ``*.py`` file there (only ``__init__.py`` and dot-files are skipped), so a
plain module would show up as a page called "common". See :func:`use_router` for the other half.

Data and models are loaded once per process (``st.cache_data`` / ``st.cache_resource``), from
what the repository ships (``models/``): no page needs the GTZAN data folder, which only adds
click-to-listen for GTZAN clips. Classifications go through :mod:`genre.app.analysis` (uploads
spooled to disk and released from Streamlit's memory, a per-process queue, small per-session
results). Nothing here computes numbers of its own: it calls :mod:`genre` and draws what comes
back. No user-facing message names a server path or an environment variable.
"""

from __future__ import annotations

import io
import logging
import runpy
import threading
from collections import OrderedDict
from pathlib import Path

import numpy as np
import pandas as pd
import streamlit as st

from genre.app import analysis, dashboard, placement, plots
from genre.config import SEGMENT_SECONDS, SHIPPED_MODELS_DIR
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

#: Said once where GTZAN clips could be played but their audio is not deployed.
NO_AUDIO_NOTE = ("Listening to GTZAN clips needs the GTZAN audio files, which are not part of this "
                 "deployment. Everything else here comes from the tables shipped with the app.")
#: Results kept per session (the last few classifications, each a few MB at most).
SESSION_RESULTS = 3


@st.cache_data(show_spinner="Loading the GTZAN table...")
def dataset_table() -> pd.DataFrame:
    """The shipped GTZAN table (:func:`genre.app.dashboard.shipped_dataset`)."""
    return dashboard.shipped_dataset()


def clip_audio_paths() -> dict[str, str]:
    """clip id -> audio path for clips whose audio file exists here ({} on Community Cloud)."""
    try:
        return dashboard.audio_paths(dataset_table())
    except GenreError:
        return {}


@st.cache_data(show_spinner=False)
def leaderboard() -> pd.DataFrame:
    from genre.results import leaderboard as _board
    return _board()


@st.cache_data(show_spinner=False)
def results_file(model_name: str) -> dict:
    from genre.results import load_result
    return load_result(model_name)


@st.cache_data(show_spinner=False)
def protocol_descriptions() -> dict[str, str]:
    from genre.results import PROTOCOL_DESCRIPTIONS
    return dict(PROTOCOL_DESCRIPTIONS)


@st.cache_data(show_spinner="Loading the embeddings...")
def embeddings() -> pd.DataFrame:
    from genre.training.embeddings import load
    try:
        return load(SHIPPED_MODELS_DIR / "embeddings.parquet")  # GTZAN's maps, whatever folder is in use
    except GenreError as exc:
        raise dashboard.DataUnavailable("The 2-D maps of the clips are not shipped with this "
                                        "deployment.") from exc


@st.cache_resource(show_spinner="Preparing the map of GTZAN clips...")
def feature_space() -> placement.FeatureSpace:
    """The 57-feature space of the shipped table (PCA/LDA refitted, nearest neighbours)."""
    return placement.FeatureSpace(dataset_table())


@st.cache_resource(show_spinner="Loading the pretrained network's map of GTZAN clips...")
def pretrained_space() -> placement.PretrainedSpace:
    """The shipped pretrained ensemble's space (``models/embeddings_pretrained.*``), with the GTZAN
    audio paths where the files exist here. Raises DataUnavailable when it is not shipped."""
    try:
        audio = clip_audio_paths()
        return placement.PretrainedSpace.load(SHIPPED_MODELS_DIR / "embeddings_pretrained.parquet",
                                              audio_paths=audio, models_dir=str(SHIPPED_MODELS_DIR))
    except GenreError as exc:
        raise dashboard.DataUnavailable("The pretrained network's maps of the clips are not "
                                        "shipped with this deployment.") from exc


def spaces() -> dict[str, placement.EmbeddingSpace]:
    """The spaces whose maps this deployment ships, best first: ``{key: space}``."""
    out: dict[str, placement.EmbeddingSpace] = {}
    for key, make in (("pretrained", pretrained_space), ("features", feature_space)):
        try:
            out[key] = make()
        except GenreError as exc:
            log.info("embedding space %s unavailable: %s", key, exc)
    return out


def space_maps(space: placement.EmbeddingSpace) -> pd.DataFrame:
    """The 2-D maps of ``space``: its own, or the Explore page's 57-feature maps."""
    own = getattr(space, "maps", None)
    return own if own is not None else embeddings()


def embedding_space(model_name: str | None = None) -> placement.EmbeddingSpace | None:
    """The best embedding space for "where does it sit" after ``model_name`` classified a
    recording: the pretrained network's when its maps are shipped and that model makes the same
    clip vectors (the default model), else the 57 features (None if neither is available)."""
    avail = spaces()
    pre = avail.get("pretrained")
    if pre is not None:
        try:
            if pre.model_matches(getattr(model(model_name), "manifest", None)):
                return pre
        except GenreError:
            pass
    return avail.get("features")


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
def models_folder() -> dict:
    """The models folder in use: its name (never a full path), whether it is the shipped one,
    its dataset summary (:func:`genre.app.dashboard.models_folder`)."""
    return dashboard.models_folder()


@st.cache_data(show_spinner=False)
def taxonomy() -> list[str]:
    """The classes of the folder's default model (:func:`genre.app.dashboard.taxonomy`)."""
    return dashboard.taxonomy(manifests(), default_model())


def gtzan_note(what: str) -> None:
    """Say plainly, when the models folder in use is not the shipped one, that ``what`` shows
    the shipped GTZAN data, not the data or classes of the models in use."""
    folder = models_folder()
    if folder["shipped"]:
        return
    classes = ", ".join(taxonomy()) or "their own"
    st.info(f"{what} the shipped GTZAN data and its genres, not the data the models in use "
            f"(folder {dashboard.plain_text(folder['name'])}; classes: {dashboard.plain_text(classes)}) "
            "were trained on.", icon="ℹ️")


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
def detector_missing() -> bool:
    """True when the non-music detector is not shipped (answers then assume music)."""
    from genre.predict import load_detector
    try:
        return load_detector() is None
    except GenreError:
        return True


def show_data_error(exc: BaseException) -> None:
    """One plain error line for a missing or damaged shipped file (no server paths)."""
    log.warning("data unavailable: %s", exc)
    st.error(dashboard.public_message(exc) if isinstance(exc, dashboard.DataUnavailable)
             else "This part of the app could not load its data. The error was logged.")


# ------------------------------------------------------------------------------ uploads

#: Uploads larger than this go to a temporary file as soon as they arrive (bytes).
SPOOL_ABOVE_BYTES = 2 << 20
_spooled: dict[tuple[str, str], analysis.SpooledInput] = {}
_spool_lock = threading.Lock()


def install_upload_spooling(mgr=None) -> bool:
    """Make the server keep large uploads on disk instead of in memory (once per process).

    Streamlit stores every upload's bytes in memory (``MemoryUploadedFileManager``) for as long
    as the file stays in its uploader: eight 150-MB uploads are 1.2 GB. This wraps the running
    server's file manager so that a file over :data:`SPOOL_ABOVE_BYTES` is copied to a
    :class:`~genre.app.analysis.SpooledInput` the moment it arrives and stored with empty data;
    :func:`file_uploader` finds it by file id. Removing the file (the visitor clears or replaces
    it, or the session ends) deletes the temporary file. Returns False (uploads then stay in
    memory, everything still works) without a Streamlit server, e.g. under AppTest. ``mgr``:
    the file manager to wrap (default: the running server's).
    """
    if mgr is None:
        try:
            from streamlit import runtime

            mgr = runtime.get_instance().uploaded_file_mgr if runtime.exists() else None
        except Exception:
            mgr = None
    if mgr is None or not all(hasattr(mgr, a) for a in ("add_file", "remove_file", "remove_session_files")):
        return False
    with _spool_lock:
        if getattr(mgr, "_genre_spooling", False):
            return True
        add, remove, remove_session = mgr.add_file, mgr.remove_file, mgr.remove_session_files

        def add_file(session_id, file):
            if len(file.data) > SPOOL_ABOVE_BYTES and hasattr(file, "_replace"):
                held = analysis.SpooledInput(io.BytesIO(file.data), file.name, key=file.file_id)
                with _spool_lock:
                    _spooled[(session_id, file.file_id)] = held
                file = file._replace(data=b"")
            return add(session_id, file)

        def remove_file(session_id, file_id):
            with _spool_lock:
                _spooled.pop((session_id, file_id), None)
            return remove(session_id, file_id)

        def remove_session_files(session_id):
            with _spool_lock:
                for k in [k for k in _spooled if k[0] == session_id]:
                    del _spooled[k]
            return remove_session(session_id)

        mgr.add_file, mgr.remove_file = add_file, remove_file
        mgr.remove_session_files = remove_session_files
        mgr._genre_spooling = True
    return True


def _spooled_upload(file_id: str) -> analysis.SpooledInput | None:
    try:
        from streamlit.runtime.scriptrunner import get_script_run_ctx

        ctx = get_script_run_ctx()
    except Exception:
        return None
    with _spool_lock:
        return _spooled.get((ctx.session_id, file_id)) if ctx is not None else None


def upload_source(up):
    """What to decode for a Streamlit upload object (``st.audio_input``'s recording...): its
    spooled temporary file when the server moved it to disk, else the object itself."""
    install_upload_spooling()
    held = _spooled_upload(up.file_id)
    return held.path if held is not None else up


def file_uploader(label: str, types, key: str) -> analysis.SpooledInput | None:
    """``st.file_uploader`` returning the upload as a :class:`~genre.app.analysis.SpooledInput`
    (a temporary file: the server keeps no copy of a large upload's bytes, see
    :func:`install_upload_spooling`); None when no file is loaded."""
    install_upload_spooling()
    up = st.file_uploader(label, type=types, key=key)
    slot = f"{key}__spooled"
    if up is None:
        st.session_state.pop(slot, None)
        return None
    held = _spooled_upload(up.file_id)
    if held is None:  # a small upload (or no server): copy it out of the upload object
        held = st.session_state.get(slot)
        if held is None or held.key != up.file_id:
            held = analysis.SpooledInput(up, up.name, key=up.file_id)
    st.session_state[slot] = held
    return held


# ------------------------------------------------------------------------------ classification

def _session_results() -> OrderedDict:
    return st.session_state.setdefault("_analyses", OrderedDict())


def run_analysis(source, name: str, model_name: str | None, input_key: str) -> analysis.Analysis:
    """Classify ``source`` once per session, input and model: wait for a free slot (saying how
    many analyses are ahead), then analyse with a progress bar. Raises GenreError."""
    cache = _session_results()
    key = (input_key, model_name)
    if key in cache:
        cache.move_to_end(key)
        return cache[key]
    waiting = st.empty()

    def on_wait(ahead: int) -> None:
        waiting.info(f"Waiting for {ahead} other {'analysis' if ahead == 1 else 'analyses'} to "
                     "finish before this one starts...", icon="⏳")

    with analysis.GATE.slot(on_wait=on_wait):
        waiting.empty()
        bar = st.progress(0.0, text="Starting...")
        try:
            out = analysis.analyse(source, model(model_name), name=name,
                                   progress=lambda f, t: bar.progress(min(max(f, 0.0), 1.0), text=t),
                                   space=embedding_space(model_name))
        finally:
            bar.empty()
    cache[key] = out
    while len(cache) > SESSION_RESULTS:
        cache.popitem(last=False)
    analysis.release_memory()
    return out


def chart(fig, key: str, **kwargs):
    """``st.plotly_chart`` without Streamlit's theme, so figures look as :mod:`genre.app.plots` built them."""
    return st.plotly_chart(fig, key=key, theme=None, **kwargs)


def model_picker(key: str = "model", label: str = "Model") -> str | None:
    """Selectbox over the shipped models, best honest accuracy first. Returns the model name."""
    opts = model_options()
    if not opts:
        st.warning("No trained models are shipped with this app yet.")
        return None

    i = st.selectbox(label, range(len(opts)), format_func=lambda i: dashboard.model_label(opts[i]),
                     key=key, help="The default model first, then by accuracy on the fault-filtered "
                     "test split (the honest protocol). Deep models are scored on the test clips "
                     "with audio only.")
    return opts[i]["name"]


def _analysed_span(result: dict, timeline=None) -> str:
    dur = float(result.get("duration_s") or 0)
    orig = result.get("original_duration_s")
    if result.get("truncated"):
        total = f" of {plots.clock(orig)}" if orig else ""
        return f"Analysed the first {plots.clock(dur)}{total} (longer inputs are cut)."
    n = 0 if timeline is None else len(timeline)
    if n and (timeline["end_s"] - timeline["start_s"]).sum() < dur - 3:
        # a model that pools a bounded number of excerpts (the pretrained ensemble: six 3-s patches)
        return (f"Analysed {n} excerpts of 3 s spread over all {plots.clock(dur)} (this model "
                "listens to a fixed number of excerpts, so any length costs the same).")
    return f"Analysed all {plots.clock(dur)}."


def show_result(out: analysis.Analysis, *, key: str, compact: bool = False) -> None:
    """Draw one classification. A not-music result leads with that and draws no genre metrics,
    bars or timeline: detector numbers and the model's genre guess go in collapsed expanders."""
    pred, result = out.prediction, out.result
    nov = pred.novelty or {}
    if detector_missing() or getattr(pred, "novelty_missing", False):
        st.warning("The check for non-music recordings is not available in this deployment, so "
                   "the answer below assumes the recording is music.", icon="⚠️")
    if pred.not_music:
        if "distance" in nov:  # a detector with a contrast stage (trained against real non-music)
            why = ("To the music networks it sounds like speech, animal calls, nature or other "
                   "sounds rather than music (or it barely changes, like noise or a test tone)")
        else:
            why = ("It is too unlike the music the models learned from (or has too many silent "
                   "gaps, or barely changes, like noise or a test tone)")
        st.warning(f"**This does not sound like music.** {why}, so no genre is given.", icon="🔇")
        with st.expander("Why, in numbers"):
            for reason in nov.get("reasons", []):
                st.markdown(f"- {reason}")
        with st.expander("What the model would have said if it were music (not an answer)"):
            st.caption("Its top classes, for the curious; they mean nothing for a recording that "
                       "is not music: " + ", ".join(f"{g} {p:.0%}" for g, p in pred.top(3)))
        st.caption(_analysed_span(result, pred.timeline))
        for note in pred.notes:
            st.caption(f"Note: {note}")
        if not compact:  # what was heard, without genre charts that would read as an answer
            _player(out, None)
            chart(plots.waveform_envelope(*out.envelope), key=f"{key}_wave")
        return
    if pred.low_confidence:
        (a, pa), (b, pb) = pred.top(2)
        st.warning(f"**Not sure.** Best guess **{a}** ({pa:.0%}), then {b} ({pb:.0%}): the model "
                   "is more likely wrong than right here.", icon="🤔")
        if nov.get("suspect"):
            st.caption("The recording is also unusual for music; it may not be music at all.")
            with st.expander("Non-music check, in numbers"):
                for reason in nov.get("reasons", []):
                    st.markdown(f"- {reason}")
                if nov.get("summary"):
                    st.markdown(nov["summary"])
                else:
                    st.markdown(f"Feature score {nov.get('score', float('nan')):.1f} (threshold "
                                f"{nov.get('threshold', float('nan')):.1f}, unusual above "
                                f"{nov.get('suspect_threshold', float('nan')):.1f}); quiet-gap share "
                                f"{nov.get('low_energy_rate', float('nan')):.0%} (threshold "
                                f"{nov.get('ler_threshold', float('nan')):.0%}).")
    else:
        st.success(f"**{pred.genre.capitalize()}**, {pred.confidence:.0%} probability.", icon="🎵")
    c1, c2, c3 = st.columns([1, 1, 1])
    c1.metric("Top genre", pred.genre)
    c2.metric("Probability", f"{pred.confidence:.0%}")
    c3.metric("Time", f"{pred.timings_ms.get('total', float('nan')) / 1000:.2f} s")
    st.markdown(f"**Model:** {dashboard.plain_text(pred.model_display_name)}")
    st.caption(_analysed_span(result, pred.timeline))
    for note in pred.notes:
        st.caption(f"Note: {note}")
    left, right = st.columns([2, 3])
    with left:
        chart(plots.probability_bars(result["probabilities"], top=5, title="Top genres"),
              key=f"{key}_bars")
    with right:
        event = _timeline_chart(out, key, selectable=bool(out.audio) and not compact)
    if not compact:
        _player(out, event)
        chart(plots.waveform_envelope(*out.envelope), key=f"{key}_wave")
        chart(_spectrogram(out), key=f"{key}_mel")
        where_it_sits(out, key)
        stem = Path(str(result.get("source") or "clip")).stem or "clip"
        stem = "".join(c if c.isalnum() or c in "-_." else "_" for c in stem)[:60] or "clip"
        d1, d2, _ = st.columns([1, 1, 3])
        d1.download_button("Download CSV", dashboard.prediction_csv(result),
                           file_name=f"{stem}_genres.csv", mime="text/csv", key=f"{key}_csv")
        d2.download_button("Download JSON", dashboard.prediction_json(result),
                           file_name=f"{stem}_genres.json", mime="application/json",
                           key=f"{key}_json")


def _spectrogram(out: analysis.Analysis):
    # frames are out.mel_frame_s apart: pass sr=1, hop=frame time so x is in seconds
    return plots.spectrogram(out.mel_db, 1, out.mel_frame_s, max_frames=out.mel_db.shape[1] + 1)


def _timeline_chart(out: analysis.Analysis, key: str, *, selectable: bool = False):
    tl = out.prediction.timeline
    if not len(tl):
        st.info("Too short for a timeline.")
        return None
    classes = list(out.prediction.classes)  # the model's own classes, in its order
    starts, probs, bin_s = analysis.aggregate_timeline(
        tl["start_s"].to_numpy(), tl[classes].to_numpy(), max_points=analysis.TIMELINE_POINTS)
    title = (f"Genre probabilities per {SEGMENT_SECONDS:.0f} s" if bin_s == SEGMENT_SECONDS
             else f"Genre probabilities, averaged over {bin_s:.0f}-s stretches")
    if selectable:
        title += " (click a point to play from there)"
    fig = plots.timeline(starts, probs, classes, segment_s=bin_s, title=title)
    kwargs = dict(on_select="rerun", selection_mode="points") if selectable else {}
    return chart(fig, key=f"{key}_tl", **kwargs)


def _audio_and_timeline(out: analysis.Analysis, key: str) -> None:
    """The timeline, then the analysed audio in a player that clicking the timeline moves."""
    _player(out, _timeline_chart(out, key, selectable=bool(out.audio)))


def _player(out: analysis.Analysis, event) -> None:
    """The analysed audio; a point clicked on the timeline (``event``) sets where it starts."""
    if not out.audio:
        return
    start = 0.0
    points = (event.selection.points if event else None) or []
    if points:  # customdata: the clicked segment's (or stretch's) start
        cd = points[0].get("customdata")
        cd = cd[0] if isinstance(cd, (list, tuple)) and cd else cd
        start = max(0.0, float(cd if cd is not None else points[0].get("x", 0.0) - SEGMENT_SECONDS / 2))
    if start:
        st.caption(f"Playing from {plots.clock(start)}.")
    st.audio(out.audio, format="audio/ogg", start_time=int(start))


def where_it_sits(out: analysis.Analysis, key: str) -> None:
    """The recording on the Explore map and its five nearest GTZAN clips ("sounds like"), in the
    space its vector was computed in (``out.space``)."""
    space = spaces().get(out.space)
    if space is None or out.vector is None:
        return
    st.subheader("Where does it sit among the GTZAN clips?")
    try:
        maps = space_maps(space)
    except GenreError:
        maps = None
    near = space.neighbours(out.vector)
    try:
        gtzan = set(dataset_table()["genre"].astype(str))
    except GenreError:
        gtzan = set(space.table["genre"].astype(str))
    if set(map(str, out.prediction.classes)) != gtzan:
        st.caption("These are the shipped GTZAN clips, with GTZAN's genre labels: the model in use "
                   "answers in other classes (" + dashboard.plain_text(", ".join(out.prediction.classes))
                   + "), so the labels below are not its answers.")
    st.caption(f"Space: {space.name}" + (
        f", over the {len(space.table)} GTZAN clips with audio." if space.key == "pretrained"
        else ", over GTZAN's 1000 clips."))
    left, right = st.columns([3, 2])
    with right:
        st.markdown(f"**Sounds like** (nearest in the {space.label.lower()}):")
        for r in near.itertuples():
            who = f"{r.artist or 'unknown artist'} - {r.title or 'untitled'}"
            st.markdown(f"- {dashboard.plain_text(who)} ({r.genre}, `{r.clip}`)")
            if r.audio_path:
                st.audio(r.audio_path, format="audio/flac")
        if not near["audio_path"].astype(bool).any():
            st.caption(NO_AUDIO_NOTE)
    if maps is None:
        return
    with left:
        names = {"pca": "PCA", "tsne": "t-SNE", "umap": "UMAP", "lda": "LDA"}
        methods = [m for m in names if f"{m}_x" in maps.columns]
        method = st.radio("Map", methods, format_func=names.get, horizontal=True,
                          key=f"{key}_map")
        x, y, how = space.place(out.vector, maps, method)
        fig = plots.embedding_scatter(maps, f"{method}_x", f"{method}_y",
                                      title=f"{names[method]} of the GTZAN clips ({space.label.lower()})")
        if np.isfinite(x):
            plots.mark_point(fig, x, y)
        chart(fig, key=f"{key}_map_fig")
        st.caption(placement.placement_note(how, names[method]))


def classify_and_show(source, name: str, model_name: str | None, *, key: str, input_key: str,
                      compact: bool = False) -> analysis.Analysis | None:
    """Classify and draw; a bad input gives one ``st.error`` line, never a traceback. ``name``
    (the user's file name) is shown as plain text only."""
    try:
        out = run_analysis(source, name, model_name, input_key)
    except GenreError as exc:
        msg = str(exc)
        if isinstance(source, str):  # a spooled upload's temporary path: say the user's name
            msg = msg.replace(source, name).replace(Path(source).name, name)
        msg = dashboard.public_message(msg)
        if name:  # the user's file name inside the message stays plain text
            msg = msg.replace(name, dashboard.plain_text(name))
        st.error(msg)
        return None
    except Exception as exc:  # a bug, not the user's fault (Streamlit's stop/rerun are BaseException)
        log.exception("analysing %r failed", name)
        st.error(f"Sorry, analysing this input failed unexpectedly ({type(exc).__name__}); "
                 "the error was logged. Try another file or model.")
        return None
    show_result(out, key=key, compact=compact)
    return out


install_upload_spooling()  # once per process, before any page can receive an upload
