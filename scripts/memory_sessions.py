"""Server memory under simultaneous large uploads, and first-use latency: ``python scripts/memory_sessions.py``.

Memory (default): writes a long WAV (``--mb``, 150 MB: 44.1 kHz stereo 16-bit, tones and noise)
into a temporary folder, starts ``streamlit run app.py`` on localhost, opens ``--sessions`` (8)
Chromium pages on the Classify page (Playwright, Debian's chromium), gives each the file at once,
and samples the server's resident memory (``/proc/<pid>/status`` VmRSS) every 0.1 s until every
session shows its result. Prints the idle baseline, the peak, the peak/baseline ratio, each
session's time to its result and whether the "waiting for N other analyses" message was seen.

First use (``--first-use``): two fresh servers, each with an empty numba cache; a visitor opens
Home, reads for ``--delay`` seconds, then clicks "Classify this clip". Prints the time from the
click to the answer with the background warm-up on and off (``GENRE_WARMUP=0``), and their ratio.
Streamlit runs ``app.py`` (which starts the warm-up) when the first page is opened, so the
warm-up has the visitor's reading time to finish.

Every model (``--every-model``): one session picks every shipped classifier in turn and classifies
the shipped sample with it; prints the server's RSS after each, the peak and the settled end
(issue 9's target: under 800 MB after every shipped model).

Figures depend on the machine's load: run it on a quiet machine for the README.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import threading
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "scripts"))
import screenshots as shots  # noqa: E402


def long_wav(path: Path, megabytes: float, sr: int = 44100) -> Path:
    """A stereo 16-bit WAV of about ``megabytes`` MB (chords, a beat and noise), written in blocks."""
    import soundfile as sf

    seconds = int(megabytes * 1e6 / (sr * 2 * 2))
    rng = np.random.default_rng(0)
    with sf.SoundFile(str(path), "w", sr, 2, subtype="PCM_16") as f:
        for s in range(seconds):
            t = s + np.arange(sr) / sr
            base = 110 * 2 ** ((s // 4 % 4) * 3 / 12)
            y = sum(0.15 * np.sin(2 * np.pi * base * k * t) for k in (1, 1.5, 2))
            y = y + 0.3 * np.exp(-((t * 2) % 1) * 20) * rng.standard_normal(sr)
            f.write(np.stack([y, y[::-1]], axis=1).astype(np.float32) * 0.5)
    return path


class Sampler:
    """Samples a process's resident memory every ``every_s`` seconds in a thread."""

    def __init__(self, pid: int, every_s: float = 0.1):
        self.pid, self.every_s = pid, every_s
        self.samples: list[tuple[float, float]] = []
        self._stop = threading.Event()
        self._t = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        t0 = time.monotonic()
        while not self._stop.is_set():
            try:
                self.samples.append((time.monotonic() - t0, shots.rss_mb(self.pid)))
            except OSError:
                break
            self._stop.wait(self.every_s)

    def __enter__(self):
        self._t.start()
        return self

    def __exit__(self, *exc):
        self._stop.set()
        self._t.join()

    @property
    def peak(self) -> float:
        return max((m for _, m in self.samples), default=float("nan"))


def settle(pid: int, quiet_s: float = 5.0, tolerance_mb: float = 5.0, limit_s: float = 240.0) -> float:
    """Wait until the server's RSS has changed by less than ``tolerance_mb`` for ``quiet_s``."""
    t_end = time.monotonic() + limit_s
    last, since = shots.rss_mb(pid), time.monotonic()
    while time.monotonic() < t_end:
        time.sleep(0.5)
        now = shots.rss_mb(pid)
        if abs(now - last) > tolerance_mb:
            last, since = now, time.monotonic()
        elif time.monotonic() - since >= quiet_s:
            break
    return shots.rss_mb(pid)


def memory(sessions: int, megabytes: float, timeout_s: float) -> int:
    with tempfile.TemporaryDirectory(prefix="genre-mem-") as tmp:
        wav = long_wav(Path(tmp) / "long.wav", megabytes)
        size = wav.stat().st_size / 1e6
        print(f"input: {size:.0f} MB WAV, 44.1 kHz stereo 16-bit, "
              f"{size * 1e6 / (44100 * 4) / 60:.1f} min; {sessions} sessions")
        with shots.streamlit_server() as url, shots.browser() as ctx:
            pid = shots.SERVER_PIDS[url]
            pages = [ctx.new_page() for _ in range(sessions)]
            for p in pages:
                shots.open_page(p, f"{url}/classify", "Classify a recording")
            base = settle(pid)  # the warm-up (started by the first page view) has finished
            print(f"server RSS with {sessions} idle sessions: {base:.0f} MB")
            t0 = time.monotonic()
            done: dict[int, float] = {}
            waited: set[int] = set()
            with Sampler(pid) as s:
                for p in pages:
                    p.locator('[data-testid="stFileUploaderDropzoneInput"]').set_input_files(str(wav))
                deadline = time.monotonic() + timeout_s
                while len(done) < sessions and time.monotonic() < deadline:
                    for i, p in enumerate(pages):
                        if i in done:
                            continue
                        if p.get_by_text("other analys").count():
                            waited.add(i)
                        if (p.locator('[data-testid="stMetric"]').filter(has_text="Top genre").count()
                                or p.locator('[data-testid="stAlertContentWarning"]').count()
                                or p.locator('[data-testid="stAlertContentError"]').count()):
                            done[i] = time.monotonic() - t0
                    time.sleep(0.2)
                time.sleep(2)
            errors = sum(p.locator('[data-testid="stException"]').count() for p in pages)
            end = shots.rss_mb(pid)
        print(f"peak server RSS: {s.peak:.0f} MB (x{s.peak / base:.2f} the idle baseline); "
              f"after all sessions finished: {end:.0f} MB")
        for i in range(sessions):
            print(f"  session {i + 1}: " + (f"answer after {done[i]:.1f} s" if i in done else "no answer")
                  + (", saw the waiting message" if i in waited else ""))
        print(f"exceptions shown: {errors}; sessions answered: {len(done)}/{sessions}")
        return 0 if len(done) == sessions and errors == 0 else 1


