"""Screenshots of every dashboard page, taken in headless Chromium: ``python scripts/screenshots.py``.

Starts ``streamlit run app.py`` on a free localhost port (headless, no telemetry), drives Debian's
Chromium through Playwright (never ``playwright install``), waits for each page's content (never a
fixed sleep) and writes ``screenshots/<page>.png``. ``tests/test_e2e.py`` uses the same helpers.
"""

from __future__ import annotations

import contextlib
import os
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))
CHROMIUM = os.environ.get("GENRE_CHROMIUM", "/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
    "--disable-component-update", "--disable-sync", "--no-first-run",
    "--use-fake-ui-for-media-stream", "--use-fake-device-for-media-stream",
]
#: (url path, file stem, a heading the page shows once rendered)
PAGES = [
    ("", "home", "Music-genre classification"),
    ("explore", "explore", "Explore the data"),
    ("leaderboard", "leaderboard", "Model leaderboard"),
    ("classify", "classify", "Classify a recording"),
]


#: url -> pid of the servers started by :func:`streamlit_server` (for memory readings).
SERVER_PIDS: dict[str, int] = {}


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@contextlib.contextmanager
def streamlit_server(port: int | None = None, timeout: float = 90.0, env: dict | None = None):
    """Run ``streamlit run app.py`` on localhost; yields the base URL; stops it afterwards."""
    port = port or free_port()
    cmd = [sys.executable, "-m", "streamlit", "run", str(ROOT / "app.py"),
           "--server.port", str(port), "--server.address", "127.0.0.1",
           "--server.headless", "true", "--browser.gatherUsageStats", "false",
           "--server.fileWatcherType", "none"]
    log = open(os.environ["GENRE_SERVER_LOG"], "w+b") if os.environ.get("GENRE_SERVER_LOG") else tempfile.TemporaryFile()
    proc = subprocess.Popen(cmd, cwd=ROOT, stdout=log, stderr=subprocess.STDOUT,
                            env={**os.environ, **(env or {})})
    url = f"http://127.0.0.1:{port}"
    SERVER_PIDS[url] = proc.pid
    try:
        deadline = time.monotonic() + timeout
        while True:
            if proc.poll() is not None:
                log.seek(0)
                raise RuntimeError(f"streamlit exited with {proc.returncode}:\n{log.read().decode()[-3000:]}")
            try:
                with urllib.request.urlopen(f"{url}/_stcore/health", timeout=2) as r:
                    if r.read().strip() == b"ok":
                        break
            except OSError:
                pass
            if time.monotonic() > deadline:
                raise TimeoutError("streamlit did not become healthy in time")
            time.sleep(0.25)  # polling the health endpoint, not waiting for content
        yield url
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
        log.close()


@contextlib.contextmanager
def browser(width: int = 1400, height: int = 1000):
    """A fresh headless Chromium context (Playwright, Debian's chromium, throwaway profile)."""
    from playwright.sync_api import sync_playwright

    with tempfile.TemporaryDirectory(prefix="chromium-") as profile, sync_playwright() as pw:
        ctx = pw.chromium.launch_persistent_context(
            profile, executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS,
            viewport={"width": width, "height": height})
        try:
            yield ctx
        finally:
            ctx.close()


def wait_idle(page, timeout_ms: int = 120_000) -> None:
    """Wait until the app has finished running its script (no 'Running...' status, no skeleton)."""
    page.wait_for_function(
        """() => {
            const app = document.querySelector('[data-testid="stApp"]');
            if (!app) return false;
            const running = document.querySelector('[data-testid="stStatusWidget"]');
            const busy = running && /Running|Connecting/i.test(running.innerText);
            const skeleton = document.querySelector('[data-testid="stSkeleton"], [data-testid="stAppSkeleton"]');
            const spinner = document.querySelector('[data-testid="stSpinner"]');
            return !busy && !skeleton && !spinner && app.getAttribute('data-test-script-state') !== 'running';
        }""", timeout=timeout_ms)


