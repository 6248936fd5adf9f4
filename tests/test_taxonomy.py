"""GTZAN's ten genres are the shipped default, not a constant every layer imports.

The package is searched (its syntax trees, so docstrings and comments do not count): only the GTZAN data
loader and the pretrained network's zero-shot tag mapping may spell out the ten genre names; everything
at prediction time, and everything the dashboard (``genre/app``, ``pages/``, ``app.py``) shows, reads
the classes from the model (its manifest) or the results rows. ``genre.config.GENRES`` is gone: nothing
may use a name ``GENRES`` again. The allow-list below is explicit.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

from genre.config import ROOT
from genre.training.datasets import GTZAN_GENRES

#: Modules that may spell out the ten genre names (string constants), and why.
NAMING_ALLOWED: dict[str, str] = {
    "genre/training/datasets.py": "the GTZAN data loader: GTZAN_GENRES",
    "genre/models/musicnn.py": "the pretrained network's zero-shot tag mapping: GENRE_TAGS (and MSD tag names)",
}
#: Prediction-time modules (core and model families) and the dashboard's logic: they must not use
#: GTZAN_GENRES either (the dashboard's pages are checked the same way below).
RUNTIME_GLOBS: tuple[str, ...] = ("genre/*.py", "genre/models/*.py", "genre/app/*.py")


def offences(source: str) -> list[tuple[int, str]]:
    """``(line, what)`` for every genre-name string constant and every use of ``GENRES``/``GTZAN_GENRES``."""
    out = []
    names = set(GTZAN_GENRES)
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Constant) and isinstance(node.value, str) and node.value in names:
            out.append((node.lineno, f"names {node.value!r}"))
        elif isinstance(node, ast.Name) and node.id in ("GENRES", "GTZAN_GENRES"):
            out.append((node.lineno, f"uses {node.id}"))
        elif isinstance(node, ast.Attribute) and node.attr in ("GENRES", "GTZAN_GENRES"):
            out.append((node.lineno, f"uses {node.attr}"))
        elif isinstance(node, ast.ImportFrom):
            out += [(node.lineno, f"imports {a.name}") for a in node.names if a.name in ("GENRES", "GTZAN_GENRES")]
    return out


def _files(pattern: str) -> list[Path]:
    return sorted(p for p in ROOT.glob(pattern) if "__pycache__" not in p.parts)


def test_the_search_finds_what_it_looks_for():
    assert offences('x = "blues"') == [(1, "names 'blues'")]
    assert [w for _, w in offences("from genre.config import GENRES\ny = GENRES[0]")] == [
        "imports GENRES", "uses GENRES"]
    assert offences('"""A docstring about blues and rock."""\nx = "bluesy"') == []


def test_only_the_gtzan_loader_and_the_zero_shot_mapping_name_the_genres():
    bad = []
    for path in _files("genre/**/*.py"):
        rel = path.relative_to(ROOT).as_posix()
        for line, what in offences(path.read_text()):
            named = what.startswith("names")
            if named and rel in NAMING_ALLOWED:
                continue
            if what.endswith("GTZAN_GENRES") and not named:
                continue  # checked below: only training code may use the loader's constant
            bad.append(f"{rel}:{line} {what}")
    assert not bad, "modules that name GTZAN's genres:\n" + "\n".join(bad)


def test_prediction_time_code_reads_classes_from_the_model():
    bad = [f"{p.relative_to(ROOT).as_posix()}:{line} {what}"
           for pattern in RUNTIME_GLOBS for p in _files(pattern)
           if p.relative_to(ROOT).as_posix() not in NAMING_ALLOWED
           for line, what in offences(p.read_text())]
    assert not bad, "\n".join(bad)


@pytest.mark.parametrize("pattern", ["pages/**/*.py", "app.py"])
def test_pages_name_no_genre_and_use_no_genre_constant(pattern):
    bad = [f"{p.relative_to(ROOT).as_posix()}:{line} {what}" for p in _files(pattern)
           for line, what in offences(p.read_text())]
    assert not bad, "\n".join(bad)


def test_the_deprecated_constant_is_gone():
    import genre.config

    assert not hasattr(genre.config, "GENRES")
    assert _files("pages/**/*.py") and _files("genre/app/*.py")  # the searches above see files
