"""musicnn: the shipped weights' hashes, the input pipeline, zero-shot genres and embeddings on real
GTZAN audio through the ONNX network (the Keras 3 port against the original TF1 graph:
tests/test_networks.py)."""

from __future__ import annotations

import subprocess
import sys

import numpy as np
import pytest
import soundfile as sf

from genre import registry
from genre.models import musicnn
from genre.config import ROOT, SR, data_dir
from genre.errors import ModelError
from genre.training.datasets import GTZAN_GENRES as GENRES

AUDIO = data_dir() / "audio"


def _clip(genre: str, idx: int) -> np.ndarray:
    from genre.audio import load

    return load(AUDIO / genre / f"{genre}.{idx:05d}.flac").y


def test_import_is_cheap():
    code = "import sys, genre.models.musicnn; assert 'tensorflow' not in sys.modules, 'TF imported'"
    subprocess.run([sys.executable, "-c", code], check=True, cwd=ROOT)


def test_labels_match_fixture(ref):
    assert tuple(ref["labels"]) == musicnn.MSD_LABELS


def test_input_pipeline_matches_reference(ref):
    y, sr = sf.read(AUDIO / "blues" / "blues.00000.flac", dtype="float32")
    start, seconds = float(ref["start_s"]), float(ref["seconds"])
    piece = y[int(round(start * sr)):int(round((start + seconds) * sr))]
    starts, X = musicnn.patches(piece, sr)
    assert X.shape == ref["patches"].shape
    np.testing.assert_allclose(X, ref["patches"], atol=1e-3)
    np.testing.assert_allclose(starts, np.arange(len(X)) * musicnn.PATCH_SECONDS)
    # 16 kHz input is used as is
    _, X16 = musicnn.patches(ref["y16"], musicnn.MUSICNN_SR)
    np.testing.assert_allclose(X16, ref["patches"], atol=1e-3)


def test_weights_hash_matches_manifest():
    man = registry.verify("musicnn")
    folder = registry.model_dir("musicnn")
    assert man["kind"] == "musicnn" and man["input"] == "audio"
    assert set(man["files"]) == {musicnn.WEIGHTS_FILE, "LICENSE", man["onnx"]}
    assert man["onnx"] == "msd_musicnn.onnx"
    # the manifest describes the mapping the code uses (re-run scripts/convert_musicnn.py if not)
    assert man["genre_tags"] == {g: list(t) for g, t in musicnn.GENRE_TAGS.items()}
    assert man["tags"] == list(musicnn.MSD_LABELS)
    for fname, digest in man["files"].items():
        assert registry.sha256(folder / fname) == digest
    assert "ISC" in (folder / "LICENSE").read_text() or "Permission to use" in (folder / "LICENSE").read_text()


def test_zero_shot_mapping_is_explicit_and_normalised():
    assert set(musicnn.GENRE_TAGS) == set(GENRES)
    for g, tags in musicnn.GENRE_TAGS.items():
        assert set(tags) <= set(musicnn.MSD_LABELS), g
    rng = np.random.default_rng(0)
    P = rng.uniform(size=(5, 50))
    Z = musicnn.zero_shot(P)
    assert Z.shape == (5, 10)
    np.testing.assert_allclose(Z.sum(axis=1), 1.0)
    for g in musicnn.UNMAPPED_GENRES:
        assert np.all(Z[:, GENRES.index(g)] == 0)
    # a clip tagged only "jazz" is jazz
    p = np.zeros(50)
    p[musicnn.MSD_LABELS.index("jazz")] = 0.9
    assert GENRES[int(musicnn.zero_shot(p).argmax())] == "jazz"


def test_zero_shot_real_classical_clip():
    model = registry.load("musicnn")
    y = _clip("classical", 0)
    p = model.predict_clip(y)
    assert p.shape == (10,) and abs(p.sum() - 1) < 1e-6
    assert GENRES[int(p.argmax())] == "classical"
    starts, P = model.predict_segments(y)
    assert P.shape == (len(starts), 10) and len(starts) == int(len(y) / SR // musicnn.PATCH_SECONDS)


def test_embeddings_shape_and_short_input():
    y = _clip("classical", 0)
    E = musicnn.embed(y)
    n = int(len(y) / SR // musicnn.PATCH_SECONDS)
    assert E.shape == (n, musicnn.EMBED_DIM) and np.isfinite(E).all()
    v = musicnn.embed_clip(y)
    assert v.shape == (2 * musicnn.EMBED_DIM,)
    np.testing.assert_allclose(v[:musicnn.EMBED_DIM], E.mean(axis=0), rtol=1e-5, atol=1e-6)
    # shorter than a patch (GTZAN excerpts are 2-3 s): one repeat-padded patch
    short = y[: int(2.0 * SR)]
    assert musicnn.embed(short).shape == (1, musicnn.EMBED_DIM)
    with pytest.raises(ModelError, match="musicnn_forward"):   # pooled mid-end: Keras port, offline
        musicnn.embed(short, layer="pool")
    t = musicnn.tags(short)
    assert set(t) == set(musicnn.MSD_LABELS) and all(0 <= v <= 1 for v in t.values())


def test_head_round_trip_through_registry(tmp_path):
    """A logistic regression on per-patch embeddings of one classical and one metal clip, saved
    with save_head and loaded through the registry, tells two other clips apart."""
    from sklearn.linear_model import LogisticRegression

    F, labels = [], []
    for g in ("classical", "metal"):
        E = musicnn.embed(_clip(g, 0))
        F += [musicnn.pool_embeddings(e[None]) for e in E]
        labels += [g] * len(E)
    head = LogisticRegression(max_iter=2000).fit(np.array(F), labels)
    musicnn.save_head("musicnn_test_head", head, {"display_name": "test", "classes": list(GENRES)},
                      models_dir=tmp_path)
    model = registry.load("musicnn_test_head", models_dir=tmp_path)
    assert isinstance(model, musicnn.MusicnnHead)
    man = registry.verify("musicnn_test_head", tmp_path)          # it ships the ONNX network, no .npz
    assert man["onnx"] == musicnn.ONNX_FILE and set(man["files"]) == {"head.skops", musicnn.ONNX_FILE, "LICENSE"}
    for g in ("classical", "metal"):
        p = model.predict_clip(_clip(g, 1))
        assert p.shape == (10,) and abs(p.sum() - 1) < 1e-6
        assert GENRES[int(p.argmax())] == g
        others = [i for i, c in enumerate(GENRES) if c not in ("classical", "metal")]
        assert np.all(p[others] == 0)


def test_manifest_without_onnx_is_a_clear_error(tmp_path):
    """A musicnn manifest made before the ONNX export (only the Keras port's .npz) does not load at
    prediction time; the error names the fix."""
    man = registry.verify("musicnn")
    folder = registry.model_dir("musicnn")
    old = {k: v for k, v in man.items() if k not in ("onnx", "onnx_info", "files", "name")}
    registry.save("musicnn_old", {f: folder / f for f in (musicnn.WEIGHTS_FILE, "LICENSE")}, old, tmp_path)
    with pytest.raises(ModelError, match="scripts/export_onnx.py") as err:
        registry.load("musicnn_old", tmp_path)
    assert "musicnn_old" in str(err.value) and "no ONNX export" in str(err.value)
    with pytest.raises(ModelError, match="musicnn_forward"):
        musicnn.forward(np.zeros((1, musicnn.PATCH_FRAMES, musicnn.MUSICNN_N_MELS), np.float32),
                        weights=folder / musicnn.WEIGHTS_FILE)