def open_page(page, url: str, heading: str, timeout_ms: int = 120_000) -> None:
    """Go to ``url`` and wait for ``heading`` and for the script run to finish."""
    page.goto(url)
    page.get_by_role("heading", name=heading).first.wait_for(timeout=timeout_ms)
    wait_idle(page, timeout_ms)
    # charts draw after the script finishes: wait for every plotly container to have an SVG
    page.wait_for_function(
        """() => [...document.querySelectorAll('.js-plotly-plot')].every(p => p.querySelector('svg'))""",
        timeout=timeout_ms)


def screenshot(page, path: Path) -> Path:
    """Full-length screenshot of the app (the main area scrolls, so grow the viewport first)."""
    height = page.evaluate(
        """() => { const m = document.querySelector('[data-testid="stMain"]') ||
                              document.querySelector('section.main');
                   return Math.max(m ? m.scrollHeight : 0, document.body.scrollHeight); }""")
    vp = page.viewport_size
    page.set_viewport_size({"width": vp["width"], "height": min(max(int(height), 600), 8000)})
    wait_idle(page)
    path.parent.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(path), full_page=True)
    page.set_viewport_size(vp)
    return path


def upload(page, file: str | Path, timeout_ms: int = 180_000) -> str:
    """Upload ``file`` through the Classify page's uploader; returns the shown top genre."""
    page.locator('[data-testid="stFileUploaderDropzoneInput"]').set_input_files(str(file))
    metric = page.locator('[data-testid="stMetric"]').filter(has_text="Top genre")
    metric.wait_for(timeout=timeout_ms)
    wait_idle(page, timeout_ms)
    return metric.locator('[data-testid="stMetricValue"]').inner_text().strip()


def rerun_after(page, action, timeout_ms: int = 120_000) -> None:
    """Do ``action()`` (a click...) and wait until the script run it triggers has finished.

    A MutationObserver counts transitions of the app's script state to "running", so a run that
    starts and ends between two polls is not missed.
    """
    page.evaluate(
        """() => {
            const app = document.querySelector('[data-testid="stApp"]');
            window.__stRuns = 0;
            if (window.__stObs) window.__stObs.disconnect();
            window.__stObs = new MutationObserver(() => {
                if (app.getAttribute('data-test-script-state') === 'running') window.__stRuns++;
            });
            window.__stObs.observe(app, {attributes: true, attributeFilter: ['data-test-script-state']});
        }""")
    action()
    page.wait_for_function("() => window.__stRuns > 0", timeout=timeout_ms)
    wait_idle(page, timeout_ms)


def choose_radio(page, label: str, timeout_ms: int = 120_000) -> None:
    """Click the radio option ``label`` and wait for the rerun and its charts."""
    rerun_after(page, lambda: page.locator('[data-testid="stRadio"]').get_by_text(
        label, exact=True).first.click(), timeout_ms)
    page.wait_for_function(
        """() => [...document.querySelectorAll('.js-plotly-plot')].every(p => p.querySelector('svg'))""",
        timeout=timeout_ms)


