"""Plotly figure builders for the dashboard: plain data in (arrays, DataFrames, dicts), figure out.

Nothing here reads files, trains or extracts features; every function is usable from a notebook
and testable without Streamlit. Class colours come from the classes themselves, in the model's
order (:func:`class_colors`), so a class looks the same on every chart of one model; no function
assumes a taxonomy.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np
import pandas as pd
import plotly.graph_objects as go
from plotly.colors import qualitative, sequential

__all__ = [
    "PALETTE", "class_colors", "feature_by_genre", "correlation_heatmap", "embedding_scatter",
    "protocol_gap", "confusion_heatmap", "per_genre_f1", "cost_chart", "probability_bars",
    "timeline", "waveform", "waveform_envelope", "spectrogram", "mark_point", "training_curves",
    "clock",
]

#: Class colours, taken in the model's class order: Plotly's D3 palette (GTZAN's ten genres, in
#: their order, get exactly these), then its Alphabet palette; beyond 36 classes they repeat.
PALETTE: tuple[str, ...] = tuple(c.lower() for c in (*qualitative.D3, *qualitative.Alphabet))
# Magma, but starting at pure black: Streamlit's front end rewrites the colours "#000001" to
# "#000010" (placeholders of its chart theme), and Magma's first stop is "#000004".
_MAGMA = ["#000000", *sequential.Magma[1:]]
_LAYOUT = dict(margin=dict(l=10, r=10, t=40, b=10), template="plotly_white")


def class_colors(classes: Sequence[str]) -> dict[str, str]:
    """One stable colour per class, by position in ``classes`` (the model's class order):
    the same classes in the same order always get the same colours."""
    names = list(dict.fromkeys(map(str, classes)))
    return {c: PALETTE[i % len(PALETTE)] for i, c in enumerate(names)}


def _genre_order(values: Sequence[str]) -> list[str]:
    """The distinct labels of a table column, sorted (GTZAN's genres: their usual order)."""
    return sorted(set(map(str, values)))


def feature_by_genre(table: pd.DataFrame, feature: str, *, kind: str = "box",
                     genre_col: str = "genre", title: str | None = None) -> go.Figure:
    """Distribution of one feature per genre.

    Parameters
    ----------
    table : DataFrame
        One row per clip with columns ``feature`` and ``genre_col``.
    feature : str
        Column to plot (e.g. ``"tempo"``, in its own units).
    kind : {"box", "violin", "histogram"}
        Box plots (with every clip as a point), violins, or overlaid histograms.
    """
    if feature not in table.columns:
        raise KeyError(f"No column {feature!r} in the table.")
    fig = go.Figure()
    order = _genre_order(table[genre_col])
    color = class_colors(order).get
    for g in order:
        v = table.loc[table[genre_col] == g, feature]
        if kind == "violin":
            fig.add_trace(go.Violin(y=v, name=g, line_color=color(g), box_visible=True,
                                    meanline_visible=True, points=False, yhoverformat=".1f"))
        elif kind == "histogram":
            fig.add_trace(go.Histogram(x=v, name=g, marker_color=color(g), opacity=0.55,
                                       xhoverformat=".1f"))
        elif kind == "box":
            fig.add_trace(go.Box(y=v, name=g, marker_color=color(g), boxpoints="outliers",
                                 hovertext=_clip_labels(table.loc[v.index]), yhoverformat=".1f"))
        else:
            raise ValueError(f"kind must be 'box', 'violin' or 'histogram', not {kind!r}")
    if kind == "histogram":
        fig.update_layout(barmode="overlay", xaxis_title=feature, yaxis_title="clips")
    else:
        fig.update_layout(showlegend=False, yaxis_title=feature, xaxis_title="genre")
    fig.update_layout(title=title or f"{feature} by genre", **_LAYOUT)
    return fig


def _clip_labels(rows: pd.DataFrame) -> list[str] | None:
    """``"clip: artist - title"`` per row (index = clip id), for hovering a point."""
    if not (rows.index.dtype == object or pd.api.types.is_string_dtype(rows.index)):
        return None
    artist = rows.get("artist", pd.Series("", index=rows.index)).fillna("").astype(str)
    title = rows.get("title", pd.Series("", index=rows.index)).fillna("").astype(str)
    return [f"{c}: {a or 'unknown artist'} - {t or 'untitled'}"
            for c, a, t in zip(rows.index.astype(str), artist, title)]


def correlation_heatmap(table: pd.DataFrame, columns: Sequence[str], *,
                        method: str = "pearson", title: str | None = None) -> go.Figure:
    """Correlation matrix of ``columns`` of ``table`` (``method``: pearson or spearman)."""
    corr = table[list(columns)].corr(method=method)
    fig = go.Figure(go.Heatmap(
        z=corr.to_numpy(), x=list(corr.columns), y=list(corr.index), zmin=-1, zmax=1,
        colorscale="RdBu", reversescale=True, colorbar=dict(title="r"),
        hovertemplate="%{y} vs %{x}: r = %{z:.2f}<extra></extra>"))
    n = len(corr)
    tick = dict(tickmode="array", tickvals=list(corr.columns), ticktext=list(corr.columns),
                tickfont=dict(size=9 if n > 30 else 11), automargin=True)
    fig.update_layout(title=title or f"Feature correlations ({method})",
                      height=max(500, 16 * n + 220), xaxis=dict(tickangle=-60, **tick),
                      yaxis=dict(autorange="reversed", **tick), **_LAYOUT)
    return fig


def embedding_scatter(points: pd.DataFrame, x: str, y: str, *, genre_col: str = "genre",
                      highlight: pd.Series | None = None, title: str = "",
                      hover_cols: Sequence[str] = ("clip", "artist", "title", "split")) -> go.Figure:
    """2-D scatter of clips coloured by genre; hover shows clip id, artist, title and split.

    Parameters
    ----------
    points : DataFrame
        One row per clip with columns ``x``, ``y``, ``genre_col`` and the ``hover_cols``.
    highlight : bool Series aligned with ``points``, optional
        Rows drawn as large open diamonds on top (outliers, excluded clips).
    Returns
    -------
    Figure
        One trace per genre (plus the highlight trace); each point's ``customdata[0]`` is its
        clip id, so selection events can be mapped back to clips.
    """
    hover_cols = [c for c in hover_cols if c in points.columns]
    lines = "<br>".join(f"{c}: %{{customdata[{i}]}}" for i, c in enumerate(hover_cols))
    fig = go.Figure()
    order = _genre_order(points[genre_col])
    color = class_colors(order).get
    for g in order:
        part = points[points[genre_col] == g]
        fig.add_trace(go.Scattergl(
            x=part[x], y=part[y], mode="markers", name=g,
            marker=dict(color=color(g), size=6, opacity=0.8),
            customdata=part[hover_cols].astype(str).to_numpy(),
            hovertemplate=f"<b>{g}</b><br>{lines}<extra></extra>"))
    if highlight is not None and bool(np.asarray(highlight).any()):
        part = points[np.asarray(highlight, dtype=bool)]
        fig.add_trace(go.Scattergl(
            x=part[x], y=part[y], mode="markers", name="highlighted",
            marker=dict(symbol="diamond-open", size=12, color="black", line=dict(width=1.5)),
            customdata=part[hover_cols].astype(str).to_numpy(),
            hovertemplate=f"<b>highlighted</b><br>{lines}<extra></extra>"))
    fig.update_layout(title=title, height=600, xaxis_title=x, yaxis_title=y,
                      legend=dict(itemsizing="constant"),
                      **_LAYOUT)
    return fig


def protocol_gap(scores: pd.DataFrame, *, honest: str, optimistic: str, metric: str = "accuracy",
                 label_col: str = "model", honest_name: str | None = None,
                 optimistic_name: str | None = None) -> go.Figure:
    """Dumbbell chart: each model's score on an honest protocol and on an optimistic one.

    Parameters
    ----------
    scores : DataFrame
        Wide: one row per model, a ``label_col`` column and one column per protocol (0-1).
    honest, optimistic : str
        Column names of the two protocols; the line between the dots is the gap.
    """
    df = scores.dropna(subset=[honest, optimistic]).sort_values(honest)
    fig = go.Figure()
    for _, r in df.iterrows():
        fig.add_trace(go.Scatter(x=[r[honest], r[optimistic]], y=[r[label_col]] * 2, mode="lines",
                                 line=dict(color="#bbbbbb", width=3), showlegend=False,
                                 hoverinfo="skip"))
    fig.add_trace(go.Scatter(
        x=df[honest], y=df[label_col], mode="markers", name=honest_name or honest,
        marker=dict(size=13, color="#d6336c"),
        hovertemplate="%{y}: %{x:.1%}<extra>" + (honest_name or honest) + "</extra>"))
    fig.add_trace(go.Scatter(
        x=df[optimistic], y=df[label_col], mode="markers", name=optimistic_name or optimistic,
        marker=dict(size=13, color="#868e96"),
        customdata=(df[optimistic] - df[honest]).to_numpy(),
        hovertemplate="%{y}: %{x:.1%} (+%{customdata:.1%})<extra>"
                      + (optimistic_name or optimistic) + "</extra>"))
    fig.update_layout(title=f"{metric}: honest vs optimistic protocol", xaxis_tickformat=".0%",
                      xaxis_title=metric, height=max(300, 40 * len(df) + 120),
                      legend=dict(orientation="h", y=-0.15), **_LAYOUT)
    return fig


def confusion_heatmap(confusion: Sequence[Sequence[float]], labels: Sequence[str], *,
                      normalize: bool = True, title: str = "") -> go.Figure:
    """Confusion matrix (rows = true genre, columns = predicted), row-normalised by default."""
    cm = np.asarray(confusion, dtype=float)
    if cm.shape != (len(labels), len(labels)):
        raise ValueError(f"confusion has shape {cm.shape}, expected {len(labels)} x {len(labels)}")
    counts = cm.copy()
    if normalize:
        rows = cm.sum(axis=1, keepdims=True)
        cm = np.divide(cm, rows, out=np.zeros_like(cm), where=rows > 0)
    text = [[(f"{v:.0%}" if normalize else f"{v:.0f}") if c > 0 else "" for v, c in zip(rv, rc)]
            for rv, rc in zip(cm, counts)]
    fig = go.Figure(go.Heatmap(
        z=cm, x=list(labels), y=list(labels), colorscale="Blues", zmin=0,
        zmax=1 if normalize else None, text=text, texttemplate="%{text}",
        customdata=counts, colorbar=dict(title="share" if normalize else "clips"),
        hovertemplate="true %{y}, predicted %{x}: %{z:.2f} (%{customdata:.0f} clips)<extra></extra>"))
    fig.update_layout(title=title, xaxis_title="predicted", yaxis_title="true", height=520,
                      yaxis=dict(autorange="reversed"), **_LAYOUT)
    return fig


def per_genre_f1(f1: pd.DataFrame, *, title: str = "Per-genre F1",
                 counts: Mapping[str, int] | None = None) -> go.Figure:
    """Heatmap of F1 (0-1): rows = models (index), columns = genres; NaN cells read "n/a"
    (no test clip of that genre). ``counts`` (test clips per genre) go under the genre names."""
    z = f1.to_numpy(dtype=float)
    text = np.vectorize(lambda v: "n/a" if np.isnan(v) else f"{v:.2f}")(z) if z.size else z
    x = [f"{g}<br>n = {counts[g]}" if counts and g in counts else g for g in f1.columns]
    fig = go.Figure(go.Heatmap(
        z=z, x=x, y=list(f1.index), colorscale="Viridis", zmin=0, zmax=1, text=text,
        texttemplate="%{text}", hoverongaps=True,
        hovertemplate="%{y}, %{x}: F1 %{text}<extra></extra>", colorbar=dict(title="F1")))
    fig.update_layout(title=title, height=max(300, 32 * len(f1) + 140),
                      yaxis=dict(autorange="reversed"), **_LAYOUT)
    return fig


def cost_chart(costs: pd.DataFrame, *, x: str = "latency_ms", y: str = "accuracy",
               size: str | None = "size_bytes", label_col: str = "model",
               title: str = "Accuracy vs latency", x_title: str = "latency per clip (ms, log scale)",
               y_title: str = "accuracy") -> go.Figure:
    """Scatter of each model's accuracy against a cost column (log x), marker area ~ ``size``."""
    df = costs.dropna(subset=[x, y])
    df = df[df[x] > 0]
    sizes = None
    if size and size in df.columns and df[size].notna().any():
        s = df[size].fillna(0).astype(float).to_numpy()
        sizes = 10 + 30 * np.sqrt(s / max(s.max(), 1e-12))
    fig = go.Figure(go.Scatter(
        x=df[x], y=df[y], mode="markers+text", text=df[label_col], textposition="top center",
        textfont=dict(size=10),
        marker=dict(size=sizes if sizes is not None else 12, color="#d6336c", opacity=0.7),
        hovertemplate="%{text}: %{y:.1%}, %{x:.3g} ms<extra></extra>"))
    if len(df):
        lo, hi = np.log10(df[x].min()), np.log10(df[x].max())
        fig.update_xaxes(range=[lo - 0.4, hi + 0.6])
    fig.update_layout(title=title, xaxis=dict(type="log", dtick=1, title=x_title), yaxis_title=y_title,
                      yaxis_tickformat=".0%", height=460, **_LAYOUT)
    return fig


def probability_bars(probabilities: Mapping[str, float], *, top: int | None = None,
                     title: str = "", colors: Mapping[str, str] | None = None) -> go.Figure:
    """Horizontal bars of class probabilities, highest on top.

    ``probabilities`` in the model's class order (``Prediction.to_dict()["probabilities"]``): the
    colours are :func:`class_colors` of that order unless ``colors`` gives them.
    """
    color = (colors or class_colors(list(probabilities))).get
    items = sorted(probabilities.items(), key=lambda kv: kv[1], reverse=True)
    if top:
        items = items[:top]
    items = items[::-1]
    fig = go.Figure(go.Bar(
        x=[v for _, v in items], y=[k for k, _ in items], orientation="h",
        marker_color=[color(k) for k, _ in items], text=[f"{v:.0%}" for _, v in items],
        textposition="auto", hovertemplate="%{y}: %{x:.1%}<extra></extra>"))
    fig.update_layout(title=title, xaxis=dict(range=[0, 1], tickformat=".0%"),
                      height=60 + 34 * len(items), **_LAYOUT)
    return fig


def timeline(starts_s: Sequence[float], probabilities: np.ndarray, genres: Sequence[str], *,
             segment_s: float | None = None, title: str = "Genre probabilities over time",
             colors: Mapping[str, str] | None = None) -> go.Figure:
    """Stacked area of per-segment class probabilities.

    Parameters
    ----------
    starts_s : (n,) segment start times (s).
    probabilities : (n, len(genres)) rows summing to 1.
    genres : the model's classes, in column order (colours: :func:`class_colors` of them).
    segment_s : segment length (s); points are drawn at segment centres if given.

    Each point's ``customdata`` is its segment's start (s), so a click can seek a player there.
    """
    p = np.asarray(probabilities, dtype=float)
    t = np.asarray(starts_s, dtype=float) + (segment_s / 2 if segment_s else 0.0)
    if p.ndim != 2 or p.shape != (len(t), len(genres)):
        raise ValueError(f"probabilities has shape {p.shape}, expected ({len(t)}, {len(genres)})")
    color = (colors or class_colors(genres)).get
    fig = go.Figure()
    starts = [float(v) for v in np.asarray(starts_s, dtype=float)]  # customdata: segment start (s)
    for j, g in enumerate(genres):
        fig.add_trace(go.Scatter(x=t, y=p[:, j], name=g, mode="lines+markers", stackgroup="one",
                                 line=dict(width=0.5, color=color(g)), marker=dict(size=3),
                                 customdata=starts,
                                 hovertemplate=f"{g}: %{{y:.0%}}<extra></extra>"))
    fig.update_layout(title=title, xaxis_title="time (s)", yaxis=dict(range=[0, 1], tickformat=".0%"),
                      height=340, hovermode="x unified", **_LAYOUT)
    fig.update_xaxes(hoverformat=".1f", ticksuffix=" s")
    return fig


def clock(seconds: float) -> str:
    """``m:ss`` of a time in seconds (``"1:05"``)."""
    seconds = max(0, int(float(seconds)))  # whole seconds elapsed, as a player shows them
    return f"{seconds // 60}:{seconds % 60:02d}"


def waveform_envelope(t: np.ndarray, lo: np.ndarray, hi: np.ndarray, *,
                      title: str = "Waveform") -> go.Figure:
    """A waveform drawn from a precomputed min/max envelope (times ``t`` in s)."""
    fig = go.Figure()
    fig.add_trace(go.Scatter(x=t, y=hi, mode="lines", line=dict(width=0.6, color="#d6336c"),
                             showlegend=False, hoverinfo="skip"))
    fig.add_trace(go.Scatter(x=t, y=lo, mode="lines", line=dict(width=0.6, color="#d6336c"),
                             fill="tonexty", showlegend=False, hoverinfo="skip"))
    fig.update_layout(title=title, xaxis_title="time (s)", yaxis_title="amplitude", height=220,
                      **_LAYOUT)
    return fig


def mark_point(fig: go.Figure, x: float, y: float, *, label: str = "your recording") -> go.Figure:
    """Add a large star at ``(x, y)`` named ``label`` on top of a scatter (returns ``fig``).

    The label sits in a boxed callout pointing at the star, so a dense cluster of clips around it
    cannot hide it."""
    fig.add_trace(go.Scatter(x=[x], y=[y], mode="markers", name=label,
                             marker=dict(symbol="star", size=22, color="#ffd43b",
                                         line=dict(width=2, color="black")),
                             hovertemplate=f"<b>{label}</b><extra></extra>"))
    fig.add_annotation(x=x, y=y, text=f"<b>{label}</b>", showarrow=True, arrowhead=2, arrowwidth=1.5,
                       ax=46, ay=-42, standoff=9, bgcolor="rgba(255, 255, 255, 0.92)",
                       bordercolor="black", borderwidth=1, borderpad=3, font=dict(color="black"))
    return fig


def training_curves(curves: pd.DataFrame, *, title: str = "Training curves") -> go.Figure:
    """Loss (left) and accuracy (right) per epoch, training vs validation.

    ``curves`` has ``epoch, series, value`` and optionally ``fold`` (one line per series and fold).
    Series ``loss``/``accuracy`` are drawn solid as "train", ``val_loss``/``val_accuracy`` dotted
    as "validation" (with markers: they may be recorded every k epochs only); other series (e.g.
    ``epoch_seconds``) are not drawn. Accuracy-like series go to the right panel (axis ``y2``).
    """
    from plotly.subplots import make_subplots  # noqa: PLC0415

    fig = make_subplots(rows=1, cols=2, subplot_titles=("Loss", "Accuracy"), horizontal_spacing=0.1)
    drawn = [s for s in ("loss", "val_loss", "accuracy", "val_accuracy")
             if len(curves) and s in set(curves["series"])]
    folds = sorted(curves["fold"].unique()) if "fold" in curves and len(curves) else [0]
    colors = {"train": "#1f77b4", "validation": "#ff7f0e"}
    for series in drawn:
        acc = "acc" in series
        val = series.startswith("val")
        who = "validation" if val else "train"
        for f in folds:
            part = curves[(curves["series"] == series) & ((curves["fold"] == f) if "fold" in curves else True)]
            if part.empty:
                continue
            part = part.sort_values("epoch")
            name = who if len(folds) == 1 else f"{who} (fold {f + 1})"
            fig.add_trace(go.Scatter(
                x=part["epoch"], y=part["value"], mode="lines+markers" if val else "lines",
                name=name, legendgroup=name, showlegend=not acc,
                line=dict(dash="dot" if val else "solid", color=colors[who] if len(folds) == 1 else None),
                hovertemplate=f"{who} {'accuracy' if acc else 'loss'}: %{{y:.3f}} at epoch %{{x}}<extra></extra>"),
                row=1, col=2 if acc else 1)
    fig.update_xaxes(title_text="epoch")
    fig.update_yaxes(title_text="loss", row=1, col=1)
    fig.update_yaxes(title_text="accuracy", tickformat=".0%", range=[0, 1], row=1, col=2)
    # a taller top margin than _LAYOUT's: the figure title sits above the two panel titles
    fig.update_layout(title=title, height=400, legend=dict(orientation="h", y=-0.25),
                      **{**_LAYOUT, "margin": dict(l=10, r=10, t=80, b=10)})
    return fig


def waveform(y: np.ndarray, sr: int, *, max_points: int = 3000, title: str = "Waveform") -> go.Figure:
    """Min/max envelope of a mono signal ``y`` at ``sr`` Hz, reduced to about ``max_points`` columns."""
    y = np.asarray(y, dtype=np.float32).ravel()
    n = len(y)
    step = max(1, int(np.ceil(n / max_points)))
    m = n // step
    if m == 0:
        lo = hi = y
        t = np.arange(n) / sr
    else:
        blocks = y[: m * step].reshape(m, step)
        lo, hi = blocks.min(axis=1), blocks.max(axis=1)
        t = (np.arange(m) * step + step / 2) / sr
    return waveform_envelope(t, lo, hi, title=title)


def spectrogram(db: np.ndarray, sr: int, hop_length: int, *, title: str = "Mel spectrogram",
                max_frames: int = 2000, top_db: float = 80.0) -> go.Figure:
    """Heatmap of a (n_bins, frames) dB matrix; x in seconds, y = mel bin index.

    The colour range is the top ``top_db`` dB (quieter cells get the lowest colour); at most
    ``max_frames`` columns are drawn (every k-th frame).
    """
    s = np.asarray(db, dtype=np.float64)
    step = max(1, int(np.ceil(s.shape[1] / max_frames))) if s.ndim == 2 and s.shape[1] else 1
    s = np.round(s[:, ::step], 1)
    t = np.round(np.arange(s.shape[1]) * step * hop_length / sr, 3)
    zmax = float(s.max()) if s.size else 0.0
    fig = go.Figure(go.Heatmap(z=s, x=t, colorscale=_MAGMA, zmin=zmax - top_db, zmax=zmax,
                               colorbar=dict(title="dB"),
                               hovertemplate="%{x:.2f} s, bin %{y}: %{z:.1f} dB<extra></extra>"))
    fig.update_layout(title=title, xaxis_title="time (s)", yaxis_title="mel bin", height=300,
                      **_LAYOUT)
    return fig
