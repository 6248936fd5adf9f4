"""GTZAN's ten genres are the shipped default, not a constant every layer imports.

The package is searched (its syntax trees, so docstrings and comments do not count): only the GTZAN data
loader and the pretrained network's zero-shot tag mapping may spell out the ten genre names; everything
at prediction time reads the classes from the model (its manifest). The allow-lists below are explicit:
entries marked PENDING belong to another branch's files and are to be removed when that work is merged.
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
    "genre/config.py": "PENDING: deprecated GENRES, kept only for genre/app and pages/ (dashboard branch)",
}
#: Modules that may use the deprecated ``genre.config.GENRES``.
GENRES_ALLOWED: dict[str, str] = {
    "genre/config.py": "defines it (PENDING removal)",
    "genre/app/plots.py": "PENDING dashboard branch: GENRE_COLORS, genre_order, timeline default genres",
    "genre/app/dashboard.py": "PENDING dashboard branch: per-genre F1 columns, live timeline columns",
}
#: Outside the package: the dashboard's pages (PENDING dashboard branch).
PAGES_ALLOWED: dict[str, str] = {
    "pages/classify.py": "PENDING: live-mode probability columns from GENRES",
    "pages/common/__init__.py": "PENDING: timeline columns from GENRES",
}
#: Prediction-time modules (core and model families): they must not use GTZAN_GENRES either.
RUNTIME_GLOBS: tuple[str, ...] = ("genre/*.py", "genre/models/*.py")


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
            if what.endswith(" GENRES") and rel in GENRES_ALLOWED:
                continue
            if what.endswith("GTZAN_GENRES") and not named:
                continue  # checked below: only training code may use the loader's constant
            bad.append(f"{rel}:{line} {what}")
    assert not bad, "modules that name GTZAN's genres:\n" + "\n".join(bad)


def test_prediction_time_code_reads_classes_from_the_model():
    bad = [f"{p.relative_to(ROOT).as_posix()}:{line} {what}"
           for pattern in RUNTIME_GLOBS for p in _files(pattern)
           if p.relative_to(ROOT).as_posix() not in NAMING_ALLOWED | GENRES_ALLOWED
           for line, what in offences(p.read_text())]
    assert not bad, "\n".join(bad)


@pytest.mark.parametrize("pattern", ["pages/**/*.py", "app.py"])
def test_pages_use_only_the_pending_allow_list(pattern):
    bad = [f"{p.relative_to(ROOT).as_posix()}:{line} {what}" for p in _files(pattern)
           if p.relative_to(ROOT).as_posix() not in PAGES_ALLOWED for line, what in offences(p.read_text())]
    assert not bad, "\n".join(bad)