def choose_option(page, label: str, text: str, timeout_ms: int = 300_000) -> None:
    """Open the selectbox labelled ``label``, pick the first option containing ``text`` and wait
    for the rerun it triggers.

    A click on an option can be lost (seen only inside the full CI suite, on a loaded machine):
    then no rerun starts and the box (a text input) still holds the old value. So the pick is
    checked against the input's value and retried, the last time by typing the option's text
    and pressing Enter; a pick that took but whose run was not seen starting is waited out. If
    nothing works, a screenshot of the page is saved next to the other screenshots.
    """
    from playwright.sync_api import TimeoutError as PlaywrightTimeoutError

    box = page.get_by_role("combobox", name=label).first
    for attempt in range(3):
        try:
            if attempt < 2:
                box.click()
                option = page.get_by_role("option").filter(has_text=text).first
                option.wait_for(timeout=30_000)
                rerun_after(page, option.click, timeout_ms=60_000)
            else:
                def typed() -> None:
                    box.click()
                    box.fill(text)
                    page.get_by_role("option").filter(has_text=text).first.wait_for(timeout=30_000)
                    page.keyboard.press("ArrowDown")
                    page.keyboard.press("Enter")
                rerun_after(page, typed, timeout_ms=60_000)
            wait_idle(page, timeout_ms)
            return
        except PlaywrightTimeoutError:
            if text in box.input_value():  # picked; its run was missed or is slow: wait it out
                wait_idle(page, timeout_ms)
                return
            page.keyboard.press("Escape")
    shot = Path(tempfile.gettempdir()) / "choose_option_failure.png"
    page.screenshot(path=str(shot), full_page=True)
    raise AssertionError(f"could not pick {text!r} in {label!r}: it holds {box.input_value()!r} "
                         f"(page saved to {shot})")


def start_live(page, timeout_ms: int = 180_000):
    """Switch Classify to live mode, press START (Chromium's fake microphone) and wait for the
    first verdict; returns the verdict's locator."""
    choose_radio(page, "📡 Live microphone")
    start = page.frame_locator("iframe").first.get_by_role("button", name="START")
    start.wait_for(timeout=60_000)
    start.click()
    page.get_by_text("Listening").first.wait_for(timeout=60_000)
    verdict = page.locator('[data-testid="stAlert"]').first
    verdict.wait_for(timeout=timeout_ms)
    return verdict


def click_clip(page, clip: str) -> bool:
    """Click the point of ``clip`` (its ``customdata[0]``) in the first plotly chart; True if found."""
    pos = page.evaluate(
        """(clip) => {
            const gd = document.querySelector('.js-plotly-plot');
            if (!gd || !gd._fullLayout) return null;
            const xa = gd._fullLayout.xaxis, ya = gd._fullLayout.yaxis;
            for (const tr of gd._fullData) {
                const cd = tr.customdata || [];
                for (let i = 0; i < cd.length; i++) {
                    if (cd[i][0] === clip) {
                        const r = gd.getBoundingClientRect();
                        return {x: r.left + xa._offset + xa.l2p(tr.x[i]),
                                y: r.top + ya._offset + ya.l2p(tr.y[i])};
                    }
                }
            }
            return null;
        }""", clip)
    if not pos:
        return False
    page.mouse.move(pos["x"], pos["y"])
    page.mouse.click(pos["x"], pos["y"])
    return True


def shoot_all(url: str, out: Path, pages=PAGES, upload_file: str | Path | None = None,
              not_music: str | Path | None = None) -> list[Path]:
    """Screenshot every page and view, and Classify in each mode (upload with ``upload_file``,
    record, shipped sample, live microphone; a non-music upload with ``not_music``)."""
    paths = []
    with browser() as ctx:
        page = ctx.new_page()
        for path, stem, heading in pages:
            open_page(page, f"{url}/{path}", heading)
            paths.append(screenshot(page, out / f"{stem}.png"))
            extra = {"explore": ("Feature by genre", "Correlations", "Embeddings"),
                     "leaderboard": ("Confusion matrices", "Per-genre F1", "Cost", "Training curves")}.get(stem, ())
            for view in extra:
                choose_radio(page, view)
                name = view.lower().replace(" ", "_").replace("-", "_")
                paths.append(screenshot(page, out / f"{stem}_{name}.png"))
            if extra:  # leave the page on its first view for the next visitor
                choose_radio(page, {"explore": "Tempo", "leaderboard": "Overview"}[stem])
        open_page(page, f"{url}/classify", "Classify a recording")
        if upload_file:
            upload(page, upload_file)
            paths.append(screenshot(page, out / "classify_upload.png"))
        if not_music:
            open_page(page, f"{url}/classify", "Classify a recording")
            page.locator('[data-testid="stFileUploaderDropzoneInput"]').set_input_files(str(not_music))
            page.get_by_text("does not sound like music").first.wait_for(timeout=180_000)
            wait_idle(page)
            paths.append(screenshot(page, out / "classify_not_music.png"))
        open_page(page, f"{url}/classify", "Classify a recording")
        choose_radio(page, "🎙️ Record")
        paths.append(screenshot(page, out / "classify_record.png"))
        choose_radio(page, "🎼 Shipped sample")
        page.locator('[data-testid="stMetric"]').first.wait_for(timeout=180_000)
        wait_idle(page)
        paths.append(screenshot(page, out / "classify_sample.png"))
        start_live(page)
        paths.append(screenshot(page, out / "classify_live.png"))
        page.frame_locator("iframe").first.get_by_role("button", name="STOP").click()
    return paths


