"""One definition of every constant the package shares: feature columns, frame settings, limits, paths.

It also owns the writable cache folder's set-up: :data:`CACHE_DIR` holds numba's compiled
kernels and the feature cache. Caches are an optimisation: when one cannot be written (a full
disk, a read-only folder) the work goes on without it and :func:`caching_off` says so once.
"""

from __future__ import annotations

import functools
import os
import tempfile
import warnings
from pathlib import Path

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
#: The shipped models folder: the GTZAN models and the GTZAN material the dashboard shows
#: (``dataset.parquet``, ``embeddings.parquet``), and the non-music detector every folder can use.
SHIPPED_MODELS_DIR: Path = ROOT / "models"
#: The models folder in use: ``GENRE_MODELS_DIR`` (e.g. one trained on your own labels), else the shipped one.
MODELS_DIR: Path = Path(os.environ.get("GENRE_MODELS_DIR", SHIPPED_MODELS_DIR))
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


class CacheWarning(UserWarning):
    """A cache (numba's compiled kernels, the feature cache) cannot be written; work goes on."""


_CACHES_OFF: dict[str, str] = {}


def caching_off(what: str, exc: BaseException | str) -> None:
    """Say once per process and cache (a :class:`CacheWarning`) that ``what`` cannot be written.

    The caller carries on without the cache; :data:`caches_off` lists what was turned off.
    """
    if what in _CACHES_OFF:
        return
    reason = exc if isinstance(exc, str) else (getattr(exc, "strerror", None) or str(exc) or type(exc).__name__)
    _CACHES_OFF[what] = str(reason)
    warnings.warn(f"{what} cannot be written ({reason}): caching is off for this run; "
                  "the results are the same, only slower to get again.", CacheWarning, stacklevel=3)


def caches_off() -> dict[str, str]:
    """The caches turned off in this process: ``{what: reason}``."""
    return dict(_CACHES_OFF)


_NUMBA_GUARDED = False


def guard_numba_cache() -> None:
    """Make numba's cache best-effort in this process (idempotent; call before importing librosa).

    numba writes a kernel's cache right after compiling it, and lets any ``OSError`` of that
    write (no space left, a folder turned read-only) escape, failing the computation, even at
    ``import librosa`` (whose gufuncs compile on import). It already ignores such errors on
    Windows; here every failed cache write or read is reported once (:func:`caching_off`) and the
    freshly compiled kernel is used uncached.
    """
    global _NUMBA_GUARDED
    if _NUMBA_GUARDED:
        return
    import numba  # noqa: F401  (the package first: importing numba.core.caching alone is circular)
    from numba.core import caching

    save, load = caching.Cache.save_overload, caching.Cache.load_overload

    @functools.wraps(save)
    def save_overload(self, sig, data):
        try:
            return save(self, sig, data)
        except OSError as exc:
            caching_off(f"The numba kernel cache ({os.environ.get('NUMBA_CACHE_DIR') or self.cache_path})", exc)

    @functools.wraps(load)
    def load_overload(self, sig, target_context):
        try:
            return load(self, sig, target_context)
        except OSError as exc:
            caching_off(f"The numba kernel cache ({os.environ.get('NUMBA_CACHE_DIR') or self.cache_path})", exc)
            return None  # a miss: compile again

    caching.Cache.save_overload = save_overload
    caching.Cache.load_overload = load_overload
    _NUMBA_GUARDED = True


def numba_cache_safe(fn):
    """Decorator for functions that compile numba kernels (directly or through librosa): they
    run with :func:`guard_numba_cache` in force, so a cache that cannot be written never fails
    them; a cache folder found unwritable at start is reported at the first such call."""
    @functools.wraps(fn)
    def wrapper(*args, **kwargs):
        guard_numba_cache()
        while _PENDING:
            caching_off(*_PENDING.pop())
        return fn(*args, **kwargs)

    return wrapper


def _writable(path: Path) -> str | None:
    """None if files can be written in ``path`` (created if needed), else the reason."""
    try:
        path.mkdir(parents=True, exist_ok=True)
        with tempfile.TemporaryFile(dir=path) as fh:
            fh.write(b"\0" * 65536)
            fh.flush()
    except OSError as exc:
        return exc.strerror or str(exc)
    return None


def _init_numba_cache() -> None:
    # numba compiles librosa kernels on first use in every process; keep the cache between runs.
    # A cache folder that cannot be written is replaced by a private temporary one (numba needs
    # somewhere to put its files, or it refuses to compile cached kernels at all).
    if "NUMBA_CACHE_DIR" in os.environ:
        return
    path = CACHE_DIR / "numba"
    problem = _writable(path)
    if problem is None:
        os.environ["NUMBA_CACHE_DIR"] = str(path)
        return
    try:
        os.environ["NUMBA_CACHE_DIR"] = tempfile.mkdtemp(prefix="genre-numba-")
    except OSError:
        pass
    _PENDING.append((f"The numba kernel cache ({path})", problem))


_PENDING: list[tuple[str, str]] = []


_init_numba_cache()
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
os.environ.setdefault("TF_ENABLE_ONEDNN_OPTS", "0")
