"""What the Catalogue page needs that is not drawing: open a catalogue, count, filter, flatten it.

A catalogue is what ``python -m genre catalogue`` writes (:mod:`genre.catalogue`): a Parquet
dataset folder of part files, one row per track. This module reads one from a path (the folder or
one Parquet file), from uploaded part files, or the shipped example (:data:`EXAMPLE`, made from
the demo clips by ``scripts/make_example_catalogue.py``); it never imports :mod:`genre.catalogue`
(that runner sits above the dashboard layer) and needs only the columns in :data:`REQUIRED`.
It also builds the page's plotly figures. No Streamlit here (``tests/test_catalogue_view.py``).
"""

from __future__ import annotations

import io
import os
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any, Sequence

import numpy as np
import pandas as pd
import plotly.graph_objects as go

from genre.app.plots import class_colors
from genre.config import DEMO_DIR
from genre.errors import DataError

__all__ = [
    "EXAMPLE", "ENV_VAR", "SECRET_KEY", "REQUIRED", "STATUSES", "configured_path", "stamp", "read_catalogue",
    "model_labels", "current", "summary", "genre_counts", "filter_tracks", "flagged", "failed", "track_detail", "to_csv",
    "genre_figure", "confidence_figure", "timeline_figure",
]

#: The shipped example catalogue (the demo clips, classified by the default model).
EXAMPLE: Path = DEMO_DIR / "catalogue.parquet"
#: Environment variable, and key in ``.streamlit/secrets.toml``, naming a catalogue to open.
ENV_VAR = "GENRE_CATALOGUE"
SECRET_KEY = "catalogue_path"
#: Columns a file must have to be read as a catalogue.
REQUIRED: tuple[str, ...] = ("path", "genre", "confidence", "not_music", "low_confidence",
                             "error_kind", "model")
#: Track status, in the order the page lists them.
STATUSES: tuple[str, ...] = ("ok", "low confidence", "not music", "failed")
_LIST_COLUMNS = ("probabilities", "classes", "timeline_start_s", "timeline_end_s", "timeline_genre",
                 "timeline_prob")
_OPTIONAL = ("duplicate_of", "error_message", "verdict", "duration_s", "model_version",
             "top1_genre", "top1_prob", "top2_genre", "top2_prob", "top3_genre", "top3_prob",
             "timeline_start_s", "timeline_end_s", "timeline_genre", "timeline_prob")
_LAYOUT = dict(margin=dict(l=10, r=10, t=40, b=10), template="plotly_white")


def configured_path(secrets: Mapping[str, Any] | None = None,
                    environ: Mapping[str, str] | None = None) -> Path | None:
    """The catalogue the app's config names: ``secrets[SECRET_KEY]``, else ``$GENRE_CATALOGUE``."""
    environ = os.environ if environ is None else environ
    value = (secrets or {}).get(SECRET_KEY) or environ.get(ENV_VAR)
    return Path(str(value)).expanduser() if value else None


def stamp(path: str | os.PathLike) -> tuple:
    """What changes when a catalogue on disk changes (part files added by a running catalogue):
    ``(file name, size, mtime_ns)`` of each Parquet file; a cache key for :func:`read_catalogue`."""
    p = Path(path)
    files = sorted(p.glob("*.parquet")) if p.is_dir() else [p] if p.is_file() else []
    out = []
    for f in files:
        try:
            st = f.stat()
        except OSError:
            continue
        out.append((f.name, st.st_size, st.st_mtime_ns))
    return tuple(out)


def _finish(df: pd.DataFrame, what: str) -> pd.DataFrame:
    missing = [c for c in REQUIRED if c not in df.columns]
    if missing:
        raise DataError(f"{what} is not a genre catalogue: it has no column {', '.join(missing)} "
                        "(make one with `python -m genre catalogue SRC --out catalogue.parquet`).")
    df = df.reset_index(drop=True)
    failed_ = df["error_kind"].notna()
    not_music = df["not_music"].fillna(False).astype(bool)
    low = df["low_confidence"].fillna(False).astype(bool)
    df["status"] = np.select([failed_, not_music, low], ["failed", "not music", "low confidence"], "ok")
    df["name"] = [str(p).replace("\\", "/").rsplit("/", 1)[-1] for p in df["path"]]
    for col in _OPTIONAL:  # a catalogue from an older or other writer: what it lacks is missing
        if col not in df.columns:
            df[col] = None
    return df


