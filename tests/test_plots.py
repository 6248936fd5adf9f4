"""Figure builders: plain data in, the right traces out."""

import numpy as np
import pandas as pd
import plotly.graph_objects as go
import pytest

from genre.app import plots
from genre.config import FEATURE_COLUMNS
from genre.training.datasets import GTZAN_GENRES as GENRES
from genre.training.datasets import published_table


@pytest.fixture(scope="module")
def table():
    return published_table()


def test_class_colours_follow_the_model_class_order_and_are_stable():
    gtzan = plots.class_colors(GENRES)
    assert list(gtzan) == list(GENRES) and len(set(gtzan.values())) == len(GENRES)
    assert gtzan["blues"] == "#1f77b4" and gtzan["rock"] == "#17becf"  # the D3 colours GTZAN always had
    mine = plots.class_colors(["strings", "beats", "tiny"])
    assert mine == plots.class_colors(["strings", "beats", "tiny"])  # deterministic
    assert list(mine.values()) == list(plots.PALETTE[:3])
    many = plots.class_colors([f"c{i}" for i in range(40)])
    assert len(set(many.values())) == len(plots.PALETTE) == 36  # distinct up to the palette size


def test_charts_colour_any_taxonomy_by_its_class_order():
    classes = ["strings", "beats", "tiny"]
    colors = plots.class_colors(classes)
    fig = plots.timeline([0, 3], np.full((2, 3), 1 / 3), classes)
    assert [t.name for t in fig.data] == classes
    assert [t.line.color for t in fig.data] == [colors[c] for c in classes]
    bars = plots.probability_bars({"strings": 0.2, "beats": 0.7, "tiny": 0.1})
    assert list(bars.data[0].y) == ["tiny", "strings", "beats"]
    assert list(bars.data[0].marker.color) == [colors["tiny"], colors["strings"], colors["beats"]]


@pytest.mark.parametrize("kind", ["box", "violin", "histogram"])
def test_feature_by_genre_one_trace_per_genre(table, kind):
    fig = plots.feature_by_genre(table, "tempo", kind=kind)
    assert isinstance(fig, go.Figure)
    assert [t.name for t in fig.data] == list(GENRES)
    blues = fig.data[0]
    values = blues.y if kind != "histogram" else blues.x
    assert len(values) == 100
    np.testing.assert_allclose(np.sort(values), np.sort(table.loc[table.genre == "blues", "tempo"]))


def test_feature_by_genre_rejects_unknown(table):
    with pytest.raises(KeyError):
        plots.feature_by_genre(table, "no_such_feature")
    with pytest.raises(ValueError):
        plots.feature_by_genre(table, "tempo", kind="pie")


def test_correlation_heatmap_is_symmetric_with_unit_diagonal(table):
    fig = plots.correlation_heatmap(table, FEATURE_COLUMNS)
    z = np.asarray(fig.data[0].z)
    assert z.shape == (57, 57)
    np.testing.assert_allclose(np.diag(z), 1.0)
    np.testing.assert_allclose(z, z.T)


def test_embedding_scatter_carries_clip_ids_and_highlight():
    pts = pd.DataFrame({"clip": ["blues.00000", "rock.00001", "rock.00002"],
                        "genre": ["blues", "rock", "rock"], "artist": ["A", "B", ""],
                        "title": ["t", "u", "v"], "split": ["test", "excluded", "train"],
                        "x": [0.0, 1.0, 2.0], "y": [1.0, 0.0, 2.0]})
    fig = plots.embedding_scatter(pts, "x", "y", highlight=pts["split"] == "excluded")
    names = [t.name for t in fig.data]
    assert names == ["blues", "rock", "highlighted"]
    assert fig.data[1].customdata[0][0] == "rock.00001"
    assert list(fig.data[2].customdata[:, 0]) == ["rock.00001"]
    assert "artist" in fig.data[0].hovertemplate and "title" in fig.data[0].hovertemplate