def first_use(delay_s: float) -> int:
    clips_dir = ROOT / "demo"
    times = {}
    for warm in ("1", "0"):
        with tempfile.TemporaryDirectory(prefix="genre-numba-") as cache:
            env = {"GENRE_WARMUP": warm, "NUMBA_CACHE_DIR": cache}
            with shots.streamlit_server(env=env) as url, shots.browser() as ctx:
                page = ctx.new_page()
                shots.open_page(page, url, "Music-genre classification")
                time.sleep(delay_s)  # the visitor reads the page
                t0 = time.monotonic()
                page.get_by_role("button", name="Classify this clip").click()
                page.locator('[data-testid="stMetric"], [data-testid="stAlertContentWarning"]').first.wait_for(
                    timeout=300_000)
                times[warm] = time.monotonic() - t0
        print(f"warm-up {'on ' if warm == '1' else 'off'}: first answer {times[warm]:.1f} s after the "
              f"click ({delay_s:.0f} s after the first page view; empty numba cache)")
    print(f"ratio off/on: {times['0'] / times['1']:.1f}x (demo clips in {clips_dir.name}/)")
    return 0


def every_model(timeout_s: float) -> int:
    """One session classifies the shipped sample with every shipped classifier in turn (the
    picker's order); the server's RSS is sampled throughout. Prints RSS after each model, the
    peak, and the RSS at the end (target of issue 9: under 800 MB)."""
    from genre.registry import list_models

    names = [m for m in list_models() if m.get("kind") not in ("novelty",)]
    with shots.streamlit_server() as url, shots.browser() as ctx:
        pid = shots.SERVER_PIDS[url]
        page = ctx.new_page()
        shots.open_page(page, f"{url}/classify", "Classify a recording")
        base = settle(pid)
        print(f"server RSS, one idle session after the warm-up: {base:.0f} MB; {len(names)} models")
        failed = []
        with Sampler(pid) as s:
            shots.choose_radio(page, "🎼 Shipped sample")
            for m in names:
                t0 = time.monotonic()
                try:
                    shots.choose_option(page, "Model", m["display_name"], timeout_ms=int(timeout_s * 1000))
                    page.locator('[data-testid="stMetric"], [data-testid="stAlertContentWarning"]').first.wait_for(
                        timeout=int(timeout_s * 1000))
                except Exception as exc:  # noqa: BLE001 - report and go on to the next model
                    failed.append(m["name"])
                    print(f"  {m['name']}: no answer ({type(exc).__name__})")
                    continue
                print(f"  {m['name']:20s} answer after {time.monotonic() - t0:5.1f} s; RSS now "
                      f"{shots.rss_mb(pid):.0f} MB")
            time.sleep(2)
        end = settle(pid)
        errors = page.locator('[data-testid="stException"]').count()
    print(f"peak server RSS: {s.peak:.0f} MB; settled at the end: {end:.0f} MB (target < 800 MB); "
          f"exceptions shown: {errors}; models without an answer: {failed or 'none'}")
    return 0 if not failed and errors == 0 else 1


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--sessions", type=int, default=8)
    ap.add_argument("--mb", type=float, default=150.0, help="size of the uploaded WAV (MB)")
    ap.add_argument("--timeout", type=float, default=1200.0, help="give up after this many seconds")
    ap.add_argument("--first-use", action="store_true", help="measure first-use latency instead")
    ap.add_argument("--every-model", action="store_true",
                    help="one session classifies the shipped sample with every shipped model in turn")
    ap.add_argument("--delay", type=float, default=15.0,
                    help="--first-use: seconds between the first page view and the click")
    args = ap.parse_args(argv)
    os.environ.setdefault("GENRE_SERVER_LOG", str(Path(tempfile.gettempdir()) / "genre-memory-server.log"))
    if args.first_use:
        return first_use(args.delay)
    if args.every_model:
        return every_model(min(args.timeout, 300.0))
    return memory(args.sessions, args.mb, args.timeout)


if __name__ == "__main__":
    raise SystemExit(main())
