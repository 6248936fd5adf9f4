"""Model leaderboard: every model on every protocol with 95 % intervals and test counts, the
honest/optimistic gap, confusion matrices, per-genre F1 ("n/a" for a genre with no test clip),
fit time, latency and size, and training curves where recorded. Everything from models/results/
via genre.results; the statistics come from genre.app.dashboard."""

import pandas as pd
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
    st.info("No results yet: no model has been scored. Train and evaluate models first "
            "(`python -m genre train`, `python -m genre evaluate`).")
    st.stop()

desc = common.protocol_descriptions()
names = {
    "filtered_holdout": "Fault-filtered test (honest)",
    "random_10fold": "Random 10-fold",
    "audio_holdout": "Filtered test, clips with audio",
    "audio_holdout_full": "Filtered test, full clips with audio",
    "artist_cv_audio": "Artist-grouped CV (audio)",
    "group_holdout": "Group-aware holdout (your data)",
    "group_cv": "Group-aware CV (your data)",
}
headline = dashboard.headline_protocol(board)
gtzan = headline == dashboard.HONEST  # the shipped GTZAN results (else a models folder of your own)
if not gtzan:
    folder = common.models_folder()
    st.caption(f"Models folder {dashboard.plain_text(folder['name'])}, trained on your own labels "
               f"(classes: {dashboard.plain_text(', '.join(common.taxonomy()))}); headline protocol: "
               f"{names.get(headline, headline)}.")
label = lambda p: names.get(p, p)  # noqa: E731

wide = dashboard.protocol_table(board, "accuracy")
ROBUST = ["robust_clean", "robust_mp3_64k", "robust_phone", "robust_noise_20db", "robust_reverb", "robust_gain_clip"]
protos = [c for c in wide.columns if c not in ("model", "display_name", "family") and not c.startswith("robust_")]
robust = [c for c in ROBUST if c in wide.columns]
curves = {m: dashboard.training_curves(common.results_file(m)) for m in wide["model"]}
curves = {m: c for m, c in curves.items() if not c.empty}
curve_models = dashboard.curve_models(board, list(curves))  # every network, curves recorded or not
SECTIONS = ["Overview", "Confusion matrices", "Per-genre F1", "Cost",
            *(["Training curves"] if curve_models else []), "All results"]
section = st.radio("Section", SECTIONS, horizontal=True, key="lb_section",
                   label_visibility="collapsed")
models = board.drop_duplicates("model")
disp = dict(zip(models["model"], models["display_name"]))


def overview() -> None:
    metric = st.radio("Metric", ["accuracy", "macro_f1"], horizontal=True, key="lb_metric",
                      format_func=lambda m: {"accuracy": "Accuracy", "macro_f1": "Macro-F1"}[m])
    st.subheader("Every model on every protocol")
    cells = dashboard.accuracy_table(board, metric)
    table = cells.pivot_table(index="model", columns="protocol", values="cell", aggfunc="first")
    table = table.reindex(index=wide["model"], columns=protos).fillna("not scored")
    table.insert(0, "family", wide.set_index("model")["family"])
    table.insert(0, "display_name", wide.set_index("model")["display_name"])
    n = cells.groupby("protocol")["n_test"].agg(lambda v: sorted({int(x) for x in v if x == x}))
    def head(p: str) -> str:
        ns = n.get(p, [])
        return label(p) + (f" (n = {ns[0]})" if len(ns) == 1 else "")
    shown = table.rename(columns={"display_name": "Model", "family": "Family", **{p: head(p) for p in protos}})
    st.table(shown.set_index("Model"))  # a static table wraps its text: every column fits
    what = ("Wilson score interval" if metric == "accuracy"
            else "bootstrap over the test clips of the confusion matrix, 1000 resamples")
    st.caption(f"Each cell: {'accuracy' if metric == 'accuracy' else 'macro-F1'} and its 95 % "
               f"interval ({what}); n = test clips (or all clips scored, for cross-validation). "
               + ("With n = 144 or 290 an interval spans about 10-16 points: differences of a few "
                  "points between models are within noise." if gtzan else
                  "The fewer the clips, the wider the interval: overlapping intervals mean the "
                  "difference between two models is within noise."))
    with st.expander("What the protocols mean"):
        for p in protos:
            st.markdown(f"- **{label(p)}** (`{p}`): {desc.get(p, '')}")
        st.markdown("\"not scored\": the model was not scored on that protocol (the deep models need audio, which only part of "
                    "GTZAN has here, so they are scored on the test clips with audio).")
    if robust:
        st.subheader("Robustness to real recordings")
        rob = wide.set_index("model")[robust].dropna(how="all")
        rob = rob.assign(worst=(rob[robust[1:]].min(axis=1) - rob["robust_clean"]) * 100).sort_values(
            "worst", ascending=False)
        shown_r = pd.DataFrame({"Model": [disp.get(m, m) for m in rob.index]})
        for c in robust:
            shown_r[c.removeprefix("robust_").replace("_", " ")] = [
                "not scored" if v != v else f"{v:.1%}" for v in rob[c]]
        shown_r["worst drop (points)"] = [f"{-w:.1f}" if w == w else "n/a" for w in rob["worst"]]
        st.table(shown_r.set_index("Model"))
        st.caption("Accuracy on the 144 test clips with audio, each cut to its first 10 s, clean and after "
                   "five degradations real uploads carry (MP3 64 kbit/s, phone band, noise at 20 dB SNR, a "
                   "small room, -20 dB then clipping); the target is at most 5 points lost to any of them. "
                   "Made by `python -m genre.training.robustness`.")
    non_music()
    if not gtzan:  # the honest/optimistic comparison is GTZAN's (random vs artist-conscious splits)
        return

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