def test_protocol_gap_draws_both_protocols_and_gap():
    df = pd.DataFrame({"model": ["a", "b"], "h": [0.5, 0.6], "r": [0.7, 0.75]})
    fig = plots.protocol_gap(df, honest="h", optimistic="r")
    dots = [t for t in fig.data if t.mode == "markers"]
    assert len(dots) == 2
    np.testing.assert_allclose(dots[1].customdata, [0.2, 0.15])
    assert len([t for t in fig.data if t.mode == "lines"]) == 2


def test_confusion_heatmap_row_normalised():
    cm = np.array([[8, 2], [0, 0]])
    fig = plots.confusion_heatmap(cm, ["a", "b"])
    z = np.asarray(fig.data[0].z)
    np.testing.assert_allclose(z, [[0.8, 0.2], [0.0, 0.0]])
    raw = plots.confusion_heatmap(cm, ["a", "b"], normalize=False)
    np.testing.assert_allclose(np.asarray(raw.data[0].z), cm)
    with pytest.raises(ValueError):
        plots.confusion_heatmap(cm, ["a", "b", "c"])


def test_probability_bars_sorted_best_on_top():
    probs = dict(zip(GENRES, np.linspace(0.0, 0.2, 10)))
    fig = plots.probability_bars(probs, top=3)
    assert list(fig.data[0].y) == ["pop", "reggae", "rock"]  # drawn bottom-up: best last


def test_timeline_stacks_one_trace_per_genre_and_checks_shape():
    p = np.full((4, 10), 0.1)
    fig = plots.timeline([0, 3, 6, 9], p, GENRES, segment_s=3.0)
    assert len(fig.data) == 10
    np.testing.assert_allclose(fig.data[0].x, [1.5, 4.5, 7.5, 10.5])
    with pytest.raises(ValueError):
        plots.timeline([0, 3], p, GENRES)


def test_waveform_envelope_is_small_and_bounds_signal():
    sr = 22050
    y = np.sin(2 * np.pi * 440 * np.arange(sr * 30) / sr).astype(np.float32)
    fig = plots.waveform(y, sr, max_points=1000)
    hi, lo = np.asarray(fig.data[0].y), np.asarray(fig.data[1].y)
    assert len(hi) <= 1000
    assert hi.max() <= 1.0 and lo.min() >= -1.0 and hi.max() > 0.99
    assert fig.data[0].x[-1] == pytest.approx(30, abs=0.1)


def test_spectrogram_downsamples_and_clips_dynamic_range():
    db = np.linspace(-100, 0, 128 * 5000, dtype=np.float32).reshape(128, 5000)
    fig = plots.spectrogram(db, 22050, 512, max_frames=1000, top_db=80)
    z = np.asarray(fig.data[0].z)
    assert z.shape[0] == 128 and z.shape[1] <= 1000
    assert fig.data[0].zmax == pytest.approx(z.max()) and fig.data[0].zmin == pytest.approx(z.max() - 80)


def test_per_genre_f1_and_cost_chart():
    f1 = pd.DataFrame([[0.5] * 10, [0.7] * 10], index=["A", "B"], columns=list(GENRES))
    fig = plots.per_genre_f1(f1)
    assert np.asarray(fig.data[0].z).shape == (2, 10)
    costs = pd.DataFrame({"model": ["A", "B"], "accuracy": [0.5, 0.6], "latency_ms": [1.0, 10.0],
                          "size_bytes": [1e3, 1e6]})
    fig = plots.cost_chart(costs)
    assert list(fig.data[0].text) == ["A", "B"]


def test_no_colour_collides_with_streamlit_theme_placeholders():
    """Streamlit's front end rewrites "#000001".."#000010" (its theme placeholders) in any figure."""
    placeholders = {f"#{i:06x}" for i in range(1, 17)} | {f"#{i:06d}" for i in range(1, 11)}
    fig = plots.spectrogram(np.zeros((4, 4)), 22050, 512)
    used = {c.lower() for _, c in fig.data[0].colorscale} | set(plots.PALETTE)
    assert not used & placeholders


