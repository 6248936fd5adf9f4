"""Parquet cache of the 57 clip features, keyed by the audio's content and the extractor version.

A row is identified by the SHA-256 of the file's bytes and ``genre.features.EXTRACTOR_VERSION``:
renaming or moving a file keeps its cache entry, editing the audio or changing the extractor
(a version bump) does not. The cache is one Parquet file, ``config.CACHE_DIR / "features.parquet"``
by default, rewritten atomically after each batch.

Examples
--------
>>> from genre.training.cache import extract_many
>>> df = extract_many(["a.wav", "b.flac"], n_jobs=2)   # doctest: +SKIP
>>> df.loc[:, "tempo"]                                  # doctest: +SKIP
"""

from __future__ import annotations

import hashlib
import os
import tempfile
from pathlib import Path
from typing import Iterable, Sequence

import numpy as np
import pandas as pd

from genre import config
from genre.config import FEATURE_COLUMNS
from genre.errors import AudioError, GenreError

#: Columns stored beside the features.
KEY_COLUMNS: tuple[str, ...] = ("sha256", "extractor_version")
META_COLUMNS: tuple[str, ...] = ("duration_s", "truncated")
_CHUNK = 1 << 20


def default_path() -> Path:
    """Where the cache lives: ``config.CACHE_DIR / "features.parquet"`` (read at call time)."""
    return Path(config.CACHE_DIR) / "features.parquet"


def extractor_version() -> str:
    """The current ``genre.features.EXTRACTOR_VERSION`` (imported lazily: librosa is slow to import)."""
    from genre import features

    return str(features.EXTRACTOR_VERSION)


def file_sha256(path: str | os.PathLike) -> str:
    """SHA-256 (hex) of a file's bytes.

    Raises
    ------
    AudioError
        If the file does not exist or cannot be read.
    """
    h = hashlib.sha256()
    try:
        with open(path, "rb") as fh:
            for block in iter(lambda: fh.read(_CHUNK), b""):
                h.update(block)
    except FileNotFoundError:
        raise AudioError(f"File not found: {path}.") from None
    except IsADirectoryError:
        raise AudioError(f"{path} is a folder, not an audio file.") from None
    except OSError as exc:
        raise AudioError(f"Could not read {path}: {exc.strerror or exc}.") from None
    return h.hexdigest()


class FeatureCache:
    """The on-disk table of cached feature rows.

    Parameters
    ----------
    path : path-like, optional
        Parquet file; defaults to :func:`default_path`.
    version : str, optional
        Extractor version the lookups are for; defaults to the current ``EXTRACTOR_VERSION``.
        Rows stored under any other version are invisible (and dropped on the next write).
    """

    def __init__(self, path: str | os.PathLike | None = None, version: str | None = None):
        self.path = Path(path) if path is not None else default_path()
        self.version = str(version) if version is not None else extractor_version()
        self._table = self._read()

    # -- storage ---------------------------------------------------------------------------
    def _empty(self) -> pd.DataFrame:
        cols = list(KEY_COLUMNS) + list(META_COLUMNS) + list(FEATURE_COLUMNS)
        return pd.DataFrame(columns=cols).set_index("sha256")

    def _read(self) -> pd.DataFrame:
        if not self.path.exists():
            return self._empty()
        try:
            df = pd.read_parquet(self.path)
        except Exception:  # a damaged cache is not the user's problem: start again
            return self._empty()
        missing = set(KEY_COLUMNS) | set(FEATURE_COLUMNS)
        if not missing <= set(df.columns):
            return self._empty()
        df = df[df["extractor_version"].astype(str) == self.version]
        return df.drop_duplicates("sha256", keep="last").set_index("sha256")

    def __len__(self) -> int:
        return len(self._table)

    def __contains__(self, sha: str) -> bool:
        return sha in self._table.index

    def get(self, sha: str) -> pd.Series | None:
        """The cached row (features + metadata) for a content hash, or ``None``."""
        if sha not in self._table.index:
            return None
        return self._table.loc[sha]

    def put(self, rows: dict[str, dict]) -> None:
        """Add rows ``{sha256: {feature/meta column: value}}`` and write the file atomically."""
        if not rows:
            return
        new = pd.DataFrame.from_dict(rows, orient="index")
        new.index.name = "sha256"
        new["extractor_version"] = self.version
        # Re-read first so that rows written meanwhile by another process are kept.
        current = self._read()
        cols = list(self._empty().columns)
        parts = [t for t in (current[~current.index.isin(new.index)], new[cols]) if len(t)]
        table = pd.concat(parts)[cols]
        table = table.astype({"extractor_version": str, "truncated": bool, "duration_s": float,
                              **{c: float for c in FEATURE_COLUMNS}})
        self._write(table)
        self._table = table

    def _write(self, table: pd.DataFrame) -> None:
        """Write the table atomically; if that fails, say once that caching is off and go on."""
        tmp = None
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            fd, tmp = tempfile.mkstemp(prefix=".features-", suffix=".parquet", dir=self.path.parent)
            os.close(fd)
            table.reset_index().to_parquet(tmp, index=False)
            os.replace(tmp, self.path)
        except OSError as exc:  # full disk, read-only folder: keep the rows in memory, go on
            if tmp is not None:
                try:
                    os.unlink(tmp)
                except OSError:
                    pass
            config.caching_off(f"The feature cache {self.path}", exc)


