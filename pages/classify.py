"""Classify: upload, record, pick a sample, or listen live; see the genre, timeline and spectrogram."""

import time

import numpy as np
import pandas as pd
import streamlit as st

from genre.app import dashboard
from genre.app import plots
from genre.config import MAX_UPLOAD_MB, SR
from genre.errors import GenreError, SilentAudioError
from pages import common

try:
    from genre.audio import ACCEPTED_EXTENSIONS
except ImportError:  # audio.py predates the constant
    ACCEPTED_EXTENSIONS = ("wav", "flac", "mp3", "ogg", "opus", "m4a")

#: Live mode: classify the last LIVE_WINDOW_S seconds every LIVE_EVERY_S seconds.
LIVE_WINDOW_S = 6.0
LIVE_EVERY_S = 3.0
LIVE_HISTORY = 20

common.use_router()  # a fresh server's first deep link runs pages/ without app.py
st.title("🎧 Classify a recording")
model_name = common.model_picker(key="classify_model")
if model_name is None:
    st.stop()

MODES = ["Upload", "Record", "Sample", "Live"]
mode = st.radio("Input", MODES, horizontal=True, key="classify_mode",
                format_func={"Upload": "⬆️ Upload a file", "Record": "🎙️ Record",
                             "Sample": "🎼 Shipped sample", "Live": "📡 Live microphone"}.get)

if mode == "Upload":
    up = common.file_uploader(
        f"Audio file ({', '.join(ACCEPTED_EXTENSIONS)}; up to {MAX_UPLOAD_MB} MB; files longer "
        "than 10 minutes are analysed for their first 10)",
        list(ACCEPTED_EXTENSIONS), key="classify_upload")
    if up is not None:
        st.text(f"File: {up.name}")  # plain text: a file name is never Markdown
        common.classify_and_show(up.path, up.name, model_name, key="upload",
                                 input_key=f"upload:{up.key}")

elif mode == "Record":
    rec = st.audio_input("Record at least a few seconds of music", sample_rate=SR,
                         key="classify_record")
    if rec is not None:  # decoded from the upload object (or its spooled file, if long)
        common.classify_and_show(common.upload_source(rec), "recording.wav", model_name,
                                 key="record", input_key=f"record:{rec.file_id}")

elif mode == "Sample":
    clips = common.demo_clips()
    if clips.empty:
        st.info("No demo clips shipped (demo/index.csv).")
    else:
        i = st.selectbox("Sample", range(len(clips)), key="classify_sample",
                         format_func=lambda i: f"{clips.label[i]} - expected: {clips.expected[i]}")
        row = clips.iloc[i]
        st.caption(f"Licence: {row['licence']}")  # the player below the timeline plays it
        common.classify_and_show(row["path"], row["file"], model_name, key="sample",
                                 input_key=f"sample:{row['file']}")

else:
    from genre.app import analysis

    ok, why = analysis.webrtc_status()  # never imports pylibsrtp after TensorFlow (segfault)
    if not ok:
        st.error(why)
        st.stop()
    import streamlit_webrtc as webrtc

    try:
        secrets = dict(st.secrets)
    except Exception:  # no secrets.toml: that is fine on localhost
        secrets = {}
    try:
        ice = dashboard.ice_servers(secrets)
    except dashboard.IceConfigError as exc:
        st.error(f"Live mode is misconfigured: {exc}")
        st.stop()
    st.markdown(f"Classifies the last {LIVE_WINDOW_S:.0f} s of your microphone every "
                f"{LIVE_EVERY_S:.0f} s. Press **Start** and allow the microphone.")
    if not ice:
        st.caption("No STUN/TURN servers are configured, so live mode works only when the "
                   "browser runs on the same machine as the app.")
    if "live_buffer" not in st.session_state:
        st.session_state["live_buffer"] = dashboard.LiveBuffer(seconds=LIVE_WINDOW_S * 2)
        st.session_state["live_history"] = []
        st.session_state["live_last"] = 0.0
    buf = st.session_state["live_buffer"]
    # SENDONLY + a sink: every microphone frame goes to the buffer, nothing is sent back
    # (an audio_frame_callback with sendback_audio=False is never called: its track is not pulled).
    sink = webrtc.create_audio_sink_track(callback=buf.push_frame, key="live_sink")
    ctx = webrtc.webrtc_streamer(
        key="live", mode=webrtc.WebRtcMode.SENDONLY, rtc_configuration={"iceServers": ice},
        media_stream_constraints={"audio": True, "video": False}, sink_audio_track=sink)

    playing = bool(getattr(getattr(ctx, "state", None), "playing", False))
    try:  # the live charts' columns are the picked model's classes
        from genre.predict import model_classes
        classes = list(model_classes(common.model(model_name)))
    except GenreError as exc:
        st.error(dashboard.public_message(exc))
        st.stop()
    if st.session_state.get("live_classes") != classes:  # another model: another set of columns
        st.session_state["live_history"] = []
        st.session_state["live_classes"] = classes

    @st.fragment(run_every=1.0 if playing else None)
    def live_view():
        history = st.session_state["live_history"]
        held = buf.buffered_seconds
        now = time.monotonic()
        if playing and held >= LIVE_WINDOW_S / 2 and now - st.session_state["live_last"] >= LIVE_EVERY_S:
            st.session_state["live_last"] = now
            y = buf.window(LIVE_WINDOW_S, SR)
            try:
                from genre.predict import predict
                with analysis.GATE.slot():
                    pred = predict(dashboard.to_wav_bytes(y, SR), model=common.model(model_name))
                if pred.not_music:  # no genre for it: the window leaves a gap in the charts
                    history.append({"t": now, "probs": np.full(len(classes), np.nan),
                                    "verdict": "This does not sound like music, so no genre is "
                                               "given for this window.", "flag": True})
                else:
                    history.append({"t": now, "probs": pred.probabilities,
                                    "verdict": pred.verdict, "flag": pred.low_confidence})
            except SilentAudioError:
                history.append({"t": now, "probs": np.full(len(classes), np.nan),
                                "verdict": "Silence.", "flag": True})
            except GenreError as exc:
                history.append({"t": now, "probs": np.full(len(classes), np.nan),
                                "verdict": dashboard.public_message(exc), "flag": True})
            del history[:-LIVE_HISTORY]
        if not playing:
            st.info("Live mode is stopped." + (" Last result below." if history else ""))
        else:
            st.caption(f"Listening: {held:.1f} s buffered.")
        if history:
            last = history[-1]
            (st.warning if last["flag"] else st.success)(last["verdict"])
            t0 = history[0]["t"]
            probs = np.vstack([h["probs"] for h in history])
            starts = np.array([h["t"] - t0 for h in history])
            ok = ~np.isnan(probs).any(axis=1)
            if ok.any():
                left, right = st.columns([2, 3])
                with left:
                    if ok[-1]:
                        common.chart(plots.probability_bars(dict(zip(classes, probs[-1])), top=5,
                                                            title="Latest window"), key="live_bars")
                    else:
                        st.caption("No genre chart for the latest window.")
                with right:
                    if ok.sum() >= 2:
                        common.chart(plots.timeline(
                            starts[ok], probs[ok], classes,
                            title=f"Rolling: each point is the last {LIVE_WINDOW_S:.0f} s"),
                            key="live_tl")
                    else:
                        st.caption("The rolling timeline appears after the next window.")
                df = pd.DataFrame(probs[ok], columns=classes).assign(t_s=starts[ok])
                st.download_button("Download CSV", df.to_csv(index=False), "live_genres.csv",
                                   "text/csv", key="live_csv")

    live_view()
