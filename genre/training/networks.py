"""Offline only: every piece of TensorFlow/Keras code of the project (building, training and exporting networks).

This module is the one place in the package where TensorFlow, Keras, tf2onnx and onnx are used (always
imported inside functions, so importing it stays cheap). It builds and trains the CNN / CRNN / LSTM
patch networks of :mod:`genre.models.deep` (:func:`build_model`, :func:`train`, :func:`predict_mels`,
:class:`KerasPredictor`, :func:`load_keras` for a ``model.keras`` file, including manifests made before
the ONNX export), holds the Keras 3 port of the musicnn 0.1.0 wheel's four graphs
(:func:`build_musicnn`, :func:`build_vgg`, :func:`build_pretrained`, :func:`set_musicnn_weights`,
:func:`musicnn_network`, :func:`musicnn_forward`: the ONNX parity reference, used by
``scripts/export_onnx.py``, ``scripts/convert_musicnn.py`` and :mod:`genre.training.train_deep`'s musicnn
features), and converts Keras models to ONNX (:func:`to_onnx`, :func:`check_onnx`,
:func:`export_patch_model`). Prediction never imports it: the shipped networks run through
:mod:`genre.models.runtime` (onnxruntime), and the architecture constants, input pipelines and ONNX
predictors they need stay in :mod:`genre.models.deep` and :mod:`genre.models.musicnn`, imported from there.
"""

from __future__ import annotations

import os
import threading
import time
from pathlib import Path
from typing import Any, Callable, Mapping, Sequence

import numpy as np

from genre.errors import DataError, ModelError
from genre.models import deep, musicnn
from genre.models.deep import MEL, PATCH_FRAMES, ARCHS, PatchPredictor, PatchSampler, eval_patches, normalise

__all__ = [
    "configure_tensorflow", "build_model", "train", "HISTORY_DIGITS", "predict_mels", "KerasPredictor",
    "load_keras", "build_musicnn", "build_vgg", "build_pretrained", "set_musicnn_weights",
    "musicnn_network", "musicnn_forward", "OPSET", "to_onnx", "check_onnx", "export_patch_model",
]


# --------------------------------------------------------------------------------------------------
# TensorFlow set-up


def configure_tensorflow(threads: int | None = None, deterministic: bool = False) -> Any:
    """Import TensorFlow once, quietly, with a bounded thread pool.

    Parameters
    ----------
    threads : int, optional
        Intra-op threads (default: ``GENRE_TF_THREADS`` or 2). Inter-op threads are 1.
    deterministic : bool
        Enable TensorFlow's deterministic ops (used in training; costs little on CPU).

    Returns
    -------
    module
        The ``keras`` module.
    """
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    os.environ.setdefault("TF_ENABLE_ONEDNN_OPTS", "0")
    os.environ.setdefault("KERAS_BACKEND", "tensorflow")
    import tensorflow as tf  # noqa: PLC0415 - deliberate lazy import
    import keras  # noqa: PLC0415

    n = int(threads or os.environ.get("GENRE_TF_THREADS", 2))
    try:
        tf.config.threading.set_intra_op_parallelism_threads(n)
        tf.config.threading.set_inter_op_parallelism_threads(1)
    except RuntimeError:
        pass  # already initialised in this process: keep what it has
    if deterministic:
        try:
            tf.config.experimental.enable_op_determinism()
        except Exception:  # pragma: no cover - older TF
            pass
    return keras


# --------------------------------------------------------------------------------------------------
# The patch networks (CNN, CRNN, LSTM) of genre.models.deep