def _extract_one(path: str) -> dict:
    """Decode one file and compute its 57 clip features (runs in a worker)."""
    from genre import audio, features

    sig = audio.load(path)
    x = np.asarray(features.clip_features(sig.y, sig.sr), dtype=np.float64)
    row = dict(zip(FEATURE_COLUMNS, x.tolist()))
    row["duration_s"] = float(sig.duration)
    row["truncated"] = bool(sig.truncated)
    return row


def _safe_extract(path: str) -> tuple[dict | None, str | None]:
    try:
        return _extract_one(path), None
    except GenreError as exc:
        return None, str(exc)
    except ValueError as exc:  # the extractor refused the decoded signal
        return None, f"Features could not be computed for {path}: {exc}"
    except Exception as exc:  # a bug: reported against this file, the batch goes on
        return None, (f"Internal error ({type(exc).__name__}: {exc}) while computing the features "
                      f"of {path}; this is a bug in genre, please report it.")


def extract_many(paths: Iterable[str | os.PathLike], n_jobs: int = -1, *,
                 cache_path: str | os.PathLike | None = None, progress: bool = True,
                 errors: str = "collect") -> pd.DataFrame:
    """The 57 clip features of many audio files, computed in parallel and cached.

    Files whose content (SHA-256) is already in the cache for the current ``EXTRACTOR_VERSION``
    are not decoded again.

    Parameters
    ----------
    paths : iterable of path-like
        Audio files (any format ``genre.audio.load`` reads).
    n_jobs : int
        joblib workers for the files that miss the cache (``-1``: all cores).
    cache_path : path-like, optional
        Parquet cache file; defaults to ``config.CACHE_DIR / "features.parquet"``.
    progress : bool
        Show a tqdm progress bar on stderr.
    errors : {"collect", "raise"}
        ``"collect"``: files that fail are left out of the table and listed in
        ``df.attrs["errors"]`` as ``{path: message}``; ``"raise"``: the first failure raises.

    Returns
    -------
    pandas.DataFrame
        Index ``path`` (str, input order); columns ``sha256``, ``cached`` (bool: came from the cache),
        ``duration_s`` (s analysed), ``truncated`` and the 57 ``FEATURE_COLUMNS``.

    Raises
    ------
    AudioError
        With ``errors="raise"``, the first file that cannot be read or decoded.

    A cache that cannot be written (full disk, read-only folder) does not stop the work: the
    features are returned and a :class:`genre.config.CacheWarning` says once that caching is off.
    """
    if errors not in ("collect", "raise"):
        raise ValueError(f"errors must be 'collect' or 'raise', not {errors!r}")
    paths = [str(p) for p in paths]
    cache = FeatureCache(cache_path)
    failures: dict[str, str] = {}
    hashes: dict[str, str] = {}
    for p in paths:
        try:
            hashes[p] = file_sha256(p)
        except GenreError as exc:
            if errors == "raise":
                raise
            failures[p] = str(exc)

    todo: list[str] = []
    seen: set[str] = set()
    for p, sha in hashes.items():
        if sha not in cache and sha not in seen:
            todo.append(p)
            seen.add(sha)

    todo_set = set(todo)
    computed: dict[str, dict] = {}
    if todo:
        results = _run_parallel(todo, n_jobs=n_jobs, progress=progress)
        for p, (row, err) in zip(todo, results):
            if err is not None:
                if errors == "raise":
                    cache.put(computed)
                    # re-raise as the typed error it was
                    _extract_one(p)
                failures[p] = err
            else:
                computed[hashes[p]] = row
        cache.put(computed)

    records = []
    for p in paths:
        if p in failures or p not in hashes:
            continue
        sha = hashes[p]
        row = computed.get(sha)
        was_cached = row is None or p not in todo_set
        if row is None:
            cached_row = cache.get(sha)
            if cached_row is None:  # the same content failed under another name
                failures[p] = failures.get(next(q for q in todo if hashes[q] == sha), "failed")
                continue
            row = cached_row.to_dict()
        rec = {"path": p, "sha256": sha, "cached": bool(was_cached),
               "duration_s": float(row["duration_s"]), "truncated": bool(row["truncated"])}
        rec.update({c: float(row[c]) for c in FEATURE_COLUMNS})
        records.append(rec)
    cols = ["path", "sha256", "cached", "duration_s", "truncated", *FEATURE_COLUMNS]
    df = pd.DataFrame.from_records(records, columns=cols).set_index("path")
    df.attrs["errors"] = failures
    return df


def _run_parallel(paths: Sequence[str], n_jobs: int, progress: bool) -> list:
    """``_safe_extract`` over ``paths`` with joblib, in input order, with a tqdm bar."""
    from tqdm.auto import tqdm

    bar = tqdm(total=len(paths), desc="features", unit="file", disable=not progress)
    try:
        if n_jobs == 1 or len(paths) == 1:
            out = []
            for p in paths:
                out.append(_safe_extract(p))
                bar.update()
            return out
        from joblib import Parallel, delayed

        gen = Parallel(n_jobs=n_jobs, return_as="generator")(delayed(_safe_extract)(p) for p in paths)
        out = []
        for r in gen:
            out.append(r)
            bar.update()
        return out
    finally:
        bar.close()
