"""The README's figures and set-up commands stay true."""

from __future__ import annotations

import re

import pytest

from genre import cli, config

README = (config.ROOT / "README.md").read_text(encoding="utf-8")


def _generated(tag: str):
    """The README's ``<!-- tag:start -->`` ... ``<!-- tag:end -->`` block (a match, or None)."""
    return re.search(rf"<!-- {tag}:start -->\n(.*?)\n<!-- {tag}:end -->", README, re.S)


def test_leaderboard_table_is_generated_from_results():
    block = _generated("leaderboard")
    assert block, "README lacks the generated leaderboard block"
    assert block.group(1).strip() == cli.leaderboard_markdown().strip(), (
        "README leaderboard is stale: run `python scripts/update_readme.py`")


def test_robustness_table_is_generated_from_results():
    from genre.training import robustness

    block = _generated("robustness")
    assert block, "README lacks the generated robustness block"
    assert block.group(1).strip() == robustness.table_markdown().strip(), (
        "README robustness table is stale: run `python scripts/update_readme.py`")


def test_update_readme_rewrites_only_stale_blocks():
    import importlib.util

    spec = importlib.util.spec_from_file_location("update_readme", config.ROOT / "scripts" / "update_readme.py")
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    text, stale = mod.refreshed(README)
    assert stale == [] and text == README  # the shipped README is current (the two tests above)
    old = _generated("robustness").group(1)
    edited = README.replace(old, "| model | clean |\n|---|---|\n| made up | 99.9 % |")
    text, stale = mod.refreshed(edited)
    assert stale == ["robustness"] and text == README
    with pytest.raises(SystemExit, match="exactly one leaderboard block"):
        mod.refreshed(README.replace("<!-- leaderboard:start -->", ""))


def test_ci_runs_the_readme_test_command():
    ci = (config.ROOT / ".ci" / "run").read_text(encoding="utf-8")
    test_cmd = re.search(r"^(python3 -m venv .venv && .*pytest)$", README, re.M)
    assert test_cmd, "README lacks the test set-up command"
    assert test_cmd.group(1) in ci
    assert re.search(r"^python3 -m venv .venv && .*streamlit run app.py$", README, re.M)
