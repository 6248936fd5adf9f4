"""Shipped models: save, verify (SHA-256) and load, one folder and one manifest per model.

Layout (see ``docs/DESIGN.md``)::

    models/<name>/manifest.json     name, kind, classes, feature list, training data, metrics,
                                    files: {file name: sha256}, libraries, created, ...
    models/<name>/<files>           e.g. model.skops
    models/default.json             {"model": <name>, "protocol": ..., "metric": ..., "value": ...}
    models/results/<name>.json      evaluation results (genre.training.evaluate)

Loading verifies every file's hash first and refuses a missing, changed or unlisted file with a
:class:`~genre.errors.ModelError`. scikit-learn objects are stored with skops; the types a file
needs are recorded at save time and checked again at load time against the manifest and an
allow-list of module prefixes, so a file can never make the loader build an arbitrary object.

Loaders are chosen by the manifest's ``kind`` through :data:`LOADERS` (``"module:function"``
strings imported lazily, so TensorFlow is imported only when a deep model is loaded).
"""

from __future__ import annotations

import datetime as _dt
import hashlib
import importlib
import io
import json
import os
import re
import shutil
import sys
import tempfile
from pathlib import Path
from typing import Any, Callable

from genre.config import MODELS_DIR
from genre.errors import ModelError

#: kind -> "module:function" of the loader, called as ``loader(model_dir: Path, manifest: dict)``.
LOADERS: dict[str, str] = {
    "sklearn": "genre.models.feature_models:load_feature_model",
    "keras": "genre.models.deep:load",
    "musicnn": "genre.models.musicnn:load_classifier",
    "stack": "genre.models.stack:load",
    "novelty": "genre.novelty:load_artifact",
}

#: Module prefixes a skops file may reference. Anything else is refused even if listed.
ALLOWED_TYPE_PREFIXES: tuple[str, ...] = (
    "sklearn.", "numpy.", "scipy.", "xgboost.", "genre.", "builtins.", "collections.",
    "_operator.", "operator.",
)

#: Old module paths of types that model files saved before the layered layout still name.
#: ``genre.models.LogVarTransformer`` resolves through ``genre.models.__getattr__``.
LEGACY_MODULES: dict[str, str] = {"genre.stack": "genre.models.stack"}

MANIFEST = "manifest.json"
DEFAULT_FILE = "default.json"
RESULTS_DIRNAME = "results"
_NAME_RE = re.compile(r"^[a-z0-9][a-z0-9_\-]*$")

__all__ = [
    "LOADERS", "ALLOWED_TYPE_PREFIXES", "sha256", "library_versions", "model_dir", "save",
    "save_sklearn", "load_skops", "verify", "read_manifest", "load", "list_models",
    "default_name", "choose_default",
]


def _root(models_dir: str | Path | None) -> Path:
    return Path(models_dir) if models_dir is not None else Path(MODELS_DIR)


def _check_name(name: str) -> str:
    if not isinstance(name, str) or not _NAME_RE.match(name) or name == RESULTS_DIRNAME:
        raise ModelError(f"Invalid model name {name!r}: use lower-case letters, digits, '_' or '-'.")
    return name


def sha256(path: str | Path) -> str:
    """SHA-256 hex digest of a file's bytes."""
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def library_versions(extra: tuple[str, ...] = ()) -> dict[str, str]:
    """Versions of the libraries a model file depends on (those importable here)."""
    from importlib import metadata

    out = {}
    for dist in ("numpy", "scikit-learn", "skops", "xgboost-cpu", "xgboost", "librosa", *extra):
        try:
            out[dist] = metadata.version(dist)
        except metadata.PackageNotFoundError:
            continue
    return out


def model_dir(name: str, models_dir: str | Path | None = None) -> Path:
    """Folder of model ``name`` (not checked for existence)."""
    return _root(models_dir) / _check_name(name)


