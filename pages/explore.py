"""Explore the data: tempo and any feature by genre, correlations, 2-D embeddings with outliers."""

import streamlit as st

from genre.app import dashboard, plots
from genre.config import FEATURE_COLUMNS
from genre.training.embeddings import METHODS
from genre.errors import GenreError
from pages import common

common.use_router()  # a fresh server's first deep link runs pages/ without app.py
st.title("🔎 Explore the data")
st.caption("GTZAN's 1000 clips through the published 57-feature table (the embedding maps can also "
           "show the 565 clips with audio in the pretrained networks' space); artist and title from "
           "Sturm's index; split from the fault-filtered protocol (Kereliuk, Sturm & Larsen 2015). "
           "These clips are the training data of the feature models, and the Home page's GTZAN "
           "demo clips are among them: a model classifying those has seen them.")
common.gtzan_note("This page describes")

try:
    table = common.dataset_table()
except GenreError as exc:
    common.show_data_error(exc)
    st.stop()

VIEWS = ["Tempo", "Feature by genre", "Correlations", "Embeddings"]
view = st.radio("View", VIEWS, horizontal=True, key="explore_view", label_visibility="collapsed")

if view == "Tempo":
    common.chart(plots.feature_by_genre(table, "tempo", title="Tempo (BPM) by genre"),
                    key="tempo_box")
    st.caption("Tempo as estimated by librosa for the published table; estimators disagree on "
               "the metrical level (half or double tempo) for some clips.")

elif view == "Feature by genre":
    c1, c2 = st.columns([3, 1])
    feature = c1.selectbox("Feature", FEATURE_COLUMNS, index=FEATURE_COLUMNS.index("spectral_centroid_mean"),
                           key="explore_feature")
    kind = c2.radio("Chart", ["box", "violin", "histogram"], horizontal=True, key="explore_kind")
    common.chart(plots.feature_by_genre(table, feature, kind=kind), key="feature_dist")

elif view == "Correlations":
    c1, c2 = st.columns([1, 3])
    method = c1.radio("Correlation", ["pearson", "spearman"], key="explore_corr")
    groups = {"all 57 features": FEATURE_COLUMNS,
              "means only": [c for c in FEATURE_COLUMNS if not c.endswith("_var")],
              "MFCC means": [c for c in FEATURE_COLUMNS if c.startswith("mfcc") and c.endswith("_mean")]}
    group = c2.radio("Columns", list(groups), horizontal=True, key="explore_corr_cols")
    common.chart(plots.correlation_heatmap(table, groups[group], method=method), key="corr")

else:
    avail = common.spaces()
    if not avail:
        try:
            common.embeddings()  # says why in the usual words
        except GenreError as exc:
            common.show_data_error(exc)
        st.stop()
    space_key = st.radio("Space", list(avail), format_func=lambda k: avail[k].label, horizontal=True,
                         key="explore_space")
    space = avail[space_key]
    try:
        emb = common.space_maps(space)
    except GenreError as exc:
        common.show_data_error(exc)
        st.stop()
    if space_key == "pretrained":
        info = space.info
        st.caption(f"The pretrained ensemble's clip vector (four musicnn networks, pretrained on "
                   f"the Million Song Dataset and MagnaTagATune: mean and max of their embeddings "
                   f"and their mean tags, the vector its genre head reads), standardized and reduced "
                   f"by PCA to {info.get('dims', '?')} dimensions "
                   f"({float(info.get('explained_variance', float('nan'))):.0%} of the variance), for "
                   f"the {len(emb)} GTZAN clips with audio; the maps and the nearest clips are "
                   "computed in that space. The 57-feature space covers all 1000 clips.")
    else:
        st.caption("The 57 published features of GTZAN's 1000 clips, standardized; the maps and "
                   "the nearest clips are computed in that space.")
    c1, c2, c3 = st.columns([2, 2, 1])
    names = {"pca": "PCA", "tsne": "t-SNE", "umap": "UMAP", "lda": "LDA"}
    methods = [m for m in METHODS if f"{m}_x" in emb.columns]
    method = c1.radio("Projection", methods, format_func=names.get, horizontal=True,
                      key="explore_method")
    marks = {
        "none": None,
        "outliers (top 5 % by local outlier factor)": emb["outlier"],
        "excluded from the fault-filtered split": emb["split"] == "excluded",
        "among another genre (<= 2 of 10 nearest clips share its label)": emb["neighbour_agreement"] <= 0.2,
    }
    mark = c2.selectbox("Highlight", list(marks), index=2, key="explore_mark")
    if emb["has_audio"].all():  # the pretrained network's space: only clips with audio have a vector
        only_audio = False
        c3.caption(f"All {len(emb)} clips here have audio.")
    else:
        only_audio = c3.checkbox("Only clips with audio", key="explore_audio")
    what = METHODS[method]
    if space_key == "pretrained":
        what = what.replace("all 1000 clips", f"these {len(emb)} clips")
    st.caption(what)
    points = emb[emb["has_audio"]] if only_audio else emb
    highlight = marks[mark]
    if highlight is not None:
        highlight = highlight.loc[points.index]
    title = (f"{names[method]} of the pretrained network embedding ({len(emb)} clips with audio)"
             if space_key == "pretrained" else f"{names[method]} of the standardized 57 features")
    fig = plots.embedding_scatter(points, f"{method}_x", f"{method}_y", highlight=highlight,
                                  title=title)
    event = common.chart(fig, key=f"emb_{space_key}_{method}", on_select="rerun",
                            selection_mode=("points", "box", "lasso"))
    audio_paths = common.clip_audio_paths()
    st.caption("Click a point (or use box or lasso select in the chart's toolbar) to list the "
               "clips" + ("; their audio plays below." if audio_paths else "."))
    if not audio_paths:
        st.caption(common.NO_AUDIO_NOTE)
    selected = []
    for p in (event.selection.points if event else []) or []:
        cd = p.get("customdata")
        if cd:
            selected.append(cd[0])
    if selected:
        sel = emb.set_index("clip").loc[list(dict.fromkeys(selected))]
        st.dataframe(sel[["genre", "artist", "title", "split", "has_audio", "outlier_score",
                          "neighbour_agreement"]], key="emb_sel")
        playable = [c for c in sel.index if c in audio_paths][:3]
        for clip in playable:
            r = sel.loc[clip]
            st.markdown(f"**{clip}** - " + dashboard.plain_text(
                f"{r['artist'] or 'unknown artist'}, {r['title'] or 'untitled'}"))
            st.audio(audio_paths[clip], format="audio/flac")
        if not playable and audio_paths:
            st.info("The project has no audio for the selected clips (only part of GTZAN's audio "
                    "is available).")
    with st.expander("Most unusual clips and GTZAN's known faults"):
        cols = ["clip", "genre", "artist", "title", "split", "has_audio", "outlier_score",
                "neighbour_agreement"]
        st.markdown("Sorted by outlier score (local outlier factor in the "
                    + ("pretrained network's compact space" if space_key == "pretrained"
                       else "standardized feature space")
                    + ", about 1 for a typical clip). `split = excluded` marks clips the "
                    "fault filter left out (repetitions, distortions, mislabelings).")
        st.dataframe(emb.sort_values("outlier_score", ascending=False)[cols], hide_index=True,
                     key=f"emb_outliers_{space_key}", height=300)
