"""Shipped models: save, verify (SHA-256) and load, one folder and one manifest per model.

Layout (see ``docs/DESIGN.md``)::

    models/<name>/manifest.json     name, kind, classes, feature list, training data, metrics,
                                    files: {file name: sha256}, libraries, created, ...
    models/<name>/<files>           e.g. model.skops
    models/default.json             {"model": <name>, "protocol": ..., "metric": ..., "value": ...}
    models/results/<name>.json      evaluation results (genre.training.evaluate)

Loading verifies every file's hash first and refuses a missing, changed, unlisted or out-of-folder
file with a :class:`~genre.errors.ModelError`. scikit-learn objects are stored with skops; every
type a file needs beyond skops' own defaults must be in :data:`TRUSTED_TYPES`, an exact list kept
in this module (a manifest can narrow it, never widen it), so a model folder cannot make the
loader build or call anything that runs code. What the manifests guarantee and what they do not
is in ``docs/SECURITY.md``; ``GENRE_MODELS_SHA256`` pins the whole ``models/`` tree
(:func:`tree_sha256`).

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
    "pretrained_onnx": "genre.models.pretrained:load",
    "novelty": "genre.novelty:load_artifact",
}

#: THE list of types a skops file may need beyond skops' default-trusted ones (scikit-learn
#: estimators, NumPy/SciPy arrays and ufuncs, plain containers). Exact dotted names, no prefixes.
#: Built from ``skops.io.get_untrusted_types`` on every shipped ``.skops`` file, plus the names
#: the same classes get when saved from today's module paths. To ship a model that needs a new
#: type, add its exact name here, in the same commit as the model. Only *classes* of
#: scikit-learn, XGBoost, SciPy, NumPy or ``genre`` may be added: never a function, and never
#: anything from ``builtins``, ``operator``, ``os``, ``sys``, ``subprocess``, ``importlib``,
#: ``shutil``, ``pickle``... (``tests/test_registry.py::test_trusted_types_cannot_run_code``
#: fails if one is).
TRUSTED_TYPES: frozenset[str] = frozenset({
    # genre's own classes (old module paths first: model files saved before the layered layout)
    "genre.models.LogVarTransformer",
    "genre.models.feature_models.LogVarTransformer",
    "genre.stack.LogLinearPool",
    "genre.models.stack.LogLinearPool",
    "genre.novelty.NoveltyDetector",
    # scikit-learn internals that skops does not trust by default
    "sklearn.calibration._CalibratedClassifier",
    "sklearn.calibration._SigmoidCalibration",
    "sklearn.calibration._TemperatureScaling",
    "sklearn.ensemble._hist_gradient_boosting.predictor.TreePredictor",
    "sklearn.neural_network._stochastic_optimizers.AdamOptimizer",
    "sklearn.neural_network._stochastic_optimizers.SGDOptimizer",
    "sklearn.tree._tree.Tree",
    "sklearn.utils._bunch.Bunch",
    # XGBoost
    "xgboost.core.Booster",
    "xgboost.sklearn.XGBClassifier",
})

#: Manifest fields (besides ``files``) whose value names a file of the model; each must be a
#: key of ``files`` (so it is hashed and lies in the model folder). Loaders open such files
#: through :func:`model_file`.
FILE_FIELDS: tuple[str, ...] = ("weights", "onnx")

#: Manifest kinds that are not genre classifiers (cannot be the default model).
NON_CLASSIFIER_KINDS: frozenset[str] = frozenset({"novelty"})

#: Environment variable: when set, the SHA-256 of the whole models/ tree (:func:`tree_sha256`)
#: must equal it before any model is loaded (``python -m genre models --tree-sha256`` prints it).
PIN_ENV = "GENRE_MODELS_SHA256"

#: Old module paths of types that model files saved before the layered layout still name.
#: ``genre.models.LogVarTransformer`` resolves through ``genre.models.__getattr__``.
LEGACY_MODULES: dict[str, str] = {"genre.stack": "genre.models.stack"}

MANIFEST = "manifest.json"
DEFAULT_FILE = "default.json"
RESULTS_DIRNAME = "results"
_NAME_RE = re.compile(r"^[a-z0-9][a-z0-9_\-]*$")

__all__ = [
    "LOADERS", "TRUSTED_TYPES", "default_info", "FILE_FIELDS", "untrusted", "model_file", "tree_sha256",
    "check_pin", "sha256", "library_versions", "model_dir", "save",
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
            if fname.endswith(".skops"):  # refuse before anything reaches models/<name>/
                _refuse_untrusted(f"Model {name!r} ({fname})", _skops_types(fname, file=dst))
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


def untrusted(types) -> list[str]:
    """The names in ``types`` that are not in :data:`TRUSTED_TYPES` (sorted)."""
    return sorted(t for t in types if t not in TRUSTED_TYPES)


def _skops_types(name: str, data: bytes | None = None, file: Path | None = None) -> list[str]:
    import skops.io as sio

    try:
        return sorted(sio.get_untrusted_types(data=data) if data is not None
                      else sio.get_untrusted_types(file=file))
    except Exception as exc:  # corrupt zip, wrong format
        raise ModelError(f"{name} is not a readable skops model file ({exc}).") from exc


def _refuse_untrusted(what: str, types) -> None:
    bad = untrusted(types)
    if bad:
        raise ModelError(f"{what} uses types that are not trusted: {bad}. Only the exact types in "
                         "genre.registry.TRUSTED_TYPES may be loaded (see docs/SECURITY.md).")


def save_sklearn(name: str, estimator: Any, manifest: dict,
                 models_dir: str | Path | None = None, compression: int | None = None) -> Path:
    """Save a scikit-learn estimator (may contain an XGBClassifier) as ``model.skops``.

    The types skops will need to rebuild the estimator are computed here; any outside
    :data:`TRUSTED_TYPES` refuses the save (nothing is written). They are recorded in the
    manifest as ``trusted_types``, which :func:`load_skops` uses to narrow the list further.
    """
    import zipfile

    import skops.io as sio

    buf = io.BytesIO()
    kwargs = {} if compression is None else {"compression": compression}
    if compression is None:
        kwargs = {"compression": zipfile.ZIP_DEFLATED, "compresslevel": 9}
    sio.dump(estimator, buf, **kwargs)
    data = buf.getvalue()
    trusted = _skops_types(f"Model {name!r}", data=data)
    _refuse_untrusted(f"Model {name!r}", trusted)
    man = dict(manifest)
    man.setdefault("kind", "sklearn")
    man["trusted_types"] = trusted
    return save(name, {"model.skops": data}, man, models_dir)


def load_skops(path: str | Path, manifest: dict) -> Any:
    """Load a skops file, trusting only types in :data:`TRUSTED_TYPES` that the manifest recorded.

    Raises
    ------
    ModelError
        If the file needs a type outside :data:`TRUSTED_TYPES` or not recorded at save time.
    """
    import skops.io as sio

    path = Path(path)
    needed = _skops_types(str(path), file=path)
    _refuse_untrusted(str(path), needed)
    recorded = set(manifest.get("trusted_types") or [])
    unrecorded = [t for t in needed if t not in recorded]
    if unrecorded:
        raise ModelError(f"{path} needs types that are not trusted: {unrecorded} (not recorded in "
                         "its manifest at save time). Refusing to load it.")
    for old, new in LEGACY_MODULES.items():
        if any(t.startswith(old + ".") for t in needed) and old not in sys.modules:
            sys.modules[old] = importlib.import_module(new)
    try:
        return sio.load(path, trusted=list(needed))
    except Exception as exc:
        raise ModelError(f"Could not load {path}: {exc}") from exc


def model_file(model_dir: str | Path, manifest: dict, fname: str) -> Path:
    """Path of ``fname`` in ``model_dir``, refused unless the manifest's ``files`` lists it.

    Loaders open every file a manifest names (``weights``...) through this, so the file is one
    whose hash :func:`verify` checked and it lies inside the model folder.
    """
    files = manifest.get("files") or {}
    if not isinstance(fname, str) or fname not in files:
        raise ModelError(f"Model {manifest.get('name', '?')!r} names the file {fname!r}, which its "
                         "manifest's files do not list. Refusing to load it.")
    return _inside(Path(model_dir), fname, manifest.get("name", "?"))


def _inside(folder: Path, fname: str, name: str) -> Path:
    """``folder / fname`` if it is a plain file name that resolves inside ``folder``."""
    bad = (not isinstance(fname, str) or not fname or "/" in fname or "\\" in fname
           or fname in (".", "..") or "\x00" in fname or Path(fname).is_absolute())
    path = folder / fname if not bad else folder
    if not bad:
        try:
            bad = not path.resolve().is_relative_to(folder.resolve())
        except (OSError, RuntimeError):  # symlink loop
            bad = True
    if bad:
        raise ModelError(f"Model {name!r}: the manifest names {fname!r}, which is not a file inside "
                         f"its folder {folder}. Refusing to load it.")
    return path


def read_manifest(name: str, models_dir: str | Path | None = None) -> dict:
    """The manifest of model ``name`` (unverified). Unknown name -> :class:`ModelError`."""
    folder = model_dir(name, models_dir)
    path = folder / MANIFEST
    if not path.is_file():
        known = ", ".join(m["name"] for m in list_models(models_dir)) or "none"
        raise ModelError(f"Unknown model {name!r} (no {path}). Shipped models: {known}.")
    try:
        man = json.loads(path.read_text())
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise ModelError(f"Manifest {path} is not valid JSON ({exc}).") from exc
    if not isinstance(man, dict):
        raise ModelError(f"Manifest {path} is not a JSON object.")
    return man


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
    check_pin(models_dir)
    for fname, digest in files.items():
        path = _inside(folder, fname, name)
        if not path.is_file():
            raise ModelError(f"Model {name!r}: file {fname} is missing from {folder}.")
        if sha256(path) != digest:
            raise ModelError(f"Model {name!r}: {fname} does not match its recorded SHA-256 "
                             "(changed or corrupted). Refusing to load it; retrain or restore it.")
    extra = sorted(p.name for p in folder.iterdir()
                   if p.name != MANIFEST and not p.name.startswith(".") and p.name not in files)
    if extra:
        raise ModelError(f"Model {name!r}: unlisted files {extra} in {folder}. Refusing to load it.")
    for field in FILE_FIELDS:
        if field in man:
            model_file(folder, man, man[field])
    return man


def _resolve_loader(kind: str) -> Callable:
    spec = LOADERS.get(kind)
    if spec is None:
        raise ModelError(f"Unknown model kind {kind!r}; known kinds: {sorted(LOADERS)}.")
    module, func = spec.split(":")
    return getattr(importlib.import_module(module), func)


def _check_members(name: str, models_dir: str | Path | None) -> None:
    """Refuse an ensemble that lists itself, directly or through other members (a cycle)."""
    def walk(n: str, chain: tuple[str, ...]) -> None:
        try:
            members = read_manifest(n, models_dir).get("members") or []
        except ModelError:
            return  # a missing member is reported when it is loaded
        if not isinstance(members, list):
            raise ModelError(f"Model {n!r}: 'members' must be a list of model names.")
        for m in members:
            if m in chain or m == n:
                loop = " -> ".join((*chain, n, m)[(*chain, n).index(m):])
                raise ModelError(f"Model {name!r} cannot be loaded: its members form a cycle "
                                 f"({loop}); an ensemble may not contain itself.")
            walk(m, (*chain, n))

    walk(name, ())


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
    if man.get("members"):
        _check_members(name, models_dir)
    loader = _resolve_loader(man.get("kind", "sklearn"))
    return loader(model_dir(name, models_dir), man)


def tree_sha256(models_dir: str | Path | None = None) -> str:
    """SHA-256 over the whole models/ tree: every file's path (relative, ``/``-separated) and bytes.

    Hidden entries (names starting with ``.``, e.g. an interrupted save's temporary folder) are
    skipped, as the registry never reads them. A symlink counts as its target's path, plus its
    content when the target is a file (a deployment should not need links in models/).
    Pin the result in ``GENRE_MODELS_SHA256`` to refuse any change to models/.
    """
    root = _root(models_dir)
    if not root.is_dir():
        raise ModelError(f"No models folder at {root}.")
    h = hashlib.sha256()
    for dirpath, dirnames, filenames in os.walk(root, followlinks=False):
        dirnames[:] = sorted(d for d in dirnames if not d.startswith("."))
        links = [d for d in dirnames if os.path.islink(os.path.join(dirpath, d))]
        for fn in sorted(f for f in [*filenames, *links] if not f.startswith(".")):
            path = Path(dirpath) / fn
            rel = path.relative_to(root).as_posix().encode("utf-8", "surrogateescape")
            if path.is_symlink():
                h.update(rel + b"\0-> " + os.fsencode(os.readlink(path)) + b"\n")
                if not path.is_file():
                    continue
            h.update(rel + b"\0" + sha256(path).encode() + b"\n")
    return h.hexdigest()


_PIN_CHECKED: dict[str, str] = {}


def check_pin(models_dir: str | Path | None = None) -> None:
    """If ``GENRE_MODELS_SHA256`` is set, refuse to go on unless :func:`tree_sha256` matches it.

    Computed once per process and folder (the check runs before the first model is verified).
    """
    pinned = os.environ.get(PIN_ENV, "").strip().lower()
    if not pinned:
        return
    key = str(_root(models_dir).resolve())
    if key not in _PIN_CHECKED:
        _PIN_CHECKED[key] = tree_sha256(models_dir)
    if _PIN_CHECKED[key] != pinned:
        raise ModelError(f"The models folder {_root(models_dir)} does not match the pinned "
                         f"{PIN_ENV} (its tree hash is {_PIN_CHECKED[key]}): something in it was "
                         "changed, added or removed. Refusing to load any model.")


def list_models(models_dir: str | Path | None = None, kind: str | None = None) -> list[dict]:
    """Manifests of all shipped models (only those of loader ``kind`` if given), sorted by name
    (unverified)."""
    root = _root(models_dir)
    out = []
    if root.is_dir():
        for sub in sorted(root.iterdir()):
            mf = sub / MANIFEST
            if sub.is_dir() and not sub.name.startswith(".") and mf.is_file():
                try:
                    man = json.loads(mf.read_text())
                except json.JSONDecodeError:
                    continue
                if kind is None or man.get("kind") == kind:
                    out.append(man)
    return out


def default_name(models_dir: str | Path | None = None) -> str:
    """Name of the default model: ``models/default.json``, else :func:`choose_default` (not written)."""
    path = _root(models_dir) / DEFAULT_FILE
    if path.is_file():
        try:
            name = json.loads(path.read_text())["model"]
        except (json.JSONDecodeError, KeyError, TypeError, UnicodeDecodeError) as exc:
            raise ModelError(f"{path} is malformed ({exc}).") from exc
        if not isinstance(name, str):
            raise ModelError(f"{path} is malformed: 'model' must be a model name.")
        kind = read_manifest(name, models_dir).get("kind", "sklearn")
        if kind in NON_CLASSIFIER_KINDS:
            raise ModelError(f"{path} names {name!r}, which is a {kind} model, not a genre "
                             "classifier; name a classifier (python -m genre models lists them).")
        return name
    chosen = choose_default(models_dir=models_dir, write=False)
    return chosen["model"]


def default_info(models_dir: str | Path | None = None) -> dict:
    """``models/default.json`` as written (``model``, ``rule``, and ``why`` when the choice was made
    by hand), or ``{}`` if there is none or it cannot be read."""
    path = _root(models_dir) / DEFAULT_FILE
    try:
        info = json.loads(path.read_text())
    except (OSError, json.JSONDecodeError, UnicodeDecodeError):
        return {}
    return info if isinstance(info, dict) else {}


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
    shipped = {n: m for n, m in shipped.items() if m.get("kind", "sklearn") not in NON_CLASSIFIER_KINDS}
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
