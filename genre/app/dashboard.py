"""What the dashboard pages need that is not drawing: tables reshaped for display, the demo-clip
index, result downloads, the live-microphone buffer and the WebRTC ICE configuration.

No Streamlit here: every function takes plain data and is tested without a browser
(``tests/test_dashboard.py``); the pages in ``pages/`` only call these and draw.
"""

from __future__ import annotations

import io
import json
import os
import threading
from collections import deque
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from genre.config import DEMO_DIR, GENRES, SR

__all__ = [
    "HONEST", "OPTIMISTIC", "demo_clips", "dataset_summary", "best_model", "protocol_table",
    "gap_table", "f1_table", "cost_table", "model_options", "model_label", "AUDIO", "prediction_csv", "prediction_json",
    "frame_to_mono", "LiveBuffer", "to_wav_bytes", "ice_servers",
]

#: The headline (honest) protocol and the literature's optimistic one.
HONEST = "filtered_holdout"
OPTIMISTIC = "random_10fold"
#: The fault-filtered test clips that have audio: the protocol every model, deep ones too, is scored on.
AUDIO = "audio_holdout"


# ------------------------------------------------------------------------------ data

def demo_clips(demo_dir: str | Path | None = None) -> pd.DataFrame:
    """The shipped demo clips (``demo/index.csv``) with absolute ``path``; only files that exist.

    Columns: ``file, label, expected, source ('gtzan'|'sample'), clip, seconds, licence, path``.
    """
    root = Path(demo_dir) if demo_dir is not None else DEMO_DIR
    index = root / "index.csv"
    if not index.is_file():
        return pd.DataFrame(columns=["file", "label", "expected", "source", "clip", "seconds",
                                     "licence", "path"])
    df = pd.read_csv(index, dtype=str, keep_default_na=False)
    df["path"] = [str(root / f) for f in df["file"]]
    df = df[[Path(p).is_file() for p in df["path"]]]
    df["seconds"] = pd.to_numeric(df["seconds"], errors="coerce")
    return df.reset_index(drop=True)


def dataset_summary(table: pd.DataFrame) -> dict[str, Any]:
    """Counts for the home page from :func:`genre.training.datasets.dataset_table`.

    Returns ``clips, genres, per_genre, artists (distinct named), with_audio, full_audio,
    splits (dict split -> clips)``.
    """
    artists = table.get("artist", pd.Series(dtype=str)).astype(str).str.strip()
    out = {
        "clips": int(len(table)),
        "genres": int(table["genre"].nunique()),
        "per_genre": int(table["genre"].value_counts().median()) if len(table) else 0,
        "artists": int(artists[artists != ""].nunique()),
        "with_audio": int(table["has_audio"].sum()) if "has_audio" in table else 0,
        "full_audio": int((table.get("audio_kind", pd.Series(dtype=str)) == "full").sum()),
        "splits": {k: int(v) for k, v in table["split"].value_counts().items()} if "split" in table else {},
    }
    return out


def best_model(board: pd.DataFrame, protocol: str = HONEST, metric: str = "accuracy",
               shipped: set[str] | None = None) -> dict | None:
    """The leaderboard row with the highest ``metric`` on ``protocol`` (optionally only shipped models)."""
    if board is None or board.empty:
        return None
    rows = board[board["protocol"] == protocol].dropna(subset=[metric])
    if shipped is not None:
        rows = rows[rows["model"].isin(shipped)]
    if rows.empty:
        return None
    row = rows.sort_values([metric, "model"], ascending=[False, True]).iloc[0]
    return row.to_dict()


def protocol_table(board: pd.DataFrame, metric: str = "accuracy") -> pd.DataFrame:
    """Wide table: one row per model, one ``metric`` column per protocol (headline protocol first),
    sorted by the headline protocol."""
    if board.empty:
        return pd.DataFrame()
    from genre.results import PROTOCOLS

    board = board.assign(display_name=board["display_name"].fillna(board["model"]),
                         family=board["family"].fillna(""))
    wide = board.pivot_table(index=["model", "display_name", "family"], columns="protocol",
                             values=metric, aggfunc="first")
    order = [p for p in PROTOCOLS if p in wide.columns]
    wide = wide[order + [c for c in wide.columns if c not in order]].reset_index()
    wide.columns.name = None
    if HONEST in wide.columns:
        wide = wide.sort_values(HONEST, ascending=False, na_position="last")
    return wide.reset_index(drop=True)


