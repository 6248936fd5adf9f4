"""What the dashboard pages need that is not drawing: the shipped dataset table, tables reshaped
for display (with confidence intervals and test counts), the demo-clip index, result downloads,
the live-microphone buffer, the checked WebRTC ICE configuration and plain-text escaping.

No Streamlit here: every function takes plain data and is tested without a browser
(``tests/test_dashboard.py``); the pages in ``pages/`` only call these and draw.
"""

from __future__ import annotations

import io
import json
import os
import threading
from collections import deque
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from genre.config import DEMO_DIR, MODELS_DIR, SHIPPED_MODELS_DIR, SR, data_dir
from genre.errors import DataError

__all__ = [
    "HONEST", "OPTIMISTIC", "demo_clips", "dataset_summary", "best_model", "protocol_table",
    "gap_table", "f1_table", "cost_table", "model_options", "model_label", "AUDIO", "prediction_csv", "prediction_json",
    "frame_to_mono", "LiveBuffer", "to_wav_bytes", "ice_servers", "IceConfigError",
    "shipped_dataset", "audio_paths", "public_message", "wilson_interval", "accuracy_table",
    "genre_counts", "plain_text", "training_curves", "DataUnavailable", "headline_protocol",
    "models_folder", "taxonomy", "curve_models", "curves_summary", "retrain_command",
]

#: The headline (honest) protocol and the literature's optimistic one.
HONEST = "filtered_holdout"
OPTIMISTIC = "random_10fold"
#: The fault-filtered test clips that have audio: the protocol every model, deep ones too, is scored on.
AUDIO = "audio_holdout"


# ------------------------------------------------------------------------------ data

class DataUnavailable(DataError):
    """The dataset table is neither shipped nor in a data folder (a message without paths)."""


def shipped_dataset(models_dir: str | Path | None = None,
                    gtzan_dir: str | Path | None = None) -> pd.DataFrame:
    """The GTZAN table the pages show, from what the repository ships (``models/dataset.parquet``,
    whatever models folder is in use: a folder of your own describes other data).

    Index ``clip``; the 57 features, ``genre, artist, title, split, has_audio, audio_kind,
    audio_sr, audio_file`` as written by ``python -m genre train``, plus ``audio_path``: the
    absolute path of the clip's audio where that file exists in the data folder now, else ``""``
    (Community Cloud has no data folder: every path is then ``""``). When the shipped table is
    absent, the table is built from the data folder instead.

    Raises
    ------
    DataUnavailable
        Neither is available; the message names no path.
    """
    path = Path(models_dir if models_dir is not None else SHIPPED_MODELS_DIR) / "dataset.parquet"
    root = Path(gtzan_dir) if gtzan_dir is not None else data_dir()
    if path.is_file():
        try:
            table = pd.read_parquet(path)
        except Exception as exc:  # pyarrow raises several types for a damaged file
            raise DataUnavailable("The shipped GTZAN table is damaged; reinstall the app's "
                                  "model files.") from exc
        if "clip" in table.columns:
            table = table.set_index("clip")
        files = table.get("audio_file", pd.Series("", index=table.index)).fillna("").astype(str)
        paths = []
        for f in files:
            p = root / f if f else None
            paths.append(str(p) if p is not None and p.is_file() else "")
        table["audio_path"] = paths
        return table
    try:
        from genre.training.datasets import dataset_table
        return dataset_table(root)
    except DataError as exc:
        raise DataUnavailable("The GTZAN table is not available in this deployment (neither the "
                              "shipped copy nor the data folder was found).") from exc


def audio_paths(table: pd.DataFrame) -> dict[str, str]:
    """clip id -> absolute audio path, for the clips whose audio file exists here."""
    if "audio_path" not in table:
        return {}
    s = table["audio_path"].astype(str)
    s = s[s != ""]
    return dict(zip(s.index.astype(str), s))


def public_message(exc: BaseException) -> str:
    """An error message safe to show a visitor: file-system paths replaced by their last name."""
    import re

    text = str(exc)
    return re.sub(r"(?:[A-Za-z]:)?(?:/[^\s/:'\"`,;()]+){2,}/?", lambda m: "…/" + m.group(0).rstrip("/").rsplit("/", 1)[-1], text)


_MD_SPECIAL = set("\\`*_{}[]()<>#+-.!|~:$=&\"'")


