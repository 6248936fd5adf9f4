"""One definition of every constant the package shares: feature columns, frame settings, limits, paths."""

from __future__ import annotations

import os
from pathlib import Path

#: DEPRECATED, kept only for ``genre/app`` and ``pages/`` until they read classes from the model:
#: GTZAN's ten genres, the shipped models' classes. A model's classes are its manifest's ``classes``
#: (``Predictor.classes``); the GTZAN loader's copy is ``genre.training.datasets.GTZAN_GENRES``.
#: Nothing else in the package may use this (``tests/test_taxonomy.py``).
GENRES: tuple[str, ...] = (
    "blues", "classical", "country", "disco", "hiphop",
    "jazz", "metal", "pop", "reggae", "rock",
)

#: Sample rate (Hz) everything is analysed at, as in the published table.
SR: int = 22050
#: STFT size and hop (samples) of the published table (librosa defaults).
N_FFT: int = 2048
HOP_LENGTH: int = 512
#: Length (s) of the segments used for timelines and the deep models.
SEGMENT_SECONDS: float = 3.0
#: Shortest input accepted (s).
MIN_SECONDS: float = 3.0
#: Longest input analysed (s); longer inputs are cut to this and flagged.
MAX_SECONDS: float = float(os.environ.get("GENRE_MAX_SECONDS", 600))
#: Largest upload accepted (MB); matches .streamlit/config.toml server.maxUploadSize.
MAX_UPLOAD_MB: int = 200

#: The 57 columns of the published GTZAN feature table, in its order.
FEATURE_COLUMNS: tuple[str, ...] = (
    "chroma_stft_mean", "chroma_stft_var", "rms_mean", "rms_var",
    "spectral_centroid_mean", "spectral_centroid_var",
    "spectral_bandwidth_mean", "spectral_bandwidth_var",
    "rolloff_mean", "rolloff_var",
    "zero_crossing_rate_mean", "zero_crossing_rate_var",
    "harmony_mean", "harmony_var", "perceptr_mean", "perceptr_var", "tempo",
) + tuple(f"mfcc{i}_{s}" for i in range(1, 21) for s in ("mean", "var"))

#: Project root (the folder holding genre/, models/, app.py).
ROOT: Path = Path(__file__).resolve().parent.parent
#: Shipped, trained artifacts.
MODELS_DIR: Path = Path(os.environ.get("GENRE_MODELS_DIR", ROOT / "models"))
#: Shipped demo clips (short GTZAN excerpts and openly licensed samples).
DEMO_DIR: Path = ROOT / "demo"
#: Writable cache (feature Parquet cache, numba cache).
CACHE_DIR: Path = Path(os.environ.get("GENRE_CACHE_DIR", ROOT / ".cache"))


def data_dir() -> Path:
    """Folder holding the GTZAN material (``clips.csv``, ``features_30_sec.csv``, ``splits/``...).

    Set ``GENRE_DATA_DIR`` to point elsewhere; the default is ``../shared/gtzan`` beside the project.
    """
    return Path(os.environ.get("GENRE_DATA_DIR", ROOT.parent / "shared" / "gtzan"))


def samples_dir() -> Path:
    """Folder of the openly licensed non-GTZAN recordings (``../shared/samples`` by default)."""
    return Path(os.environ.get("GENRE_SAMPLES_DIR", ROOT.parent / "shared" / "samples"))


def _init_numba_cache() -> None:
    # numba compiles librosa kernels on first use in every process; keep the cache between runs.
    if "NUMBA_CACHE_DIR" not in os.environ:
        path = CACHE_DIR / "numba"
        try:
            path.mkdir(parents=True, exist_ok=True)
            os.environ["NUMBA_CACHE_DIR"] = str(path)
        except OSError:
            pass


_init_numba_cache()
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
os.environ.setdefault("TF_ENABLE_ONEDNN_OPTS", "0")