def non_music() -> None:
    """The default model's music detector, as measured by its fit (manifest ``detector.contrast``)."""
    default = common.default_model()
    man = next((m for m in common.manifests() if m.get("name") == default), None)
    tables = dashboard.detector_tables(man)
    if tables is None:
        return
    st.subheader("Is it music? The default model's detector")
    fa = tables["false_alarms"].assign(share=lambda d: [f"{v:.1%}" if v == v else "n/a" for v in d["share"]])
    left, right = st.columns([3, 2])
    with left:
        st.markdown("**Music wrongly called not music**")
        st.table(fa.rename(columns={"music": "Music", "flagged": "Flagged", "n": "n", "share": "Share"}).set_index("Music"))
    with right:
        st.markdown("**Non-music caught**")
        st.table(tables["caught"].set_index("kind"))
    t = tables["thresholds"]
    st.caption("A logistic regression of music against real non-music (speech in 26 languages, animal calls, "
               "birds, water, weather, work sounds; synthetic noise, tones and speech) on the four networks' "
               "embeddings, plus a steadiness cue for noise and tones. "
               + (f"Not music above {t[0]:.2f}, music-first (the larger of held-out music's 99.5th percentile "
                  "and held-out non-music's 1st). " if t else "")
               + "The test clips and the outside music were never fitted. "
               + (f"Made by `{tables['command']}`." if tables["command"] else ""))


def confusion() -> None:
    c1, c2 = st.columns(2)
    best = dashboard.best_model(board, headline)
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
    labels = row["labels"]
    if labels is None or len(labels) != len(row["confusion"]):
        st.info("This results file names no classes for its confusion matrix, so it is not drawn.")
        return
    common.chart(plots.confusion_heatmap(
        row["confusion"], labels,
        title=f"{disp.get(pick, pick)}, {label(proto)}{n}: share of each true class"),
        key="lb_confusion")


def f1() -> None:
    f1_proto = st.selectbox("Protocol", [p for p in protos + robust if p in set(board["protocol"])],
                            format_func=label, key="lb_f1_proto")
    table = dashboard.f1_table(board, f1_proto)
    if table.empty:
        st.info("No per-genre F1 on this protocol.")
        return
    rows = board[(board["protocol"] == f1_proto) & board["confusion"].notna()]
    counts = dashboard.genre_counts(rows.iloc[0]["confusion"], rows.iloc[0]["labels"]) if len(rows) else {}
    common.chart(plots.per_genre_f1(table, title=f"Per-genre F1, {label(f1_proto)}",
                                    counts=counts), key="lb_f1")
    absent = [g for g, k in counts.items() if k == 0]
    if absent:
        st.caption(f"n/a: no test clip of {', '.join(absent)} on this protocol (the project has "
                   "no audio for them in the test split), so there is no F1 to give.")