def plain_text(text: str) -> str:
    """``text`` with every Markdown-significant character backslash-escaped, so that Streamlit
    shows it literally (a file name like ``**x**[y](http://z).wav`` stays plain, with no link)."""
    return "".join("\\" + c if c in _MD_SPECIAL else c for c in str(text)).replace("\n", " ")


def demo_clips(demo_dir: str | Path | None = None) -> pd.DataFrame:
    """The shipped demo clips (``demo/index.csv``) with absolute ``path``; only files that exist.

    Columns: ``file, label, expected, source ('gtzan'|'sample'), clip, seconds, licence, path``.
    """
    root = Path(demo_dir) if demo_dir is not None else DEMO_DIR
    index = root / "index.csv"
    if not index.is_file():
        return pd.DataFrame(columns=["file", "label", "expected", "source", "clip", "seconds",
                                     "licence", "path"])
    df = pd.read_csv(index, dtype=str, keep_default_na=False)
    df["path"] = [str(root / f) for f in df["file"]]
    df = df[[Path(p).is_file() for p in df["path"]]]
    df["seconds"] = pd.to_numeric(df["seconds"], errors="coerce")
    return df.reset_index(drop=True)


def dataset_summary(table: pd.DataFrame) -> dict[str, Any]:
    """Counts for the home page from :func:`genre.training.datasets.dataset_table`.

    Returns ``clips, genres, per_genre, artists (distinct named), with_audio, full_audio,
    splits (dict split -> clips)``.
    """
    artists = table.get("artist", pd.Series(dtype=str)).astype(str).str.strip()
    out = {
        "clips": int(len(table)),
        "genres": int(table["genre"].nunique()),
        "per_genre": int(table["genre"].value_counts().median()) if len(table) else 0,
        "artists": int(artists[artists != ""].nunique()),
        "with_audio": int(table["has_audio"].sum()) if "has_audio" in table else 0,
        "full_audio": int((table.get("audio_kind", pd.Series(dtype=str)) == "full").sum()),
        "splits": {k: int(v) for k, v in table["split"].value_counts().items()} if "split" in table else {},
    }
    return out


def best_model(board: pd.DataFrame, protocol: str = HONEST, metric: str = "accuracy",
               shipped: set[str] | None = None) -> dict | None:
    """The leaderboard row with the highest ``metric`` on ``protocol`` (optionally only shipped models)."""
    if board is None or board.empty:
        return None
    rows = board[board["protocol"] == protocol].dropna(subset=[metric])
    if shipped is not None:
        rows = rows[rows["model"].isin(shipped)]
    if rows.empty:
        return None
    row = rows.sort_values([metric, "model"], ascending=[False, True]).iloc[0]
    return row.to_dict()


def headline_protocol(board: pd.DataFrame | None) -> str:
    """The protocol a models folder's results are headlined on: :data:`HONEST` for the shipped
    GTZAN models, ``group_cv`` (else ``group_holdout``) for a folder trained on your own labels,
    else the first protocol of the board."""
    from genre.results import USER_PROTOCOLS

    present = [] if board is None or board.empty else list(dict.fromkeys(board["protocol"]))
    for p in (HONEST, *reversed(USER_PROTOCOLS)):
        if p in present:
            return p
    return present[0] if present else HONEST


def models_folder(path: str | Path | None = None) -> dict[str, Any]:
    """What the pages say about the models folder in use (``GENRE_MODELS_DIR`` or the shipped one):
    ``name`` (the folder's own name only, never its full path), ``shipped`` (bool) and ``dataset``
    (its ``dataset.json`` summary, ``{}`` when there is none or it cannot be read)."""
    root = Path(path if path is not None else MODELS_DIR)
    try:
        shipped = root.resolve() == SHIPPED_MODELS_DIR.resolve()
    except OSError:
        shipped = False
    summary: dict = {}
    try:
        data = json.loads((root / "dataset.json").read_text())
        summary = data if isinstance(data, dict) else {}
    except (OSError, ValueError):
        pass
    return {"name": root.name or str(root), "shipped": shipped, "dataset": summary}


def taxonomy(manifests: list[dict], default: str | None = None) -> list[str]:
    """The classes the folder's models answer in: the default model's manifest ``classes``, else
    the first classifier's that names some (``[]`` when none does)."""
    found = [m for m in manifests if m.get("classes") and m.get("name") != "novelty"]
    found.sort(key=lambda m: m.get("name") != default)
    return [str(c) for c in found[0]["classes"]] if found else []