def gap_table(board: pd.DataFrame, metric: str = "accuracy", honest: str = HONEST,
              optimistic: str = OPTIMISTIC) -> pd.DataFrame:
    """Per model: ``display_name, honest, optimistic, gap`` (optimistic - honest) for models with both."""
    wide = protocol_table(board, metric)
    if wide.empty or honest not in wide or optimistic not in wide:
        return pd.DataFrame(columns=["model", "display_name", honest, optimistic, "gap"])
    out = wide[["model", "display_name", honest, optimistic]].dropna()
    out = out.assign(gap=out[optimistic] - out[honest])
    return out.sort_values(honest, ascending=False).reset_index(drop=True)


def f1_table(board: pd.DataFrame, protocol: str = HONEST) -> pd.DataFrame:
    """Per-genre F1 (rows = model display names, columns = GENRES) on one protocol."""
    rows = board[(board["protocol"] == protocol) & board["per_genre_f1"].notna()]
    data = {r["display_name"]: {g: (r["per_genre_f1"] or {}).get(g, np.nan) for g in GENRES}
            for _, r in rows.iterrows()}
    return pd.DataFrame.from_dict(data, orient="index", columns=list(GENRES)).astype(float)


def cost_table(board: pd.DataFrame) -> pd.DataFrame:
    """Per model: ``model, display_name, family``, ``accuracy`` (on :data:`HONEST`, NaN where not
    scored), ``audio_accuracy`` (on :data:`AUDIO`), ``fit_time_s`` (from the honest protocol,
    else the audio one), ``latency_ms`` (per clip, from the results file), ``size_mb``;
    best honest accuracy first."""
    if board.empty:
        return pd.DataFrame(columns=["model", "display_name", "family", "accuracy", "audio_accuracy",
                                     "fit_time_s", "latency_ms", "size_mb"])
    first = board.drop_duplicates("model").set_index("model")
    def on(proto: str, col: str) -> pd.Series:
        rows = board[board["protocol"] == proto].drop_duplicates("model").set_index("model")
        return rows[col].reindex(first.index) if col in rows else pd.Series(np.nan, index=first.index)
    lat = first["model_latency_ms"] if "model_latency_ms" in first else first.get("latency_ms")
    fit = on(HONEST, "fit_time_s").fillna(on(AUDIO, "fit_time_s"))
    out = pd.DataFrame({
        "model": first.index, "display_name": first["display_name"].to_numpy(),
        "family": first["family"].to_numpy(),
        "accuracy": on(HONEST, "accuracy").to_numpy(), "audio_accuracy": on(AUDIO, "accuracy").to_numpy(),
        "fit_time_s": fit.to_numpy(), "latency_ms": pd.to_numeric(lat, errors="coerce").to_numpy(),
        "size_mb": pd.to_numeric(first["size_bytes"], errors="coerce").to_numpy() / 1e6,
    })
    for col in ("accuracy", "audio_accuracy", "fit_time_s", "latency_ms", "size_mb"):
        out[col] = pd.to_numeric(out[col], errors="coerce").astype(float)
    return out.sort_values(["accuracy", "audio_accuracy"], ascending=False,
                           na_position="last").reset_index(drop=True)


