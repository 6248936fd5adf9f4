"""Catalogue: browse a library classified by ``python -m genre catalogue``: genre distribution,
confidence, flagged and failed tracks, search and filters, per-track timeline, CSV export.
Everything but the drawing is in genre.app.catalogue_view."""

import streamlit as st

from genre.app import catalogue_view as cv
from genre.errors import GenreError
from pages import common

common.use_router()  # a fresh server's first deep link runs pages/ without app.py
st.title("📚 Catalogue")
st.caption("A whole library classified by `python -m genre catalogue SRC --out catalogue.parquet` "
           "(Dask; resumable). Open the shipped example, the catalogue named in the app's config "
           f"(`{cv.SECRET_KEY}` in `.streamlit/secrets.toml` or `${cv.ENV_VAR}`), or upload its "
           "part files.")


@st.cache_data(show_spinner="Reading the catalogue...", max_entries=4)
def _read_path(path: str, stamp: tuple):  # stamp: re-read when part files are added
    return cv.read_catalogue(path)


@st.cache_data(show_spinner="Reading the catalogue...", max_entries=4)
def _read_uploads(blobs: tuple):
    return cv.read_catalogue(list(blobs))


try:
    secrets = dict(st.secrets)
except Exception:  # no secrets.toml: fine
    secrets = {}
configured = cv.configured_path(secrets)
SOURCES = {"example": "📦 Example (the demo clips)", "configured": "⚙️ Configured catalogue",
           "upload": "⬆️ Upload part files"}
options = ["example"] + (["configured"] if configured else []) + ["upload"]
source = st.radio("Catalogue", options, horizontal=True, key="cat_source", format_func=SOURCES.get)

df = None
try:
    if source == "example":
        if not cv.EXAMPLE.exists():
            st.info("The example catalogue is not shipped here (demo/catalogue.parquet); build it "
                    "with `python scripts/make_example_catalogue.py`.")
        else:
            df = _read_path(str(cv.EXAMPLE), cv.stamp(cv.EXAMPLE))
    elif source == "configured":
        df = _read_path(str(configured), cv.stamp(configured))
    else:
        ups = st.file_uploader("Catalogue Parquet file(s): the part files of a catalogue folder",
                               type=["parquet"], accept_multiple_files=True, key="cat_upload")
        if ups:
            df = _read_uploads(tuple(u.getvalue() for u in ups))
except GenreError as exc:
    st.error(str(exc))
if df is None:
    st.stop()
if df.empty:
    st.info("This catalogue has no tracks yet.")
    st.stop()
models = cv.model_labels(df)
model = models[0]
if len(models) > 1:
    model = st.selectbox("Model", models, key="cat_model",
                         help="This catalogue was made with more than one model; the page shows one.")
df, older = cv.current(df, model)
if older:
    st.caption(f"{older} older row(s) of files changed since they were catalogued are left out.")

s = cv.summary(df)
a, b, c, d, e = st.columns(5)
a.metric("Tracks", s["tracks"])
b.metric("Analysed", s["analysed"], help=f"{s['hours']:.2f} h of audio analysed")
c.metric("Not music", s["not_music"])
d.metric("Low confidence", s["low_confidence"])
e.metric("Failed", s["failed"])
st.caption(f"Model: {', '.join(s['models']) or 'unknown'}. {s['duplicates']} duplicate(s) share "
           "another file's analysis.")

overview, problems, browse = st.tabs(["Overview", "Flagged and failed", "Browse and export"])
with overview:
    left, right = st.columns(2)
    with left:
        common.chart(cv.genre_figure(cv.genre_counts(df), classes=cv.class_order(df)), key="cat_genres")
    with right:
        common.chart(cv.confidence_figure(df), key="cat_confidence")

with problems:
    fl, fa = cv.flagged(df), cv.failed(df)
    st.subheader(f"Flagged ({len(fl)})")
    if fl.empty:
        st.write("No track is flagged.")
    else:
        st.dataframe(fl[["path", "status", "genre", "confidence", "verdict"]], hide_index=True,
                     key="cat_flagged", column_config={"confidence": st.column_config.ProgressColumn(
                         "Top probability", format="percent", min_value=0.0, max_value=1.0)})
    st.subheader(f"Failed ({len(fa)})")
    if fa.empty:
        st.write("No track failed.")
    else:
        st.dataframe(fa[["path", "error_kind", "error_message"]], hide_index=True, key="cat_failed")

with browse:
    q = st.text_input("Search paths", key="cat_query", placeholder="part of a file or folder name")
    f1, f2, f3 = st.columns([2, 2, 2])
    present = cv.class_order(df, sorted(set(df["genre"].dropna())))
    genres = f1.multiselect("Genres", present, key="cat_genres_filter")
    statuses = f2.multiselect("Status", list(cv.STATUSES), key="cat_status_filter")
    conf = f3.slider("Top probability", 0.0, 1.0, (0.0, 1.0), 0.05, key="cat_conf")
    view = cv.filter_tracks(df, query=q, genres=genres, statuses=statuses, confidence=conf)
    st.caption(f"{len(view)} of {len(df)} tracks")
    st.dataframe(view[["path", "status", "genre", "confidence", "top2_genre", "duration_s"]],
                 hide_index=True, key="cat_table", column_config={
                     "confidence": st.column_config.ProgressColumn(
                         "Top probability", format="percent", min_value=0.0, max_value=1.0),
                     "top2_genre": "2nd genre", "duration_s": st.column_config.NumberColumn(
                         "Seconds", format="%.0f")})
    st.download_button("Download CSV", cv.to_csv(view), "catalogue.csv", "text/csv",
                       key="cat_csv", disabled=view.empty)

    if not view.empty:
        st.subheader("Track detail")
        i = st.selectbox("Track", range(len(view)), key="cat_track",
                         format_func=lambda i: f"{view['path'].iloc[i]} ({view['status'].iloc[i]})")
        det = cv.track_detail(view.iloc[i].to_dict())
        if det["status"] == "failed":
            st.error(f"**{det['error_kind']}**: {det['error_message']}")
        else:
            if det["status"] == "ok":
                st.success(det["verdict"])
            else:
                st.warning(det["verdict"])
            cols = st.columns(3)
            for col, (g, p) in zip(cols, det["top"]):
                col.metric(g, f"{p:.0%}")
            if det["timeline"].empty:
                st.write("No timeline (shorter than one 3-s segment).")
            else:
                common.chart(cv.timeline_figure(det["timeline"], classes=cv.class_order(df)),
                             key="cat_timeline")
            if det.get("duplicate_of"):
                st.caption(f"Same content as {det['duplicate_of']} (analysed once).")
            if det["timings_ms"]:
                st.caption("Timings: " + ", ".join(f"{k} {v:.0f} ms" for k, v in det["timings_ms"].items()))
