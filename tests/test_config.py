"""genre.config: the cache folder set-up; a full or read-only cache never fails the work."""

from __future__ import annotations

import json
import os
import subprocess
import sys

from genre import config

#: Computes the features of a tone twice in a fresh process and prints what happened (JSON).
SCRIPT = r"""
import errno, json, os, sys, warnings
warnings.simplefilter("always")
if sys.argv[1] == "full":  # every numba cache write fails as on a full disk
    from numba.core import caching

    def full(self, path):
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

    caching.IndexDataCacheFile._open_for_write = full
import numpy as np
from genre import config, features
y = (0.3 * np.sin(2 * np.pi * 440 * np.arange(4 * 22050) / 22050)).astype(np.float32)
with warnings.catch_warnings(record=True) as w:
    warnings.simplefilter("always")
    a = features.clip_features(y)
    b = features.clip_features(y)
print(json.dumps({"n": len(a), "same": bool((a == b).all()),
                  "notes": [str(x.message) for x in w if issubclass(x.category, config.CacheWarning)],
                  "numba_dir": os.environ.get("NUMBA_CACHE_DIR")}))
"""


def run(mode: str, cache_dir) -> dict:
    env = {k: v for k, v in os.environ.items() if k != "NUMBA_CACHE_DIR"}
    env.update(GENRE_CACHE_DIR=str(cache_dir), PYTHONPATH=str(config.ROOT))
    out = subprocess.run([sys.executable, "-c", SCRIPT, mode], capture_output=True, text=True,
                         env=env, cwd=config.ROOT, timeout=600)
    assert out.returncode == 0, out.stderr[-3000:]
    return json.loads(out.stdout.strip().splitlines()[-1])


def test_full_disk_numba_cache_does_not_fail_the_first_prediction(tmp_path):
    res = run("full", tmp_path / "cache")  # a fresh cache folder: every kernel compiles and saves
    assert res["n"] == 57 and res["same"]
    assert len(res["notes"]) == 1, res["notes"]
    assert "No space left" in res["notes"][0] and "caching is off" in res["notes"][0]


def test_unwritable_cache_folder_is_replaced_and_said_once(tmp_path):
    blocker = tmp_path / "cache"
    blocker.write_text("a file where the cache folder should be")  # mkdir fails, as read-only would
    res = run("plain", blocker)
    assert res["n"] == 57 and res["same"]
    assert len(res["notes"]) == 1 and str(blocker) in res["notes"][0]
    assert res["numba_dir"] and not res["numba_dir"].startswith(str(blocker))


def test_caching_off_is_said_once(monkeypatch):
    import warnings

    monkeypatch.setattr(config, "_CACHES_OFF", {})
    with warnings.catch_warnings(record=True) as w:
        warnings.simplefilter("always")
        for _ in range(3):
            config.caching_off("The test cache", OSError(28, "No space left on device"))
    assert len(w) == 1 and issubclass(w[0].category, config.CacheWarning)
    assert config.caches_off() == {"The test cache": "No space left on device"}