def test_correlation_heatmap_labels_every_feature(table):
    fig = plots.correlation_heatmap(table, FEATURE_COLUMNS)
    assert list(fig.layout.xaxis.ticktext) == list(FEATURE_COLUMNS)
    assert list(fig.layout.yaxis.ticktext) == list(FEATURE_COLUMNS)
    assert fig.layout.height >= 16 * 57  # room for 57 readable labels


def test_tempo_hover_is_rounded_and_outliers_name_their_clip():
    from genre.app.dashboard import shipped_dataset

    t = shipped_dataset()
    fig = plots.feature_by_genre(t, "tempo")
    blues = fig.data[0]
    assert blues.yhoverformat == ".1f"
    assert blues.hovertext[0] == "blues.00000: " + (t.loc["blues.00000", "artist"] or "unknown artist") \
        + " - " + (t.loc["blues.00000", "title"] or "untitled")


def test_per_genre_f1_shows_na_and_counts():
    f1 = pd.DataFrame({g: [0.5, 0.7] for g in GENRES}, index=["A", "B"])
    f1["jazz"] = np.nan
    counts = {g: 10 for g in GENRES} | {"jazz": 0}
    fig = plots.per_genre_f1(f1, counts=counts)
    j = list(GENRES).index("jazz")
    assert [row[j] for row in fig.data[0].text] == ["n/a", "n/a"]
    assert fig.data[0].x[j] == "jazz<br>n = 0"


def test_timeline_hover_gives_clock_time_and_mark_point_adds_a_star():
    p = np.full((3, 10), 0.1)
    fig = plots.timeline([0, 3, 63], p, GENRES)
    assert list(fig.data[0].customdata) == [0.0, 3.0, 63.0]
    assert plots.clock(63.4) == "1:03"
    pts = pd.DataFrame({"clip": ["a"], "genre": ["rock"], "x": [0.0], "y": [0.0]})
    fig = plots.mark_point(plots.embedding_scatter(pts, "x", "y"), 1.0, 2.0)
    assert fig.data[-1].marker.symbol == "star" and fig.data[-1].x == (1.0,)
    note = fig.layout.annotations[-1]  # the label: a boxed callout on the star, above any cluster
    assert (note.x, note.y) == (1.0, 2.0) and "your recording" in note.text and note.showarrow


def test_training_curves_one_line_per_series_and_fold():
    c = pd.DataFrame({"fold": [0, 0, 1, 1, 0, 0], "epoch": [1, 2, 1, 2, 1, 2],
                      "series": ["loss"] * 4 + ["val_accuracy"] * 2, "value": [1, .5, 1, .6, .3, .5]})
    fig = plots.training_curves(c)
    assert len(fig.data) == 3
    assert {t.yaxis for t in fig.data} == {"y", "y2"}


def test_training_curves_train_vs_validation_panels_and_no_seconds():
    c = pd.DataFrame({"epoch": [1, 2, 1, 2, 2, 1, 2, 1, 2],
                      "series": ["loss"] * 2 + ["accuracy"] * 2 + ["val_loss"] + ["val_accuracy"] * 2
                      + ["epoch_seconds"] * 2,
                      "value": [1.0, 0.8, 0.3, 0.5, 0.9, None, 0.4, 5.0, 6.0]}).dropna()
    fig = plots.training_curves(c)
    got = {(t.name, t.yaxis): list(t.y) for t in fig.data}
    assert got == {("train", "y"): [1.0, 0.8], ("validation", "y"): [0.9],
                   ("train", "y2"): [0.3, 0.5], ("validation", "y2"): [0.4]}   # seconds not drawn
    assert [a.text for a in fig.layout.annotations] == ["Loss", "Accuracy"]


def test_waveform_envelope_draws_given_bounds():
    from genre.app.analysis import envelope

    y = np.sin(np.linspace(0, 100, 50_000)).astype(np.float32)
    t, lo, hi = envelope(y, 22050, points=500)
    assert len(t) <= 500 and (lo <= hi).all() and hi.max() <= 1.0
    fig = plots.waveform_envelope(t, lo, hi)
    assert len(fig.data) == 2