def read_catalogue(source: str | os.PathLike | bytes | Iterable[Any]) -> pd.DataFrame:
    """A catalogue as a DataFrame, with ``status`` (one of :data:`STATUSES`) and ``name`` added.

    Parameters
    ----------
    source : path, bytes, or iterable of uploads
        A dataset folder or a Parquet file; the bytes of one Parquet file; or several uploaded
        part files (objects with ``getvalue()`` or ``read()``, or bytes), concatenated.

    Raises
    ------
    DataError
        Nothing there, not Parquet, or not a catalogue (said plainly, for a person).
    """
    import pyarrow as pa
    import pyarrow.parquet as pq

    if isinstance(source, (str, os.PathLike)):
        p = Path(source)
        if not p.exists():
            raise DataError(f"No catalogue at {p.name!r}: the path does not exist.")
        if p.is_dir() and not any(p.glob("*.parquet")):
            raise DataError(f"The folder {p.name!r} holds no Parquet part files.")
        try:
            df = pd.read_parquet(p)
        except (OSError, pa.ArrowException, ValueError) as exc:
            raise DataError(f"{p.name!r} could not be read as Parquet ({exc}).") from exc
        return _finish(df, repr(p.name))
    items = [source] if isinstance(source, (bytes, bytearray)) else list(source)
    if not items:
        raise DataError("No catalogue file was given.")
    tables = []
    for item in items:
        name = getattr(item, "name", "the upload")
        data = item if isinstance(item, (bytes, bytearray)) else (
            item.getvalue() if hasattr(item, "getvalue") else item.read())
        try:
            tables.append(pq.read_table(io.BytesIO(bytes(data))))
        except (OSError, pa.ArrowException, ValueError) as exc:
            raise DataError(f"{name!r} is not a Parquet file ({exc}).") from exc
    try:
        table = pa.concat_tables(tables, promote_options="default")
    except pa.ArrowException as exc:
        raise DataError(f"The uploaded files do not share one catalogue layout ({exc}).") from exc
    return _finish(table.to_pandas(), "The upload")


# ------------------------------------------------------------------------------ numbers

def model_labels(df: pd.DataFrame) -> list[str]:
    """The models a catalogue holds rows of (``"name vVERSION"``), the most recently used first."""
    if df.empty:
        return []
    t = df.assign(_label=_labels(df))
    if "finished_at" in t.columns:
        t = t.sort_values("finished_at", na_position="first")
    return list(dict.fromkeys(reversed(t["_label"].tolist())))


def _labels(df: pd.DataFrame) -> list[str]:
    versions = df["model_version"] if "model_version" in df.columns else [""] * len(df)
    return [f"{m} v{v}" if v else str(m) for m, v in zip(df["model"], versions)]


def current(df: pd.DataFrame, model: str | None = None) -> tuple[pd.DataFrame, int]:
    """The rows of one model (a :func:`model_labels` label; None = the most recently used), and
    of each path only the newest (a file changed in place is catalogued again under a new content
    hash). Returns ``(rows sorted by path, number of older rows left out)``."""
    if df.empty:
        return df, 0
    model = model or model_labels(df)[0]
    rows = df[[lab == model for lab in _labels(df)]]
    if "finished_at" in rows.columns:
        rows = rows.sort_values("finished_at", kind="stable", na_position="first")
    newest = rows.drop_duplicates("path", keep="last").sort_values("path", kind="stable")
    return newest.reset_index(drop=True), len(rows) - len(newest)


def summary(df: pd.DataFrame) -> dict[str, Any]:
    """Counts for the page's header: ``tracks, analysed, failed, not_music, low_confidence,
    duplicates, hours`` (audio analysed, h), ``models`` (name v version, sorted)."""
    ok = df["status"] != "failed"
    dur = df["duration_s"] if "duration_s" in df.columns else pd.Series(dtype=float)
    models = sorted({lab for lab, m in zip(_labels(df), df["model"]) if m})
    return {
        "tracks": int(len(df)), "analysed": int(ok.sum()), "failed": int((~ok).sum()),
        "not_music": int((df["status"] == "not music").sum()),
        "low_confidence": int((df["status"] == "low confidence").sum()),
        "duplicates": int(df["duplicate_of"].notna().sum()),
        "hours": float(pd.to_numeric(dur, errors="coerce").fillna(0).sum() / 3600),
        "models": models,
    }