def protocol_table(board: pd.DataFrame, metric: str = "accuracy") -> pd.DataFrame:
    """Wide table: one row per model, one ``metric`` column per protocol (headline protocol first),
    sorted by the headline protocol."""
    if board.empty:
        return pd.DataFrame()
    from genre.results import PROTOCOLS

    board = board.assign(display_name=board["display_name"].fillna(board["model"]),
                         family=board["family"].fillna(""))
    wide = board.pivot_table(index=["model", "display_name", "family"], columns="protocol",
                             values=metric, aggfunc="first")
    order = [p for p in PROTOCOLS if p in wide.columns]
    wide = wide[order + [c for c in wide.columns if c not in order]].reset_index()
    wide.columns.name = None
    if HONEST in wide.columns:
        wide = wide.sort_values(HONEST, ascending=False, na_position="last")
    return wide.reset_index(drop=True)


def gap_table(board: pd.DataFrame, metric: str = "accuracy", honest: str = HONEST,
              optimistic: str = OPTIMISTIC) -> pd.DataFrame:
    """Per model: ``display_name, honest, optimistic, gap`` (optimistic - honest) for models with both."""
    wide = protocol_table(board, metric)
    if wide.empty or honest not in wide or optimistic not in wide:
        return pd.DataFrame(columns=["model", "display_name", honest, optimistic, "gap"])
    out = wide[["model", "display_name", honest, optimistic]].dropna()
    out = out.assign(gap=out[optimistic] - out[honest])
    return out.sort_values(honest, ascending=False).reset_index(drop=True)


def f1_table(board: pd.DataFrame, protocol: str = HONEST) -> pd.DataFrame:
    """Per-class F1 (rows = model display names, columns = the classes of the results rows, in
    their ``labels`` order) on one protocol.

    NaN (shown as "n/a") where the class has no test clip in that model's confusion matrix (or
    the model does not have that class): an F1 of 0.00 there would be a score for clips that do
    not exist.
    """
    rows = board[(board["protocol"] == protocol) & board["per_genre_f1"].notna()]
    data, columns = {}, {}
    for _, r in rows.iterrows():
        f1 = r["per_genre_f1"] or {}
        labels = r.get("labels")
        labels = list(labels) if isinstance(labels, (list, tuple, np.ndarray)) and len(labels) else list(f1)
        columns.update(dict.fromkeys(map(str, labels)))
        n = genre_counts(r.get("confusion"), labels)
        data[r["display_name"]] = {g: (f1.get(g, np.nan) if n.get(g, 1) > 0 else np.nan) for g in map(str, labels)}
    return pd.DataFrame.from_dict(data, orient="index", columns=list(columns)).astype(float)


def genre_counts(confusion: Any, labels: Any = None) -> dict[str, int]:
    """Test clips per true class (row sums of a confusion matrix, in ``labels`` order). ``{}``
    when there is no matrix, or no labels of its size to name its rows."""
    if confusion is None or (isinstance(confusion, float) and np.isnan(confusion)):
        return {}
    cm = np.asarray([np.asarray(r, dtype=float) for r in confusion], dtype=float)
    if labels is None or len(labels) != len(cm):
        return {}
    return {str(g): int(round(v)) for g, v in zip(labels, cm.sum(axis=1))}


def wilson_interval(successes: float, n: float, z: float = 1.96) -> tuple[float, float]:
    """Wilson score interval (default 95 %) for a proportion ``successes / n``; ``(nan, nan)``
    when ``n`` is 0 or unknown."""
    if not n or not np.isfinite(n) or n <= 0 or not np.isfinite(successes):
        return (float("nan"), float("nan"))
    p = successes / n
    d = 1 + z * z / n
    c = (p + z * z / (2 * n)) / d
    h = z * np.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / d
    return (float(max(0.0, c - h)), float(min(1.0, c + h)))