def build_model(arch: str = "cnn", n_mels: int = MEL["n_mels"], frames: int = PATCH_FRAMES,
                filters: Sequence[int] = (16, 32, 48, 64, 64), dropout: float = 0.1,
                head_dropout: float = 0.3, gru_units: int = 32, n_classes: int = 10,
                resolution: int = 1, lstm_units: int = 64, lstm_dropout: float = 0.3,
                l2: float = 1e-4) -> Any:
    """A small CNN, parallel CRNN or 2-layer LSTM on ``(n_mels, frames, 1)`` normalised log-mel patches.

    Parameters
    ----------
    arch : {"cnn", "crnn", "lstm"}
        ``cnn``: 5 blocks of conv 3x3 -> batch norm -> ReLU -> max-pool 2x2 -> dropout, then global
        average and max pooling concatenated and a softmax layer. ``crnn``: the same conv branch in
        parallel with a bidirectional GRU over time on the spectrogram max-pooled 4x2 (frequency x
        time); the two branch outputs are concatenated before the softmax. ``lstm``: two stacked
        LSTM layers (``lstm_units`` each) over the time axis, one mel frame per step, dropout
        ``lstm_dropout`` after each and L2 weight decay ``l2`` on every kernel (the MagnaTagATune
        study's recurrent model, regularised with dropout and L2 as it settled on).
    filters : sequence of int
        Filters per convolution block (five blocks).
    n_classes : int
        Number of output classes (the length of the model's manifest ``classes``).
    resolution : {1, 4, 16}
        Input resolution (:data:`genre.models.deep.RESOLUTIONS`): the network sees the patch
        average-pooled by ``sqrt(resolution)`` along both the mel and the time axis (a fixed first
        layer, so the model's input and its preprocessing stay the same at every resolution).

    Returns
    -------
    keras.Model
    """
    if arch not in ARCHS:
        raise ValueError(f"arch must be one of {ARCHS}, not {arch!r}.")
    f = deep.pool_factor(resolution)
    keras = configure_tensorflow()
    from keras import layers, regularizers  # noqa: PLC0415

    inp = keras.Input((n_mels, frames, 1), name="logmel")
    src = layers.AveragePooling2D(f, name=f"resolution_div{resolution}")(inp) if f > 1 else inp
    if arch == "lstm":
        reg = regularizers.l2(l2)
        r = layers.Permute((2, 1, 3), name="time_major")(src)                # (time, freq, 1)
        r = layers.Reshape((r.shape[1], r.shape[2]), name="frames")(r)      # (time, freq)
        r = layers.LSTM(lstm_units, return_sequences=True, kernel_regularizer=reg,
                        recurrent_regularizer=reg, name="lstm1")(r)
        r = layers.Dropout(lstm_dropout, name="drop1")(r)
        r = layers.LSTM(lstm_units, kernel_regularizer=reg, recurrent_regularizer=reg, name="lstm2")(r)
        h = layers.Dropout(lstm_dropout, name="head_drop")(r)
        out = layers.Dense(n_classes, activation="softmax", kernel_regularizer=reg, name="probs")(h)
        return keras.Model(inp, out, name=arch if resolution == 1 else f"{arch}_r{resolution}")
    x = src
    for i, nf in enumerate(filters):
        x = layers.Conv2D(nf, 3, padding="same", use_bias=False, name=f"conv{i + 1}")(x)
        x = layers.BatchNormalization(name=f"bn{i + 1}")(x)
        x = layers.ReLU(name=f"relu{i + 1}")(x)
        x = layers.MaxPooling2D(2, padding="same", name=f"pool{i + 1}")(x)
        x = layers.Dropout(dropout, name=f"drop{i + 1}")(x)
    conv = layers.Concatenate(name="conv_pool")([layers.GlobalAveragePooling2D(name="gap")(x),
                                                 layers.GlobalMaxPooling2D(name="gmp")(x)])
    if arch == "crnn":
        r = layers.MaxPooling2D((4, 2), name="rnn_pool")(src)             # (n_mels/4, frames/2, 1)
        r = layers.Permute((2, 1, 3), name="rnn_time_major")(r)           # (time, freq, 1)
        r = layers.Reshape((r.shape[1], r.shape[2]), name="rnn_seq")(r)   # (time, freq)
        r = layers.Bidirectional(layers.GRU(gru_units), name="bigru")(r)
        conv = layers.Concatenate(name="parallel")([conv, r])
    h = layers.Dropout(head_dropout, name="head_drop")(conv)
    out = layers.Dense(n_classes, activation="softmax", name="probs")(h)
    return keras.Model(inp, out, name=arch if resolution == 1 else f"{arch}_r{resolution}")


#: Digits kept for every per-epoch value recorded in :func:`train`'s ``history``.
HISTORY_DIGITS = 4


