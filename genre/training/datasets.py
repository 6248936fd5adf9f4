"""The GTZAN material as tables: the published features, the clips with audio, the splits, the artists.

Every loader is told where the data lives (``data_dir`` argument, default
:func:`genre.config.data_dir`, i.e. ``GENRE_DATA_DIR`` or ``../shared/gtzan``)
and raises :class:`genre.errors.DataError` with a readable message when a file
is missing or malformed.

Clip ids are the GTZAN names without extension, e.g. ``blues.00000``.

Sources
-------
- ``features_30_sec.csv``: the published 57-feature table (Kaggle release), 1000 rows.
- ``clips.csv``: the index of the clips whose audio is available here (full clips and excerpts).
- ``splits/{train,valid,test}_filtered.txt``: the fault-filtered, artist-conscious split of
  Kereliuk, Sturm & Larsen (2015).
- ``GTZANindex.txt``: Bob L. Sturm's (2012) artist/title index of GTZAN.
"""

from __future__ import annotations

import re
from functools import lru_cache
from pathlib import Path

import numpy as np
import pandas as pd

from genre.config import FEATURE_COLUMNS, data_dir as _default_data_dir
from genre.errors import DataError

#: The ten GTZAN genres, in the order of the GTZAN models' probability columns. GTZAN's taxonomy is
#: the shipped default, not the only one: a model's classes are in its manifest, and only this loader
#: and the pretrained networks' zero-shot tag mapping (``genre.models.musicnn.GENRE_TAGS``) name them.
GTZAN_GENRES: tuple[str, ...] = (
    "blues", "classical", "country", "disco", "hiphop",
    "jazz", "metal", "pop", "reggae", "rock",
)
#: What a label name may look like: letters, digits, ``_`` and ``-``, starting with a letter or digit,
#: at most 64 characters (it becomes a JSON key, a table column and part of file names).
LABEL_PATTERN: str = r"^[A-Za-z0-9][A-Za-z0-9_\-]{0,63}$"
#: Fewest labels a dataset may have.
MIN_LABELS: int = 2

#: Split names of the fault-filtered protocol, in order; clips in none of them are ``excluded``.
SPLITS: tuple[str, ...] = ("train", "valid", "test")
#: File extensions :func:`scan_folder` treats as audio.
AUDIO_EXTENSIONS: tuple[str, ...] = (".wav", ".au", ".flac", ".mp3", ".ogg", ".opus", ".m4a", ".aac", ".aiff", ".aif")

__all__ = [
    "GTZAN_GENRES", "LABEL_PATTERN", "MIN_LABELS", "check_label", "labelled_folder", "check_folds", "SPLITS", "AUDIO_EXTENSIONS", "clip_id", "published_table", "clips_index", "split_lists",
    "artist_index", "artist_groups", "scan_folder", "dataset_table",
]


def _root(data_dir: str | Path | None) -> Path:
    root = Path(data_dir) if data_dir is not None else _default_data_dir()
    if not root.is_dir():
        raise DataError(
            f"GTZAN data folder not found: {root}. Set GENRE_DATA_DIR to the folder holding "
            "features_30_sec.csv, clips.csv, splits/ and GTZANindex.txt.")
    return root


def _file(root: Path, name: str) -> Path:
    path = root / name
    if not path.is_file():
        raise DataError(f"Missing GTZAN file: {path}. The data folder {root} is incomplete.")
    return path


def clip_id(name: str) -> str:
    """Normalise a GTZAN file name to its clip id.

    ``'blues/blues.00029.wav'``, ``'blues.00029.au'``, ``'blues.00029'`` all give ``'blues.00029'``.
    """
    base = str(name).strip().replace("\\", "/").rsplit("/", 1)[-1]
    parts = base.split(".")
    # genre.NNNNN[.ext]
    if len(parts) >= 2 and parts[1].isdigit():
        return f"{parts[0]}.{parts[1]}"
    return base.rsplit(".", 1)[0] if "." in base else base


@lru_cache(maxsize=4)
def _published_table(root: Path) -> pd.DataFrame:
    path = _file(root, "features_30_sec.csv")
    raw = pd.read_csv(path)
    missing = [c for c in ("filename", "label", *FEATURE_COLUMNS) if c not in raw.columns]
    if missing:
        raise DataError(f"{path} lacks columns {missing[:5]}{'...' if len(missing) > 5 else ''}.")
    table = raw[list(FEATURE_COLUMNS)].astype("float64")
    table.index = pd.Index([clip_id(f) for f in raw["filename"]], name="clip")
    table["genre"] = raw["label"].astype(str).to_numpy()
    if table.index.duplicated().any():
        raise DataError(f"{path} has duplicate clips: {list(table.index[table.index.duplicated()][:5])}.")
    bad = sorted(set(table["genre"]) - set(GTZAN_GENRES))
    if bad:
        raise DataError(f"{path} has unknown genre labels {bad}.")
    return table