def macro_f1_interval(confusion: Any, *, n_boot: int = 1000, level: float = 0.95,
                      seed: int = 0) -> tuple[float, float]:
    """Bootstrap interval of macro-F1 over the test clips of a confusion matrix (counts).

    Resamples the clips (multinomially over the matrix cells) ``n_boot`` times; genres absent
    from the test set are left out of the average, as in :func:`f1_table`.
    """
    if confusion is None:
        return (float("nan"), float("nan"))
    cm = np.asarray([np.asarray(r, dtype=float) for r in confusion], dtype=float)
    n = int(round(cm.sum()))
    if n <= 0:
        return (float("nan"), float("nan"))
    rng = np.random.default_rng(seed)
    k = cm.shape[0]
    draws = rng.multinomial(n, (cm / cm.sum()).ravel(), size=n_boot).reshape(n_boot, k, k)
    tp = np.einsum("bii->bi", draws)
    true = draws.sum(axis=2)
    pred = draws.sum(axis=1)
    present = cm.sum(axis=1) > 0
    with np.errstate(invalid="ignore", divide="ignore"):
        f1 = np.where(true + pred > 0, 2 * tp / (true + pred), 0.0)
    scores = f1[:, present].mean(axis=1)
    a = (1 - level) / 2
    return (float(np.quantile(scores, a)), float(np.quantile(scores, 1 - a)))


def accuracy_table(board: pd.DataFrame, metric: str = "accuracy") -> pd.DataFrame:
    """Long table for the leaderboard's overview: one row per (model, protocol) with ``value``,
    its 95 % interval ``low, high`` (Wilson for accuracy, bootstrap over the confusion matrix for
    macro-F1), ``n_test`` and ``cell`` (text such as ``"58.3 % (52.6-63.8)"``)."""
    rows = []
    for _, r in board.iterrows():
        v = float(r.get(metric, np.nan)) if r.get(metric) is not None else float("nan")
        n = float(r.get("n_test", np.nan)) if r.get("n_test") is not None else float("nan")
        if metric == "accuracy":
            lo, hi = wilson_interval(round(v * n), n) if np.isfinite(v) and np.isfinite(n) else (np.nan, np.nan)
        else:
            cm = r.get("confusion")
            lo, hi = macro_f1_interval(cm) if isinstance(cm, (list, np.ndarray)) else (np.nan, np.nan)
        if not np.isfinite(v):
            cell = "n/a"
        elif np.isfinite(lo):
            cell = f"{v:.1%} ({lo * 100:.1f}-{hi * 100:.1f})"
        else:
            cell = f"{v:.1%}"
        rows.append({"model": r["model"], "protocol": r["protocol"], "value": v, "low": lo,
                     "high": hi, "n_test": n, "cell": cell})
    return pd.DataFrame(rows, columns=["model", "protocol", "value", "low", "high", "n_test", "cell"])


def training_curves(result: Mapping[str, Any] | None) -> pd.DataFrame:
    """Per-epoch curves recorded in a results file, as a long table ``protocol, fold, epoch,
    series, value`` (``series``: ``loss``, ``val_loss``, ``accuracy``, ``val_accuracy``...).

    Reads ``history`` (a dict of lists, or a list of such dicts, one per fold) at the top of
    the file or inside each protocol; empty when none was recorded.
    """
    out = []

    def add(hist: Any, proto: str) -> None:
        folds = hist if isinstance(hist, list) else [hist]
        for f, h in enumerate(folds):
            if not isinstance(h, Mapping):
                continue
            for series, values in h.items():
                if isinstance(values, (list, tuple)):
                    for e, v in enumerate(values, start=1):
                        if v is not None and np.isfinite(float(v)):
                            out.append((proto, f, e, str(series), float(v)))

    if result:
        for key in ("history", "training_curves", "curves"):
            if result.get(key):
                add(result[key], "")
        for proto, m in (result.get("protocols") or {}).items():
            for key in ("history", "training_curves", "curves"):
                if isinstance(m, Mapping) and m.get(key):
                    add(m[key], proto)
    return pd.DataFrame(out, columns=["protocol", "fold", "epoch", "series", "value"])


def curve_models(board: pd.DataFrame, recorded: Sequence[str] = ()) -> list[str]:
    """Models the leaderboard offers training curves for, in the board's order: every network
    (family ``deep``: the ones trained epoch by epoch), recorded curves or not, and any other
    model whose results file holds curves (``recorded``)."""
    if board.empty:
        return []
    models = board.drop_duplicates("model")
    keep = set(models.loc[models["family"] == "deep", "model"]) | set(recorded)
    return [m for m in models["model"] if m in keep]


