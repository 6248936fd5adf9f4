"""Send a corpus of bad and hostile inputs through the library and the CLI; print what happened.

Builds the corpus of issue 8 in a temporary folder (damaged, truncated, mislabelled, absurd and
huge files, chained Ogg streams, non-regular files, hostile file names, plus two real recordings
as controls), then runs every input in its own child process, through

- ``path``:   ``genre.predict.predict(path)``
- ``bytes``:  ``predict(open(path, "rb").read())`` (the caller holds the whole file in memory)
- ``upload``: ``predict(open(path, "rb"))`` (a file object, as an upload handler would pass)
- ``cli``:    ``python -m genre predict PATH --json --no-progress``

and prints one row per run: outcome (the answer, or the error class / exit code), the message a
person sees, wall time and peak resident memory (``ru_maxrss`` of that child, from ``wait4``).
For ``bytes`` the input itself is in the child's memory, so ``over input`` (peak minus the file
size) is printed too. Ratios are against the control recording's ``path`` run in the same
session, so figures from a busy machine can be compared with a quiet one.

Run: ``python scripts/bad_inputs.py`` (about 25 min on 2 busy cores; ``--skip-big`` leaves out the
1.8 GB 8-channel 192 kHz file, ``--modes path,cli`` and ``--only NAME`` narrow it down,
``--json FILE`` also writes the rows). The exit status is 1 if any run crashed (a traceback, a
signal, a hang) or went over ``--max-mb`` (default 1200 MB; for ``bytes``, over the input).
"""

from __future__ import annotations

import argparse
import io
import json
import os
import shutil
import struct
import subprocess
import sys
import tempfile
import time
import zipfile
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

SR = 22050
MODES = ("path", "bytes", "upload", "cli")
#: Inputs that are not regular files: only the path-based modes apply.
PATH_ONLY = {"dev_zero", "fifo.wav", "folder.wav", "symlink_loop.wav"}


# --------------------------------------------------------------------------- corpus

def _tone(seconds: float, sr: int, channels: int = 1, freq: float = 440.0, amp: float = 0.4) -> np.ndarray:
    t = np.arange(int(round(seconds * sr))) / sr
    y = (amp * np.sin(2 * np.pi * freq * t) * (1 + 0.3 * np.sin(2 * np.pi * 3 * t))).astype(np.float32)
    return np.repeat(y[:, None], channels, axis=1)


def _scaled(y: np.ndarray, peak: float) -> np.ndarray:
    """``y`` scaled (in float64, so nothing overflows on the way) to the given finite peak."""
    y = y.astype(np.float64)
    return (y * (peak / np.abs(y).max())).astype(np.float32)


def _sf(y: np.ndarray, sr: int, fmt: str, subtype: str) -> bytes:
    import soundfile as sf

    buf = io.BytesIO()
    sf.write(buf, y, sr, format=fmt, subtype=subtype)
    return buf.getvalue()


def _patch(data: bytes, marker: bytes, offset: int, fmt: str, value: int) -> bytes:
    out = bytearray(data)
    i = out.find(marker) + offset
    out[i:i + struct.calcsize(fmt)] = struct.pack(fmt, value)
    return bytes(out)


def _video_only_mp4() -> bytes:
    import av

    buf = io.BytesIO()
    with av.open(buf, "w", format="mp4") as out:
        st = out.add_stream("mpeg4", rate=10)
        st.width, st.height, st.pix_fmt = 64, 64, "yuv420p"
        for _ in range(50):
            for p in st.encode(av.VideoFrame.from_ndarray(np.zeros((64, 64, 3), np.uint8), format="rgb24")):
                out.mux(p)
        for p in st.encode(None):
            out.mux(p)
    return buf.getvalue()


def _aac_m4a(y: np.ndarray, sr: int) -> bytes:
    import av

    buf = io.BytesIO()
    with av.open(buf, "w", format="mp4") as out:
        stream = out.add_stream("aac", rate=sr, layout="stereo")
        frame = av.AudioFrame.from_ndarray(np.ascontiguousarray(y.T), format="fltp", layout="stereo")
        frame.sample_rate = sr
        for p in stream.encode(frame):
            out.mux(p)
        for p in stream.encode(None):
            out.mux(p)
    return buf.getvalue()


