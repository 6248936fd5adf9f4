"""Model leaderboard: every model on every protocol, the honest/optimistic gap, confusion matrices,
per-genre F1, fit time, latency and size. Everything from models/results/ via genre.results."""

import streamlit as st

from genre.app import dashboard
from genre.app import plots
from genre.errors import GenreError
from pages import common

common.use_router()  # a fresh server's first deep link runs pages/ without app.py
st.title("🏆 Model leaderboard")

try:
    board = common.leaderboard()
except GenreError as exc:
    st.error(str(exc))
    st.stop()
if board.empty:
    st.info("No results yet: models/results/*.json is empty. Train and evaluate models first "
            "(`python -m genre train`, `python -m genre evaluate`).")
    st.stop()

desc = common.protocol_descriptions()
names = {
    "filtered_holdout": "Fault-filtered test (honest)",
    "random_10fold": "Random 10-fold",
    "audio_holdout": "Filtered test, clips with audio",
    "audio_holdout_full": "Filtered test, full clips with audio",
    "artist_cv_audio": "Artist-grouped CV (audio)",
}
label = lambda p: names.get(p, p)  # noqa: E731

metric = st.radio("Metric", ["accuracy", "macro_f1"], horizontal=True, key="lb_metric",
                  format_func=lambda m: {"accuracy": "Accuracy", "macro_f1": "Macro-F1"}[m])

wide = dashboard.protocol_table(board, metric)
protos = [c for c in wide.columns if c not in ("model", "display_name", "family")]
SECTIONS = ["Overview", "Confusion matrices", "Per-genre F1", "Cost", "All results"]
section = st.radio("Section", SECTIONS, horizontal=True, key="lb_section",
                   label_visibility="collapsed")
models = board.drop_duplicates("model")
disp = dict(zip(models["model"], models["display_name"]))


def overview() -> None:
    st.subheader("Every model on every protocol")
    st.dataframe(
        wide.drop(columns=["model"]), hide_index=True, key="lb_table",
        height=36 * (len(wide) + 1) + 4,  # every model visible without scrolling
        column_config={
            "display_name": st.column_config.TextColumn("Model", pinned=True),
            "family": st.column_config.TextColumn("Family"),
            **{p: st.column_config.ProgressColumn(label(p), help=desc.get(p, ""), format="percent",
                                                  min_value=0.0, max_value=1.0) for p in protos},
        })
    with st.expander("What the protocols mean"):
        for p in protos:
            st.markdown(f"- **{label(p)}** (`{p}`): {desc.get(p, '')}")
        st.markdown("Sort any column by clicking its header. A blank cell: the model was not "
                    "scored on that protocol (the deep models need audio, which only part of "
                    "GTZAN has here, so they are scored on the test clips with audio).")

    st.subheader("Random splits flatter every model")
    gap = dashboard.gap_table(board, metric)
    if gap.empty:
        st.info("No model has both the honest and the random 10-fold result yet.")
        return
    st.markdown(
        f"On the random 10-fold protocol the same models score **{gap['gap'].mean() * 100:.0f} "
        f"points** higher on average ({gap['gap'].min() * 100:.0f} to {gap['gap'].max() * 100:.0f})"
        " than on the fault-filtered, artist-conscious test split: random folds put songs by the "
        "same artist, and GTZAN's repeated recordings, on both sides of the split.")
    common.chart(plots.protocol_gap(
        gap, honest=dashboard.HONEST, optimistic=dashboard.OPTIMISTIC, metric=metric,
        label_col="display_name", honest_name=label(dashboard.HONEST),
        optimistic_name=label(dashboard.OPTIMISTIC)), key="lb_gap")


def confusion() -> None:
    c1, c2 = st.columns(2)
    best = dashboard.best_model(board)
    model_list = list(wide["model"])
    pick = c1.selectbox("Model", model_list, format_func=lambda m: disp.get(m, m), key="lb_model",
                        index=model_list.index(best["model"]) if best and best["model"] in model_list else 0)
    avail = list(board.loc[(board["model"] == pick) & board["confusion"].notna(), "protocol"])
    if not avail:
        st.info("No confusion matrix stored for this model.")
        return
    proto = c2.selectbox("Protocol", avail, format_func=label, key="lb_proto")
    row = board[(board["model"] == pick) & (board["protocol"] == proto)].iloc[0]
    n = f" (n = {int(row['n_test'])})" if row["n_test"] == row["n_test"] else ""
    common.chart(plots.confusion_heatmap(
        row["confusion"], row["labels"],
        title=f"{disp.get(pick, pick)}, {label(proto)}{n}: share of each true genre"),
        key="lb_confusion")


def f1() -> None:
    f1_proto = st.selectbox("Protocol", [p for p in protos if p in set(board["protocol"])],
                            format_func=label, key="lb_f1_proto")
    table = dashboard.f1_table(board, f1_proto)
    if table.empty:
        st.info("No per-genre F1 on this protocol.")
    else:
        common.chart(plots.per_genre_f1(table, title=f"Per-genre F1, {label(f1_proto)}"), key="lb_f1")


def cost() -> None:
    table = dashboard.cost_table(board)
    st.dataframe(table.drop(columns=["model"]), hide_index=True, key="lb_cost",
                 height=36 * (len(table) + 1) + 4, column_config={
        "display_name": "Model", "family": "Family",
        "accuracy": st.column_config.NumberColumn(label(dashboard.HONEST), format="percent"),
        "audio_accuracy": st.column_config.NumberColumn(label(dashboard.AUDIO), format="percent"),
        "fit_time_s": st.column_config.NumberColumn("Fit time (s)", format="%.2f",
                                                    help="One fit on the training part of its headline protocol"),
        "latency_ms": st.column_config.NumberColumn("Latency per clip (ms)", format="%.1f"),
        "size_mb": st.column_config.NumberColumn("Size (MB)", format="%.2f"),
    })
    if table["latency_ms"].notna().any():
        common.chart(plots.cost_chart(
            table, y="audio_accuracy", label_col="display_name", size="size_mb",
            title="Accuracy vs latency per clip (marker area ~ model size)",
            y_title=f"accuracy, {label(dashboard.AUDIO).lower()}"),
            key="lb_cost_chart")


def all_results() -> None:
    long = board.drop(columns=[c for c in ("confusion", "labels", "params", "per_genre_f1")
                               if c in board.columns])
    st.dataframe(long, hide_index=True, key="lb_long")
    st.download_button("Download CSV", long.to_csv(index=False), "leaderboard.csv", "text/csv",
                       key="lb_dl")


{"Overview": overview, "Confusion matrices": confusion, "Per-genre F1": f1, "Cost": cost,
 "All results": all_results}[section]()