def curves_summary(curves: pd.DataFrame) -> dict[str, Any]:
    """What a model's recorded curves (:func:`training_curves` rows of one protocol) hold:
    ``epochs``, ``folds``, ``validation`` (any ``val_*`` value), ``val_every`` (the first validated
    epoch, which is the interval: :func:`genre.training.networks.train` validates every k epochs and after
    the last; ``None`` without), ``seconds_median`` / ``seconds_total`` (wall seconds per epoch,
    NaN when not recorded)."""
    if curves.empty:
        return {"epochs": 0, "folds": 0, "validation": False, "val_every": None,
                "seconds_median": float("nan"), "seconds_total": float("nan")}
    sec = curves.loc[curves["series"] == "epoch_seconds", "value"]
    val = curves[curves["series"].isin(["val_loss", "val_accuracy"])]
    folds = max(1, curves["fold"].nunique()) if "fold" in curves else 1
    return {"epochs": int(curves["epoch"].max()), "folds": int(folds),
            "validation": not val.empty,
            "val_every": int(val["epoch"].min()) if not val.empty else None,
            "seconds_median": float(sec.median()) if len(sec) else float("nan"),
            "seconds_total": float(sec.sum() / folds) if len(sec) else float("nan")}


def detector_tables(manifest: Mapping[str, Any] | None) -> dict[str, Any] | None:
    """The music detector's measured figures from a model's manifest (``detector.contrast``, written
    by ``python -m genre.training.nonmusic fit``), as two tables for the leaderboard: music wrongly
    flagged (``false_alarms``: where, flagged, n, share) and non-music caught (``caught``: per kind,
    held out by group, with the kind left out of the fit, and by the rule before the contrast
    stage); ``None`` for a model without one."""
    con = ((manifest or {}).get("detector") or {}).get("contrast")
    if not con:
        return None
    names = {"clean": "GTZAN music held out (artist folds), clean",
             "aug_band": "... their band-limited training copies", "aug_mix": "... their noisy/reverberant/clipped copies",
             "aug_tel": "... their telephone copies"}
    rows = [(names.get(k, k), v["flagged"], v["n"]) for k, v in con.get("heldout_false_alarms", {}).items()]
    for k, v in con.get("test_false_alarms", {}).items():
        cond = k.removesuffix("_first10s").replace("_", " ")
        rows.append(("GTZAN test clips, whole" if k == "clean_whole" else f"GTZAN test clips, first 10 s, {cond}",
                     v["flagged"], v["n"]))
    om = con.get("outside_music")
    if om:
        flagged = ", ".join(om.get("flagged_tracks", []))
        rows.append((f"music from outside GTZAN: {om.get('source', '')}" + (f" (flagged: {flagged})" if flagged else ""),
                     om["flagged"], om["n"]))
    fa = pd.DataFrame(rows, columns=["music", "flagged", "n"])
    fa["share"] = fa["flagged"] / fa["n"].where(fa["n"] > 0)
    held, left, prev = (con.get(k, {}) for k in ("heldout_nonmusic_caught", "kind_left_out_caught",
                                                  "previous_rule_caught"))
    kinds = list(held)
    caught = pd.DataFrame({
        "kind": [k.replace("_", " ") for k in kinds],
        "signals": [held[k]["n"] for k in kinds],
        "caught, held out by group": [held[k]["caught"] for k in kinds],
        "caught, kind left out of the fit": [left.get(k, {}).get("caught") for k in kinds],
        "caught by the earlier rule": [str(prev[k]["caught"]) if k in prev else "–" for k in kinds]})
    return {"false_alarms": fa, "caught": caught, "thresholds": list(con.get("thresholds", [])),
            "command": con.get("command", "")}


def retrain_command(model: str) -> str:
    """The command that retrains a shipped network with its curves recorded (``train_deep`` also
    writes the ONNX export the dashboard runs, checked against Keras)."""
    return f"nice python -m genre.training.train_deep --models {model}"