def _write_big_wav(path: Path, channels: int = 8, sr: int = 192_000, seconds: int = 600) -> None:
    """A 16-bit WAV written block by block (never whole in memory)."""
    import soundfile as sf

    block = sr * 5
    t = np.arange(block) / sr
    with sf.SoundFile(path, "w", samplerate=sr, channels=channels, subtype="PCM_16", format="WAV") as f:
        for k in range(seconds // 5):
            y = (0.3 * np.sin(2 * np.pi * (220 + 20 * (k % 10)) * t)).astype(np.float32)
            f.write(np.repeat(y[:, None], channels, axis=1))


def build_corpus(folder: Path, big: bool) -> list[Path]:
    """Write the hostile corpus into ``folder``; returns the inputs (paths) in a stable order."""
    from genre.config import samples_dir

    f = folder
    rng = np.random.default_rng(0)
    wav20 = _sf(_tone(20, 44100, 2), 44100, "WAV", "PCM_16")
    ogg20 = _sf(_tone(20, 44100, 2), 44100, "OGG", "VORBIS")
    flac20 = _sf(_tone(20, 44100, 2), 44100, "FLAC", "PCM_16")
    mp320 = _sf(_tone(20, 44100, 2), 44100, "MP3", "MPEG_LAYER_III")
    wav4 = _sf(_tone(4, SR, 1), SR, "WAV", "PCM_16")
    files: dict[str, bytes] = {
        "empty.wav": b"",
        "text.wav": b"just some words\n" * 500,
        "random.mp3": rng.bytes(200_000),
        "image.wav": bytes.fromhex("89504e470d0a1a0a0000000d4948445200000001000000010806000000"
                                   "1f15c4890000000d49444154789c63000100000500010d0a2db40000"
                                   "000049454e44ae426082"),
        "video_only.mp4": _video_only_mp4(),
        "header_only.flac": flac20[:300],
        "header_only.ogg": ogg20[:300],
        "truncated.wav": wav20[: len(wav20) // 2],
        "truncated.ogg": ogg20[: len(ogg20) // 2],
        "truncated.flac": flac20[: len(flac20) // 2],
        "truncated.mp3": mp320[: len(mp320) // 2],
        "claims_4gb.wav": _patch(wav20, b"data", 4, "<I", 0xFFFFFFFF),
        "chained_2x15s.ogg": b"".join(_sf(_tone(15, 44100, 2, f), 44100, "OGG", "VORBIS") for f in (440, 660)),
        "chained_100x0.3s.ogg": b"".join(_sf(_tone(0.3, 44100, 2, 300 + i), 44100, "OGG", "VORBIS")
                                         for i in range(100)),
        "peak_1e18_float.wav": _sf(_scaled(_tone(5, SR, 2), 1e18), SR, "WAV", "FLOAT"),
        "peak_3e38_float.wav": _sf(_scaled(_tone(5, SR, 1), 3e38), SR, "WAV", "FLOAT"),
        "too_short_1s.wav": _sf(_tone(1, 44100, 2), 44100, "WAV", "PCM_16"),
        "silence.wav": _sf(np.zeros((5 * SR, 2), np.float32), SR, "WAV", "PCM_16"),
        "lsb_noise.wav": _sf(rng.choice([-1, 0, 1], 5 * SR).astype(np.float32) / 32768, SR, "WAV", "PCM_16"),
        "impossible_rate.wav": _patch(wav4, b"fmt ", 12, "<I", 0x7FFFFFFF),
        "unknown_codec.wav": _patch(wav4, b"fmt ", 8, "<H", 0x9999),
        "65535_channels.wav": _patch(wav4, b"fmt ", 10, "<H", 0xFFFF),
        "junk_after_data.wav": wav4 + rng.bytes(50_000),
        "id3_only.mp3": b"ID3\x04\x00\x00\x00\x00\x00\x00" + bytes(2000),
        "mp3_named.wav": _sf(_tone(8, 44100, 2), 44100, "MP3", "MPEG_LAYER_III"),
        "u8_8khz_mono.wav": _sf(_tone(6, 8000, 1), 8000, "WAV", "PCM_U8"),
        "opus_48k.ogg": _sf(_tone(8, 48000, 2), 48000, "OGG", "OPUS"),
        "aac.m4a": _aac_m4a(_tone(8, 44100, 2), 44100),
        "**bold**[link](http:x).wav": _sf(_tone(6, SR, 1), SR, "WAV", "PCM_16"),
        "ünïcødé 🎵 name.flac": _sf(_tone(6, 44100, 2), 44100, "FLAC", "PCM_16"),
    }
    zbuf = io.BytesIO()
    with zipfile.ZipFile(zbuf, "w") as z:
        z.writestr("notes.txt", "hello " * 5000)
    files["archive.flac"] = zbuf.getvalue()
    nan = _tone(5, SR, 1)
    nan[1000] = np.nan
    files["nan_sample.wav"] = _sf(nan, SR, "WAV", "FLOAT")
    inf = _tone(5, SR, 1)
    inf[1000] = np.inf
    files["inf_sample.wav"] = _sf(inf, SR, "WAV", "FLOAT")
    out = []
    for name, data in files.items():
        (f / name).write_bytes(data)
        out.append(f / name)
    # a 12-minute file (cut at the 10-min limit), written without holding it twice
    import soundfile as sf

    sf.write(f / "long_12min.flac", _tone(12 * 60, 4000, 1, freq=200), 4000)
    out.append(f / "long_12min.flac")
    if big:
        _write_big_wav(f / "8ch_192k_10min.wav")
        out.append(f / "8ch_192k_10min.wav")
    # not regular files
    os.mkfifo(f / "fifo.wav")
    (f / "folder.wav").mkdir()
    (f / "symlink_loop.wav").symlink_to(f / "symlink_loop.wav")
    out += [f / "fifo.wav", f / "folder.wav", f / "symlink_loop.wav", Path("/dev/zero")]
    # controls: real recordings, one music, one speech
    for name in ("brahms_hungarian_dance_5.ogg", "speech_librispeech.ogg"):
        src = samples_dir() / name
        if src.is_file():
            shutil.copyfile(src, f / f"control_{name}")
            out.append(f / f"control_{name}")
    return out


# --------------------------------------------------------------------------- one run (child side)

def child(mode: str, path: str) -> None:
    """Run one input through the library; print one JSON line."""
    from genre import predict as P
    from genre.errors import GenreError

    t0 = time.perf_counter()
    try:
        if mode == "bytes":
            with open(path, "rb") as fh:
                src = fh.read()
            res = P.predict(src)
        elif mode == "upload":
            with open(path, "rb") as fh:
                res = P.predict(fh)
        else:
            res = P.predict(path)
        outcome = f"{res.genre}{' NOT-MUSIC' if res.not_music else ''}"
        message = " | ".join([res.verdict, *res.notes])
    except GenreError as exc:
        outcome, message = type(exc).__name__, str(exc)
    print(json.dumps({"outcome": outcome, "message": message, "seconds": time.perf_counter() - t0}))


# --------------------------------------------------------------------------- parent side

def _run(cmd: list[str], timeout: float) -> tuple[int, str, str, float, float]:
    """(status, stdout, stderr, seconds, peak MB) of one child, measured with wait4."""
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    t0 = time.perf_counter()
    with tempfile.TemporaryFile() as out, tempfile.TemporaryFile() as err:
        p = subprocess.Popen(cmd, stdout=out, stderr=err, cwd=ROOT, env=env, stdin=subprocess.DEVNULL)
        deadline = t0 + timeout
        while True:
            pid, status, usage = os.wait4(p.pid, os.WNOHANG)
            if pid:
                break
            if time.perf_counter() > deadline:
                p.kill()
                pid, status, usage = os.wait4(p.pid, 0)
                status = -9999
                break
            time.sleep(0.05)
        p.returncode = 0  # reaped here, not by Popen
        seconds = time.perf_counter() - t0
        out.seek(0)
        err.seek(0)
        code = status if status == -9999 else os.waitstatus_to_exitcode(status)
        return (code, out.read().decode(errors="replace"), err.read().decode(errors="replace"),
                seconds, usage.ru_maxrss / 1024)


def run_one(path: Path, mode: str, timeout: float) -> dict:
    size = path.stat().st_size if path.is_file() else 0
    if mode == "cli":
        cmd = [sys.executable, "-m", "genre", "predict", str(path), "--json", "--no-progress"]
    else:
        cmd = [sys.executable, str(Path(__file__).resolve()), "--child", mode, str(path)]
    code, out, err, seconds, peak = _run(cmd, timeout)
    row = {"input": path.name, "mode": mode, "size_mb": size / 2**20, "seconds": seconds,
           "peak_mb": peak, "over_input_mb": peak - (size / 2**20 if mode == "bytes" else 0)}
    crashed = code == -9999 or code < 0 or "Traceback" in err
    if code == -9999:
        row.update(outcome="HANG (killed)", message=f"no answer in {timeout:.0f} s")
    elif mode == "cli":
        try:
            doc = json.loads(out)[0]
            answer = (doc["error"]["type"] if "error" in doc
                      else doc["genre"] + (" NOT-MUSIC" if doc["not_music"] else ""))
            message = doc["error"]["message"] if "error" in doc else " | ".join([doc["verdict"], *doc["notes"]])
        except (ValueError, KeyError, IndexError, TypeError):
            answer = ""
            message = err.strip().splitlines()[-1] if err.strip() else "(no output)"
        row.update(outcome=f"exit {code}: {answer}".rstrip(": "), message=message)
    else:
        try:
            row.update(json.loads(out.strip().splitlines()[-1]))
            row["seconds"] = seconds
        except (ValueError, IndexError):
            last = err.strip().splitlines()[-1] if err.strip() else f"exit {code}"
            row.update(outcome="CRASH", message=last)
            crashed = True
    row["crashed"] = bool(crashed)
    return row


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--child", nargs=2, metavar=("MODE", "PATH"), help=argparse.SUPPRESS)
    ap.add_argument("--modes", default=",".join(MODES), help="comma-separated subset of " + ",".join(MODES))
    ap.add_argument("--only", action="append", default=[], metavar="NAME",
                    help="only inputs whose name contains NAME (repeatable)")
    ap.add_argument("--skip-big", action="store_true", help="leave out the 1.8 GB 8-channel 192 kHz WAV")
    ap.add_argument("--timeout", type=float, default=600.0, help="seconds before a run counts as a hang")
    ap.add_argument("--max-mb", type=float, default=1200.0, help="peak memory allowed per input (MB)")
    ap.add_argument("--json", metavar="FILE", help="also write the rows as JSON")
    ap.add_argument("--keep", action="store_true", help="keep the corpus folder (printed)")
    args = ap.parse_args(argv)
    if args.child:
        child(*args.child)
        return 0
    modes = [m for m in args.modes.split(",") if m]
    bad = set(modes) - set(MODES)
    if bad:
        ap.error(f"unknown modes {sorted(bad)}")
    folder = Path(tempfile.mkdtemp(prefix="genre-bad-inputs-"))
    try:
        inputs = build_corpus(folder, big=not args.skip_big)
        def display(p: Path) -> str:
            return "dev_zero" if str(p) == "/dev/zero" else p.name

        if args.only:
            inputs = [p for p in inputs
                      if any(o in display(p) for o in args.only) or p.name.startswith("control_")]
        rows = []
        for path in inputs:
            name = display(path)
            for mode in modes:
                if name in PATH_ONLY and mode in ("bytes", "upload"):
                    continue
                row = run_one(path, mode, args.timeout)
                row["input"] = name
                rows.append(row)
                print(f"{name[:28]:28} {mode:6} {row['outcome'][:30]:30} {row['seconds']:6.1f} s "
                      f"{row['peak_mb']:7.0f} MB", file=sys.stderr, flush=True)
        ref = next((r for r in rows if r["input"].startswith("control_brahms") and r["mode"] == "path"), None)
        print_table(rows, ref)
        if args.json:
            Path(args.json).write_text(json.dumps(rows, indent=1))
        over = [r for r in rows if r["over_input_mb"] > args.max_mb]
        crashed = [r for r in rows if r["crashed"]]
        print(f"\n{len(rows)} runs over {len(inputs)} inputs; {len(crashed)} crashed or hung; "
              f"{len(over)} over {args.max_mb:.0f} MB (bytes mode: over the input's own size); "
              f"largest peak {max(r['over_input_mb'] for r in rows):.0f} MB.")
        return 1 if (over or crashed) else 0
    finally:
        if args.keep:
            print(f"corpus kept in {folder}", file=sys.stderr)
        else:
            shutil.rmtree(folder, ignore_errors=True)


def print_table(rows: list[dict], ref: dict | None) -> None:
    def cut(text: str, n: int) -> str:
        text = " ".join(str(text).split()).replace("|", "/")
        return text if len(text) <= n else text[: n - 1] + "…"

    head = ["input", "mode", "outcome", "message", "time s", "peak MB", "over input MB", "time / ref",
            "peak / ref"]
    print("| " + " | ".join(head) + " |")
    print("|" + "---|" * len(head))
    for r in rows:
        ratio_t = f"{r['seconds'] / ref['seconds']:.2f}" if ref else "–"
        ratio_m = f"{r['peak_mb'] / ref['peak_mb']:.2f}" if ref else "–"
        print("| " + " | ".join([cut(r["input"], 30), r["mode"], cut(r["outcome"], 28), cut(r["message"], 90),
                                 f"{r['seconds']:.1f}", f"{r['peak_mb']:.0f}", f"{r['over_input_mb']:.0f}",
                                 ratio_t, ratio_m]) + " |")
    if ref:
        print(f"\nreference: {ref['input']} by path, {ref['seconds']:.1f} s and {ref['peak_mb']:.0f} MB peak "
              "in this run")


if __name__ == "__main__":
    sys.exit(main())
