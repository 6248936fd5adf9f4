"""Build the shipped example catalogue ``demo/catalogue.parquet`` from the demo clips.

Runs the real catalogue (:func:`genre.catalogue.run`, a two-worker LocalCluster, the default
model) on a temporary copy of the clips listed in ``demo/index.csv`` plus one deliberately broken
file (``broken_upload.mp3``, text with an audio name), so that the dashboard's Catalogue page has
a failed track to show. Paths are stored relative to that copy (file names only), so the example
holds no server path. The result replaces ``demo/catalogue.parquet`` (a Parquet dataset folder).

Run: ``python scripts/make_example_catalogue.py`` (about a minute on two cores).
"""

from __future__ import annotations

import shutil
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))


def main() -> int:
    from genre import catalogue
    from genre.app.catalogue_view import EXAMPLE
    from genre.app.dashboard import demo_clips

    clips = demo_clips()
    with tempfile.TemporaryDirectory() as tmp:
        src = Path(tmp) / "library"
        src.mkdir()
        for p in clips["path"]:
            shutil.copy(p, src / Path(p).name)
        (src / "broken_upload.mp3").write_text("This is a text file saved with an .mp3 name.\n" * 20)
        out = Path(tmp) / "catalogue.parquet"
        summary = catalogue.run([src], out, n_workers=2, relative_to=src, progress=True)
        print(summary.text())
        if EXAMPLE.exists():
            shutil.rmtree(EXAMPLE)
        shutil.copytree(out, EXAMPLE, ignore=shutil.ignore_patterns(".*"))  # no .lock
    print(f"wrote {EXAMPLE}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
