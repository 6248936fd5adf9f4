"""Train, evaluate and ship every deep model: CNN, CRNN, musicnn + logistic regression, the zero-shot
musicnn's evaluation, and the stacked ensemble.

One command reproduces all of it. Measured on the shared 2-core machine under heavy load (load
average 10-16): CNN and CRNN about 24 min each (30 epochs x 1600 patches), musicnn embeddings of the
515 clips about 12 min (cached afterwards), the stack's fold models (5 folds x 12 epochs per deep
member) about 25-35 min per member; about 2 h in all, less on a quiet machine::

    nice python -m genre.training.train_deep                 # GTZAN audio in ../shared/gtzan
    nice python -m genre.training.train_deep --artist-cv     # + artist-grouped CV (much longer)
    nice python -m genre.training.train_deep --artist-cv-only cnn crnn  # only that CV; shipped models untouched
    nice python -m genre.training.train_deep --data-root DIR # any <DIR>/<genre>/<clip>.<ext> folder

Protocols (``models/results/<model>.json``)
-------------------------------------------
- ``audio_holdout``: train on the fault-filtered train+valid clips that have audio (371 here), test on
  the test clips with audio (144: no jazz, 2 disco). ``audio_holdout_full``: the same models scored on
  the 79 full-length clips among those 144.
- ``artist_cv_audio`` (``--artist-cv``): 5-fold artist-grouped CV (:func:`genre.training.evaluate.artist_folds`,
  seed 0) over all non-excluded clips with audio.

The shipped models are the ``audio_holdout`` models (trained on train+valid only), so the test score
shown for a shipped model is the score of that very model on clips it never saw.

With ``--data-root`` (e.g. the full GTZAN), clips whose ids are in the split lists take their split;
other clips are training-only (``excluded`` clips of the filtered split are left out as in GTZAN).

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

from genre.config import CACHE_DIR, GENRES, MODELS_DIR
from genre.errors import DataError
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
    bad = sorted(set(df["genre"]) - set(GENRES))
    if bad:
        raise DataError(f"Unknown genre folders {bad}; expected some of {list(GENRES)}.")
    try:
        groups = datasets.artist_groups()
    except DataError:
        groups = pd.Series(dtype=str)
    df["artist"] = [groups.get(c, "?" + c) for c in df["clip"]]
    return df


# ---------------------------------------------------------------------------------- deep models

ARCH_SETTINGS = {
    "cnn": {"display": "CNN (log-mel, 5 conv blocks)", "epochs": 30},
    "crnn": {"display": "CRNN (parallel CNN + BiGRU)", "epochs": 30},
}


def fit_deep(arch: str, mels: list[np.ndarray], labels: Sequence[int], *, seed: int = 0,
             epochs: int | None = None, name: str = "") -> tuple[Any, float, dict]:
    """Train one CNN/CRNN from scratch. Returns ``(model, scale, info)``."""
    from genre.models import deep

    keras = deep.configure_tensorflow(deterministic=True)
    keras.utils.set_random_seed(seed)
    sampler = deep.PatchSampler(mels, labels, seed=seed)
    probe, _ = sampler.sample(512)
    scale = float((probe - probe.mean(axis=(1, 2), keepdims=True)).std())
    sampler = deep.PatchSampler(mels, labels, seed=seed)  # restart the stream after the probe
    model = deep.build_model(arch)
    info = deep.train(model, sampler, scale=scale, epochs=epochs or ARCH_SETTINGS[arch]["epochs"],
                      name=name or arch)
    info["scale"] = scale
    info["params"] = int(model.count_params())
    return model, scale, info


def _save_keras(arch: str, model: Any, scale: float, info: dict, n_train: int, trained_on: str,
                protocol_metrics: dict) -> Path:
    import tempfile

    from genre import registry
    from genre.models import deep

    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "model.keras"
        model.save(path)
        man = {
            "display_name": ARCH_SETTINGS[arch]["display"], "kind": "keras", "family": "deep",
            "classes": list(GENRES), "feature_columns": None, "input": "audio",
            "trained_on": trained_on, "protocol": "audio_holdout", "n_train": n_train,
            "preprocessing": {**deep.MEL, "scale": scale, "patch_frames": deep.PATCH_FRAMES,
                              "segment_seconds": deep.SEGMENT_SECONDS, "mel_version": deep.MEL_VERSION,
                              "normalisation": "per-patch mean dB subtracted, divided by scale"},
            "training": info, "libraries": registry.library_versions(("tensorflow", "keras")),
            "metrics": {k: {"accuracy": v["accuracy"], "macro_f1": v["macro_f1"]}
                        for k, v in protocol_metrics.items()},
        }
        return registry.save(arch, {"model.keras": path}, man)


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
            f = musicnn.forward(X)
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


def _proba10(est, X) -> np.ndarray:
    p = est.predict_proba(X)
    out = np.zeros((len(X), len(GENRES)))
    out[:, [int(c) for c in est.classes_]] = p
    return out


def _oof(make, X: np.ndarray, y: np.ndarray, folds) -> np.ndarray:
    P = np.zeros((len(X), len(GENRES)))
    for tr, te in folds:
        est = make().fit(X[tr], y[tr])
        P[te] = _proba10(est, X[te])
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

    models = list(models or ("cnn", "crnn", "musicnn_logreg", "musicnn_zeroshot", "stack"))
    df = clip_table(data_root)
    use = df[df["split"] != "excluded"].reset_index(drop=True)
    train = use[use["split"].isin(["train", "valid"])].reset_index(drop=True)
    test = use[use["split"] == "test"].reset_index(drop=True)
    full = (test["kind"] == "full").to_numpy()
    _say(f"clips with audio: {len(df)}; used {len(use)}; train {len(train)}; test {len(test)} "
         f"({full.sum()} full)")
    y_tr = np.array([GENRES.index(g) for g in train["genre"]])
    y_te = np.array([GENRES.index(g) for g in test["genre"]])
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

    need_mels = any(m in models for m in ("cnn", "crnn", "stack"))
    if need_mels:
        _say("log-mel spectrograms (cached under .cache/deep)")
        mel_tr = deep.logmel_cache(list(train["path"]), progress=_say)
        mel_te = deep.logmel_cache(list(test["path"]), progress=_say)

    for arch in ("cnn", "crnn"):
        if arch not in models:
            continue
        if evaluate_only:
            from genre import registry
            pred = registry.load(arch)
            model, scale, info = pred.model, pred.scale, pred.manifest["training"]
            _say(f"{arch}: re-scoring the shipped model (trained {pred.manifest.get('created')})")
        else:
            _say(f"{arch}: training on {len(train)} clips (audio_holdout)")
            model, scale, info = fit_deep(arch, mel_tr, y_tr, seed=seed, epochs=epochs, name=arch)
        P = deep.predict_mels(model, mel_te, scale) if len(test) else np.zeros((0, len(GENRES)))
        extra = {"fit_time_s": info["fit_time_s"], "params": {"epochs": info["epochs"],
                 "n_params": info["params"], "mel_bands": deep.MEL["n_mels"], "seed": seed}}
        res = holdout(P, extra) if len(test) else {}
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
        y_use = np.array([GENRES.index(g) for g in use["genre"]])
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
            pred = registry.load(arch)
            test_probs[arch] = deep.predict_mels(pred.model, mel_te, pred.scale)
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
    P = np.zeros((len(train), len(GENRES)))
    for k, (tr, te) in enumerate(folds):
        _say(f"{arch}: stack fold {k + 1}/{len(folds)} (train {len(tr)}, predict {len(te)}, {epochs} epochs)")
        m_k, s_k, _ = fit_deep(arch, [mel_tr[i] for i in tr], y_tr[tr], seed=seed + 1 + k,
                               epochs=epochs, name=f"{arch} fold {k + 1}")
        P[te] = deep.predict_mels(m_k, [mel_tr[i] for i in te], s_k)
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

    y = np.array([GENRES.index(g) for g in use["genre"]])
    mels = deep.logmel_cache(list(use["path"]), progress=None)
    P = np.zeros((len(use), len(GENRES)))
    folds = _folds(use, seed=0)
    t0 = time.perf_counter()
    fold_acc = []
    for k, (tr, te) in enumerate(folds):
        t_k = time.perf_counter()
        _say(f"{arch}: artist_cv_audio fold {k + 1}/{len(folds)} (train {len(tr)}, test {len(te)})")
        m, s, _ = fit_deep(arch, [mels[i] for i in tr], y[tr], seed=seed, epochs=epochs,
                           name=f"{arch} cv {k + 1}")
        P[te] = deep.predict_mels(m, [mels[i] for i in te], s)
        fold_acc.append(float((P[te].argmax(1) == y[te]).mean()))
        _say(f"{arch}: fold {k + 1} accuracy {fold_acc[-1]:.3f} ({time.perf_counter() - t_k:.0f} s)")
    out = {**metrics(y, P), "n_train": int(round(len(use) * (len(folds) - 1) / len(folds))),
           "n_folds": len(folds), "fold_accuracy": fold_acc,
           "fit_time_s": round(time.perf_counter() - t0, 1)}
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


def _save_musicnn_head(head, n_train: int, trained_on: str, res: dict, params: dict) -> Path:
    from genre.models import musicnn

    man = {"display_name": "musicnn embedding + logistic regression", "family": "pretrained",
           "classes": list(GENRES), "trained_on": trained_on + "; musicnn itself pretrained on the "
           "Million Song Dataset (MSD_musicnn)", "protocol": "audio_holdout", "n_train": n_train,
           "params": params,
           "metrics": {k: {"accuracy": v["accuracy"], "macro_f1": v["macro_f1"]} for k, v in res.items()}}
    return musicnn.save_head("musicnn_logreg", head, man)


def main(argv: Sequence[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m genre.training.train_deep", description=__doc__.split("\n\n")[0].replace("\n", " "))
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--data-root", default=None, help="<root>/<genre>/<clip>.<ext> audio folder")
    ap.add_argument("--models", nargs="+", default=None,
                    choices=["cnn", "crnn", "musicnn_logreg", "musicnn_zeroshot", "stack"])
    ap.add_argument("--artist-cv", action="store_true", help="also run artist_cv_audio (long)")
    ap.add_argument("--epochs", type=int, default=None)
    ap.add_argument("--evaluate-only", action="store_true",
                    help="re-score the shipped CNN/CRNN instead of training them")
    ap.add_argument("--oof-epochs", type=int, default=12,
                    help="epochs of the fold models behind the stack's out-of-fold probabilities")
    ap.add_argument("--stack-members", nargs="*", default=["cnn", "crnn"], choices=["cnn", "crnn"])
    ap.add_argument("--artist-cv-only", nargs="+", default=None, metavar="MODEL", choices=sorted(ARCH_SETTINGS),
                    help="run only artist_cv_audio for these shipped models (no shipped model is retrained "
                         "or overwritten; only that protocol of models/results/<model>.json changes)")
    a = ap.parse_args(argv)
    if a.artist_cv_only:
        artist_cv_only(a.artist_cv_only, seed=a.seed, data_root=a.data_root, epochs=a.epochs)
        return 0
    train_all(a.seed, a.data_root, models=a.models, artist_cv=a.artist_cv, epochs=a.epochs,
              oof_epochs=a.oof_epochs, stack_members=a.stack_members, evaluate_only=a.evaluate_only)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
