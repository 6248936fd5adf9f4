"""Rewrite the README's generated tables from ``models/results`` (or check that they are current).

The README holds two generated blocks, each between ``<!-- TAG:start -->`` and ``<!-- TAG:end -->``:

- ``leaderboard``: ``python -m genre evaluate --markdown``;
- ``robustness``: ``python -m genre.training.robustness --table``.

Usage (project virtualenv)::

    python scripts/update_readme.py           # rewrite both blocks in place
    python scripts/update_readme.py --check   # exit 1 and name the stale blocks; change nothing

``tests/test_readme.py`` fails when a block is stale.
"""

from __future__ import annotations

import argparse
import re
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from genre import cli, config  # noqa: E402
from genre.training import robustness  # noqa: E402

README = config.ROOT / "README.md"
#: Generated blocks: tag -> function returning the block's Markdown.
BLOCKS = {"leaderboard": cli.leaderboard_markdown, "robustness": robustness.table_markdown}


def block_pattern(tag: str) -> re.Pattern:
    """The ``<!-- tag:start -->`` ... ``<!-- tag:end -->`` block (group 1: its body)."""
    return re.compile(rf"(<!-- {tag}:start -->\n)(.*?)(\n<!-- {tag}:end -->)", re.S)


def refreshed(text: str) -> tuple[str, list[str]]:
    """``text`` with every generated block rewritten, and the tags whose body changed."""
    stale = []
    for tag, make in BLOCKS.items():
        pat = block_pattern(tag)
        found = pat.findall(text)
        if len(found) != 1:
            raise SystemExit(f"README.md must hold exactly one {tag} block; it holds {len(found)}.")
        body = make().strip()
        if found[0][1].strip() != body:
            stale.append(tag)
        text = pat.sub(lambda m: m.group(1) + body + m.group(3), text)
    return text, stale


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--check", action="store_true", help="only report stale blocks (exit 1 if any)")
    args = ap.parse_args(argv)
    text, stale = refreshed(README.read_text(encoding="utf-8"))
    if args.check:
        print("stale: " + ", ".join(stale) if stale else "README tables are current")
        return 1 if stale else 0
    if stale:
        README.write_text(text, encoding="utf-8")
    print(f"rewrote: {', '.join(stale)}" if stale else "README tables are current")
    return 0


if __name__ == "__main__":
    sys.exit(main())