def model_options(manifests: list[dict], board: pd.DataFrame | None = None,
                  default: str | None = None) -> list[dict]:
    """Shipped models for a picker: the registry's default first, then best honest accuracy first.

    Returns dicts ``name, display_name, family, input, accuracy`` (on :data:`HONEST`, NaN if not
    scored there), ``audio_accuracy`` (on ``audio_holdout``, the filtered test clips with audio,
    the one protocol every model is scored on), ``heavy`` (loading it imports TensorFlow: a
    network model whose manifest names no ONNX file, or a stack with such a member; shipped networks
    run on onnxruntime) and ``default`` (bool).
    """
    acc: dict = {}
    audio: dict = {}
    if board is not None and not board.empty:
        for proto, dest in ((HONEST, acc), (AUDIO, audio)):
            rows = board[board["protocol"] == proto]
            dest.update(zip(rows["model"], rows["accuracy"]))
    by_name = {m.get("name"): m for m in manifests}

    def loads_tf(m: Mapping[str, Any]) -> bool:
        # networks run through onnxruntime when the manifest names an ONNX file; a stack is as heavy
        # as its heaviest member
        kind = m.get("kind", "sklearn")
        if kind in ("keras", "musicnn"):
            return not m.get("onnx")
        if kind == "stack":
            return any(loads_tf(by_name.get(n, {"kind": "keras"})) for n in m.get("members") or [])
        return False

    out = []
    for m in manifests:
        if m.get("name") in (None, "novelty") or m.get("kind") not in ("sklearn", "keras", "musicnn", "stack",
                                                                        "pretrained_onnx"):
            continue
        out.append({"name": m["name"], "display_name": m.get("display_name", m["name"]),
                    "family": m.get("family", ""), "input": m.get("input", ""),
                    "accuracy": float(acc.get(m["name"], np.nan)),
                    "audio_accuracy": float(audio.get(m["name"], np.nan)),
                    "heavy": loads_tf(m),
                    "default": m["name"] == default})

    def key(d):
        a = d["accuracy"] if np.isfinite(d["accuracy"]) else -1.0
        b = d["audio_accuracy"] if np.isfinite(d["audio_accuracy"]) else -1.0
        return (not d["default"], -a, -b, d["name"])

    return sorted(out, key=key)


def model_label(option: Mapping[str, Any]) -> str:
    """One line for a model picker, e.g. ``"XGBoost - 58% fault-filtered test, 61% test clips with
    audio (default)"``."""
    parts = []
    if np.isfinite(option["accuracy"]):
        parts.append(f"{option['accuracy']:.0%} fault-filtered test")
    if np.isfinite(option["audio_accuracy"]):
        parts.append(f"{option['audio_accuracy']:.0%} test clips with audio")
    text = f"{option['display_name']} - " + (", ".join(parts) if parts else "not scored")
    if option.get("default"):
        text += " (default)"
    if option.get("heavy"):
        text += "; loads TensorFlow, slower"
    return text


# ------------------------------------------------------------------------------ downloads

def prediction_csv(pred_dict: Mapping[str, Any]) -> str:
    """CSV of a prediction's timeline (``start_s, end_s`` + one column per genre) followed by
    a ``clip`` row with the whole-input probabilities. ``pred_dict`` is ``Prediction.to_dict()``."""
    tl = pred_dict["timeline"]
    df = pd.DataFrame({"segment": [f"{i}" for i in range(len(tl["start_s"]))],
                       "start_s": tl["start_s"], "end_s": tl["end_s"],
                       **{g: tl["probabilities"][g] for g in GENRES}})
    clip = {"segment": "clip", "start_s": 0.0, "end_s": pred_dict.get("duration_s"),
            **{g: pred_dict["probabilities"][g] for g in GENRES}}
    df = pd.concat([pd.DataFrame([clip]), df], ignore_index=True)
    return df.to_csv(index=False, float_format="%.4f")


def prediction_json(pred_dict: Mapping[str, Any]) -> str:
    """Pretty JSON of ``Prediction.to_dict()``."""
    return json.dumps(pred_dict, indent=2)


# ------------------------------------------------------------------------------ live audio

def frame_to_mono(samples: np.ndarray, channels: int, fmt: str = "s16") -> np.ndarray:
    """One WebRTC audio frame to mono float32 in [-1, 1].

    Parameters
    ----------
    samples : ndarray
        ``av.AudioFrame.to_ndarray()``: packed (interleaved) formats give shape (1, n*channels),
        planar ones (channels, n).
    channels : int
        Channel count of the frame's layout.
    fmt : str
        The frame's sample format name (``s16``, ``s16p``, ``flt``, ``fltp``...).
    """
    a = np.asarray(samples)
    if fmt.endswith("p") and a.ndim == 2 and a.shape[0] == channels:
        x = a.T  # planar: (channels, n) -> (n, channels)
    else:
        x = a.reshape(-1, channels) if channels > 1 else a.reshape(-1, 1)
    x = x.astype(np.float32)
    if np.issubdtype(a.dtype, np.integer):
        x /= float(np.iinfo(a.dtype).max) + 1.0
    return x.mean(axis=1)