def published_table(data_dir: str | Path | None = None) -> pd.DataFrame:
    """The published GTZAN feature table.

    Returns
    -------
    DataFrame
        Index ``clip`` (e.g. ``blues.00000``), the 57 :data:`~genre.config.FEATURE_COLUMNS`
        (float64) and ``genre`` (str). 1000 rows for the real GTZAN.
    """
    return _published_table(_root(data_dir)).copy()


def clips_index(data_dir: str | Path | None = None) -> pd.DataFrame:
    """The index of clips with audio here (``clips.csv``), with ``path`` made absolute.

    Returns
    -------
    DataFrame
        One row per clip: ``clip, genre, path, kind ('full'|'excerpt'), sample_rate (Hz),
        duration_s (s), split, artist, title, source``. Blank artist/title are ``""``.
    """
    root = _root(data_dir)
    path = _file(root, "clips.csv")
    df = pd.read_csv(path, dtype={"clip": str, "genre": str, "path": str, "kind": str,
                                  "split": str, "artist": str, "title": str, "source": str})
    need = {"clip", "genre", "path", "kind"}
    if not need <= set(df.columns):
        raise DataError(f"{path} lacks columns {sorted(need - set(df.columns))}.")
    for col in ("artist", "title", "source", "split"):
        if col in df.columns:
            df[col] = df[col].fillna("").astype(str).str.strip()
    df["path"] = [str((root / p).resolve()) for p in df["path"]]
    return df.reset_index(drop=True)


def split_lists(data_dir: str | Path | None = None) -> dict[str, list[str]]:
    """The fault-filtered split (Kereliuk, Sturm & Larsen 2015).

    Returns
    -------
    dict
        ``{'train': [...], 'valid': [...], 'test': [...]}`` of clip ids (443 / 197 / 290 clips),
        in file order.
    """
    root = _root(data_dir)
    out: dict[str, list[str]] = {}
    for split in SPLITS:
        path = _file(root, f"splits/{split}_filtered.txt")
        lines = [ln.strip() for ln in path.read_text().splitlines()]
        out[split] = [clip_id(ln) for ln in lines if ln and not ln.startswith("#")]
    seen: dict[str, str] = {}
    for split, clips in out.items():
        for c in clips:
            if c in seen:
                raise DataError(f"Clip {c} is in both the {seen[c]} and {split} split lists.")
            seen[c] = split
    return out


def artist_index(data_dir: str | Path | None = None) -> pd.DataFrame:
    """Sturm's GTZAN index: DataFrame indexed by ``clip`` with ``artist`` and ``title`` (``""`` if blank)."""
    root = _root(data_dir)
    path = _file(root, "GTZANindex.txt")
    rows = []
    for ln in path.read_text(encoding="utf-8", errors="replace").splitlines():
        if not ln.strip() or ln.lstrip().startswith("#"):
            continue
        parts = [p.strip() for p in ln.split(":::")]
        if len(parts) < 2:
            raise DataError(f"Malformed line in {path}: {ln!r} (expected 'clip ::: artist ::: title').")
        title = ":::".join(parts[2:]).strip() if len(parts) > 2 else ""
        rows.append((clip_id(parts[0]), parts[1], title))
    df = pd.DataFrame(rows, columns=["clip", "artist", "title"]).set_index("clip")
    return df[~df.index.duplicated()]


def artist_groups(data_dir: str | Path | None = None) -> pd.Series:
    """Artist of every clip (Sturm's index), for grouped cross-validation.

    Clips with a blank artist get a group of their own (``'?' + clip``), so they are never
    assumed to share an artist with anything.
    """
    idx = artist_index(data_dir)
    artist = idx["artist"].astype(str)
    blank = artist.str.len() == 0
    artist = artist.where(~blank, "?" + artist.index.to_series())
    artist.name = "artist"
    return artist