def class_order(df: pd.DataFrame, present: Sequence[str] | None = None) -> list[str]:
    """The catalogue model's classes (its ``classes`` column), in the model's order, limited to
    ``present`` when given; labels outside the model's classes follow, sorted."""
    classes: list[str] = []
    if "classes" in df.columns:
        classes = next((list(map(str, c)) for c in df["classes"] if c is not None and len(c)), [])
    if present is None:
        return classes
    present = [str(g) for g in present]
    return [g for g in classes if g in present] + sorted(set(present) - set(classes))


def genre_counts(df: pd.DataFrame) -> pd.DataFrame:
    """Tracks per top genre among tracks that did not fail, split by status.

    Returns columns ``genre, ok, low confidence, not music, tracks``, genres in the model's
    class order (others after), every status column present.
    """
    done = df[df["status"] != "failed"]
    cols = [s for s in STATUSES if s != "failed"]
    if done.empty:
        return pd.DataFrame(columns=["genre", *cols, "tracks"])
    t = pd.crosstab(done["genre"], done["status"]).reindex(columns=cols, fill_value=0)
    order = class_order(df, list(t.index))
    t = t.reindex(order)
    t["tracks"] = t.sum(axis=1)
    return t.reset_index().rename(columns={"index": "genre"}).rename_axis(columns=None)


def filter_tracks(df: pd.DataFrame, *, query: str = "", genres: Iterable[str] = (),
                  statuses: Iterable[str] = (), confidence: tuple[float, float] = (0.0, 1.0)) -> pd.DataFrame:
    """The rows matching every filter given.

    Parameters
    ----------
    query : str
        Case-insensitive text searched in the path (and the error message of failed tracks).
    genres, statuses : iterables
        Keep these top genres / statuses only (empty = all). Failed tracks have no genre: a genre
        filter drops them.
    confidence : (low, high)
        Keep tracks whose top probability is within the range (failed tracks are kept only when
        the range is the full 0-1).
    """
    keep = pd.Series(True, index=df.index)
    q = query.strip().lower()
    if q:
        text = df["path"].astype(str).str.lower()
        if "error_message" in df.columns:
            text = text + "\n" + df["error_message"].fillna("").astype(str).str.lower()
        keep &= text.str.contains(q, regex=False)
    genres, statuses = list(genres), list(statuses)
    if genres:
        keep &= df["genre"].isin(genres)
    if statuses:
        keep &= df["status"].isin(statuses)
    lo, hi = float(confidence[0]), float(confidence[1])
    if lo > 0 or hi < 1:
        keep &= df["confidence"].between(lo, hi)
    return df[keep]


def flagged(df: pd.DataFrame) -> pd.DataFrame:
    """Tracks that were analysed but flagged (not music or low confidence), least confident first."""
    return df[df["status"].isin(["not music", "low confidence"])].sort_values("confidence")


def failed(df: pd.DataFrame) -> pd.DataFrame:
    """Tracks that failed, with their error kind and message."""
    return df[df["status"] == "failed"]


def track_detail(row: Mapping[str, Any]) -> dict[str, Any]:
    """One track for the detail view: ``top`` [(genre, p)], ``timeline`` DataFrame (``start_s,
    end_s, genre, probability``), ``timings_ms`` {name: ms}, and the row's scalar fields (missing
    values as None)."""
    def listed(key):
        v = row.get(key)
        return [] if v is None or (isinstance(v, float) and np.isnan(v)) else list(v)

    top = [(row.get(f"top{i}_genre"), row.get(f"top{i}_prob")) for i in (1, 2, 3)]
    top = [(g, float(p)) for g, p in top if isinstance(g, str) and p is not None and p == p]
    tl = pd.DataFrame({"start_s": listed("timeline_start_s"), "end_s": listed("timeline_end_s"),
                       "genre": listed("timeline_genre"), "probability": listed("timeline_prob")})
    timings = {k[:-3]: float(row[k]) for k in ("hash_ms", "decode_ms", "inference_ms", "novelty_ms", "total_ms")
               if row.get(k) is not None and row.get(k) == row.get(k)}
    scalars = {k: (None if np.ndim(v) == 0 and pd.isna(v) else v)
               for k, v in row.items() if k not in _LIST_COLUMNS}
    return {**scalars, "top": top, "timeline": tl, "timings_ms": timings}


