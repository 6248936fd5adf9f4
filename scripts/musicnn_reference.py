"""Run an ORIGINAL musicnn graph (MSD_musicnn, MTT_musicnn, MSD_vgg or MTT_vgg) (TF1 code from the musicnn 0.1.0 wheel) once and save
its outputs as a test fixture: ``tests/fixtures/musicnn_reference.npz`` (MSD_musicnn) or
``tests/fixtures/<model>_reference.npz``; ``--model`` picks the network.

This is the yardstick for the Keras 3 port in ``genre/musicnn.py``: ``tests/test_musicnn.py`` feeds
the same mel patches to the port and checks the 50 tag probabilities against the ones saved here.

The original code uses ``tf.compat.v1.layers``, which TensorFlow 2.16+ only provides through the
legacy ``tf-keras`` package, so this script runs in a throwaway environment, never in the project's
virtualenv::

    # 1. the wheel (its checkpoints and TF1 model code); do not install it, it pins numpy<1.17
    pip download --no-deps musicnn==0.1.0 -d /tmp/mnn
    unzip -q /tmp/mnn/musicnn-0.1.0-py3-none-any.whl -d /tmp/mnn/wheel
    # 2. a throwaway env with tf-keras (here: reusing the project's packages through a .pth file)
    python3.11 -m venv /tmp/mnn-ref
    echo /work/main/.venv/lib/python3.11/site-packages \
        > /tmp/mnn-ref/lib/python3.11/site-packages/main_venv.pth
    /tmp/mnn-ref/bin/pip install --no-deps tf-keras==2.21.0
    #    (or, standalone: /tmp/mnn-ref/bin/pip install tensorflow-cpu==2.21.0 tf-keras==2.21.0
    #     librosa==0.11.0 soundfile)
    # 3. run it
    TF_USE_LEGACY_KERAS=1 /tmp/mnn-ref/bin/python scripts/musicnn_reference.py \
        --wheel-dir /tmp/mnn/wheel

The input is deterministic: seconds ``--start`` to ``--start + --seconds`` of the GTZAN clip
``blues.00000`` (22050 Hz FLAC), resampled to 16 kHz with soxr_hq (what ``librosa.load(sr=16000)``
does in musicnn's extractor), then turned into 187-frame log-mel patches with the code of the wheel's
``extractor.batch_data`` (copied below, reading an array instead of a file), with one deliberate
change: the log is taken in float32, not float16. Verbatim, ``np.log10(10000 * x + 1)`` on the
extractor's float16 array overflows to inf wherever the mel power exceeds 6.55 and the original graph
returns NaN tags for this slice (the script prints how many values overflow). The wheel's own
``models.define_model`` builds the graph and ``tf.compat.v1.train.Saver`` restores the checkpoint.

Saved arrays: ``y16`` (the 16 kHz input), ``patches`` (n, 187, 96) float32 as fed to the graph,
``probs`` (n, 50) sigmoid tag probabilities, ``logits``, and for the musicnn networks ``penultimate``
(n, 200), ``mean_pool`` and ``max_pool`` (n, 753), for the vgg networks ``pool5`` (n, 256, the
flattened last pooling layer), ``labels`` (the 50 MSD or MTT tags), plus the source description.
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent


def batch_data_from_array(audio: np.ndarray, sr: int, n_frames: int, overlap: int, config,
                          verbatim: bool = False):
    """musicnn 0.1.0 ``extractor.batch_data``, taking an array instead of a file.

    ``verbatim=True`` keeps the extractor's ``np.log10(10000 * audio_rep + 1)`` on the float16 array,
    which is evaluated in float16 and overflows to inf wherever the mel power exceeds 6.55 (loud
    low-frequency bins of ordinary music); the network then outputs NaN. ``verbatim=False`` (what the
    fixture and the port use) keeps the float16 rounding of the mel power but takes the log in float32.
    """
    import librosa

    audio_rep = librosa.feature.melspectrogram(y=audio,
                                               sr=sr,
                                               hop_length=config.FFT_HOP,
                                               n_fft=config.FFT_SIZE,
                                               n_mels=config.N_MELS).T
    audio_rep = audio_rep.astype(np.float16)
    if not verbatim:
        audio_rep = audio_rep.astype(np.float32)
    with np.errstate(over="ignore"):
        audio_rep = np.log10(10000 * audio_rep + 1)

    first = True
    last_frame = audio_rep.shape[0] - n_frames + 1
    for time_stamp in range(0, last_frame, overlap):
        patch = np.expand_dims(audio_rep[time_stamp: time_stamp + n_frames, :], axis=0)
        if first:
            batch = patch
            first = False
        else:
            batch = np.concatenate((batch, patch), axis=0)
    return batch, audio_rep


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--wheel-dir", type=Path, required=True,
                    help="folder where the musicnn-0.1.0 wheel was unzipped (holds musicnn/)")
    ap.add_argument("--clip", type=Path,
                    default=ROOT.parent / "shared" / "gtzan" / "audio" / "blues" / "blues.00000.flac")
    ap.add_argument("--start", type=float, default=5.0, help="slice start (s)")
    ap.add_argument("--seconds", type=float, default=7.0, help="slice length (s)")
    ap.add_argument("--model", default="MSD_musicnn",
                    choices=["MSD_musicnn", "MTT_musicnn", "MSD_vgg", "MTT_vgg"],
                    help="which of the wheel's four networks to run")
    ap.add_argument("--out", type=Path, default=None,
                    help="default: tests/fixtures/musicnn_reference.npz for MSD_musicnn, "
                         "tests/fixtures/<model>_reference.npz otherwise")
    args = ap.parse_args(argv)
    if args.out is None:
        name = "musicnn_reference.npz" if args.model == "MSD_musicnn" else f"{args.model}_reference.npz"
        args.out = ROOT / "tests" / "fixtures" / name

    if os.environ.get("TF_USE_LEGACY_KERAS") != "1":
        ap.error("set TF_USE_LEGACY_KERAS=1 (the TF1 layers come from tf-keras)")

    import librosa
    import soundfile as sf
    import tensorflow as tf

    tf.compat.v1.disable_eager_execution()
    sys.path.insert(0, str(args.wheel_dir))
    from musicnn import configuration as config  # noqa: E402  (the wheel's own modules)
    from musicnn import models  # noqa: E402

    y, sr = sf.read(str(args.clip), dtype="float32", always_2d=True)
    y = y.mean(axis=1)
    a, b = int(round(args.start * sr)), int(round((args.start + args.seconds) * sr))
    y22 = y[a:b]
    y16 = librosa.resample(y22, orig_sr=sr, target_sr=config.SR, res_type="soxr_hq").astype(np.float32)

    n_frames = librosa.time_to_frames(3, sr=config.SR, n_fft=config.FFT_SIZE,
                                      hop_length=config.FFT_HOP) + 1
    verbatim, _ = batch_data_from_array(y16, config.SR, n_frames, n_frames, config, verbatim=True)
    n_inf = int(np.isinf(verbatim).sum())
    batch, _ = batch_data_from_array(y16, config.SR, n_frames, n_frames, config)
    batch = batch.astype(np.float32)
    print(f"verbatim extractor: {n_inf} of {verbatim.size} log-mel values overflow to inf "
          f"(float16); fixture uses the float32 log: max |diff| elsewhere "
          f"{np.abs(np.where(np.isinf(verbatim), 0, verbatim - batch)).max():.2e}")

    model = args.model
    labels = config.MSD_LABELS if model.startswith("MSD") else config.MTT_LABELS
    tf.compat.v1.reset_default_graph()
    with tf.name_scope("model"):
        x = tf.compat.v1.placeholder(tf.float32, [None, n_frames, config.N_MELS])
        is_training = tf.compat.v1.placeholder(tf.bool)
        if "vgg" in model:
            logits, pool1, pool2, pool3, pool4, pool5 = models.define_model(x, is_training, model, len(labels))
            fetch = {"logits": logits, "pool5": tf.compat.v1.layers.flatten(pool5)}
        else:
            (logits, timbral, temporal, cnn1, cnn2, cnn3, mean_pool, max_pool,
             penultimate) = models.define_model(x, is_training, model, len(labels))
            fetch = {"logits": logits, "penultimate": penultimate, "mean_pool": mean_pool,
                     "max_pool": max_pool}
        fetch["probs"] = tf.nn.sigmoid(logits)
    with tf.compat.v1.Session() as sess:
        sess.run(tf.compat.v1.global_variables_initializer())
        tf.compat.v1.train.Saver().restore(sess, str(args.wheel_dir / "musicnn" / model) + "/")
        out = sess.run(fetch, feed_dict={x: batch, is_training: False})
    out = {k: np.asarray(v, dtype=np.float32) for k, v in out.items()}
    p = out["probs"]

    args.out.parent.mkdir(parents=True, exist_ok=True)
    np.savez_compressed(
        args.out, y16=y16, patches=batch, **out, labels=np.array(labels), model=np.array(model),
        source=np.array(f"{args.clip.name}[{args.start}s:+{args.seconds}s] "
                        f"resampled {sr}->16000 soxr_hq"),
        verbatim_extractor_inf=np.int64(n_inf), start_s=np.float64(args.start), seconds=np.float64(args.seconds),
        made_with=np.array(f"musicnn 0.1.0 {model} TF1 graph, tensorflow {tf.__version__}, "
                           f"librosa {librosa.__version__}, numpy {np.__version__}"))
    top = np.argsort(-p.mean(0))[:5]
    print(f"wrote {args.out}: {batch.shape[0]} patches; top tags:",
          ", ".join(f"{labels[i]} {p.mean(0)[i]:.3f}" for i in top))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