def scan_folder(root: str | Path) -> pd.DataFrame:
    """Find the audio files of a folder laid out like GTZAN: ``<root>/<genre>/<clip>.<ext>``.

    Parameters
    ----------
    root : path
        Folder whose sub-folders are named after genres.

    Returns
    -------
    DataFrame
        Columns ``clip`` (file name without extension), ``genre`` (sub-folder name),
        ``path`` (absolute, str), sorted by genre then clip.

    Raises
    ------
    DataError
        If ``root`` is not a folder or holds no audio files in genre sub-folders.
    """
    root = Path(root)
    if not root.is_dir():
        raise DataError(f"Audio folder not found: {root}. Expected <root>/<genre>/<clip>.wav|flac|...")
    rows = []
    for sub in sorted(p for p in root.iterdir() if p.is_dir() and not p.name.startswith(".")):
        for f in sorted(sub.iterdir()):
            if f.is_file() and f.suffix.lower() in AUDIO_EXTENSIONS:
                rows.append((clip_id(f.name) if f.name.count(".") >= 2 else f.stem, sub.name,
                             str(f.resolve())))
    if not rows:
        raise DataError(f"No audio files found in {root}: expected <root>/<genre>/<clip>.<ext> "
                        f"with extensions {', '.join(AUDIO_EXTENSIONS)}.")
    return pd.DataFrame(rows, columns=["clip", "genre", "path"])


def dataset_table(data_dir: str | Path | None = None) -> pd.DataFrame:
    """Everything known about every clip of the published table, in one frame.

    Returns
    -------
    DataFrame
        Index ``clip``; the 57 features, ``genre``, ``artist`` (``""`` if unknown),
        ``title``, ``split`` (``train``/``valid``/``test``/``excluded``), ``has_audio`` (bool),
        ``audio_kind`` (``full``/``excerpt``/``""``), ``audio_path`` (absolute or ``""``),
        ``audio_sr`` (Hz, 0 if no audio).
    """
    table = published_table(data_dir)
    idx = artist_index(data_dir).reindex(table.index)
    table["artist"] = idx["artist"].fillna("").astype(str).to_numpy()
    table["title"] = idx["title"].fillna("").astype(str).to_numpy()
    split = pd.Series("excluded", index=table.index, dtype=object)
    for name, clips in split_lists(data_dir).items():
        unknown = sorted(set(clips) - set(table.index))
        if unknown:
            raise DataError(f"Split {name} names clips not in the published table: {unknown[:5]}.")
        split.loc[clips] = name
    table["split"] = split.astype(str).to_numpy()
    clips = clips_index(data_dir).drop_duplicates("clip").set_index("clip").reindex(table.index)
    table["has_audio"] = clips["path"].notna().to_numpy()
    table["audio_kind"] = clips["kind"].fillna("").astype(str).to_numpy()
    table["audio_path"] = clips["path"].fillna("").astype(str).to_numpy()
    sr = clips["sample_rate"] if "sample_rate" in clips.columns else pd.Series(np.nan, index=clips.index)
    table["audio_sr"] = pd.to_numeric(sr, errors="coerce").fillna(0).astype(int).to_numpy()
    return table


# --------------------------------------------------------------------------------- your own dataset

def check_label(name: object) -> str:
    """Return ``name`` (stripped) if it is a safe label name (:data:`LABEL_PATTERN`), else raise.

    Raises
    ------
    DataError
        With a suggested safe spelling.
    """
    text = str(name).strip()
    if not re.match(LABEL_PATTERN, text):
        safe = re.sub(r"[^A-Za-z0-9_\-]+", "_", text).strip("_-")[:64] or "label"
        raise DataError(f"Label {text!r} is not a safe name: use letters, digits, '_' or '-', starting "
                        f"with a letter or digit, at most 64 characters (for example {safe!r}).")
    return text


def _relative_clip(path: Path, root: Path) -> str:
    try:
        rel = path.resolve().relative_to(root.resolve())
    except ValueError:
        rel = Path(path.name)
    return rel.with_suffix("").as_posix()


