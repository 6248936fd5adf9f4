"""Home: what the app does, the dataset at a glance, the best honest model, a one-click demo."""

import streamlit as st

from genre.app import dashboard
from genre.errors import GenreError
from pages import common

common.use_router()  # a fresh server's first deep link runs pages/ without app.py
st.title("🎵 Music-genre classification")
folder, classes = common.models_folder(), common.taxonomy()
shown = dashboard.plain_text(", ".join(classes)) if classes else "none yet"
if folder["shipped"]:
    st.markdown(
        f"Drop in a recording and get its genre ({shown}) with probabilities and a 3-second "
        "timeline.  \n"
        "Every number here comes from models trained and scored on GTZAN, with the honest, "
        "fault-filtered protocol first.")
else:
    n = len(folder["dataset"].get("classes") or classes)
    st.markdown(
        f"Drop in a recording and get its class with probabilities and a 3-second timeline.  \n"
        f"**Models folder in use:** {dashboard.plain_text(folder['name'])}, trained on your own "
        f"labels ({n} classes: {shown}); the leaderboard scores them on that data. The dataset "
        "figures and the Explore page describe the shipped GTZAN data instead.")
st.caption(f"Models folder: {dashboard.plain_text(folder['name'])}"
           + (" (shipped with the app)" if folder["shipped"] else " (your own)")
           + f". Classes: {shown}.")

left, right = st.columns(2)
with left:
    st.subheader("The dataset" if folder["shipped"] else "The shipped GTZAN dataset")
    try:
        s = dashboard.dataset_summary(common.dataset_table())
    except GenreError as exc:
        common.show_data_error(exc)
    else:
        a, b, c = st.columns(3)
        a.metric("Clips (30 s)", s["clips"])
        b.metric("Genres", s["genres"], help=f"{s['per_genre']} clips per genre")
        c.metric("Named artists", s["artists"], help="From Sturm's GTZAN index")
        a.metric("With audio", s["with_audio"],
                 help=f"Clips whose audio the project has ({s['full_audio']} full-length); the "
                 "deep models are scored on these")
        sp = s["splits"]
        b.metric("Fault-filtered test", sp.get("test", 0),
                 help=f"train {sp.get('train', 0)}, valid {sp.get('valid', 0)}")
        c.metric("Excluded as faulty", sp.get("excluded", 0),
                 help="Repetitions, distortions and mislabelings left out of the filtered split")
        st.page_link("pages/explore.py", label="Explore the data", icon="🔎")

with right:
    st.subheader("Best model, honestly scored")
    try:
        board = common.leaderboard()
        shipped = {m["name"] for m in common.manifests()}
    except GenreError as exc:
        board, shipped = None, set()
        common.show_data_error(exc)
    headline = dashboard.headline_protocol(board)
    best = dashboard.best_model(board, headline, shipped=shipped or None) if board is not None else None
    if best is None:
        st.info("No scored models yet: results appear here once models/results/ is populated.")
    elif headline != dashboard.HONEST:  # a folder of your own: its own protocol, no GTZAN comparisons
        n = f" of {int(best['n_test'])} clips" if best["n_test"] == best["n_test"] else ""
        st.metric(best["display_name"], f"{best['accuracy']:.1%}",
                  help=common.protocol_descriptions().get(headline, ""))
        st.caption(f"accuracy on your data ({headline}{n}), macro-F1 {best['macro_f1']:.2f}")
    else:
        rows = board[(board["model"] == best["model"]) & (board["protocol"] == dashboard.OPTIMISTIC)]
        a, b = st.columns(2)
        a.metric(best["display_name"], f"{best['accuracy']:.1%}",
                 help=common.protocol_descriptions().get(dashboard.HONEST, ""))
        n = ""
        if best["n_test"] == best["n_test"]:
            lo, hi = dashboard.wilson_interval(round(best["accuracy"] * best["n_test"]), best["n_test"])
            n = f" ({int(best['n_test'])} clips; 95 % interval {lo:.0%}-{hi:.0%})"
        a.caption(f"accuracy on the fault-filtered test split{n}, macro-F1 {best['macro_f1']:.2f}")
        if len(rows):
            r = rows.iloc[0]
            b.metric("Same model, random 10-fold", f"{r['accuracy']:.1%}",
                     delta=f"{(r['accuracy'] - best['accuracy']) * 100:+.1f} points",
                     delta_color="off")
            b.caption("the literature's protocol: artists and repeated recordings leak across folds")
    if board is not None and headline == dashboard.HONEST:
        audio = dashboard.best_model(board, dashboard.AUDIO, shipped=shipped or None)
        if audio is not None and (best is None or audio["model"] != best["model"]):
            n = f"{int(audio['n_test'])} " if audio["n_test"] == audio["n_test"] else ""
            st.markdown(
                f"On the {n}fault-filtered test clips that have audio (where the "
                f"deep models are scored too), the best is **{audio['display_name']}** with "
                f"{audio['accuracy']:.1%}.")
    default = common.default_model()
    dman = next((m for m in common.manifests() if m.get("name") == default), None) if default else None
    if dman is not None:
        from genre.registry import default_info

        why = default_info().get("why")
        st.markdown(f"**Default model** (Classify, the command line, catalogues): "
                    f"{dashboard.plain_text(dman.get('display_name', default))}.")
        if why:
            st.caption(dashboard.plain_text(why))
    if board is not None and not board.empty:
        st.page_link("pages/leaderboard.py", label="See every model on every protocol", icon="🏆")

st.divider()
st.subheader("Try it")
clips = common.demo_clips()
if clips.empty:
    st.info("No demo clips shipped (demo/index.csv).")
else:
    c1, c2 = st.columns([3, 1])
    # start on a recording no model was trained on (an openly licensed sample), if shipped
    first = next((j for j, src in enumerate(clips["source"]) if src == "sample"), 0)
    i = c1.selectbox("Sample clip", range(len(clips)), index=first, key="home_clip",
                     format_func=lambda i: f"{clips.label[i]} - expected: {clips.expected[i]}")
    c2.write("")
    go = c2.button("Classify this clip", type="primary", key="home_go")
    row = clips.iloc[i]
    st.audio(row["path"], format="audio/ogg")
    st.caption(f"Licence: {row['licence']}")
    if go or st.session_state.get("home_done") == row["file"]:
        st.session_state["home_done"] = row["file"]
        common.classify_and_show(row["path"], row["file"], None, key="home", compact=True,
                                 input_key=f"sample:{row['file']}")
    st.page_link("pages/classify.py", label="Upload or record your own", icon="🎧")