def rss_mb(pid: int) -> float:
    """Resident memory (MB) of a process, from /proc."""
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    return float("nan")


def measure(url: str, rounds: int = 3, upload_file: str | Path | None = None) -> dict:
    """Warm page-switch times (click in the sidebar -> page rendered and idle), and server RSS.

    Every page is visited once first (cold: caches fill); then ``rounds`` passes over the pages.
    Returns ``{"switch_s": {page: [s, ...]}, "rss_mb": ..., "rss_after_classify_mb": ...}``.
    """
    import statistics

    out: dict = {"switch_s": {stem: [] for _, stem, _ in PAGES}}
    with browser() as ctx:
        page = ctx.new_page()
        for path, _, heading in PAGES:
            open_page(page, f"{url}/{path}", heading)
        for _ in range(rounds):
            for path, stem, heading in PAGES:
                link = page.locator('[data-testid="stSidebarNav"] a').filter(
                    has_text={"home": "Home", "explore": "Explore", "leaderboard": "leaderboard",
                              "classify": "Classify"}[stem])
                t0 = time.perf_counter()
                link.first.click()
                page.get_by_role("heading", name=heading).first.wait_for()
                wait_idle(page)
                page.wait_for_function(
                    """() => [...document.querySelectorAll('.js-plotly-plot')].every(p => p.querySelector('svg'))""")
                out["switch_s"][stem].append(time.perf_counter() - t0)
        pid = SERVER_PIDS.get(url)
        out["rss_mb"] = rss_mb(pid) if pid else float("nan")
        if upload_file:
            open_page(page, f"{url}/classify", "Classify a recording")
            upload(page, upload_file)
            out["rss_after_classify_mb"] = rss_mb(pid) if pid else float("nan")
    out["median_switch_s"] = {k: statistics.median(v) for k, v in out["switch_s"].items() if v}
    return out


def main(argv: list[str] | None = None) -> int:
    import argparse

    from genre.config import data_dir

    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--measure", action="store_true",
                    help="also print warm page-switch times and the server's resident memory")
    args = ap.parse_args(argv)
    from genre.config import samples_dir

    clip = data_dir() / "audio" / "classical" / "classical.00011.flac"
    clip = clip if clip.is_file() else None
    speech = samples_dir() / "speech_librispeech.ogg"
    with streamlit_server() as url:
        for p in shoot_all(url, ROOT / "screenshots", upload_file=clip,
                           not_music=speech if speech.is_file() else None):
            print(p)
        if args.measure:
            m = measure(url, upload_file=clip)
            for stem, secs in m["median_switch_s"].items():
                print(f"warm switch to {stem:12s} median {secs:.2f} s  (all: "
                      + ", ".join(f"{v:.2f}" for v in m["switch_s"][stem]) + ")")
            print(f"server RSS after every page: {m['rss_mb']:.0f} MB; after a classification: "
                  f"{m.get('rss_after_classify_mb', float('nan')):.0f} MB")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