def _clip_loss_accuracy(probs: np.ndarray, labels: Sequence[int]) -> tuple[float, float]:
    """Clip-level cross-entropy (mean ``-log p(true class)``, no label smoothing) and accuracy."""
    y = np.asarray(labels, dtype=int)
    p = np.clip(np.asarray(probs, dtype=np.float64)[np.arange(len(y)), y], 1e-7, 1.0)
    return float(-np.log(p).mean()), float((np.asarray(probs).argmax(axis=1) == y).mean())


def train(model: Any, sampler: PatchSampler, *, scale: float, epochs: int = 30,
          patches_per_epoch: int = 1600, batch_size: int = 32, lr: float = 2e-3,
          label_smoothing: float = 0.05, progress: Callable[[str], None] | None = print,
          name: str = "", validation: tuple[Sequence[np.ndarray], Sequence[int]] | None = None,
          validate_every: int = 1) -> dict:
    """Fit ``model`` on freshly sampled, augmented patches every epoch (Adam, cosine-decayed LR).

    There is no validation-based early stopping: the schedule is fixed, so no held-out clip ever
    steers training. Per-epoch curves are recorded, never acted on.

    Parameters
    ----------
    validation : (mels, labels), optional
        Held-out clips that are **not** test clips (log-mel spectrograms and class indices). When
        given, every ``validate_every`` epochs (and after the last) the clip-level loss and accuracy
        on them are recorded (:func:`predict_mels`: mean of each clip's 3-s segment
        probabilities; the loss is the mean ``-log p(true class)``, no label smoothing). They only
        describe training: nothing reads them back during the fit.
    validate_every : int
        Validate every this many epochs (the other epochs get ``None``).

    Returns
    -------
    dict
        ``{"epochs", "patches_per_epoch", "batch_size", "lr", "label_smoothing", "loss" (last),
        "accuracy" (last, on the augmented training patches), "fit_time_s", "history"}``.
        ``history`` holds one entry per epoch, rounded to :data:`HISTORY_DIGITS` digits:
        ``loss`` and ``accuracy`` (Keras' running mean over that epoch's augmented training
        patches; the loss includes the label smoothing and any L2 penalty), ``epoch_seconds``
        (wall seconds to draw that epoch's patches and fit them; validation excluded) and, with
        ``validation``, ``val_loss`` / ``val_accuracy`` (``None`` on epochs not validated) and
        ``val_every``.
    """
    keras = configure_tensorflow()
    steps = max(1, patches_per_epoch // batch_size) * epochs
    schedule = keras.optimizers.schedules.CosineDecay(lr, decay_steps=steps, alpha=0.05)
    model.compile(optimizer=keras.optimizers.Adam(schedule),
                  loss=keras.losses.CategoricalCrossentropy(label_smoothing=label_smoothing),
                  metrics=["accuracy"])
    n_classes = model.output_shape[-1]
    every = max(1, int(validate_every))
    r = lambda v: None if v is None else round(float(v), HISTORY_DIGITS)  # noqa: E731
    history: dict[str, Any] = {"loss": [], "accuracy": [], "epoch_seconds": []}
    if validation is not None:
        val_mels, val_y = list(validation[0]), np.asarray(validation[1], dtype=int)
        if not len(val_mels) or len(val_mels) != len(val_y):
            raise DataError("validation needs one label per spectrogram and at least one clip.")
        history.update({"val_loss": [], "val_accuracy": [], "val_every": every})
    t0 = time.perf_counter()
    hist: dict = {}
    for ep in range(epochs):
        t_ep = time.perf_counter()
        X, y = sampler.sample(patches_per_epoch)
        Y = np.eye(n_classes, dtype=np.float32)[y]
        h = model.fit(normalise(X, scale), Y, batch_size=batch_size, epochs=ep + 1, initial_epoch=ep,
                      verbose=0, shuffle=True)
        hist = {k: float(v[-1]) for k, v in h.history.items()}
        history["loss"].append(r(hist.get("loss")))
        history["accuracy"].append(r(hist.get("accuracy")))
        history["epoch_seconds"].append(r(time.perf_counter() - t_ep))
        line = (f"  [{name}] epoch {ep + 1}/{epochs} loss {hist.get('loss', float('nan')):.3f} "
                f"acc {hist.get('accuracy', float('nan')):.3f}")
        if validation is not None:
            v_loss = v_acc = None
            if (ep + 1) % every == 0 or ep + 1 == epochs:
                v_loss, v_acc = _clip_loss_accuracy(predict_mels(model, val_mels, scale), val_y)
                line += f" val_loss {v_loss:.3f} val_acc {v_acc:.3f}"
            history["val_loss"].append(r(v_loss))
            history["val_accuracy"].append(r(v_acc))
        if progress:
            progress(f"{line} ({time.perf_counter() - t0:.0f} s)")
    return {"epochs": epochs, "patches_per_epoch": patches_per_epoch, "batch_size": batch_size,
            "lr": lr, "label_smoothing": label_smoothing, "loss": hist.get("loss"),
            "accuracy": hist.get("accuracy"), "fit_time_s": round(time.perf_counter() - t0, 1),
            "history": history}


def predict_mels(model: Any, mels: Sequence[np.ndarray], scale: float,
                 batch_size: int = 64) -> np.ndarray:
    """Clip probabilities ``(len(mels), n_classes)``: mean of each clip's 3-s segment probabilities."""
    P, owner = eval_patches(mels)
    probs = np.asarray(model.predict(normalise(P, scale), batch_size=batch_size, verbose=0))
    out = np.zeros((len(mels), probs.shape[1]))
    np.add.at(out, owner, probs)
    return out / np.bincount(owner, minlength=len(mels))[:, None]


class KerasPredictor(PatchPredictor):
    """A trained CNN/CRNN/LSTM Keras model behind the shared Predictor interface (offline: training,
    evaluation, parity checks; prediction runs :class:`genre.models.deep.OnnxPatchPredictor`).

    Parameters
    ----------
    model : keras.Model
    manifest : dict
        Its manifest; ``manifest["preprocessing"]`` holds the mel settings and ``scale``.
    """

    def __init__(self, model: Any, manifest: dict):
        super().__init__(manifest, name=model.name)
        self.model = model
        self._fn = None
        self._check_outputs(int(model.output_shape[-1]))

    def _probs(self, patches: np.ndarray) -> np.ndarray:
        x = normalise(patches, self.scale)
        if self._fn is None:
            # one traced graph for any batch size: no predict() loop set-up, and the GRU runs as a
            # graph loop instead of step by step in Python (eager CRNN calls take seconds)
            import tensorflow as tf  # noqa: PLC0415

            spec = tf.TensorSpec([None, *x.shape[1:]], tf.float32)
            self._fn = tf.function(lambda t: self.model(t, training=False), input_signature=[spec])
        return np.asarray(self._fn(x), dtype=np.float64)


def load_keras(model_dir: str | Path, manifest: dict) -> KerasPredictor:
    """``model_dir/model.keras`` -> :class:`KerasPredictor` (imports TensorFlow).

    The explicit, offline way to run a patch network through Keras: retraining and re-scoring
    (``train_deep --evaluate-only``, the stack's members), parity checks, and manifests made before
    the ONNX export, which :func:`genre.models.deep.load` refuses. ``manifest`` should come from
    :func:`genre.registry.verify`.
    """
    path = Path(model_dir) / "model.keras"
    if not path.is_file():
        raise ModelError(f"Model file missing: {path}.")
    keras = configure_tensorflow()
    try:
        model = keras.saving.load_model(path, compile=False)
    except Exception as exc:
        raise ModelError(f"Could not load {path}: {type(exc).__name__}: {exc}") from exc
    return KerasPredictor(model, manifest)


# --------------------------------------------------------------------------------------------------
# The Keras port of the musicnn 0.1.0 wheel's four graphs (genre.models.musicnn's reference)


def build_musicnn():
    """The MSD_musicnn graph of musicnn 0.1.0's ``models.build_musicnn`` as a Keras 3 model.

    Layers carry the TF1 checkpoint's variable-scope names (``conv2d_5``, ``batch_normalization_9``...)
    so weights map one to one. The mid-end's ``[7, width]`` convolutions over a ``(time, width, 1)``
    map are written as the equivalent ``Conv1D``s. Batch normalisation uses the stored moving
    statistics and epsilon 0.001 (TF1 ``tf.layers.batch_normalization`` at inference).
    ``tests/test_networks.py`` checks it against the original graph's outputs
    (``tests/fixtures/musicnn_reference.npz``, made by ``scripts/musicnn_reference.py``).

    Returns
    -------
    keras.Model
        Input ``(batch, 187, 96)`` log-mel patches (any number of frames >= 128 works); outputs a dict
        ``probs`` (sigmoid, 50), ``logits`` (50), ``penultimate`` (200), ``pool`` (1506, max and mean
        over time interleaved), ``mean_pool`` and ``max_pool`` (753 each).
    """
    import keras
    from keras import layers, ops

    n_mels = musicnn.MUSICNN_N_MELS

    def bn(name):
        return layers.BatchNormalization(axis=-1, epsilon=1e-3, momentum=0.99, name=name)

    def freq_max(name):  # max over the whole frequency axis, then drop it
        return layers.Lambda(lambda t: ops.max(t, axis=2), name=name)

    x_in = keras.Input(shape=(None, n_mels), name="logmel")
    x = layers.Reshape((-1, n_mels, 1), name="expand")(x_in)
    x = bn("batch_normalization")(x)

    # front-end: two timbral blocks (7 x 38 and 7 x 67), time padded by 3 ('same' in time only)
    xp = layers.ZeroPadding2D(((3, 3), (0, 0)), name="pad_timbral")(x)
    front = []
    specs = [("conv2d", "batch_normalization_1", 204, (7, int(0.4 * n_mels)), "valid"),
             ("conv2d_1", "batch_normalization_2", 204, (7, int(0.7 * n_mels)), "valid"),
             # three temporal blocks (128/64/32 x 1), TF 'same' padding
             ("conv2d_2", "batch_normalization_3", 51, (128, 1), "same"),
             ("conv2d_3", "batch_normalization_4", 51, (64, 1), "same"),
             ("conv2d_4", "batch_normalization_5", 51, (32, 1), "same")]
    for conv_name, bn_name, filters, kernel, padding in specs:
        src = xp if padding == "valid" else x
        h = layers.Conv2D(filters, kernel, padding=padding, activation="relu", name=conv_name)(src)
        h = bn(bn_name)(h)
        front.append(freq_max(f"{conv_name}_freqmax")(h))
    frontend = layers.Concatenate(axis=-1, name="frontend")(front)  # (b, t, 561)

    # mid-end: three 7-frame convolutions with residual connections
    h1 = layers.Conv1D(64, 7, padding="valid", activation="relu", name="conv2d_5")(
        layers.ZeroPadding1D(3, name="pad_mid1")(frontend))
    h1 = bn("batch_normalization_6")(h1)
    h2 = layers.Conv1D(64, 7, padding="valid", activation="relu", name="conv2d_6")(
        layers.ZeroPadding1D(3, name="pad_mid2")(h1))
    h2 = layers.Add(name="res2")([bn("batch_normalization_7")(h2), h1])
    h3 = layers.Conv1D(64, 7, padding="valid", activation="relu", name="conv2d_7")(
        layers.ZeroPadding1D(3, name="pad_mid3")(h2))
    h3 = layers.Add(name="res3")([bn("batch_normalization_8")(h3), h2])
    midend = layers.Concatenate(axis=-1, name="midend")([frontend, h1, h2, h3])  # (b, t, 753)

    # back-end: max and mean over time, interleaved as TF1's concat([max, mean], 2) + flatten
    max_pool = layers.Lambda(lambda t: ops.max(t, axis=1), name="max_pool")(midend)
    mean_pool = layers.Lambda(lambda t: ops.mean(t, axis=1), name="mean_pool")(midend)
    pool = layers.Lambda(lambda ts: ops.reshape(ops.stack(ts, axis=-1), (-1, 2 * musicnn.MIDEND_DIM)),
                         name="pool")([max_pool, mean_pool])
    h = bn("batch_normalization_9")(pool)
    h = layers.Dense(musicnn.EMBED_DIM, activation="relu", name="dense")(h)
    penultimate = bn("batch_normalization_10")(h)
    logits = layers.Dense(len(musicnn.MSD_LABELS), name="dense_1")(penultimate)
    probs = layers.Activation("sigmoid", name="probs")(logits)
    return keras.Model(x_in, {"probs": probs, "logits": logits, "penultimate": penultimate,
                              "pool": pool, "mean_pool": mean_pool, "max_pool": max_pool},
                       name="MSD_musicnn")


def build_vgg(num_filters: int = 128, n_tags: int = 50, name: str = "MSD_vgg"):
    """The ``vgg`` graph of musicnn 0.1.0's ``models.vgg`` (MSD_vgg, MTT_vgg) as a Keras 3 model.

    Five blocks of 3x3 convolution (``num_filters``, ReLU, 'same') -> batch norm -> max pooling
    (``[4, 1]`` stride 2, then ``[2, 2]`` x3, then ``[4, 4]``; TF1 'valid' pooling), on a batch-normed
    ``(187, 96, 1)`` patch; the last pooling map ``(2, 1, 128)`` is flattened (``pool5``, 256 values,
    the network's embedding, :data:`genre.models.musicnn.VGG_EMBED_DIM`) and a dense layer gives the
    50 tag logits. Layer names are the TF1 checkpoint's (``1CNN`` ... ``5CNN``,
    ``batch_normalization`` ... ``_5``, ``dense``). Dropout is the identity at inference and is left out.

    Returns
    -------
    keras.Model
        Input ``(batch, 187, 96)`` (the vgg networks only take 3-s patches); outputs a dict ``probs``
        (sigmoid, 50), ``logits`` (50), ``pool5`` (256).
    """
    import keras
    from keras import layers

    frames, n_mels = musicnn.PATCH_FRAMES, musicnn.MUSICNN_N_MELS

    def bn(n):
        return layers.BatchNormalization(axis=-1, epsilon=1e-3, momentum=0.99, name=n)

    x_in = keras.Input(shape=(frames, n_mels), name="logmel")
    x = layers.Reshape((frames, n_mels, 1), name="expand")(x_in)
    x = bn("batch_normalization")(x)
    pools = [((4, 1), (2, 2)), ((2, 2), (2, 2)), ((2, 2), (2, 2)), ((2, 2), (2, 2)), ((4, 4), (4, 4))]
    for i, (size, stride) in enumerate(pools):
        x = layers.Conv2D(num_filters, 3, padding="same", activation="relu", name=f"{i + 1}CNN")(x)
        x = bn(f"batch_normalization_{i + 1}")(x)
        x = layers.MaxPooling2D(size, strides=stride, padding="valid", name=f"pool{i + 1}")(x)
    pool5 = layers.Flatten(name="pool5_flat")(x)
    logits = layers.Dense(n_tags, name="dense")(pool5)
    probs = layers.Activation("sigmoid", name="probs")(logits)
    return keras.Model(x_in, {"probs": probs, "logits": logits, "pool5": pool5}, name=name)


def build_pretrained(net: str = "MSD_musicnn"):
    """Keras port of one of the wheel's :data:`genre.models.musicnn.NETWORKS` (weights not loaded:
    see :func:`set_musicnn_weights`)."""
    if net not in musicnn.NETWORKS:
        raise ValueError(f"net must be one of {sorted(musicnn.NETWORKS)}, not {net!r}.")
    arch, labels = musicnn.NETWORKS[net]
    if arch == "vgg":
        return build_vgg(n_tags=len(labels), name=net)
    return build_musicnn()


def _read_weights(path: Path) -> dict[str, np.ndarray]:
    if not path.is_file():
        raise ModelError(f"musicnn weights {path} are missing; run scripts/convert_musicnn.py.")
    with np.load(path, allow_pickle=False) as z:
        return {k: z[k] for k in z.files}


def set_musicnn_weights(model, weights: Mapping[str, np.ndarray]) -> None:
    """Copy checkpoint-named arrays (``"conv2d/kernel"``, ``"batch_normalization/gamma"``...) into
    the layers of :func:`build_musicnn` / :func:`build_vgg`. Every layer with weights must be covered
    and every array used."""
    used = set()
    for layer in model.layers:
        if not layer.weights:
            continue
        n = layer.name
        if n.startswith("batch_normalization"):
            keys = [f"{n}/gamma", f"{n}/beta", f"{n}/moving_mean", f"{n}/moving_variance"]
        else:
            keys = [f"{n}/kernel", f"{n}/bias"]
        missing = [k for k in keys if k not in weights]
        if missing:
            raise ModelError(f"musicnn weights lack {missing}.")
        vals = [np.asarray(weights[k], dtype=np.float32) for k in keys]
        targets = [w.shape for w in layer.get_weights()]
        vals = [v.reshape(t) if v.size == int(np.prod(t)) else v for v, t in zip(vals, targets)]
        if [v.shape for v in vals] != [tuple(t) for t in targets]:
            raise ModelError(f"musicnn weights for {n}: shapes {[v.shape for v in vals]} != {targets}.")
        layer.set_weights(vals)
        used.update(keys)
    unused = sorted(set(weights) - used)
    if unused:
        raise ModelError(f"musicnn weights file has arrays no layer uses: {unused}.")


_LOCK = threading.Lock()
_NETWORKS: dict[str, Any] = {}


def musicnn_network(weights: str | Path | None = None):
    """The MSD_musicnn Keras model with the converted weights loaded (built once per process and
    cached). Returns ``(model, fn)``: ``fn`` is the traced inference call.

    Parameters
    ----------
    weights : path, optional
        ``.npz`` of checkpoint-named arrays; default ``models/musicnn/msd_musicnn.npz``.
    """
    path = Path(weights) if weights is not None else musicnn.DEFAULT_DIR / musicnn.WEIGHTS_FILE
    key = str(path.resolve())
    with _LOCK:
        if key not in _NETWORKS:
            model = build_musicnn()
            set_musicnn_weights(model, _read_weights(path))
            import tensorflow as tf

            fn = tf.function(lambda x: model(x, training=False), reduce_retracing=True,
                             input_signature=[tf.TensorSpec([None, None, musicnn.MUSICNN_N_MELS], tf.float32)])
            _NETWORKS[key] = (model, fn)
        return _NETWORKS[key]


def musicnn_forward(X: np.ndarray, weights: str | Path | None = None, batch_size: int = 16) -> dict[str, np.ndarray]:
    """Run the Keras port of MSD_musicnn on log-mel patches (every output; the ONNX export of
    :func:`genre.models.musicnn.forward` gives ``probs`` and ``penultimate`` only).

    Parameters
    ----------
    X : np.ndarray
        ``(n, frames, 96)`` float32 patches (``frames`` is 187 for musicnn's own patches,
        :func:`genre.models.musicnn.patches`).
    weights : path, optional
        ``.npz`` weights file (see :func:`musicnn_network`).
    batch_size : int
        Patches per call (bounds memory: about 25 MB per patch in the front-end).

    Returns
    -------
    dict
        ``probs`` (n, 50), ``logits`` (n, 50), ``penultimate`` (n, 200), ``pool`` (n, 1506),
        ``mean_pool`` and ``max_pool`` (n, 753), float32 numpy arrays.
    """
    X = np.asarray(X, dtype=np.float32)
    if X.ndim != 3 or X.shape[2] != musicnn.MUSICNN_N_MELS:
        raise ValueError(f"X must have shape (n, frames, {musicnn.MUSICNN_N_MELS}); got {X.shape}.")
    if weights is not None and Path(weights).suffix == ".onnx":
        raise ModelError(f"{weights} is an ONNX export: run it with genre.models.musicnn.forward.")
    _, fn = musicnn_network(weights)
    outs: dict[str, list] = {}
    for i in range(0, X.shape[0], batch_size):
        res = fn(X[i:i + batch_size])
        for k, v in res.items():
            outs.setdefault(k, []).append(v.numpy())
    return {k: np.concatenate(v, axis=0) for k, v in outs.items()}


# --------------------------------------------------------------------------------------------------
# Keras -> ONNX


#: ONNX opset of every export.
OPSET = 17


def to_onnx(keras_model, input_shape: tuple, outputs: dict[str, str], producer: str = "genre (tf2onnx)") -> bytes:
    """Convert a Keras model whose call returns a dict (or one tensor) into ONNX bytes.

    Parameters
    ----------
    keras_model : keras.Model
    input_shape : tuple
        Input shape without the batch axis (the batch axis is dynamic). The ONNX input is ``logmel``.
    outputs : dict
        ONNX output name -> key of the Keras model's output dict (or "" for a single output).
    producer : str
        The ONNX file's ``producer_name``.
    """
    import onnx
    import tensorflow as tf
    import tf2onnx

    spec = [tf.TensorSpec([None, *input_shape], tf.float32, name="logmel")]

    @tf.function(input_signature=spec)
    def fn(x):
        out = keras_model(x, training=False)
        return {name: tf.identity(out[key] if key else out, name=name) for name, key in outputs.items()}

    proto, _ = tf2onnx.convert.from_function(fn, input_signature=spec, opset=OPSET)
    # rename the graph outputs to the dict keys (tf2onnx names them after the TF tensors)
    concrete = fn.get_concrete_function()
    flat_names = [t.name for t in concrete.outputs]
    keys = list(tf.nest.flatten({k: k for k in outputs}))  # dict flattening order (sorted keys)
    rename = dict(zip(flat_names, keys))
    for node in proto.graph.node:
        node.output[:] = [rename.get(o, o) for o in node.output]
        node.input[:] = [rename.get(i, i) for i in node.input]
    for out in proto.graph.output:
        out.name = rename.get(out.name, out.name)
    proto.graph.input[0].name = "logmel"
    for node in proto.graph.node:
        node.input[:] = ["logmel" if i in ("logmel:0", "x:0") else i for i in node.input]
    proto.producer_name = producer
    onnx.checker.check_model(proto)
    return proto.SerializeToString()


def check_onnx(onnx_bytes: bytes, keras_out: dict[str, np.ndarray], X: np.ndarray, what: str,
               tol: float = 1e-4, say: Callable[[str], None] | None = print) -> float:
    """Max abs difference between the ONNX and Keras outputs on ``X``; :class:`ModelError` above ``tol``."""
    import onnxruntime as ort

    sess = ort.InferenceSession(onnx_bytes, providers=["CPUExecutionProvider"])
    names = [o.name for o in sess.get_outputs()]
    got = dict(zip(names, sess.run(None, {sess.get_inputs()[0].name: X})))
    diff = max(float(np.abs(got[k] - np.asarray(v)).max()) for k, v in keras_out.items())
    if say:
        say(f"{what}: outputs {names}, max |ONNX - Keras| = {diff:.2e}")
    if diff > tol:
        raise ModelError(f"{what}: ONNX differs from Keras by {diff}")
    return diff


def embedding_layer(model) -> str:
    """The layer that feeds a patch network's classifier head (the one before ``head_drop``:
    ``conv_pool`` for the CNNs, ``parallel`` for the CRNN, ``lstm2`` for the LSTMs)."""
    names = [layer.name for layer in model.layers]
    return names[names.index("head_drop") - 1]


def export_patch_model(model, X: np.ndarray, what: str = "patch network",
                       say: Callable[[str], None] | None = print) -> tuple[bytes, dict]:
    """A patch network (:func:`build_model`) to ONNX with outputs ``probs`` and ``embedding``
    (:func:`embedding_layer`), checked against Keras on ``X`` (normalised patches, ``(n, 64, 130, 1)``).

    Returns
    -------
    bytes, dict
        The ONNX file and the manifest's ``onnx_info``.
    """
    import keras

    layer = embedding_layer(model)
    both = keras.Model(model.input, {"probs": model.output, "embedding": model.get_layer(layer).output})
    X = np.asarray(X, dtype=np.float32)
    data = to_onnx(both, tuple(X.shape[1:]), {"probs": "probs", "embedding": "embedding"})
    ref = both(X, training=False)
    check_onnx(data, {k: np.asarray(v) for k, v in ref.items()}, X, what, say=say)
    info = {"input": "logmel", "outputs": ["probs", "embedding"], "opset": OPSET, "embedding": layer}
    return data, info
