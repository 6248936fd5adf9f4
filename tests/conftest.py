"""Shared test material: a small labelled dataset whose labels are not GTZAN's.

Built from ``../shared`` GTZAN audio: 4-s excerpts of full clips under three labels that are not
GTZAN genre names (one deliberately tiny), plus two corrupt files and a stray text file. Used by
``test_user_data`` (training on your own labels) and ``test_app`` (the dashboard on such a models
folder).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import soundfile as sf

def pytest_collection_finish(session):
    """Collecting must not import TensorFlow: the dashboard tests later import the WebRTC stack
    (pylibsrtp) in this process, and TensorFlow-then-pylibsrtp segfaults it. Skip a test module
    without TensorFlow by ``importlib.util.find_spec``, never by a module-level
    ``pytest.importorskip("tensorflow")``."""
    import sys

    if "tensorflow" in sys.modules:
        raise pytest.UsageError("A test module imported TensorFlow while pytest collected the tests; "
                                "import it inside the tests that need it.")


#: The original musicnn graph's outputs on real GTZAN patches (``scripts/musicnn_reference.py``).
MUSICNN_FIXTURE = Path(__file__).parent / "fixtures" / "musicnn_reference.npz"


@pytest.fixture(scope="session")
def ref():
    """The musicnn reference fixture as a dict of arrays (``test_musicnn``, ``test_networks``)."""
    with np.load(MUSICNN_FIXTURE) as z:
        return {k: z[k] for k in z.files}


#: label -> (GTZAN genre the excerpts come from, number of source clips, excerpts per clip)
USER_LAYOUT = {"strings": ("classical", 4, 2), "beats": ("hiphop", 4, 2), "tiny": ("metal", 2, 1)}
#: The labels, sorted (the order a model trained on them answers in).
USER_LABELS = sorted(USER_LAYOUT)
EXCERPT_S = 4.0


def _sources(genre: str, n: int) -> list[str]:
    from genre.training import datasets

    c = datasets.clips_index()
    rows = c[(c["genre"] == genre) & (c["kind"] == "full")].sort_values("clip")
    if len(rows) < n:
        pytest.skip(f"GTZAN audio not found (need {n} full {genre} clips in the data folder)")
    return list(rows["path"][:n])


def write_user_dataset(root: Path) -> tuple[Path, Path]:
    """``root/<label>/<clip>.wav`` excerpts, two corrupt files, and ``root/labels.csv``
    (``path,label,group``, the source clip as group). Returns ``(root, csv)``."""
    rows = []
    for label, (genre, n_src, per) in USER_LAYOUT.items():
        (root / label).mkdir()
        for src in _sources(genre, n_src):
            y, sr = sf.read(src, dtype="float32", always_2d=False)
            for k in range(per):
                a = int((3 + 10 * k) * sr)
                name = f"{label}/{src.rsplit('/', 1)[-1].split('.')[1]}_{k}.wav"
                sf.write(root / name, y[a:a + int(EXCERPT_S * sr)], sr)
                rows.append({"path": name, "label": label, "group": src.rsplit("/", 1)[-1]})
    (root / "strings" / "broken.wav").write_bytes(b"RIFF\x24\x00\x00\x00WAVEfmt " + b"\x00" * 20)
    (root / "beats" / "noise.mp3").write_bytes(np.random.default_rng(0).bytes(3000))
    (root / "notes.txt").write_text("not audio, not in a label folder")
    csv = root / "labels.csv"
    pd.DataFrame(rows).to_csv(csv, index=False)
    return root, csv


@pytest.fixture(scope="session")
def user_dataset(tmp_path_factory) -> tuple[Path, Path]:
    """:func:`write_user_dataset` once per test run: ``(root, labels.csv)``."""
    return write_user_dataset(tmp_path_factory.mktemp("my_labels"))


@pytest.fixture(scope="session", autouse=True)
def _join_dashboard_warmup():
    """Let the dashboard's background warm-up (``genre.app.analysis.start_warmup``, started by any
    in-process AppTest of ``app.py``) finish before the interpreter exits: a process that exits
    while that daemon thread is inside onnxruntime's native code aborts (``terminate called
    without an active exception``, exit 134), which a short run of one AppTest hits."""
    yield
    import threading

    for t in threading.enumerate():
        if t.name == "genre-warmup":
            t.join(timeout=300)
