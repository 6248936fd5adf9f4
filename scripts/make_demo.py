"""Build the shipped demo clips in ``demo/`` from the read-only material in ``../shared``.

GTZAN: a 10 s excerpt (10-20 s) of a few fault-filtered *test*-split clips, one per genre where
one with full audio exists. Samples: the first 30 s of each openly licensed recording (speech in
full), with its attribution file. Everything is written as Ogg Vorbis to keep ``demo/`` small.

Run: ``python scripts/make_demo.py`` (idempotent; rewrites ``demo/index.csv``).
"""

from __future__ import annotations

import csv
import shutil

import sys
from pathlib import Path

import soundfile as sf

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from genre.config import DEMO_DIR, data_dir, samples_dir

#: GTZAN test-split clips with full audio (id, start s, length s).
GTZAN_CLIPS = [
    ("blues.00016", 10.0, 10.0),
    ("classical.00011", 10.0, 10.0),
    ("country.00048", 10.0, 10.0),
    ("disco.00001", 10.0, 10.0),
    ("hiphop.00000", 10.0, 10.0),
    ("metal.00022", 10.0, 10.0),
    ("pop.00000", 10.0, 10.0),
    ("reggae.00047", 10.0, 10.0),
    ("rock.00011", 10.0, 10.0),
]
#: Openly licensed samples (file stem, label, expected answer, length s).
SAMPLES = [
    ("brahms_hungarian_dance_5", "Brahms, Hungarian Dance No. 5 (string orchestra)", "classical", 30.0),
    ("macleod_vibe_ace", "Kevin MacLeod, Vibe Ace", "jazz", 30.0),
    ("hobbs_lets_go_fishin", "Karissa Hobbs, Let's Go Fishin'", "country", 30.0),
    ("speech_librispeech", "Read speech (LibriSpeech)", "not music", 30.0),
    ("humpback_whale", "Humpback whale song (Glacier Bay)", "not music", 30.0),
]


def _excerpt(src, dst, start: float, length: float) -> float:
    info = sf.info(str(src))
    a, b = int(start * info.samplerate), int((start + length) * info.samplerate)
    y, sr = sf.read(str(src), start=a, stop=min(b, info.frames), dtype="float32", always_2d=True)
    sf.write(str(dst), y, sr, format="OGG", subtype="VORBIS")
    return len(y) / sr


def main() -> None:
    import pandas as pd

    DEMO_DIR.mkdir(exist_ok=True)
    clips = pd.read_csv(data_dir() / "clips.csv").set_index("clip")
    rows = []
    for clip, start, length in GTZAN_CLIPS:
        row = clips.loc[clip]
        if row["split"] != "test" or row["kind"] != "full":
            raise SystemExit(f"{clip} is not a full test-split clip")
        name = f"gtzan_{clip}.ogg"
        secs = _excerpt(data_dir() / row["path"], DEMO_DIR / name, start, length)
        band = ", 16 kHz source" if int(row["sample_rate"]) < 22050 else ""
        rows.append({"file": name, "label": f"{row['artist']}, {row['title']} (GTZAN {clip}{band})",
                     "expected": row["genre"], "source": "gtzan", "clip": clip,
                     "seconds": round(secs, 1), "licence": "GTZAN (research use; not openly licensed)"})
    for stem, label, expected, length in SAMPLES:
        src = samples_dir() / f"{stem}.ogg"
        name = f"{stem}.ogg"
        secs = _excerpt(src, DEMO_DIR / name, 0.0, length)
        txt = DEMO_DIR / f"{stem}.txt"
        shutil.copyfile(samples_dir() / f"{stem}.txt", txt)
        with open(txt, "a", encoding="utf-8") as f:
            f.write(f"\nChanges: first {secs:.0f} s of the original, re-encoded as Ogg Vorbis.\n")
        licence = open(samples_dir() / f"{stem}.txt", encoding="utf-8").read().strip().splitlines()[-1]
        rows.append({"file": name, "label": label, "expected": expected,
                     "source": "sample", "clip": "", "seconds": round(secs, 1), "licence": licence})
    with open(DEMO_DIR / "index.csv", "w", newline="", encoding="utf-8") as f:
        w = csv.DictWriter(f, fieldnames=list(rows[0]))
        w.writeheader()
        w.writerows(rows)
    total = sum(p.stat().st_size for p in DEMO_DIR.iterdir())
    print(f"{len(rows)} demo clips, {total / 1e6:.2f} MB in {DEMO_DIR}")


if __name__ == "__main__":
    main()
