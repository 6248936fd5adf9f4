"""The package's layers (pyproject.toml's import-linter contracts) hold, and an upward import breaks them."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
LINT = Path(sys.executable).with_name("lint-imports")


def _lint(cwd: Path) -> subprocess.CompletedProcess:
    return subprocess.run([str(LINT), "--no-cache"], cwd=cwd, capture_output=True, text=True,
                          timeout=300, env={"PYTHONPATH": str(cwd), "PATH": "/usr/bin:/bin"})


def test_layer_contracts_kept():
    res = _lint(ROOT)
    assert res.returncode == 0, res.stdout + res.stderr
    assert "0 broken" in res.stdout


def test_upward_import_is_reported_by_name(tmp_path):
    # a copy of the package with one deliberate upward import: registry (core) -> training
    shutil.copytree(ROOT / "genre", tmp_path / "genre", ignore=shutil.ignore_patterns("__pycache__"))
    shutil.copy(ROOT / "pyproject.toml", tmp_path / "pyproject.toml")
    reg = tmp_path / "genre" / "registry.py"
    reg.write_text(reg.read_text().replace(
        "from genre.errors import ModelError\n",
        "from genre.errors import ModelError\nfrom genre.training import evaluate  # upward\n", 1))
    res = _lint(tmp_path)
    assert res.returncode != 0
    assert "genre.registry is not allowed to import genre.training" in res.stdout
    assert "genre.registry -> genre.training.evaluate" in res.stdout


def test_tensorflow_at_prediction_time_is_reported_by_name(tmp_path):
    # a copy of the package with one deliberate `import tensorflow` inside a function of a
    # prediction-time module (genre.models.deep.load): the forbidden contract names it
    shutil.copytree(ROOT / "genre", tmp_path / "genre", ignore=shutil.ignore_patterns("__pycache__"))
    shutil.copy(ROOT / "pyproject.toml", tmp_path / "pyproject.toml")
    deep = tmp_path / "genre" / "models" / "deep.py"
    anchor = "    if not manifest.get(\"onnx\"):\n"
    assert anchor in deep.read_text()
    deep.write_text(deep.read_text().replace(anchor, "    import tensorflow  # noqa: F401\n" + anchor, 1))
    res = _lint(tmp_path)
    assert res.returncode != 0
    assert "prediction never imports TensorFlow" in res.stdout and "BROKEN" in res.stdout
    assert "genre.models is not allowed to import tensorflow" in res.stdout
    assert "genre.models.deep -> tensorflow" in res.stdout


def test_prediction_modules_never_import_training():
    # the rule a reader relies on: nothing used at prediction time reaches genre.training
    code = ("import sys; import genre.predict, genre.cli, genre.models.feature_models, "
            "genre.models.stack, genre.models.musicnn, genre.models.deep; "
            "print(sorted(m for m in sys.modules if m.startswith('genre.training')))")
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True,
                         timeout=300)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "[]"