def _resample(y: np.ndarray, orig_sr: int, target_sr: int) -> np.ndarray:
    if orig_sr == target_sr:
        return y.astype(np.float32)
    try:
        import soxr
        return soxr.resample(y, orig_sr, target_sr).astype(np.float32)
    except ImportError:  # pragma: no cover - soxr ships with librosa
        from math import gcd

        from scipy.signal import resample_poly
        g = gcd(orig_sr, target_sr)
        return resample_poly(y, target_sr // g, orig_sr // g).astype(np.float32)


class LiveBuffer:
    """Thread-safe rolling buffer of microphone audio (written by the WebRTC thread, read by the page).

    Stores mono audio at the incoming rate (48 kHz from browsers) and resamples on read, so each
    classification window is resampled in one piece, without seams.

    Parameters
    ----------
    seconds : float
        How much audio to keep (s).
    """

    def __init__(self, seconds: float = 30.0):
        self.seconds = float(seconds)
        self._chunks: deque[np.ndarray] = deque()
        self._n = 0
        self._sr: int | None = None
        self._lock = threading.Lock()
        self.frames = 0

    def push(self, y: np.ndarray, sr: int) -> None:
        """Append mono float32 audio at ``sr`` Hz (a change of rate clears the buffer)."""
        y = np.asarray(y, dtype=np.float32).ravel()
        with self._lock:
            if self._sr != sr:
                self._chunks.clear()
                self._n = 0
                self._sr = int(sr)
            self._chunks.append(y)
            self._n += len(y)
            self.frames += 1
            keep = int(self.seconds * sr)
            while self._chunks and self._n - len(self._chunks[0]) >= keep:
                self._n -= len(self._chunks.popleft())

    def push_frame(self, frame: Any) -> Any:
        """``audio_frame_callback`` for ``webrtc_streamer``: store an ``av.AudioFrame``, return it."""
        y = frame_to_mono(frame.to_ndarray(), len(frame.layout.channels), frame.format.name)
        self.push(y, frame.sample_rate)
        return frame

    @property
    def buffered_seconds(self) -> float:
        """Seconds of audio held."""
        with self._lock:
            return self._n / self._sr if self._sr else 0.0

    def window(self, seconds: float, sr: int = SR) -> np.ndarray:
        """The last ``seconds`` of audio, mono float32 resampled to ``sr`` (may be shorter)."""
        with self._lock:
            if not self._chunks:
                return np.zeros(0, dtype=np.float32)
            y = np.concatenate(list(self._chunks))
            src = self._sr
        y = y[-int(seconds * src):]
        return _resample(y, src, sr)

    def clear(self) -> None:
        with self._lock:
            self._chunks.clear()
            self._n = 0
            self.frames = 0


def to_wav_bytes(y: np.ndarray, sr: int = SR) -> bytes:
    """Mono float32 audio as a 16-bit WAV byte string (what :func:`genre.predict.predict` accepts)."""
    import soundfile as sf

    buf = io.BytesIO()
    sf.write(buf, np.clip(np.asarray(y, dtype=np.float32), -1, 1), sr, format="WAV", subtype="PCM_16")
    return buf.getvalue()


def ice_servers(secrets: Mapping[str, Any] | None = None,
                environ: Mapping[str, str] | None = None) -> list[dict]:
    """ICE (STUN/TURN) servers for WebRTC, from Streamlit secrets or the environment.

    Looks for ``ice_servers`` in ``secrets`` (a list of ``{"urls": ..., "username": ...,
    "credential": ...}`` tables), then ``GENRE_ICE_SERVERS`` (the same as JSON) in ``environ``.
    Returns ``[]`` when neither is set: enough for a browser on the same machine (localhost).
    """
    environ = os.environ if environ is None else environ
    if secrets:
        val = secrets.get("ice_servers")
        if val:
            return [dict(s) for s in val]
    raw = environ.get("GENRE_ICE_SERVERS", "").strip()
    if raw:
        try:
            val = json.loads(raw)
        except json.JSONDecodeError:
            return []
        if isinstance(val, dict):
            val = val.get("iceServers", [])
        return [dict(s) for s in val if isinstance(s, Mapping)]
    return []