def cost_table(board: pd.DataFrame, honest: str = HONEST) -> pd.DataFrame:
    """Per model: ``model, display_name, family``, ``accuracy`` (on ``honest``, default
    :data:`HONEST`; a folder of your own: :func:`headline_protocol`; NaN where not scored),
    ``audio_accuracy`` (on :data:`AUDIO`), ``fit_time_s`` (from the honest protocol, else the
    audio one), ``latency_ms`` (per clip, from the results file), ``size_mb``; best honest
    accuracy first."""
    if board.empty:
        return pd.DataFrame(columns=["model", "display_name", "family", "accuracy", "audio_accuracy",
                                     "fit_time_s", "latency_ms", "size_mb"])
    first = board.drop_duplicates("model").set_index("model")
    def on(proto: str, col: str) -> pd.Series:
        rows = board[board["protocol"] == proto].drop_duplicates("model").set_index("model")
        return rows[col].reindex(first.index) if col in rows else pd.Series(np.nan, index=first.index)
    lat = first["model_latency_ms"] if "model_latency_ms" in first else first.get("latency_ms")
    fit = on(honest, "fit_time_s").fillna(on(AUDIO, "fit_time_s"))
    out = pd.DataFrame({
        "model": first.index, "display_name": first["display_name"].to_numpy(),
        "family": first["family"].to_numpy(),
        "accuracy": on(honest, "accuracy").to_numpy(), "audio_accuracy": on(AUDIO, "accuracy").to_numpy(),
        "fit_time_s": fit.to_numpy(), "latency_ms": pd.to_numeric(lat, errors="coerce").to_numpy(),
        "size_mb": pd.to_numeric(first["size_bytes"], errors="coerce").to_numpy() / 1e6,
    })
    for col in ("accuracy", "audio_accuracy", "fit_time_s", "latency_ms", "size_mb"):
        out[col] = pd.to_numeric(out[col], errors="coerce").astype(float)
    return out.sort_values(["accuracy", "audio_accuracy"], ascending=False,
                           na_position="last").reset_index(drop=True)


def model_options(manifests: list[dict], board: pd.DataFrame | None = None,
                  default: str | None = None) -> list[dict]:
    """Shipped models for a picker: the registry's default first, then best honest accuracy first.

    Returns dicts ``name, display_name, family, input, accuracy`` (on :data:`HONEST`, NaN if not
    scored there), ``audio_accuracy`` (on ``audio_holdout``, the filtered test clips with audio,
    the one protocol every model is scored on), ``no_onnx`` (a network model whose manifest names no
    ONNX file, or a stack with such a member: prediction runs networks only through onnxruntime, so
    it cannot run until exported; every shipped network is) and ``default`` (bool).
    """
    acc: dict = {}
    audio: dict = {}
    if board is not None and not board.empty:
        for proto, dest in ((HONEST, acc), (AUDIO, audio)):
            rows = board[board["protocol"] == proto]
            dest.update(zip(rows["model"], rows["accuracy"]))
    by_name = {m.get("name"): m for m in manifests}

    def no_onnx(m: Mapping[str, Any]) -> bool:
        # networks run only through onnxruntime, from the ONNX file the manifest names; a stack
        # needs every member to run
        kind = m.get("kind", "sklearn")
        if kind in ("keras", "musicnn"):
            return not m.get("onnx")
        if kind == "stack":
            return any(no_onnx(by_name.get(n, {"kind": "keras"})) for n in m.get("members") or [])
        return False

    out = []
    for m in manifests:
        if m.get("name") in (None, "novelty") or m.get("kind") not in ("sklearn", "keras", "musicnn", "stack",
                                                                        "pretrained_onnx"):
            continue
        out.append({"name": m["name"], "display_name": m.get("display_name", m["name"]),
                    "family": m.get("family", ""), "input": m.get("input", ""),
                    "accuracy": float(acc.get(m["name"], np.nan)),
                    "audio_accuracy": float(audio.get(m["name"], np.nan)),
                    "no_onnx": no_onnx(m),
                    "default": m["name"] == default})

    def key(d):
        a = d["accuracy"] if np.isfinite(d["accuracy"]) else -1.0
        b = d["audio_accuracy"] if np.isfinite(d["audio_accuracy"]) else -1.0
        return (not d["default"], -a, -b, d["name"])

    return sorted(out, key=key)


def model_label(option: Mapping[str, Any]) -> str:
    """One line for a model picker, e.g. ``"XGBoost - 58% fault-filtered test, 61% test clips with
    audio (default)"``."""
    parts = []
    if np.isfinite(option["accuracy"]):
        parts.append(f"{option['accuracy']:.0%} fault-filtered test")
    if np.isfinite(option["audio_accuracy"]):
        parts.append(f"{option['audio_accuracy']:.0%} test clips with audio")
    text = f"{option['display_name']} - " + (", ".join(parts) if parts else "not scored")
    if option.get("default"):
        text += " (default)"
    if option.get("no_onnx"):
        text += "; not exported to ONNX, cannot run here"
    return text