def save(name: str, files: dict[str, Path | bytes], manifest: dict,
         models_dir: str | Path | None = None) -> Path:
    """Write a model's files and manifest to ``models/<name>/``, replacing what was there.

    Parameters
    ----------
    name : str
        Model name (folder name).
    files : dict
        File name -> source path or raw bytes.
    manifest : dict
        Manifest fields (see DESIGN.md); ``classes`` (the labels of the probability columns,
        in order) is required; ``name``, ``files``, ``created`` and ``libraries`` are filled in
        when absent (``files`` is always recomputed).

    Returns
    -------
    Path
        The model folder.
    """
    _check_name(name)
    if not files:
        raise ModelError(f"Model {name!r}: nothing to save.")
    classes = manifest.get("classes")
    if not isinstance(classes, (list, tuple)) or len(classes) < 2 or len(set(map(str, classes))) != len(classes):
        raise ModelError(f"Model {name!r}: the manifest must list its classes (two or more distinct labels, "
                         f"in probability-column order), not {classes!r}.")
    root = _root(models_dir)
    root.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{name}-", dir=root))
    os.chmod(tmp, 0o755)  # mkdtemp makes it private; models/ is read by everyone
    try:
        hashes = {}
        for fname, src in files.items():
            if "/" in fname or "\\" in fname or fname in (MANIFEST, "") or fname.startswith("."):
                raise ModelError(f"Invalid file name {fname!r} for model {name!r}.")
            dst = tmp / fname
            if isinstance(src, (bytes, bytearray)):
                dst.write_bytes(bytes(src))
            else:
                shutil.copyfile(src, dst)
            hashes[fname] = sha256(dst)
        man = dict(manifest)
        man["name"] = name
        man["files"] = hashes
        man.setdefault("display_name", name)
        man.setdefault("version", "1")
        man.setdefault("libraries", library_versions())
        man.setdefault("created", _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds"))
        (tmp / MANIFEST).write_text(json.dumps(man, indent=1, sort_keys=False) + "\n")
        dest = root / name
        if dest.exists():
            shutil.rmtree(dest)
        os.replace(tmp, dest)
        return dest
    finally:
        if tmp.exists():
            shutil.rmtree(tmp, ignore_errors=True)


def _type_allowed(t: str) -> bool:
    return any(t.startswith(p) for p in ALLOWED_TYPE_PREFIXES)


def save_sklearn(name: str, estimator: Any, manifest: dict,
                 models_dir: str | Path | None = None, compression: int | None = None) -> Path:
    """Save a scikit-learn estimator (may contain an XGBClassifier) as ``model.skops``.

    The types skops will need to rebuild the estimator are computed here and stored in the
    manifest as ``trusted_types``; :func:`load_skops` accepts exactly those (and only within
    :data:`ALLOWED_TYPE_PREFIXES`).
    """
    import zipfile

    import skops.io as sio

    buf = io.BytesIO()
    kwargs = {} if compression is None else {"compression": compression}
    if compression is None:
        kwargs = {"compression": zipfile.ZIP_DEFLATED, "compresslevel": 9}
    sio.dump(estimator, buf, **kwargs)
    data = buf.getvalue()
    trusted = sorted(sio.get_untrusted_types(data=data))
    bad = [t for t in trusted if not _type_allowed(t)]
    if bad:
        raise ModelError(f"Model {name!r} uses types outside the allow-list: {bad}.")
    man = dict(manifest)
    man.setdefault("kind", "sklearn")
    man["trusted_types"] = trusted
    return save(name, {"model.skops": data}, man, models_dir)


def load_skops(path: str | Path, manifest: dict) -> Any:
    """Load a skops file, trusting only the types the manifest recorded and the allow-list permits.

    Raises
    ------
    ModelError
        If the file needs a type not recorded at save time or outside the allow-list.
    """
    import skops.io as sio

    path = Path(path)
    try:
        needed = sio.get_untrusted_types(file=path)
    except Exception as exc:  # corrupt zip, wrong format
        raise ModelError(f"{path} is not a readable skops model file ({exc}).") from exc
    recorded = set(manifest.get("trusted_types") or [])
    refused = [t for t in needed if t not in recorded or not _type_allowed(t)]
    if refused:
        raise ModelError(f"{path} needs types that are not trusted: {refused}. Refusing to load it.")
    for old, new in LEGACY_MODULES.items():
        if any(t.startswith(old + ".") for t in needed) and old not in sys.modules:
            sys.modules[old] = importlib.import_module(new)
    try:
        return sio.load(path, trusted=list(needed))
    except Exception as exc:
        raise ModelError(f"Could not load {path}: {exc}") from exc


def read_manifest(name: str, models_dir: str | Path | None = None) -> dict:
    """The manifest of model ``name`` (unverified). Unknown name -> :class:`ModelError`."""
    folder = model_dir(name, models_dir)
    path = folder / MANIFEST
    if not path.is_file():
        known = ", ".join(m["name"] for m in list_models(models_dir)) or "none"
        raise ModelError(f"Unknown model {name!r} (no {path}). Shipped models: {known}.")
    try:
        return json.loads(path.read_text())
    except json.JSONDecodeError as exc:
        raise ModelError(f"Manifest {path} is not valid JSON ({exc}).") from exc


def verify(name: str, models_dir: str | Path | None = None) -> dict:
    """Check every file of model ``name`` against its manifest's SHA-256.

    Returns the manifest. Raises :class:`ModelError` for an unknown name, a missing file,
    a hash mismatch, or a file in the folder that the manifest does not list.
    """
    man = read_manifest(name, models_dir)
    folder = model_dir(name, models_dir)
    files = man.get("files")
    if not isinstance(files, dict) or not files:
        raise ModelError(f"Manifest of model {name!r} lists no files.")
    for fname, digest in files.items():
        path = folder / fname
        if not path.is_file():
            raise ModelError(f"Model {name!r}: file {fname} is missing from {folder}.")
        if sha256(path) != digest:
            raise ModelError(f"Model {name!r}: {fname} does not match its recorded SHA-256 "
                             "(changed or corrupted). Refusing to load it; retrain or restore it.")
    extra = sorted(p.name for p in folder.iterdir()
                   if p.name != MANIFEST and not p.name.startswith(".") and p.name not in files)
    if extra:
        raise ModelError(f"Model {name!r}: unlisted files {extra} in {folder}. Refusing to load it.")
    return man


def _resolve_loader(kind: str) -> Callable:
    spec = LOADERS.get(kind)
    if spec is None:
        raise ModelError(f"Unknown model kind {kind!r}; known kinds: {sorted(LOADERS)}.")
    module, func = spec.split(":")
    return getattr(importlib.import_module(module), func)


def load(name: str | None = None, models_dir: str | Path | None = None):
    """Verify and load a model; returns a Predictor (see DESIGN.md).

    Parameters
    ----------
    name : str or None
        Model name; ``None`` loads the default model (:func:`default_name`).
    """
    if name is None:
        name = default_name(models_dir)
    man = verify(name, models_dir)
    loader = _resolve_loader(man.get("kind", "sklearn"))
    return loader(model_dir(name, models_dir), man)


def list_models(models_dir: str | Path | None = None) -> list[dict]:
    """Manifests of all shipped models, sorted by name (unverified)."""
    root = _root(models_dir)
    out = []
    if root.is_dir():
        for sub in sorted(root.iterdir()):
            mf = sub / MANIFEST
            if sub.is_dir() and not sub.name.startswith(".") and mf.is_file():
                try:
                    out.append(json.loads(mf.read_text()))
                except json.JSONDecodeError:
                    continue
    return out


def default_name(models_dir: str | Path | None = None) -> str:
    """Name of the default model: ``models/default.json``, else :func:`choose_default` (not written)."""
    path = _root(models_dir) / DEFAULT_FILE
    if path.is_file():
        try:
            name = json.loads(path.read_text())["model"]
        except (json.JSONDecodeError, KeyError, TypeError) as exc:
            raise ModelError(f"{path} is malformed ({exc}).") from exc
        return name
    chosen = choose_default(models_dir=models_dir, write=False)
    return chosen["model"]


def choose_default(protocol: str = "filtered_holdout", metric: str = "accuracy", *,
                   input: str | None = None, family: str | None = None,
                   models_dir: str | Path | None = None, write: bool = True) -> dict:
    """Pick the default model from the leaderboard: the best shipped model on ``protocol``.

    Parameters
    ----------
    protocol, metric : str
        Leaderboard protocol and metric to maximise (ties broken by name).
    input : str, optional
        Only consider models whose manifest ``input`` equals this (e.g. ``"features57"``).
    family : str, optional
        Only consider models of this manifest ``family``.
    write : bool
        Write the choice to ``models/default.json``.

    Returns
    -------
    dict
        ``{"model", "protocol", "metric", "value", "chosen"}``, as written.
    """
    from genre.results import leaderboard

    root = _root(models_dir)
    shipped = {m["name"]: m for m in list_models(root)}
    board = leaderboard(root / RESULTS_DIRNAME)
    if board.empty:
        raise ModelError(f"No results in {root / RESULTS_DIRNAME}; train models first.")
    rows = board[(board["protocol"] == protocol) & board["model"].isin(list(shipped))]
    if input is not None:
        rows = rows[[shipped[m].get("input") == input for m in rows["model"]]]
    if family is not None:
        rows = rows[[shipped[m].get("family") == family for m in rows["model"]]]
    rows = rows.dropna(subset=[metric])
    if rows.empty:
        raise ModelError(f"No shipped model has a {metric} on {protocol}; cannot choose a default.")
    rows = rows.sort_values([metric, "model"], ascending=[False, True])
    best = rows.iloc[0]
    choice = {"model": str(best["model"]), "protocol": protocol, "metric": metric,
              "value": float(best[metric]),
              "chosen": _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds"),
              "rule": f"highest {metric} on {protocol} among shipped models"
                      + (f" with input={input}" if input else "")
                      + (f" and family={family}" if family else "")}
    if write:
        root.mkdir(parents=True, exist_ok=True)
        (root / DEFAULT_FILE).write_text(json.dumps(choice, indent=1) + "\n")
    return choice