def labelled_folder(root: str | Path | None, labels_csv: str | Path | None = None) -> pd.DataFrame:
    """The clips of your own labelled dataset, checked: ``<root>/<label>/<clip>.<ext>`` or a CSV.

    Parameters
    ----------
    root : path or None
        Folder whose sub-folders are the labels (any depth below each label folder). With
        ``labels_csv``, the folder relative paths in the CSV start from (``None``: the CSV's folder).
    labels_csv : path, optional
        CSV with columns ``path,label`` and optionally ``group``; it replaces the folder names. Clips
        sharing a ``group`` (an artist, an album, a recording session) are never split between
        training and test folds. Rows whose file does not exist are skipped and counted.

    Returns
    -------
    DataFrame
        ``clip`` (path relative to the root without extension, unique), ``label``, ``path``
        (absolute), ``group`` (the CSV's group, or the clip itself), sorted by label then clip.
        ``attrs["skipped"]``: ``{path: reason}`` of CSV rows that were left out.

    Raises
    ------
    DataError
        No such folder or CSV, no audio, a malformed CSV, an unsafe label name
        (:func:`check_label`), or fewer than :data:`MIN_LABELS` labels.
    """
    skipped: dict[str, str] = {}
    if labels_csv is None:
        if root is None:
            raise DataError("Give a data folder (<root>/<label>/<clip>.<ext>) or a labels CSV.")
        root = Path(root)
        if not root.is_dir():
            raise DataError(f"Data folder not found: {root}. Expected <root>/<label>/<clip>.<ext>.")
        rows = []
        for sub in sorted(p for p in root.iterdir() if p.is_dir() and not p.name.startswith(".")):
            files = sorted(f for f in sub.rglob("*") if f.is_file() and not f.name.startswith(".")
                           and f.suffix.lower() in AUDIO_EXTENSIONS)
            if files:
                label = check_label(sub.name)
                rows += [(_relative_clip(f, root), label, str(f.resolve())) for f in files]
        if not rows:
            raise DataError(f"No audio files found in {root}: expected <root>/<label>/<clip>.<ext> with "
                            f"extensions {', '.join(AUDIO_EXTENSIONS)}.")
        df = pd.DataFrame(rows, columns=["clip", "label", "path"])
        df["group"] = df["clip"]
    else:
        csv = Path(labels_csv)
        if not csv.is_file():
            raise DataError(f"Labels CSV not found: {csv}.")
        base = Path(root) if root is not None else csv.parent
        try:
            raw = pd.read_csv(csv, dtype=str, keep_default_na=False, skipinitialspace=True)
        except (pd.errors.ParserError, pd.errors.EmptyDataError, UnicodeDecodeError) as exc:
            raise DataError(f"{csv} is not a readable CSV ({exc}).") from None
        raw.columns = [str(c).strip().lower() for c in raw.columns]
        if not {"path", "label"} <= set(raw.columns):
            raise DataError(f"{csv} needs the columns path,label (and optionally group); it has "
                            f"{list(raw.columns)}.")
        rows = []
        for i, r in enumerate(raw.itertuples(index=False), start=2):
            p, label = str(r.path).strip(), str(r.label).strip()
            if not p or not label:
                skipped[f"{csv.name}:{i}"] = "empty path or label"
                continue
            f = Path(p) if Path(p).is_absolute() else base / p
            if not f.is_file():
                skipped[str(f)] = "no such file"
                continue
            group = str(getattr(r, "group", "") or "").strip()
            rows.append((_relative_clip(f, base), check_label(label), str(f.resolve()), group))
        if not rows:
            raise DataError(f"No existing audio file is listed in {csv} (paths are relative to {base}).")
        df = pd.DataFrame(rows, columns=["clip", "label", "path", "group"])
        clash = df.groupby("path")["label"].nunique()
        if (clash > 1).any():
            raise DataError(f"{csv} gives one file two labels: {list(clash.index[clash > 1][:3])}.")
        df = df.drop_duplicates("path")
        df["group"] = df["group"].where(df["group"] != "", df["clip"])
    if df["clip"].duplicated().any():  # same relative name with two extensions
        df["clip"] = [Path(p).name if d else c for c, p, d in
                      zip(df["clip"], df["path"], df["clip"].duplicated(keep=False))]
    labels = sorted(df["label"].unique())
    where = labels_csv or root
    if len(labels) < MIN_LABELS:
        raise DataError(f"Only one label ({labels[0]!r}) in {where}: a classifier needs at least "
                        f"{MIN_LABELS} labels (one sub-folder per label, or a label column in the CSV).")
    df = df.sort_values(["label", "clip"]).reset_index(drop=True)
    df.attrs["skipped"] = skipped
    return df


def check_folds(table: pd.DataFrame, n_folds: int, column: str = "label") -> None:
    """Check that every label of ``table`` can appear in each of ``n_folds`` group-aware folds.

    Each label needs at least ``n_folds`` distinct groups (clips, when no group was given).

    Raises
    ------
    DataError
        Naming every label that is too small, its count and what to do.
    """
    if n_folds < 2:
        raise DataError(f"Cross-validation needs at least 2 folds, not {n_folds}.")
    per = table.groupby(column)["group"].nunique()
    n_clips = table.groupby(column).size()
    small = per[per < n_folds]
    if len(small):
        grouped = bool((table["group"] != table["clip"]).any())
        unit = "groups" if grouped else "clips"
        what = "; ".join(f"{lab!r} has {int(n)} {unit}" + (f" ({int(n_clips[lab])} clips)" if grouped else "")
                         for lab, n in small.items())
        raise DataError(f"Too few examples for {n_folds}-fold cross-validation: {what}. Every label needs "
                        f"at least {n_folds} {unit}: add clips to it, drop or merge it, or lower --folds "
                        "(at least 2).")