def to_csv(df: pd.DataFrame) -> bytes:
    """CSV (UTF-8) of the rows: list columns flattened (one ``p_<genre>`` column per class; the
    timeline as ``genre start-end s`` stretches joined by ``; ``); internal columns dropped."""
    out = df.drop(columns=[c for c in ("name",) if c in df.columns]).copy()
    if "probabilities" in out.columns:
        classes = class_order(out)
        probs = [list(p) if p is not None and len(p) == len(classes) else [np.nan] * len(classes)
                 for p in out["probabilities"]]
        out = pd.concat([out, pd.DataFrame(probs, columns=[f"p_{c}" for c in classes], index=out.index)], axis=1)
    if "timeline_genre" in out.columns:
        out["timeline"] = [
            "; ".join(f"{g} {a:.0f}-{b:.0f} s" for g, a, b in zip(gs, st, en)) if gs is not None else ""
            for gs, st, en in zip(out["timeline_genre"], out.get("timeline_start_s"), out.get("timeline_end_s"))]
    out = out.drop(columns=[c for c in _LIST_COLUMNS if c in out.columns])
    return out.to_csv(index=False).encode("utf-8")


# ------------------------------------------------------------------------------ figures

_STATUS_STYLE = {"ok": 1.0, "low confidence": 0.55, "not music": 0.25}


def genre_figure(counts: pd.DataFrame, *, title: str = "Tracks per genre",
                 classes: Sequence[str] | None = None) -> go.Figure:
    """Stacked bars from :func:`genre_counts`: per genre, confident / low-confidence / not-music.
    Colours: :func:`genre.app.plots.class_colors` of ``classes`` (the model's, :func:`class_order`;
    default: the genres of ``counts`` in their order)."""
    color = class_colors(list(classes) if classes is not None else list(counts["genre"])).get
    fig = go.Figure()
    for status, opacity in _STATUS_STYLE.items():
        if status not in counts.columns:
            continue
        fig.add_bar(x=counts["genre"], y=counts[status], name=status, opacity=opacity,
                    marker_color=[color(g, "#444444") for g in counts["genre"]],
                    hovertemplate="%{x}: %{y} tracks (" + status + ")<extra></extra>")
    fig.update_layout(barmode="stack", title=title, yaxis_title="tracks", legend_title="status", **_LAYOUT)
    return fig


def confidence_figure(df: pd.DataFrame, *, bins: int = 20, threshold: float | None = 0.5,
                      title: str = "Top-genre probability") -> go.Figure:
    """Histogram of the top probability of analysed tracks, with the low-confidence line."""
    conf = pd.to_numeric(df.loc[df["status"] != "failed", "confidence"], errors="coerce").dropna()
    fig = go.Figure(go.Histogram(x=conf, xbins=dict(start=0, end=1.0001, size=1 / bins),
                                 marker_color="#d6336c", hovertemplate="%{x}: %{y} tracks<extra></extra>"))
    if threshold is not None:
        fig.add_vline(x=threshold, line_dash="dash", annotation_text="low confidence below")
    fig.update_layout(title=title, xaxis_title="probability of the top genre", yaxis_title="tracks",
                      xaxis_range=[0, 1], bargap=0.05, **_LAYOUT)
    return fig


def timeline_figure(timeline: pd.DataFrame, *, title: str = "Timeline summary",
                    classes: Sequence[str] | None = None) -> go.Figure:
    """One bar per stretch of the track (x: time in s), coloured by its top genre (colours of
    ``classes``, the model's, as in :func:`genre_figure`), height = its mean probability."""
    order = list(dict.fromkeys(timeline["genre"]))
    color = class_colors(list(classes) if classes is not None else order).get
    fig = go.Figure()
    for g in dict.fromkeys(timeline["genre"]):
        t = timeline[timeline["genre"] == g]
        fig.add_bar(x=(t["start_s"] + t["end_s"]) / 2, y=t["probability"], width=t["end_s"] - t["start_s"],
                    name=g, marker_color=color(g, "#444444"),
                    customdata=np.c_[t["start_s"], t["end_s"]],
                    hovertemplate=g + " %{customdata[0]:.0f}-%{customdata[1]:.0f} s: %{y:.0%}<extra></extra>")
    fig.update_layout(title=title, xaxis_title="time (s)", yaxis_title="mean probability",
                      yaxis_range=[0, 1], bargap=0, **_LAYOUT)
    return fig
