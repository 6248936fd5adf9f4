"""Train, evaluate and ship every deep model: CNN, CRNN, musicnn + logistic regression, the zero-shot
musicnn's evaluation, and the stacked ensemble.

One command reproduces all of it. Measured on the shared 2-core machine under heavy load (load
average 10-16): CNN and CRNN about 24 min each (30 epochs x 1600 patches), musicnn embeddings of the
515 clips about 12 min (cached afterwards), the stack's fold models (5 folds x 12 epochs per deep
member) about 25-35 min per member; about 2 h in all, less on a quiet machine::

    nice python -m genre.training.train_deep                 # GTZAN audio in ../shared/gtzan
    nice python -m genre.training.train_deep --artist-cv     # + artist-grouped CV (much longer)
    nice python -m genre.training.train_deep --artist-cv-only cnn crnn  # only that CV; shipped models untouched
    nice python -m genre.training.train_deep --gtzan-root DIR   # a GTZAN-layout <DIR>/<genre>/<clip> folder
    nice python -m genre.training.train_deep --data-root DIR --models-dir OUT --models cnn lstm  # your own labels

Protocols (``models/results/<model>.json``)
-------------------------------------------
- ``audio_holdout``: train on the fault-filtered train+valid clips that have audio (371 here), test on
  the test clips with audio (144: no jazz, 2 disco). ``audio_holdout_full``: the same models scored on
  the 79 full-length clips among those 144.
- ``artist_cv_audio`` (``--artist-cv``): 5-fold artist-grouped CV (:func:`genre.training.evaluate.artist_folds`,
  seed 0) over all non-excluded clips with audio.

The shipped models are the ``audio_holdout`` models (trained on train+valid only), so the test score
shown for a shipped model is the score of that very model on clips it never saw.

Every network's per-epoch curves (:func:`genre.training.networks.train`: training loss and accuracy on the
augmented patches, wall seconds per epoch) go into its results file as ``history`` of the protocol
whose fit they describe (one per fold for the CV protocols) and into its manifest's ``training``.
There is no validation curve: ``audio_holdout`` fits on train+valid, so no held-out clip other than
the test clips exists, and test clips are never scored during training.

With ``--gtzan-root`` (e.g. the full GTZAN), clips whose ids are in the split lists take their split;
other clips are training-only (``excluded`` clips of the filtered split are left out as in GTZAN).

With ``--data-root`` (:func:`train_on_folder`), any ``<root>/<label>/<clip>.<ext>`` folder or ``path,label[,group]``
CSV with two or more labels: the networks train on the protocols of :mod:`genre.training.user_data`
(``group_holdout``, and ``group_cv`` with ``--cv``) into their own models folder, beside that dataset's
feature models.

Networks (:data:`ARCH_SETTINGS`): the CNN and CRNN, and the MagnaTagATune study's models: a 2-layer LSTM
on the log-mel frames (dropout + L2), and the CNN and LSTM at input resolution 1/4 and 1/16
(``_r4``, ``_r16``; :func:`genre.training.networks.build_model`), trained with the same recipe (epochs,
patches, schedule, seed), so their training times and scores compare.

Imbalance: training patches are drawn genre-balanced (:class:`genre.models.deep.PatchSampler`); the
logistic-regression heads use ``class_weight="balanced"``.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path
from typing import Any, Sequence

import numpy as np
import pandas as pd

from genre.config import CACHE_DIR, MODELS_DIR
from genre.errors import DataError, GenreError
from genre.training import networks
from genre.training.datasets import GTZAN_GENRES
from genre.training.reporting import dir_size as _dir_size, latency_ms, metrics, write_model_result as _write_result

__all__ = ["train_all", "clip_table", "metrics", "main"]

LOG = print


def _say(msg: str) -> None:
    LOG(f"[{time.strftime('%H:%M:%S')}] {msg}")
    sys.stdout.flush()


# -------------------------------------------------------------------------------------------- data


def clip_table(data_root: str | Path | None = None) -> pd.DataFrame:
    """Clips with audio and their protocol membership.

    Returns
    -------
    DataFrame
        ``clip, genre, path, kind ('full'|'excerpt'|''), split ('train'|'valid'|'test'|'excluded'),
        artist`` (Sturm's index; clips not in it get their own group). Excluded clips are kept (rows
        with ``split == 'excluded'``) but never used.
    """
    from genre.training import datasets

    if data_root is None:
        df = datasets.clips_index()[["clip", "genre", "path", "kind", "split"]].copy()
    else:
        df = datasets.scan_folder(data_root)
        df["kind"] = ""
        try:
            splits = datasets.split_lists()
            where = {c: s for s, cs in splits.items() for c in cs}
            known = set(datasets.published_table().index)
        except DataError:
            where, known = {}, set()
        df["split"] = [where.get(c, "excluded" if c in known else "train") for c in df["clip"]]
    df = df.drop_duplicates("clip").reset_index(drop=True)
    bad = sorted(set(df["genre"]) - set(GTZAN_GENRES))
    if bad:
        raise DataError(f"Unknown genre folders {bad} in a GTZAN-layout folder; expected some of {list(GTZAN_GENRES)} "
                        "(your own labels: --data-root).")
    try:
        groups = datasets.artist_groups()
    except DataError:
        groups = pd.Series(dtype=str)
    df["artist"] = [groups.get(c, "?" + c) for c in df["clip"]]
    return df


# ---------------------------------------------------------------------------------- deep models

#: Every network trained here: registry name -> display name, architecture (:func:`genre.training.networks.build_model`),
#: input resolution (the number of log-mel values divided by it) and epochs. The ``_r4`` / ``_r16`` variants and
#: the LSTM reproduce the MagnaTagATune study's comparison of input resolutions and of a recurrent model.
ARCH_SETTINGS = {
    "cnn": {"display": "CNN (log-mel, 5 conv blocks)", "arch": "cnn", "resolution": 1, "epochs": 30},
    "crnn": {"display": "CRNN (parallel CNN + BiGRU)", "arch": "crnn", "resolution": 1, "epochs": 30},
    "cnn_r4": {"display": "CNN, input / 4 (32 mels x 65 frames)", "arch": "cnn", "resolution": 4, "epochs": 30},
    "cnn_r16": {"display": "CNN, input / 16 (16 mels x 32 frames)", "arch": "cnn", "resolution": 16,
                "epochs": 30},
    "lstm": {"display": "LSTM (2 layers on log-mel frames)", "arch": "lstm", "resolution": 1, "epochs": 30},
    "lstm_r4": {"display": "LSTM, input / 4 (32 mels x 65 frames)", "arch": "lstm", "resolution": 4,
                "epochs": 30},
    "lstm_r16": {"display": "LSTM, input / 16 (16 mels x 32 frames)", "arch": "lstm", "resolution": 16,
                 "epochs": 30},
}
#: The networks the stack may use as members.
STACKABLE: tuple[str, ...] = tuple(ARCH_SETTINGS)
#: Every model name ``train_all`` knows, in training order.
ALL_MODELS: tuple[str, ...] = (*ARCH_SETTINGS, "musicnn_logreg", "musicnn_zeroshot", "stack")


def fit_deep(name: str, mels: list[np.ndarray], labels: Sequence[int], *, seed: int = 0,
             epochs: int | None = None, n_classes: int | None = None, log_name: str = "",
             validation: tuple[Sequence[np.ndarray], Sequence[int]] | None = None,
             validate_every: int = 1) -> tuple[Any, float, dict]:
    """Train one network of :data:`ARCH_SETTINGS` from scratch. Returns ``(model, scale, info)``.

    ``n_classes`` defaults to ``max(labels) + 1``; ``info`` holds the training record
    (:func:`genre.training.networks.train`, with its per-epoch ``history``) plus ``scale``, ``params``
    (weights), ``arch`` and ``resolution``. ``validation`` (held-out clips that are not test clips:
    ``(mels, labels)``) adds clip-level validation curves every ``validate_every`` epochs; it never
    steers the fit. None of this module's protocols has such clips (``audio_holdout`` fits on
    train+valid, ``group_holdout`` on every non-test fold), so their curves are training curves only.
    """
    from genre.models import deep

    setting = ARCH_SETTINGS[name]
    keras = networks.configure_tensorflow(deterministic=True)
    keras.utils.set_random_seed(seed)
    sampler = deep.PatchSampler(mels, labels, seed=seed)
    probe, _ = sampler.sample(512)
    scale = float((probe - probe.mean(axis=(1, 2), keepdims=True)).std())
    sampler = deep.PatchSampler(mels, labels, seed=seed)  # restart the stream after the probe
    k = int(n_classes or (int(np.max(labels)) + 1))
    model = networks.build_model(setting["arch"], n_classes=k, resolution=setting["resolution"])
    info = networks.train(model, sampler, scale=scale, epochs=epochs or setting["epochs"],
                      name=log_name or name, validation=validation, validate_every=validate_every)
    info.update({"scale": scale, "params": int(model.count_params()), "arch": setting["arch"],
                 "resolution": setting["resolution"]})
    return model, scale, info


def _save_keras(arch: str, model: Any, scale: float, info: dict, n_train: int, trained_on: str,
                protocol_metrics: dict, classes: Sequence[str] = GTZAN_GENRES, protocol: str = "audio_holdout",
                models_dir: str | Path | None = None) -> Path:
    import tempfile

    from genre import registry
    from genre.models import deep

    # the ONNX export, checked against Keras on fixed random normalised patches: prediction runs it
    X = np.random.default_rng(0).standard_normal((8, deep.MEL["n_mels"], deep.PATCH_FRAMES, 1))
    onnx_bytes, onnx_info = networks.export_patch_model(model, X.astype(np.float32), what=arch, say=_say)
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "model.keras"
        model.save(path)
        man = {
            "display_name": ARCH_SETTINGS[arch]["display"], "kind": "keras", "family": "deep",
            "classes": list(classes), "feature_columns": None, "input": "audio",
            "trained_on": trained_on, "protocol": protocol, "n_train": n_train,
            "preprocessing": {**deep.MEL, "scale": scale, "patch_frames": deep.PATCH_FRAMES,
                              "segment_seconds": deep.SEGMENT_SECONDS, "mel_version": deep.MEL_VERSION,
                              "normalisation": "per-patch mean dB subtracted, divided by scale"},
            "training": info,
            "libraries": registry.library_versions(("tensorflow", "tensorflow-cpu", "keras", "tf2onnx",
                                                    "onnx", "onnxruntime")),
            "metrics": {k: {"accuracy": v["accuracy"], "macro_f1": v["macro_f1"]}
                        for k, v in protocol_metrics.items()},
            "onnx": "model.onnx",
            "onnx_info": {**onnx_info, "exported_by": "genre.training.train_deep"},
        }
        return registry.save(arch, {"model.keras": path, "model.onnx": onnx_bytes}, man, models_dir)


# ------------------------------------------------------------------------------------------ musicnn


def musicnn_embeddings(paths: Sequence[str], cache_dir: Path | None = None) -> np.ndarray:
    """``(n, 400)`` musicnn clip vectors (mean+max penultimate), cached per file under ``.cache/deep``."""
    from genre.models import musicnn
    from genre.audio import load as load_audio
    from genre.models.deep import _file_sha256

    cdir = Path(cache_dir) if cache_dir is not None else CACHE_DIR / "deep"
    cdir.mkdir(parents=True, exist_ok=True)
    out = []
    t0 = time.perf_counter()
    for i, p in enumerate(paths):
        key = cdir / f"musicnn_{_file_sha256(p)[:32]}.npz"
        if key.is_file():
            d = np.load(key)
            out.append((d["emb"], d["tags"]))
        else:
            y = load_audio(p, min_seconds=0.5).y
            _, X = musicnn.patches(y)
            f = networks.musicnn_forward(X)  # the Keras port (.npz weights), as the cache was made
            emb, tags = musicnn.pool_embeddings(f["penultimate"]), f["probs"].mean(axis=0)
            np.savez(key, emb=emb, tags=tags)
            out.append((emb, tags))
        if (i + 1) % 50 == 0:
            _say(f"  musicnn {i + 1}/{len(paths)} ({time.perf_counter() - t0:.0f} s)")
    return np.stack([e for e, _ in out]), np.stack([t for _, t in out])


#: Inverse regularisation strengths tried for the musicnn head (inner artist-grouped CV).
MUSICNN_C_GRID: tuple[float, ...] = (0.003, 0.01, 0.03, 0.1, 0.3)


def musicnn_head(C: float = 0.1):
    """The classifier on musicnn vectors: standardise + balanced multinomial logistic regression."""
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    return make_pipeline(StandardScaler(), LogisticRegression(C=C, class_weight="balanced", max_iter=2000))


def _proba10(est, X, k: int = len(GTZAN_GENRES)) -> np.ndarray:
    p = est.predict_proba(X)
    out = np.zeros((len(X), k))
    out[:, [int(c) for c in est.classes_]] = p
    return out


def _oof(make, X: np.ndarray, y: np.ndarray, folds, k: int = len(GTZAN_GENRES)) -> np.ndarray:
    P = np.zeros((len(X), k))
    for tr, te in folds:
        est = make().fit(X[tr], y[tr])
        P[te] = _proba10(est, X[te], k)
    return P


# ------------------------------------------------------------------------------------------- driver


def _folds(clips: pd.DataFrame, n_splits: int = 5, seed: int = 0) -> list[tuple[np.ndarray, np.ndarray]]:
    """:func:`genre.training.evaluate.artist_folds` (the folds every model shares) as row indices of ``clips``."""
    from genre.training.evaluate import artist_folds

    groups = pd.Series(list(clips["artist"]), index=list(clips["clip"]))
    pos = {c: i for i, c in enumerate(clips["clip"])}
    folds = artist_folds(list(clips["clip"]), n_splits=n_splits, seed=seed, groups=groups)
    return [(np.array([pos[c] for c in a]), np.array([pos[c] for c in b])) for a, b in folds]


def train_all(seed: int = 0, data_root: str | Path | None = None, *, models: Sequence[str] | None = None,
              artist_cv: bool = False, epochs: int | None = None, oof_epochs: int | None = 12,
              stack_members: Sequence[str] = ("cnn", "crnn"), evaluate_only: bool = False) -> dict:
    """Train, evaluate and ship the deep models; write their results files.

    Parameters
    ----------
    seed : int
        Seed of every random choice (sampling, augmentation, weights).
    data_root : path, optional
        ``<root>/<genre>/<clip>.<ext>`` audio folder; default the GTZAN audio index (clips.csv).
    models : sequence of str, optional
        Subset of ``("cnn", "crnn", "musicnn_logreg", "musicnn_zeroshot", "stack")``; default all.
    artist_cv : bool
        Also run the ``artist_cv_audio`` protocol for the CNN, CRNN and musicnn models.
    epochs : int, optional
        Override the CNN/CRNN epoch count (smoke runs).
    oof_epochs : int, optional
        Epochs of the CNN/CRNN fold models that make the stack's out-of-fold probabilities
        (default: the same as the shipped models).
    stack_members : sequence of str
        Deep members of the stack besides ``musicnn_logreg`` (each must be shipped).
    evaluate_only : bool
        Do not train the CNN/CRNN: re-score the shipped ones and rewrite their results.

    Returns
    -------
    dict
        ``{model: {protocol: metrics}}``.
    """
    from genre.models import deep

    models = list(models or ALL_MODELS)
    df = clip_table(data_root)
    use = df[df["split"] != "excluded"].reset_index(drop=True)
    train = use[use["split"].isin(["train", "valid"])].reset_index(drop=True)
    test = use[use["split"] == "test"].reset_index(drop=True)
    full = (test["kind"] == "full").to_numpy()
    _say(f"clips with audio: {len(df)}; used {len(use)}; train {len(train)}; test {len(test)} "
         f"({full.sum()} full)")
    y_tr = np.array([GTZAN_GENRES.index(g) for g in train["genre"]])
    y_te = np.array([GTZAN_GENRES.index(g) for g in test["genre"]])
    trained_on = (f"fault-filtered train+valid clips with audio ({len(train)} clips"
                  + (", GTZAN audio index" if data_root is None else f", {data_root}") + ")")
    results: dict = {}
    test_probs: dict[str, np.ndarray] = {}
    oof_probs: dict[str, np.ndarray] = {}
    folds_tr = _folds(train, seed=seed) if any(m in models for m in ("stack", "musicnn_logreg")) else None

    def holdout(P: np.ndarray, extra: dict) -> dict:
        out = {"audio_holdout": {**metrics(y_te, P), "n_train": len(train), **extra}}
        if full.any():
            out["audio_holdout_full"] = {**metrics(y_te[full], P[full]), "n_train": len(train), **extra}
        return out

    need_mels = any(m in models for m in (*ARCH_SETTINGS, "stack"))
    if need_mels:
        _say("log-mel spectrograms (cached under .cache/deep)")
        mel_tr = deep.logmel_cache(list(train["path"]), progress=_say)
        mel_te = deep.logmel_cache(list(test["path"]), progress=_say)

    for arch in ARCH_SETTINGS:
        if arch not in models:
            continue
        if evaluate_only:
            from genre import registry
            # the Keras model itself (registry.load gives the ONNX predictor, which has no .model)
            pred = networks.load_keras(registry.model_dir(arch), registry.verify(arch))
            model, scale, info = pred.model, pred.scale, pred.manifest["training"]
            _say(f"{arch}: re-scoring the shipped model (trained {pred.manifest.get('created')})")
        else:
            _say(f"{arch}: training on {len(train)} clips (audio_holdout)")
            model, scale, info = fit_deep(arch, mel_tr, y_tr, seed=seed, epochs=epochs, n_classes=len(GTZAN_GENRES))
        P = networks.predict_mels(model, mel_te, scale) if len(test) else np.zeros((0, len(GTZAN_GENRES)))
        extra = {"fit_time_s": info["fit_time_s"], "params": {
            "epochs": info["epochs"], "n_params": info["params"], "mel_bands": deep.MEL["n_mels"], "seed": seed,
            "arch": ARCH_SETTINGS[arch]["arch"], "resolution": ARCH_SETTINGS[arch]["resolution"]}}
        res = holdout(P, extra) if len(test) else {}
        if res and info.get("history"):
            # the curves of this very fit (audio_holdout_full scores the same model: not repeated)
            res["audio_holdout"]["history"] = info["history"]
        test_probs[arch] = P
        for k, v in res.items():
            _say(f"{arch} {k}: accuracy {v['accuracy']:.3f} macro-F1 {v['macro_f1']:.3f} (n={v['n_test']})")
        if evaluate_only:
            path = MODELS_DIR / arch
        else:
            path = _save_keras(arch, model, scale, info, len(train), trained_on, res)
        results[arch] = res
        if artist_cv:
            results[arch]["artist_cv_audio"] = _artist_cv_deep(arch, use, seed, epochs)
        _write_result(arch, ARCH_SETTINGS[arch]["display"], "deep", results[arch],
                      size_bytes=_dir_size(path), latency_ms=latency_ms(arch))

    if "musicnn_logreg" in models or "musicnn_zeroshot" in models or "stack" in models:
        _say("musicnn embeddings (cached under .cache/deep)")
        E_use, T_use = musicnn_embeddings(list(use["path"]))
        row = {c: i for i, c in enumerate(use["clip"])}
        i_tr = np.array([row[c] for c in train["clip"]], dtype=int)
        i_te = np.array([row[c] for c in test["clip"]], dtype=int)
        E_tr, E_te, T_te = E_use[i_tr], E_use[i_te], T_use[i_te]
        y_use = np.array([GTZAN_GENRES.index(g) for g in use["genre"]])
        folds_use = _folds(use, seed=0)
        cv_n_train = int(round(len(use) * (len(folds_use) - 1) / len(folds_use)))
    if "musicnn_zeroshot" in models:
        from genre.models import musicnn
        P = musicnn.zero_shot(T_te)
        res = holdout(P, {"params": {"mapping": "genre.models.musicnn.GENRE_TAGS", "note": "no training"}})
        res["artist_cv_audio"] = {**metrics(y_use, musicnn.zero_shot(T_use)),
                                  "params": {"note": "no training: scored on every clip of the protocol"}}
        for k, v in res.items():
            v["n_train"] = 0
            _say(f"musicnn_zeroshot {k}: accuracy {v['accuracy']:.3f} macro-F1 {v['macro_f1']:.3f} (n={v['n_test']})")
        results["musicnn"] = res
        # results are keyed by the registry name ("musicnn"), so the app and CLI find them
        _write_result("musicnn", "musicnn zero-shot (MSD tags)", "pretrained", res,
                      size_bytes=_dir_size(MODELS_DIR / "musicnn") if (MODELS_DIR / "musicnn").is_dir() else None,
                      latency_ms=latency_ms("musicnn"))
    if "musicnn_logreg" in models or "stack" in models:
        # C chosen by artist-grouped CV inside the training clips only (the test clips play no part)
        folds_c = folds_tr if folds_tr is not None else _folds(train, seed=seed)
        scores = {}
        for C in MUSICNN_C_GRID:
            P_c = _oof(lambda C=C: musicnn_head(C), E_tr, y_tr, folds_c)
            scores[C] = float((P_c.argmax(1) == y_tr).mean())
        best_c = max(scores, key=lambda c: (scores[c], -c))
        _say("musicnn_logreg: inner-CV accuracy by C " + ", ".join(f"{c:g}: {v:.3f}" for c, v in scores.items())
             + f" -> C={best_c:g}")
        t0 = time.perf_counter()
        head = musicnn_head(best_c).fit(E_tr, y_tr)
        fit_s = time.perf_counter() - t0
        P = _proba10(head, E_te)
        test_probs["musicnn_logreg"] = P
        if "stack" in models:
            oof_probs["musicnn_logreg"] = _oof(lambda: musicnn_head(best_c), E_tr, y_tr, folds_tr)
        if "musicnn_logreg" in models or not (MODELS_DIR / "musicnn_logreg" / "manifest.json").is_file():
            params = {"C": best_c, "C_inner_cv_accuracy": {str(k): v for k, v in scores.items()},
                      "class_weight": "balanced", "embedding": "penultimate mean+max (400)"}
            res = holdout(P, {"fit_time_s": round(fit_s, 2), "params": params})
            P_cv = _oof(lambda: musicnn_head(best_c), E_use, y_use, folds_use)
            res["artist_cv_audio"] = {**metrics(y_use, P_cv), "n_train": cv_n_train,
                                      "n_folds": len(folds_use), "params": params}
            for k, v in res.items():
                _say(f"musicnn_logreg {k}: accuracy {v['accuracy']:.3f} macro-F1 {v['macro_f1']:.3f} (n={v['n_test']})")
            results["musicnn_logreg"] = res
            path = _save_musicnn_head(head, len(train), trained_on, res, params)
            _write_result("musicnn_logreg", "musicnn embedding + logistic regression", "pretrained", res,
                          size_bytes=_dir_size(path), latency_ms=latency_ms("musicnn_logreg"))

    if "stack" in models:
        from genre import registry
        from genre.training import stack_fit

        members = []
        for arch in stack_members:
            if not (MODELS_DIR / arch / "manifest.json").is_file():
                _say(f"stack: {arch} is not shipped; left out")
                continue
            pred = networks.load_keras(registry.model_dir(arch), registry.verify(arch))
            test_probs[arch] = networks.predict_mels(pred.model, mel_te, pred.scale)
            oof_probs[arch] = _oof_deep(arch, train, mel_tr, y_tr, folds_tr, seed,
                                        oof_epochs or epochs or pred.manifest["training"]["epochs"])
            members.append(arch)
        members.append("musicnn_logreg")
        results["stack"] = stack_fit.train_and_ship(train, test, y_tr, y_te, full, oof_probs, test_probs,
                                                members, folds_tr, trained_on, seed=seed, say=_say)
    return results


def _oof_deep(arch: str, train: pd.DataFrame, mel_tr, y_tr, folds, seed: int, epochs: int) -> np.ndarray:
    """Out-of-fold clip probabilities of ``arch`` on the training clips (cached by clips/seed/epochs)."""
    import hashlib

    from genre.models import deep

    key = hashlib.sha256(json.dumps([arch, list(train["clip"]), seed, epochs, deep.MEL_VERSION,
                                     [sorted(map(int, te)) for _, te in folds]]).encode()).hexdigest()[:16]
    path = CACHE_DIR / "deep" / f"oof_{arch}_{key}.npy"
    if path.is_file():
        _say(f"{arch}: out-of-fold probabilities from cache {path.name}")
        return np.load(path)
    P = np.zeros((len(train), len(GTZAN_GENRES)))
    for k, (tr, te) in enumerate(folds):
        _say(f"{arch}: stack fold {k + 1}/{len(folds)} (train {len(tr)}, predict {len(te)}, {epochs} epochs)")
        m_k, s_k, _ = fit_deep(arch, [mel_tr[i] for i in tr], y_tr[tr], seed=seed + 1 + k,
                               epochs=epochs, n_classes=len(GTZAN_GENRES), log_name=f"{arch} fold {k + 1}")
        P[te] = networks.predict_mels(m_k, [mel_tr[i] for i in te], s_k)
    np.save(path, P)
    _say(f"{arch}: out-of-fold accuracy on the training clips {float((P.argmax(1) == y_tr).mean()):.3f}")
    return P


def _artist_cv_deep(arch, use, seed, epochs):  # pragma: no cover - long run
    """``artist_cv_audio`` of ``arch``: one model per artist fold (:func:`_folds` of ``use``, seed 0),
    each trained from scratch with the shipped recipe (:func:`fit_deep`, ``seed``, ``epochs``).

    The out-of-fold clip probabilities are saved as ``.cache/deep/cv_<arch>_<key>.npy`` (rows in
    ``use`` order; key = clips, seed, epochs, mel version, folds) for later use (e.g. a stack's
    artist CV)."""
    import hashlib

    from genre.models import deep

    y = np.array([GTZAN_GENRES.index(g) for g in use["genre"]])
    mels = deep.logmel_cache(list(use["path"]), progress=None)
    P = np.zeros((len(use), len(GTZAN_GENRES)))
    folds = _folds(use, seed=0)
    t0 = time.perf_counter()
    fold_acc = []
    histories = []
    for k, (tr, te) in enumerate(folds):
        t_k = time.perf_counter()
        _say(f"{arch}: artist_cv_audio fold {k + 1}/{len(folds)} (train {len(tr)}, test {len(te)})")
        m, s, info_k = fit_deep(arch, [mels[i] for i in tr], y[tr], seed=seed, epochs=epochs,
                                n_classes=len(GTZAN_GENRES), log_name=f"{arch} cv {k + 1}")
        histories.append(info_k.get("history"))
        P[te] = networks.predict_mels(m, [mels[i] for i in te], s)
        fold_acc.append(float((P[te].argmax(1) == y[te]).mean()))
        _say(f"{arch}: fold {k + 1} accuracy {fold_acc[-1]:.3f} ({time.perf_counter() - t_k:.0f} s)")
    out = {**metrics(y, P), "n_train": int(round(len(use) * (len(folds) - 1) / len(folds))),
           "n_folds": len(folds), "fold_accuracy": fold_acc,
           "fit_time_s": round(time.perf_counter() - t0, 1), "history": histories}
    key = hashlib.sha256(json.dumps([arch, list(use["clip"]), seed, epochs, deep.MEL_VERSION,
                                     [sorted(map(int, te)) for _, te in folds]]).encode()).hexdigest()[:16]
    path = CACHE_DIR / "deep" / f"cv_{arch}_{key}.npy"
    path.parent.mkdir(parents=True, exist_ok=True)
    np.save(path, P)
    _say(f"{arch} artist_cv_audio: accuracy {out['accuracy']:.3f} macro-F1 {out['macro_f1']:.3f} "
         f"(out-of-fold probabilities in {path.name})")
    return out


def artist_cv_only(models: Sequence[str], seed: int = 0, data_root: str | Path | None = None,
                   epochs: int | None = None) -> dict:  # pragma: no cover - long run
    """Run only the ``artist_cv_audio`` protocol of the CNN/CRNN and merge it into their results files.

    Nothing shipped is retrained or overwritten: each fold trains a throwaway model with the shipped
    model's recipe (its manifest's epoch count unless ``epochs`` is given; seed ``seed``), over every
    non-excluded clip with audio in the 5 artist folds of :func:`genre.training.evaluate.artist_folds` (seed 0).
    Only ``protocols.artist_cv_audio`` of ``models/results/<model>.json`` changes.

    Returns
    -------
    dict
        ``{model: metrics}``.
    """
    bad = [m for m in models if m not in ARCH_SETTINGS]
    if bad:
        raise DataError(f"--artist-cv-only supports {sorted(ARCH_SETTINGS)}, not {bad} (the stack's "
                        "artist CV needs nested out-of-fold member probabilities; not implemented).")
    df = clip_table(data_root)
    use = df[df["split"] != "excluded"].reset_index(drop=True)
    _say(f"artist_cv_audio only: {len(use)} non-excluded clips with audio")
    out = {}
    for arch in models:
        n_ep = epochs
        man = MODELS_DIR / arch / "manifest.json"
        if n_ep is None and man.is_file():
            n_ep = json.loads(man.read_text()).get("training", {}).get("epochs")
        n_ep = n_ep or ARCH_SETTINGS[arch]["epochs"]
        res = _artist_cv_deep(arch, use, seed, n_ep)
        res["params"] = {"epochs": n_ep, "seed": seed,
                         "note": f"same recipe as the shipped {arch.upper()}, one model per fold"}
        _write_result(arch, ARCH_SETTINGS[arch]["display"], "deep", {"artist_cv_audio": res})
        out[arch] = res
    return out


def _save_musicnn_head(head, n_train: int, trained_on: str, res: dict, params: dict,
                       classes: Sequence[str] = GTZAN_GENRES, protocol: str = "audio_holdout",
                       models_dir: str | Path | None = None) -> Path:
    from genre.models import musicnn

    man = {"display_name": "musicnn embedding + logistic regression", "family": "pretrained",
           "classes": list(classes), "trained_on": trained_on + "; musicnn itself pretrained on the "
           "Million Song Dataset (MSD_musicnn)", "protocol": protocol, "n_train": n_train,
           "params": params,
           "metrics": {k: {"accuracy": v["accuracy"], "macro_f1": v["macro_f1"]} for k, v in res.items()}}
    return musicnn.save_head("musicnn_logreg", head, man, models_dir)


def _user_musicnn_head(used: pd.DataFrame, y: np.ndarray, classes: Sequence[str], folds, out: Path,
                       trained_on: str, seed: int) -> tuple[dict, Path]:
    """``musicnn_logreg`` on your dataset: C chosen by group-aware CV inside the ``group_holdout``
    training clips only; scored on ``group_holdout`` and ``group_cv`` (same folds as every model)."""
    from genre.training import user_data

    k = len(classes)
    E, _ = musicnn_embeddings(list(used["path"]))
    tr, te = folds[0]
    inner_used = used.iloc[tr].reset_index(drop=True)
    n_inner = int(min(5, inner_used.groupby("label")["group"].nunique().min()))
    scores: dict[float, float] = {}
    if n_inner >= 2:
        inner = user_data.dataset_folds(inner_used, n_inner, seed)
        for C in MUSICNN_C_GRID:
            P_c = _oof(lambda C=C: musicnn_head(C), E[tr], y[tr], inner, k)
            scores[C] = float((P_c.argmax(1) == y[tr]).mean())
    best_c = max(scores, key=lambda c: (scores[c], -c)) if scores else 0.1
    t0 = time.perf_counter()
    head = musicnn_head(best_c).fit(E[tr], y[tr])
    fit_s = time.perf_counter() - t0
    params = {"C": best_c, "C_inner_cv_accuracy": {str(c): v for c, v in scores.items()} or None,
              "inner_folds": n_inner if scores else 0, "class_weight": "balanced",
              "embedding": "penultimate mean+max (400)"}
    res = {"group_holdout": {**metrics(y[te], _proba10(head, E[te], k), classes), "n_train": int(len(tr)),
                             "fit_time_s": round(fit_s, 2), "params": params},
           "group_cv": {**metrics(y, _oof(lambda: musicnn_head(best_c), E, y, folds, k), classes),
                        "n_folds": len(folds), "params": params,
                        "n_train": int(round(np.mean([len(a) for a, _ in folds])))}}
    path = _save_musicnn_head(head, int(len(tr)), trained_on, res, params, classes=classes,
                              protocol="group_holdout", models_dir=out)
    return res, path


def _readable_mels(paths: Sequence[str]) -> tuple[list[np.ndarray | None], dict[str, str]]:
    """Log-mels of ``paths`` (cached); a file that cannot be decoded gives ``None`` and a reason."""
    from genre.models import deep

    mels: list[np.ndarray | None] = []
    failed: dict[str, str] = {}
    for i, p in enumerate(paths):
        try:
            mels.append(deep.logmel_cache([p], progress=None)[0])
        except (GenreError, ValueError) as exc:
            mels.append(None)
            failed[str(p)] = str(exc)
        if (i + 1) % 50 == 0:
            _say(f"  log-mel {i + 1}/{len(paths)}")
    return mels, failed


def train_on_folder(data_root: str | Path | None, labels_csv: str | Path | None = None,
                    models_dir: str | Path | None = None, *, models: Sequence[str] = ("cnn",),
                    n_folds: int = 5, seed: int = 0, epochs: int | None = None, cv: bool = False) -> dict:
    """Train, evaluate and register networks on your own labelled dataset (any labels, 2 or more).

    The clips, labels, groups, folds and protocols are those of :mod:`genre.training.user_data`
    (``group_holdout``: fit on the other folds, score on the first; with ``cv``, also
    ``group_cv``, one throwaway network per fold), so the networks and the feature models of one
    dataset share a leaderboard. The registered network is the ``group_holdout`` one: its score is
    that very model's on clips it never saw. Unreadable files are skipped and counted.

    Parameters
    ----------
    models : sequence of str
        Names of :data:`ARCH_SETTINGS` (e.g. ``cnn``, ``lstm``, ``cnn_r4``), and ``musicnn_logreg`` (the
        pretrained musicnn's embedding under a logistic regression whose C is chosen by group-aware CV
        inside the training clips).
    epochs : int, optional
        Override each network's epoch count.

    Returns
    -------
    dict
        ``{model: {protocol: metrics}}``.
    """
    from genre.models import deep
    from genre.training import user_data
    from genre.training.datasets import check_folds

    bad = [m for m in models if m not in (*ARCH_SETTINGS, "musicnn_logreg")]
    if bad:
        raise DataError(f"Unknown networks {bad}; choose from {[*ARCH_SETTINGS, 'musicnn_logreg']}.")
    out = user_data.user_models_dir(models_dir)
    clips = user_data.load_dataset(data_root, labels_csv, n_folds)
    _say(f"{len(clips)} clips, {clips['label'].nunique()} labels; log-mel spectrograms (cached)")
    mels, failed = _readable_mels(list(clips["path"]))
    for p, why in failed.items():
        _say(f"  skipped (unreadable): {p}: {why}")
    keep = [m is not None for m in mels]
    used = clips[keep].reset_index(drop=True)
    mels = [m for m in mels if m is not None]
    check_folds(used, n_folds)
    classes = sorted(used["label"].unique())
    y = np.array([classes.index(g) for g in used["label"]])
    folds = user_data.dataset_folds(used, n_folds, seed)
    user_data.write_dataset_summary(out, clips, used, failed, data_root=data_root, labels_csv=labels_csv,
                                    n_folds=n_folds, classes=classes)
    tr, te = folds[0]
    where = str(labels_csv or data_root)
    results: dict = {}
    for name in models:
        trained_on = f"your dataset {where}: {len(tr)} clips (all but the first of {n_folds} group-aware folds)"
        if name == "musicnn_logreg":
            _say(f"musicnn_logreg: embeddings of {len(used)} clips (cached), head on {len(tr)}")
            res, path = _user_musicnn_head(used, y, classes, folds, out, trained_on, seed)
            for k, v in res.items():
                _say(f"{name} {k}: accuracy {v['accuracy']:.3f} macro-F1 {v['macro_f1']:.3f} (n={v['n_test']})")
            _write_result(name, "musicnn embedding + logistic regression", "pretrained", res,
                          size_bytes=_dir_size(path), latency_ms=latency_ms(name, models_dir=out),
                          results=out / "results", classes=classes)
            results[name] = res
            continue
        _say(f"{name}: training on {len(tr)} clips, testing on {len(te)} (group_holdout)")
        model, scale, info = fit_deep(name, [mels[i] for i in tr], y[tr], seed=seed, epochs=epochs,
                                      n_classes=len(classes))
        P = networks.predict_mels(model, [mels[i] for i in te], scale)
        params = {"epochs": info["epochs"], "n_params": info["params"], "seed": seed,
                  "arch": ARCH_SETTINGS[name]["arch"], "resolution": ARCH_SETTINGS[name]["resolution"]}
        res = {"group_holdout": {**metrics(y[te], P, classes), "n_train": int(len(tr)),
                                 "fit_time_s": info["fit_time_s"], "params": params,
                                 "history": info["history"]}}
        if cv:
            P_cv = np.zeros((len(y), len(classes)))
            t0 = time.perf_counter()
            histories = []
            for k, (a, b) in enumerate(folds):
                m_k, s_k, info_k = fit_deep(name, [mels[i] for i in a], y[a], seed=seed, epochs=epochs,
                                            n_classes=len(classes), log_name=f"{name} fold {k + 1}")
                histories.append(info_k["history"])
                P_cv[b] = networks.predict_mels(m_k, [mels[i] for i in b], s_k)
            res["group_cv"] = {**metrics(y, P_cv, classes), "n_folds": len(folds), "params": params,
                               "n_train": int(round(np.mean([len(a) for a, _ in folds]))),
                               "fit_time_s": round((time.perf_counter() - t0) / len(folds), 1),
                               "history": histories}
        for k, v in res.items():
            _say(f"{name} {k}: accuracy {v['accuracy']:.3f} macro-F1 {v['macro_f1']:.3f} (n={v['n_test']})")
        path = _save_keras(name, model, scale, info, int(len(tr)), trained_on, res, classes=classes,
                           protocol="group_holdout", models_dir=out)
        _write_result(name, ARCH_SETTINGS[name]["display"], "deep", res, size_bytes=_dir_size(path),
                      latency_ms=latency_ms(name, models_dir=out), results=out / "results", classes=classes)
        results[name] = res
    return results


def main(argv: Sequence[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m genre.training.train_deep", description=__doc__.split("\n\n")[0].replace("\n", " "))
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--data-root", default=None,
                    help="your own dataset: <root>/<label>/<clip>.<ext> (any labels, 2 or more); trains --models "
                         "(default cnn) into --models-dir with the group_holdout protocol (+ group_cv with --cv)")
    ap.add_argument("--labels", default=None, metavar="CSV", help="with --data-root: CSV of path,label[,group]")
    ap.add_argument("--models-dir", default=None, help="with --data-root: where your models go (not models/)")
    ap.add_argument("--folds", type=int, default=5, help="with --data-root: folds of the group-aware protocols")
    ap.add_argument("--cv", action="store_true", help="with --data-root: also run group_cv (one network per fold)")
    ap.add_argument("--gtzan-root", default=None,
                    help="a GTZAN-layout <root>/<genre>/<clip>.<ext> folder (e.g. the full GTZAN) instead of the "
                         "audio index; clips in the split lists take their split")
    ap.add_argument("--models", nargs="+", default=None,
                    choices=list(ALL_MODELS))
    ap.add_argument("--artist-cv", action="store_true", help="also run artist_cv_audio (long)")
    ap.add_argument("--epochs", type=int, default=None)
    ap.add_argument("--evaluate-only", action="store_true",
                    help="re-score the shipped CNN/CRNN instead of training them")
    ap.add_argument("--oof-epochs", type=int, default=12,
                    help="epochs of the fold models behind the stack's out-of-fold probabilities")
    ap.add_argument("--stack-members", nargs="*", default=["cnn", "crnn"], choices=list(STACKABLE))
    ap.add_argument("--artist-cv-only", nargs="+", default=None, metavar="MODEL", choices=sorted(ARCH_SETTINGS),
                    help="run only artist_cv_audio for these shipped models (no shipped model is retrained "
                         "or overwritten; only that protocol of models/results/<model>.json changes)")
    a = ap.parse_args(argv)
    if a.data_root or a.labels:
        try:
            train_on_folder(a.data_root, a.labels, a.models_dir, models=a.models or ("cnn",), n_folds=a.folds,
                            seed=a.seed, epochs=a.epochs, cv=a.cv)
        except GenreError as exc:
            print(f"error: {exc}", file=sys.stderr)
            return 3
        return 0
    if a.artist_cv_only:
        artist_cv_only(a.artist_cv_only, seed=a.seed, data_root=a.gtzan_root, epochs=a.epochs)
        return 0
    train_all(a.seed, a.gtzan_root, models=a.models, artist_cv=a.artist_cv, epochs=a.epochs,
              oof_epochs=a.oof_epochs, stack_members=a.stack_members, evaluate_only=a.evaluate_only)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