def cost() -> None:
    table = dashboard.cost_table(board, headline)
    shown = table.drop(columns=["model"]).copy()
    fmt = {"accuracy": lambda v: f"{v:.1%}", "audio_accuracy": lambda v: f"{v:.1%}",
           "fit_time_s": lambda v: f"{v:,.1f}", "latency_ms": lambda v: f"{v:,.1f}",
           "size_mb": lambda v: f"{v:.2f}"}
    for col, f in fmt.items():
        shown[col] = [f(v) if v == v else "n/a" for v in shown[col]]
    shown.insert(shown.columns.get_loc("latency_ms") + 1, "measured_on", [
        "30-s clip's 57 features (model only)" if common.results_file(m).get("input") == "features57"
        else "30-s clip's audio" for m in table["model"]])
    if not gtzan:  # GTZAN's test clips with audio: not a protocol of your data
        shown = shown.drop(columns=["audio_accuracy"])
    st.table(shown.rename(columns={
        "display_name": "Model", "family": "Family", "accuracy": label(headline),
        "audio_accuracy": label(dashboard.AUDIO), "fit_time_s": "Fit time (s)",
        "latency_ms": "Latency (ms)", "measured_on": "Latency measured on",
        "size_mb": "Size (MB)"}).set_index("Model"))
    st.caption("Every figure here comes from the models' results files: fit time of one fit on "
               "the training part of its headline protocol, latency measured once (warm, one clip "
               "at a time) when the model was evaluated, size of its files. The feature models' "
               "latency excludes computing the 57 features from audio (timed separately in the "
               "README's feature-extraction benchmark); the networks' includes everything from "
               "audio. n/a: not recorded. "
               "Figures were measured on the training machine and differ from a benchmark run "
               "elsewhere.")
    if table["latency_ms"].notna().any():
        common.chart(plots.cost_chart(
            table, y="audio_accuracy" if gtzan else "accuracy", label_col="display_name", size="size_mb",
            title="Accuracy vs latency per clip (marker area ~ model size; feature models: "
                  "model only)",
            y_title=f"accuracy, {label(dashboard.AUDIO if gtzan else headline).lower()}"),
            key="lb_cost_chart")


def training() -> None:
    first = next((m for m in curve_models if m in curves), curve_models[0])
    pick = st.selectbox("Model", curve_models, format_func=lambda m: disp.get(m, m),
                        index=curve_models.index(first), key="lb_curves_model")
    if pick not in curves:
        st.markdown(f"Training curves were not recorded for this model (trained before they were); "
                    f"retrain it with them: `{dashboard.retrain_command(pick)}`")
        return
    c = curves[pick]
    protos_here = [p for p in c["protocol"].unique()]
    if len(protos_here) > 1:
        p = st.selectbox("Protocol", protos_here, format_func=lambda p: label(p) if p else "training",
                         key="lb_curves_proto")
        c = c[c["protocol"] == p]
    info = dashboard.curves_summary(c)
    common.chart(plots.training_curves(c, title=f"{disp.get(pick, pick)}: loss and accuracy per epoch"),
                 key="lb_curves")
    secs = (f" An epoch took {info['seconds_median']:.1f} s of wall time (median; "
            f"{info['seconds_total'] / 60:.1f} min in all{' per fold' if info['folds'] > 1 else ''}), "
            "on a shared machine whose load varied." if info["seconds_median"] == info["seconds_median"] else "")
    if info["validation"]:
        val = (f"Validation: clip-level loss and accuracy on held-out clips that are not test clips, "
               f"every {info['val_every']} epoch{'s' if info['val_every'] > 1 else ''} and after the last; "
               "they never steered training.")
    else:
        val = ("No validation curve: the network was fitted on every non-test clip of its protocol "
               "(for the audio protocols, the split's train and valid parts), and test clips are never "
               "scored during training.")
    st.caption(f"Train: mean loss and accuracy over each epoch's freshly drawn, augmented training "
               f"patches (the loss includes label smoothing, so it stays above zero); fixed schedule, "
               f"no early stopping. {val}{secs}")


def all_results() -> None:
    long = board.drop(columns=[c for c in ("confusion", "labels", "params", "per_genre_f1")
                               if c in board.columns])
    st.dataframe(long, hide_index=True, key="lb_long")
    st.download_button("Download CSV", long.to_csv(index=False), "leaderboard.csv", "text/csv",
                       key="lb_dl")


{"Overview": overview, "Confusion matrices": confusion, "Per-genre F1": f1, "Cost": cost,
 "Training curves": training, "All results": all_results}[section]()