# ------------------------------------------------------------------------------ downloads

def prediction_csv(pred_dict: Mapping[str, Any]) -> str:
    """CSV of a prediction's timeline (``start_s, end_s`` + one column per class of the model, in
    its order) after a ``clip`` row with the whole-input probabilities. ``pred_dict`` is ``Prediction.to_dict()``."""
    tl = pred_dict["timeline"]
    classes = list(pred_dict.get("classes") or pred_dict["probabilities"])
    df = pd.DataFrame({"segment": [f"{i}" for i in range(len(tl["start_s"]))],
                       "start_s": tl["start_s"], "end_s": tl["end_s"],
                       **{g: tl["probabilities"][g] for g in classes}})
    clip = {"segment": "clip", "start_s": 0.0, "end_s": pred_dict.get("duration_s"),
            **{g: pred_dict["probabilities"][g] for g in classes}}
    df = pd.concat([pd.DataFrame([clip]), df], ignore_index=True)
    return df.to_csv(index=False, float_format="%.4f")


def prediction_json(pred_dict: Mapping[str, Any]) -> str:
    """Pretty JSON of ``Prediction.to_dict()``."""
    return json.dumps(pred_dict, indent=2)


# ------------------------------------------------------------------------------ live audio

def frame_to_mono(samples: np.ndarray, channels: int, fmt: str = "s16") -> np.ndarray:
    """One WebRTC audio frame to mono float32 in [-1, 1].

    Parameters
    ----------
    samples : ndarray
        ``av.AudioFrame.to_ndarray()``: packed (interleaved) formats give shape (1, n*channels),
        planar ones (channels, n).
    channels : int
        Channel count of the frame's layout.
    fmt : str
        The frame's sample format name (``s16``, ``s16p``, ``flt``, ``fltp``...).
    """
    a = np.asarray(samples)
    if fmt.endswith("p") and a.ndim == 2 and a.shape[0] == channels:
        x = a.T  # planar: (channels, n) -> (n, channels)
    else:
        x = a.reshape(-1, channels) if channels > 1 else a.reshape(-1, 1)
    x = x.astype(np.float32)
    if np.issubdtype(a.dtype, np.integer):
        x /= float(np.iinfo(a.dtype).max) + 1.0
    return x.mean(axis=1)


