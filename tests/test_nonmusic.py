"""genre.training.nonmusic: the non-music corpus from Debian packages, on small stand-ins made here
(the real packages are 1.4 GB and are not needed by the tests)."""
from __future__ import annotations

import io
import shutil
import subprocess
import zipfile
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from genre.config import SR
from genre.training import nonmusic


def _wav(seconds: float, freq: float = 440.0, sr: int = 16000) -> bytes:
    t = np.arange(int(seconds * sr)) / sr
    buf = io.BytesIO()
    sf.write(buf, (0.3 * np.sin(2 * np.pi * freq * t)).astype(np.float32), sr, format="WAV")
    return buf.getvalue()


def _ogg(seconds: float, freq: float = 220.0, noise: bool = False) -> bytes:
    rng = np.random.default_rng(int(freq))
    n = int(seconds * 22050)
    y = 0.2 * rng.standard_normal(n) if noise else 0.3 * np.sin(2 * np.pi * freq * np.arange(n) / 22050)
    buf = io.BytesIO()
    sf.write(buf, y.astype(np.float32), 22050, format="OGG", subtype="VORBIS")
    return buf.getvalue()


def _deb(tmp: Path, name: str, files: dict[str, bytes]) -> Path:
    root = tmp / f"build_{name}"
    (root / "DEBIAN").mkdir(parents=True)
    (root / "DEBIAN" / "control").write_text(f"Package: {name}\nVersion: 1.0\nArchitecture: all\n"
                                             "Maintainer: test <t@example.org>\nDescription: test\n")
    for rel, data in files.items():
        p = root / rel
        p.parent.mkdir(parents=True, exist_ok=True)
        p.write_bytes(data)
    out = tmp / "debs" / f"{name}_1.0_all.deb"
    out.parent.mkdir(exist_ok=True)
    subprocess.run(["dpkg-deb", "--root-owner-group", "--build", str(root), str(out)], check=True,
                   capture_output=True)
    return out


def _zip(members: dict[str, bytes]) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as z:
        for k, v in members.items():
            z.writestr(k, v)
    return buf.getvalue()


@pytest.mark.skipif(shutil.which("dpkg-deb") is None, reason="needs dpkg-deb")
def test_extract_and_clips_from_the_packages_layout(tmp_path):
    """``extract`` keeps only the audio it names (animal calls, ambience, voices, work sounds,
    the soundtrack; spoken words per language), skipping the rest of each package, and
    ``clips`` makes 10-s signals with one group per species, language or ambience file."""
    public = _zip({
        "audio/actor/fauna/animal/cattle_01.ogg": _ogg(1.0, 180),
        "audio/actor/fauna/animal/cattle_02.ogg": _ogg(0.8, 200),
        "audio/actor/fauna/death/goat_10.ogg": _ogg(0.6, 500),
        "audio/ambient/water/river_slow_21.ogg": _ogg(25.0, noise=True),
        "audio/voice/greek/civ/civ_male_attack_1.ogg": _ogg(0.7, 150),
        **{f"audio/voice/greek/civ/civ_male_build_{i}.ogg": _ogg(0.5, 160 + i) for i in range(5)},
        "audio/music/Some_Track.ogg": _ogg(5.0, 330),
        "audio/interface/alarm/bell.ogg": _ogg(0.5, 880),  # not kept
        "art/textures/stone.png": b"not audio",  # not kept
        "audio/LICENSE.txt": b"CC BY-SA 3.0",
    })
    _deb(tmp_path, "0ad-data", {"usr/share/games/0ad/mods/public/public.zip": public,
                                "usr/share/doc/0ad-data/copyright": b"x"})
    words = {f"usr/share/ktuberling/sounds/fr/mot{i}.wav": _wav(0.4, 300 + 20 * i) for i in range(6)}
    _deb(tmp_path, "ktuberling-data", {**words, "usr/share/ktuberling/sounds/fr.soundtheme": b"<x/>"})
    src = tmp_path / "src"
    counts = nonmusic.extract(tmp_path / "debs", src)
    assert counts == {"0ad": 3 + 1 + 6 + 1, "ktuberling": 6}  # calls, ambience, voices, track
    assert not (src / "0ad" / "audio" / "interface").exists()
    assert (src / "0ad" / "audio" / "LICENSE.txt").read_bytes() == b"CC BY-SA 3.0"
    assert nonmusic.outside_music(src) == [src / "0ad" / "audio" / "music" / "Some_Track.ogg"]

    made = list(nonmusic.clips(src, seed=0, per_group=2))
    groups = {c["group"] for c in made}
    assert groups == {"animals/cattle", "animals/goat", "nature/river_slow_21", "speech/words_fr",
                      "speech/0ad_greek"}
    for c in made:
        assert c["y"].dtype == np.float32 and len(c["y"]) == int(nonmusic.CLIP_SECONDS * SR)
        assert c["kind"] in nonmusic.KINDS and c["id"].startswith(c["group"])
        assert np.isfinite(c["y"]).all() and np.abs(c["y"]).max() > 0.01
    # the same seed gives the same signals
    again = list(nonmusic.clips(src, seed=0, per_group=2))
    assert all(np.array_equal(a["y"], b["y"]) for a, b in zip(made, again))


@pytest.mark.parametrize("name, group", [("cattle_03.ogg", "cattle"), ("elephant_attack1.ogg", "elephant"),
                                         ("death_horse_11.ogg", "horse"), ("Animal_death_generic_13.ogg", "generic"),
                                         ("peacock_call_01.ogg", "peacock"), ("pig_squeal_move.ogg", "pig")])
def test_calls_are_grouped_by_species(name, group):
    assert nonmusic._group_of_call(name) == group