def _resample(y: np.ndarray, orig_sr: int, target_sr: int) -> np.ndarray:
    if orig_sr == target_sr:
        return y.astype(np.float32)
    try:
        import soxr
        return soxr.resample(y, orig_sr, target_sr).astype(np.float32)
    except ImportError:  # pragma: no cover - soxr ships with librosa
        from math import gcd

        from scipy.signal import resample_poly
        g = gcd(orig_sr, target_sr)
        return resample_poly(y, target_sr // g, orig_sr // g).astype(np.float32)


class LiveBuffer:
    """Thread-safe rolling buffer of microphone audio (written by the WebRTC thread, read by the page).

    Stores mono audio at the incoming rate (48 kHz from browsers) and resamples on read, so each
    classification window is resampled in one piece, without seams.

    Parameters
    ----------
    seconds : float
        How much audio to keep (s).
    """

    def __init__(self, seconds: float = 30.0):
        self.seconds = float(seconds)
        self._chunks: deque[np.ndarray] = deque()
        self._n = 0
        self._sr: int | None = None
        self._lock = threading.Lock()
        self.frames = 0

    def push(self, y: np.ndarray, sr: int) -> None:
        """Append mono float32 audio at ``sr`` Hz (a change of rate clears the buffer)."""
        y = np.asarray(y, dtype=np.float32).ravel()
        with self._lock:
            if self._sr != sr:
                self._chunks.clear()
                self._n = 0
                self._sr = int(sr)
            self._chunks.append(y)
            self._n += len(y)
            self.frames += 1
            keep = int(self.seconds * sr)
            while self._chunks and self._n - len(self._chunks[0]) >= keep:
                self._n -= len(self._chunks.popleft())

    def push_frame(self, frame: Any) -> Any:
        """``audio_frame_callback`` for ``webrtc_streamer``: store an ``av.AudioFrame``, return it."""
        y = frame_to_mono(frame.to_ndarray(), len(frame.layout.channels), frame.format.name)
        self.push(y, frame.sample_rate)
        return frame

    @property
    def buffered_seconds(self) -> float:
        """Seconds of audio held."""
        with self._lock:
            return self._n / self._sr if self._sr else 0.0

    def window(self, seconds: float, sr: int = SR) -> np.ndarray:
        """The last ``seconds`` of audio, mono float32 resampled to ``sr`` (may be shorter)."""
        with self._lock:
            if not self._chunks:
                return np.zeros(0, dtype=np.float32)
            y = np.concatenate(list(self._chunks))
            src = self._sr
        y = y[-int(seconds * src):]
        return _resample(y, src, sr)

    def clear(self) -> None:
        with self._lock:
            self._chunks.clear()
            self._n = 0
            self.frames = 0


def to_wav_bytes(y: np.ndarray, sr: int = SR) -> bytes:
    """Mono float32 audio as a 16-bit WAV byte string (what :func:`genre.predict.predict` accepts)."""
    import soundfile as sf

    buf = io.BytesIO()
    sf.write(buf, np.clip(np.asarray(y, dtype=np.float32), -1, 1), sr, format="WAV", subtype="PCM_16")
    return buf.getvalue()


class IceConfigError(ValueError):
    """The STUN/TURN configuration is malformed; the message says what is wrong and where."""


def _check_ice(val: Any, where: str) -> list[dict]:
    if isinstance(val, Mapping) and "iceServers" in val:
        val = val["iceServers"]
    if isinstance(val, (str, bytes)) or not isinstance(val, (list, tuple)):
        raise IceConfigError(
            f"{where} must be a list of servers, each with \"urls\" (and \"username\" and "
            f"\"credential\" for TURN), not {type(val).__name__} {str(val)[:40]!r}.")
    out = []
    for i, entry in enumerate(val, start=1):
        if not isinstance(entry, Mapping):
            raise IceConfigError(f"{where}: server {i} must be a table with \"urls\", not "
                                 f"{type(entry).__name__}.")
        urls = entry.get("urls")
        if isinstance(urls, str):
            urls = [urls]
        if not urls or not isinstance(urls, (list, tuple)) or not all(isinstance(u, str) for u in urls):
            raise IceConfigError(f"{where}: server {i} needs \"urls\", a string or a list of strings.")
        bad = [u for u in urls if not u.split(":", 1)[0] in ("stun", "stuns", "turn", "turns")]
        if bad:
            raise IceConfigError(f"{where}: server {i} has a URL that is not stun:, stuns:, turn: "
                                 f"or turns: ({bad[0][:40]!r}).")
        d = {k: v for k, v in dict(entry).items()}
        if any(u.startswith("turn") for u in urls) and not (d.get("username") and d.get("credential")):
            raise IceConfigError(f"{where}: server {i} is a TURN server and needs both "
                                 "\"username\" and \"credential\".")
        d["urls"] = list(urls)
        out.append(d)
    return out


def ice_servers(secrets: Mapping[str, Any] | None = None,
                environ: Mapping[str, str] | None = None) -> list[dict]:
    """ICE (STUN/TURN) servers for WebRTC, from Streamlit secrets or the environment, checked.

    Looks for ``ice_servers`` in ``secrets`` (a list of ``{"urls": ..., "username": ...,
    "credential": ...}`` tables), then ``GENRE_ICE_SERVERS`` (the same as JSON, or
    ``{"iceServers": [...]}``) in ``environ``. Returns ``[]`` when neither is set: enough for a
    browser on the same machine (localhost). TURN credentials are sent to every visitor's
    browser: WebRTC needs them there, so use short-lived or per-app credentials.

    Raises
    ------
    IceConfigError
        A value is set but malformed (a bare string, a number, invalid JSON, a server without
        ``urls``, a TURN server without credentials).
    """
    environ = os.environ if environ is None else environ
    if secrets and "ice_servers" in secrets:
        return _check_ice(secrets.get("ice_servers"), "The ice_servers secret")
    raw = environ.get("GENRE_ICE_SERVERS", "").strip()
    if raw:
        try:
            val = json.loads(raw)
        except json.JSONDecodeError as exc:
            raise IceConfigError(f"GENRE_ICE_SERVERS is not valid JSON ({exc.msg} at character "
                                 f"{exc.pos}).") from None
        return _check_ice(val, "GENRE_ICE_SERVERS")
    return []
