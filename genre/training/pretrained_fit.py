"""Offline: clip vectors of the four ONNX musicnn networks for GTZAN, the head, its evaluation.

Commands (project virtualenv; ``nice`` on a shared machine)::

    # 1. network ONNX files (once): scripts/export_onnx.py --wheel-dir ... writes .cache/onnx/
    # 2. clip vectors of every GTZAN clip with audio (cached; about 2.5 s per 30-s clip on one core)
    python -m genre.training.pretrained_fit embed
    # 3. choose the head by artist-grouped CV on train+valid, calibrate, evaluate, ship models/pretrained
    python -m genre.training.pretrained_fit fit
    # 4. the music detector's steadiness cue (noise, hum, test tones); ``fit --detector`` runs it too
    python -m genre.training.pretrained_fit steadiness --jobs 2

Cache: per file and condition (clean or a degradation), the per-patch network outputs are stored
in ``.cache/pretrained/<sha256 of the file>_<condition>_v<FEATURE_VERSION>.npz`` (resumable);
``embed`` also writes all clean clip vectors to ``.cache/pretrained/vectors_v<FEATURE_VERSION>.parquet``
(one row per clip: ``clip``, ``sha256``, then the :func:`genre.models.pretrained.feature_names` columns).
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path
from typing import Callable, Sequence

import numpy as np
import pandas as pd

from genre.models import pretrained
from genre.config import CACHE_DIR, SR
from genre.training.datasets import GTZAN_GENRES

ONNX_DIR = CACHE_DIR / "onnx"
CACHE = CACHE_DIR / "pretrained"


def _say(msg: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {msg}", flush=True)


def _sha(path: str | Path) -> str:
    from genre.registry import sha256

    return sha256(path)


def clip_outputs(path: str | Path, condition: str = "clean", degrade: Callable | None = None,
                 onnx_dir: Path = ONNX_DIR, sha: str | None = None,
                 max_seconds: float | None = None,
                 rms_dbfs: float | None = None) -> dict[str, dict[str, np.ndarray]]:
    """Per-patch outputs of the four networks for one file (cached).

    Parameters
    ----------
    path : path
        Audio file (decoded with :func:`genre.audio.load`, 22050 Hz mono; excerpts >= 0.5 s).
    condition : str
        Cache tag: ``"clean"`` or a degradation name.
    degrade : callable, optional
        ``degrade(y, sr) -> y`` applied before the networks (with ``condition`` naming it).
    max_seconds : float, optional
        Keep only the first ``max_seconds`` of the audio (before ``degrade``); a clip that is cut
        gets its own cache entry (``<condition>_first<N>s``).
    rms_dbfs : float, optional
        Loudness the (degraded) audio is brought to before the networks
        (:func:`genre.models.pretrained.normalise_loudness`); cached as ``<condition>_rms<level>``.
    """
    from genre.audio import load as load_audio

    sha = sha or _sha(path)
    y = None
    if max_seconds is not None:
        y = load_audio(path, min_seconds=0.5).y
        if len(y) > int(max_seconds * SR):
            y = y[: int(max_seconds * SR)]
            condition = f"{condition}_first{max_seconds:g}s"
    if rms_dbfs is not None:
        condition = f"{condition}_rms{rms_dbfs:g}"
    key = CACHE / f"{sha[:32]}_{condition}_v{pretrained.FEATURE_VERSION}.npz"
    if key.is_file():
        with np.load(key) as z:
            return {net: {"probs": z[f"{net}.probs"], "embedding": z[f"{net}.embedding"]}
                    for net in pretrained.NETS}
    if y is None:
        y = load_audio(path, min_seconds=0.5).y
    if degrade is not None:
        y = degrade(y, SR)
    _, X = pretrained.patches(y, SR, rms_dbfs=rms_dbfs)
    outs = pretrained.network_outputs(X, onnx_dir)
    CACHE.mkdir(parents=True, exist_ok=True)
    tmp = key.with_suffix(".tmp.npz")
    np.savez(tmp, **{f"{net}.{k}": v for net, d in outs.items() for k, v in d.items()})
    tmp.replace(key)
    return outs


def vectors(paths: Sequence[str | Path], condition: str = "clean", degrade: Callable | None = None,
            onnx_dir: Path = ONNX_DIR, progress_every: int = 25, rms_dbfs: float | None = None) -> np.ndarray:
    """``(len(paths), FEATURE_DIM)`` clip vectors (:func:`genre.models.pretrained.clip_vector`)."""
    out = []
    t0 = time.perf_counter()
    for i, p in enumerate(paths):
        out.append(pretrained.clip_vector(clip_outputs(p, condition, degrade, onnx_dir, rms_dbfs=rms_dbfs)))
        if progress_every and (i + 1) % progress_every == 0:
            _say(f"  {condition}: {i + 1}/{len(paths)} clips ({time.perf_counter() - t0:.0f} s)")
    return np.stack(out)


def aug_seed(sha: str, name: str) -> int:
    """Seed of augmentation ``name`` of the file with SHA-256 ``sha`` (fixed per file and copy)."""
    from genre.training.degrade import AUGMENTATIONS, BAND_AUGMENTATIONS

    return (int(sha[:12], 16) + (AUGMENTATIONS + BAND_AUGMENTATIONS).index(name)) % (1 << 31)


def aug_outputs(path: str | Path, name: str, rms_dbfs: float | None = None,
                onnx_dir: Path = ONNX_DIR) -> dict[str, dict[str, np.ndarray]]:
    """:func:`clip_outputs` of the training copy ``name`` (:func:`genre.training.degrade.augment`)."""
    from genre.training.degrade import augment

    sha = _sha(path)
    seed = aug_seed(sha, name)
    return clip_outputs(path, name, lambda y, sr: augment(name, y, sr, seed), onnx_dir, sha=sha,
                        rms_dbfs=rms_dbfs)


def band_db(path: str | Path, condition: str = "clean", degrade: Callable | None = None,
            max_seconds: float | None = None, rms_dbfs: float | None = None, sha: str | None = None) -> float:
    """:func:`genre.models.pretrained.high_band_db` of a file (cut to ``max_seconds``, then
    ``degrade``-d, brought to ``rms_dbfs``) as the predictor measures it: on all its log-mel patches.
    Cached per file and condition in ``.cache/pretrained/<sha>_<condition>_band_v1.npy``."""
    from genre.audio import load as load_audio

    sha = sha or _sha(path)
    tag = condition + ("" if max_seconds is None else f"_first{max_seconds:g}s") + \
        ("" if rms_dbfs is None else f"_rms{rms_dbfs:g}")
    key = CACHE / f"{sha[:32]}_{tag}_band_v1.npy"
    if key.is_file():
        return float(np.load(key)[0])
    y = load_audio(path, min_seconds=0.5).y
    if max_seconds is not None:
        y = y[: int(max_seconds * SR)]
    if degrade is not None:
        y = degrade(y, SR)
    _, X = pretrained.patches(y, SR, rms_dbfs=rms_dbfs)
    v = pretrained.high_band_db(X)
    CACHE.mkdir(parents=True, exist_ok=True)
    tmp = key.with_suffix(".tmp.npy")
    np.save(tmp, np.array([v]))
    tmp.replace(key)
    return v


def aug_band_db(path: str | Path, name: str, rms_dbfs: float | None = None, sha: str | None = None) -> float:
    """:func:`band_db` of the training copy ``name`` (:func:`genre.training.degrade.augment`)."""
    from genre.training.degrade import augment

    sha = sha or _sha(path)
    seed = aug_seed(sha, name)
    return band_db(path, name, lambda y, sr: augment(name, y, sr, seed), rms_dbfs=rms_dbfs, sha=sha)


def limited_vector(outs: dict[str, dict[str, np.ndarray]], max_patches: int | None) -> np.ndarray:
    """:func:`genre.models.pretrained.clip_vector` over the patches a predictor with ``max_patches``
    analyses (:func:`genre.models.pretrained.select_patches`)."""
    n = len(next(iter(outs.values()))["probs"])
    keep = pretrained.select_patches(n, max_patches)
    return pretrained.clip_vector({net: {k: v[keep] for k, v in d.items()} for net, d in outs.items()})


def _embed_job(path: str, rms_dbfs: float | None, augs: Sequence[str]) -> None:
    from genre.models import runtime

    runtime.one_core()
    clip_outputs(path, rms_dbfs=rms_dbfs)
    for a in augs:
        aug_outputs(path, a, rms_dbfs)


def embed_all(rms_dbfs: float | None = None, augment: bool = False, jobs: int = 1,
              band_copies: bool = False) -> None:
    """Fill the cache: every clip with audio (clean), plus, with ``augment``, the training copies of
    every clip that is not in the test part of the split (test audio is never augmented), and with
    ``band_copies`` their telephone copies (:data:`genre.training.degrade.BAND_AUGMENTATIONS`, for
    the band head of ``fit --band-route``)."""
    from joblib import Parallel, delayed

    from genre.training.degrade import AUGMENTATIONS, BAND_AUGMENTATIONS
    from genre.training.train_deep import clip_table

    df = clip_table()
    df = df.drop_duplicates("clip").reset_index(drop=True)
    augs = (AUGMENTATIONS if augment else ()) + (BAND_AUGMENTATIONS if band_copies else ())
    todo = [(p, augs if split in ("train", "valid") else ())
            for p, split in zip(df["path"], df["split"])]
    todo.sort(key=lambda t: -len(t[1]))  # the costly ones first, for an even finish
    t0 = time.perf_counter()
    Parallel(n_jobs=jobs, verbose=5)(delayed(_embed_job)(str(p), rms_dbfs, a) for p, a in todo)
    _say(f"embedded {len(todo)} clips ({sum(len(a) for _, a in todo)} augmented copies) in "
         f"{time.perf_counter() - t0:.0f} s")


def clean_table(onnx_dir: Path = ONNX_DIR, rms_dbfs: float | None = None) -> pd.DataFrame:
    """Clip vectors of every GTZAN clip with audio (Parquet-cached by content hash)."""
    from genre.training.datasets import clips_index

    idx = clips_index().drop_duplicates("clip").reset_index(drop=True)
    tag = "" if rms_dbfs is None else f"_rms{rms_dbfs:g}"
    pq = CACHE / f"vectors_v{pretrained.FEATURE_VERSION}{tag}.parquet"
    shas = [_sha(p) for p in idx["path"]]
    if pq.is_file():
        df = pd.read_parquet(pq)
        if list(df["sha256"]) == shas and list(df["clip"]) == list(idx["clip"]):
            return df
    V = vectors(list(idx["path"]), onnx_dir=onnx_dir, rms_dbfs=rms_dbfs)
    df = pd.DataFrame(V, columns=pretrained.feature_names())
    df.insert(0, "sha256", shas)
    df.insert(0, "clip", list(idx["clip"]))
    CACHE.mkdir(parents=True, exist_ok=True)
    df.to_parquet(pq, index=False)
    return df


# ------------------------------------------------------------------------------------------ heads

#: Candidate heads, all on the standardised clip vector, class-balanced: name -> (kind, params).
#: ``tags="logit"``: tag probabilities enter as logits (:func:`genre.models.pretrained.transform`);
#: ``aug``: the training rows also hold every other per-patch (segment) vector of each multi-patch
#: clip, each weighted 1/(number of such rows of its clip), so a full clip adds about one clip's
#: weight of 3-s views (the test set has 2-3-s excerpts as well as full clips). Chosen by
#: artist-grouped 5-fold CV over the training clips only.
CANDIDATES: dict[str, tuple[str, dict]] = {
    **{f"logreg_C{C:g}": ("logreg", {"C": C}) for C in (0.0003, 0.001, 0.003, 0.01, 0.03)},
    **{f"pca128_logreg_C{C:g}": ("pca_logreg", {"C": C, "n_components": 128}) for C in (0.003, 0.03)},
    **{f"linsvm_C{C:g}": ("linsvm", {"C": C}) for C in (1e-4, 3e-4, 1e-3)},
    **{f"aug_taglogit_logreg_C{C:g}": ("logreg", {"C": C, "aug": True, "tags": "logit"}) for C in (0.001, 0.003, 0.01)},
    **{f"aug_logreg_C{C:g}": ("logreg", {"C": C, "aug": True}) for C in (0.001, 0.003)},
    **{f"aug_taglogit_linsvm_C{C:g}": ("linsvm", {"C": C, "aug": True, "tags": "logit"}) for C in (1e-4, 3e-4, 1e-3)},
}


def make_head(kind: str, params: dict, seed: int = 0):
    """An unfitted head: StandardScaler [+ PCA] + LogisticRegression or LinearSVC (balanced)."""
    from sklearn.decomposition import PCA
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler
    from sklearn.svm import LinearSVC

    if kind == "logreg":
        return make_pipeline(StandardScaler(), LogisticRegression(C=params["C"], class_weight="balanced",
                                                                  max_iter=5000))
    if kind == "pca_logreg":
        return make_pipeline(StandardScaler(), PCA(params["n_components"], random_state=seed),
                             LogisticRegression(C=params["C"], class_weight="balanced", max_iter=5000))
    if kind == "linsvm":
        return make_pipeline(StandardScaler(), LinearSVC(C=params["C"], class_weight="balanced",
                                                         max_iter=20000, random_state=seed))
    raise ValueError(f"unknown head kind {kind!r}")


def _logits10(head, X: np.ndarray) -> np.ndarray:
    """Head logits in GTZAN_GENRES columns (genres the head never saw get -inf-like -1e9)."""
    z = pretrained.head_logits(head, X)
    if z.ndim == 1:  # binary decision_function
        z = np.stack([-z, z], axis=1)
    out = np.full((len(X), len(GTZAN_GENRES)), -1e9)
    out[:, [int(c) for c in head.classes_]] = z
    return out


#: Weight of each augmented training copy's clip vector (two copies: one clip's weight in all).
AUG_WEIGHT: float = 0.5


def fit_head(kind: str, params: dict, X: np.ndarray, y: np.ndarray, segs: Sequence[np.ndarray] | None = None,
             augs: Sequence[np.ndarray] | None = None):
    """Fit a candidate head on clip vectors ``X`` (+ segment rows when ``params["aug"]``, + the
    clip vectors of each clip's augmented copies ``augs[i]`` (``(k, dim)``, possibly empty), each
    weighted :data:`AUG_WEIGHT`)."""
    rows, ys, ws = [X], [y], [np.ones(len(X))]
    if augs is not None:
        for A_i, label in zip(augs, y):
            if len(A_i):
                rows.append(np.asarray(A_i, dtype=np.float32))
                ys.append(np.full(len(A_i), label))
                ws.append(np.full(len(A_i), AUG_WEIGHT))
    if params.get("aug"):
        if segs is None:
            raise ValueError("aug heads need the clips' segment vectors")
        for S, label in zip(segs, y):
            S = S[::2]
            if len(S) > 1:
                rows.append(S)
                ys.append(np.full(len(S), label))
                ws.append(np.full(len(S), 1.0 / len(S)))
    A = pretrained.transform(np.concatenate(rows), params.get("tags"))
    head = make_head(kind, params)
    return head.fit(A, np.concatenate(ys), **{f"{head.steps[-1][0]}__sample_weight": np.concatenate(ws)})


def head_logits10(head, params: dict, X: np.ndarray) -> np.ndarray:
    return _logits10(head, pretrained.transform(X, params.get("tags")))


def oof_logits(kind: str, params: dict, X: np.ndarray, y: np.ndarray, folds,
               segs: Sequence[np.ndarray] | None = None, augs: Sequence[np.ndarray] | None = None) -> np.ndarray:
    """Out-of-fold logits ``(n, 10)`` of a head over ``folds`` (row-index pairs)."""
    Z = np.zeros((len(X), len(GTZAN_GENRES)))
    for tr, te in folds:
        h = fit_head(kind, params, X[tr], y[tr], None if segs is None else [segs[i] for i in tr],
                     None if augs is None else [augs[i] for i in tr])
        Z[te] = head_logits10(h, params, X[te])
    return Z


def select_head(X: np.ndarray, y: np.ndarray, folds, say=_say,
                segs: Sequence[np.ndarray] | None = None,
                candidates: dict[str, tuple[str, dict]] | None = None,
                augs: Sequence[np.ndarray] | None = None) -> tuple[str, dict[str, float], np.ndarray]:
    """Best of ``candidates`` (default :data:`CANDIDATES`) by CV accuracy over ``folds`` (ties: the
    first listed).

    Returns ``(name, {candidate: accuracy}, out-of-fold logits of the winner)``."""
    scores, Zs = {}, {}
    for name, (kind, params) in (candidates or CANDIDATES).items():
        Z = oof_logits(kind, params, X, y, folds, segs, augs)
        scores[name] = float((Z.argmax(1) == y).mean())
        Zs[name] = Z
        if say:
            say(f"    {name}: CV accuracy {scores[name]:.3f}")
    best = max(scores, key=lambda k: scores[k])
    return best, scores, Zs[best]


# ------------------------------------------------------------------------------- band route

#: C values of the band head (the main head's family, kind and transforms), chosen by artist CV.
BAND_CS: tuple[float, ...] = (1e-4, 3e-4, 1e-3)


def band_threshold(clean_db: np.ndarray, copy_db: np.ndarray, copy_rate: np.ndarray) -> float:
    """The band route's threshold (dB), from training material only: halfway between the lowest
    :func:`band_db` of any clean training clip and the highest of the training copies that were
    resampled to 8 kHz (the telephone case). It reads training material only."""
    phone_like = np.asarray(copy_db)[np.asarray(copy_rate) == 8000]
    return float((np.min(clean_db) + np.max(phone_like)) / 2)


def band_rows(paths: Sequence[str], X: np.ndarray, segs: Sequence[np.ndarray], rms_dbfs: float | None,
              max_patches: int | None, augmented: Sequence[bool],
              shas: Sequence[str] | None = None) -> list[list[tuple]]:
    """Per clip, its inputs as the band route sees them: ``[(vector, segment vectors, band dB,
    name)]`` for the clean clip and (where ``augmented``) each training copy, the telephone copies
    (:data:`genre.training.degrade.BAND_AUGMENTATIONS`) included. ``shas``: the files' SHA-256,
    if the caller has them already."""
    from genre.training.degrade import AUGMENTATIONS, BAND_AUGMENTATIONS

    out = []
    for i, p in enumerate(paths):
        sha = shas[i] if shas is not None else _sha(p)
        rows = [(X[i], segs[i], band_db(p, rms_dbfs=rms_dbfs, sha=sha), "clean")]
        if augmented[i]:
            for a in AUGMENTATIONS + BAND_AUGMENTATIONS:
                o = aug_outputs(p, a, rms_dbfs)
                rows.append((limited_vector(o, max_patches), pretrained.segment_vectors(o),
                             aug_band_db(p, a, rms_dbfs, sha=sha), a))
        out.append(rows)
    return out


def _copy_rate(sha: str, name: str) -> int:
    """Sample rate (Hz) a training copy of the file with SHA-256 ``sha`` went through (22050 for
    the clean clip and ``aug_mix``)."""
    from genre.training.degrade import BAND_AUGMENTATIONS, band_settings

    if name == "aug_band":
        return band_settings(aug_seed(sha, name))["rate"]
    return 8000 if name in BAND_AUGMENTATIONS else 22050


def _routed(rows: list[list[tuple]], idx, y: np.ndarray, thr: float):
    """The routed inputs (band dB below ``thr``) of clips ``idx``: vectors, labels, clip rows."""
    V, Y, C = [], [], []
    for i in idx:
        for v, _, db, _ in rows[i]:
            if db < thr:
                V.append(v), Y.append(y[i]), C.append(i)
    dim = pretrained.FEATURE_DIM
    return (np.stack(V) if V else np.zeros((0, dim), np.float32)), np.array(Y, dtype=int), np.array(C, dtype=int)


def fit_band_head(rows: list[list[tuple]], idx, y: np.ndarray, thr: float, kind: str, params: dict):
    """The band head on clips ``idx``: the main head's training rows (clean clips with their segment
    views, augmented copies at :data:`AUG_WEIGHT`), except that every input below ``thr`` (an
    ``aug_band`` copy through a narrow band, every telephone copy) enters at full weight with its
    segment views. Telephone copies above ``thr`` (none, by the threshold's rule) are left out."""
    from genre.training.degrade import BAND_AUGMENTATIONS

    R, Y, W = [], [], []
    for i in idx:
        for v, seg, db, name in rows[i]:
            routed = db < thr
            if name in BAND_AUGMENTATIONS and not routed:
                continue
            full = routed or name == "clean"
            w = 1.0 if full else AUG_WEIGHT
            R.append(v[None]), Y.append(np.array([y[i]])), W.append(np.array([w]))
            S = seg[::2]
            if full and params.get("aug") and len(S) > 1:
                R.append(S), Y.append(np.full(len(S), y[i])), W.append(np.full(len(S), w / len(S)))
    A = pretrained.transform(np.concatenate(R), params.get("tags"))
    head = make_head(kind, params)
    return head.fit(A, np.concatenate(Y), **{f"{head.steps[-1][0]}__sample_weight": np.concatenate(W)})


def fit_band_route(paths: Sequence[str], X: np.ndarray, y: np.ndarray, segs, augs, folds, kind: str,
                   params: dict, rms_dbfs: float | None, max_patches: int | None, say=_say):
    """A head for band-limited input (see :class:`genre.models.pretrained.PretrainedPredictor`).

    Its threshold comes from :func:`band_threshold`; it is fitted by :func:`fit_band_head`, with C
    chosen among :data:`BAND_CS` by artist-grouped CV over ``folds`` (scored on the held-out clips'
    inputs below the threshold), and its temperature on its out-of-fold logits. It is shipped only
    if its CV accuracy on those inputs beats the main head's (the shipped recipe, refitted in the
    same folds, on the same inputs).

    Returns ``(head or None, info)``."""
    from genre.training.degrade import AUGMENTATIONS, BAND_AUGMENTATIONS

    shas = [_sha(p) for p in paths]
    rows = band_rows(paths, X, segs, rms_dbfs, max_patches, [len(a) > 0 for a in augs], shas=shas)
    clean = np.array([r[0][2] for r in rows])
    copies = [(r[2], _copy_rate(sha, r[3])) for sha, rs in zip(shas, rows) for r in rs if r[3] != "clean"]
    thr = band_threshold(clean, np.array([c[0] for c in copies]), np.array([c[1] for c in copies]))
    V, Yr, Cr = _routed(rows, range(len(rows)), y, thr)
    names = ("clean", *AUGMENTATIONS, *BAND_AUGMENTATIONS)
    info = {"threshold_db": thr, "rule": " ".join(band_threshold.__doc__.split("\n\n")[0].split()),
            "training_inputs_routed": {n: int(sum(1 for rs in rows for r in rs if r[3] == n and r[2] < thr))
                                       for n in names}}
    say(f"band route: threshold {thr:.1f} dB; routed training inputs {info['training_inputs_routed']}")
    if len(V) < 50:
        info["shipped"] = False
        info["why"] = f"only {len(V)} training inputs below the threshold"
        return None, info
    # the main head, refitted in each fold, on the held-out routed inputs
    Z_main = np.zeros((len(V), len(GTZAN_GENRES)))
    for tr, te in folds:
        h = fit_head(kind, params, X[tr], y[tr], [segs[i] for i in tr], [augs[i] for i in tr])
        m = np.isin(Cr, te)
        if m.any():
            Z_main[m] = head_logits10(h, params, V[m])
    scores, Zs = {}, {}
    for C in BAND_CS:
        Z = np.zeros((len(V), len(GTZAN_GENRES)))
        for tr, te in folds:
            m = np.isin(Cr, te)
            if m.any():
                Z[m] = head_logits10(fit_band_head(rows, tr, y, thr, kind, {**params, "C": C}), params, V[m])
        scores[f"C{C:g}"], Zs[C] = float((Z.argmax(1) == Yr).mean()), Z
    main_acc = float((Z_main.argmax(1) == Yr).mean())
    best = max(BAND_CS, key=lambda c: scores[f"C{c:g}"])
    info.update({"cv_accuracy_band_head": scores, "cv_accuracy_main_head": main_acc, "C": best,
                 "n_routed_training_inputs": len(V),
                 "selection": "artist-grouped 5-fold CV over the train+valid clips' routed inputs"})
    say(f"band route CV on {len(V)} routed training inputs: main head {main_acc:.3f}; band head "
        + ", ".join(f"{k} {v:.3f}" for k, v in scores.items()))
    if not scores[f"C{best:g}"] > main_acc:
        info["shipped"] = False
        info["why"] = "the band head does not beat the main head on the routed inputs in CV"
        return None, info
    info["temperature"] = fit_temperature(Zs[best], Yr)
    info["shipped"] = True
    return fit_band_head(rows, range(len(rows)), y, thr, kind, {**params, "C": best}), info


def fit_temperature(Z: np.ndarray, y: np.ndarray) -> float:
    """Temperature ``T`` minimising the NLL of ``softmax(Z / T)`` (bounded search, 0.05-20)."""
    from scipy.optimize import minimize_scalar

    def nll(logT):
        P = pretrained.softmax(Z / np.exp(logT))
        return -np.mean(np.log(np.clip(P[np.arange(len(y)), y], 1e-12, None)))

    res = minimize_scalar(nll, bounds=(np.log(0.05), np.log(20.0)), method="bounded")
    return float(np.exp(res.x))


def ece(P: np.ndarray, y: np.ndarray, bins: int = 10) -> float:
    """Expected calibration error of the top-class probability (equal-width bins)."""
    conf, pred = P.max(1), P.argmax(1)
    edges = np.linspace(0, 1, bins + 1)
    e = 0.0
    for a, b in zip(edges[:-1], edges[1:]):
        m = (conf > a) & (conf <= b)
        if m.any():
            e += m.mean() * abs((pred[m] == y[m]).mean() - conf[m].mean())
    return float(e)


# ------------------------------------------------------------------------------------ detector

def _degraded_job(path: str, rms_dbfs: float | None, max_patches: int | None,
                  conditions: Sequence[str] | None = None, with_ler: bool = True) -> dict[str, tuple]:
    """Per robustness condition (default: clean and every degradation): (clip vector, low-energy
    rate or NaN without ``with_ler``, :func:`band_db`) of the clip's first 10 s, degraded."""
    from genre.models import runtime

    runtime.one_core()
    from genre.training.degrade import DEGRADATIONS, PROTOCOL_MAX_SECONDS as MAX_SECONDS

    out = {}
    for cond in conditions or ["clean", *DEGRADATIONS]:
        fn = None if cond == "clean" else DEGRADATIONS[cond]
        o = clip_outputs(path, cond, fn, max_seconds=MAX_SECONDS, rms_dbfs=rms_dbfs)
        ler = clip_ler(path, degrade=fn, max_seconds=MAX_SECONDS) if with_ler else float("nan")
        out[cond] = (limited_vector(o, max_patches), ler,
                     band_db(path, cond, fn, max_seconds=MAX_SECONDS, rms_dbfs=rms_dbfs))
    return out


def degraded_test_vectors(paths: Sequence[str], rms_dbfs: float | None, max_patches: int | None,
                          jobs: int = 1, conditions: Sequence[str] | None = None,
                          with_ler: bool = True) -> list[dict[str, tuple]]:
    """:func:`_degraded_job` for every test clip (cached network outputs; the robustness protocol's
    conditions and cut)."""
    from joblib import Parallel, delayed

    return Parallel(n_jobs=jobs)(delayed(_degraded_job)(str(p), rms_dbfs, max_patches, conditions, with_ler)
                                 for p in paths)


def detector_main(train: pd.DataFrame, test: pd.DataFrame, X_tr, y_tr, X_te, aug_tr, folds_tr,
                  rms_dbfs: float | None, max_patches: int | None, jobs: int = 1):
    """Fit the music detector and measure it (see :func:`fit_main` step 4)."""
    from genre import novelty
    from genre.training.degrade import AUGMENTATIONS, DEGRADATIONS
    from genre.training.novelty_fit import synthetic_negatives, synthetic_piano

    ler_thr = float(novelty.load().ler_threshold_)
    ler_tr = np.array([clip_ler(p) for p in train["path"]])
    ler_aug = None
    if aug_tr is not None:
        ler_aug = [np.array([clip_ler(p, a) for a in AUGMENTATIONS]) if len(aug_tr[i]) else np.zeros(0)
                   for i, p in enumerate(train["path"])]
    det, info = fit_detector(X_tr, y_tr, aug_tr, folds_tr, ler_tr, ler_aug, ler_thr)
    # never used to fit or threshold: the test clips, whole and degraded
    ler_te = np.array([clip_ler(p) for p in test["path"]])
    flags = det.decide(det.scores(X_te), ler_te)
    info["test_false_alarms"] = {"clean_whole": {"n": len(X_te), "flagged": int(flags.sum())}}
    _say(f"music detector on the {len(X_te)} test clips (whole): {flags.sum()} flagged")
    deg = degraded_test_vectors(list(test["path"]), rms_dbfs, max_patches, jobs)
    for cond in ["clean", *DEGRADATIONS]:
        V = np.stack([d[cond][0] for d in deg])
        L = np.array([d[cond][1] for d in deg])
        f = det.decide(det.scores(V), L)
        info["test_false_alarms"][f"{cond}_first10s"] = {"n": len(V), "flagged": int(f.sum())}
        _say(f"  test clips, first 10 s, {cond}: {f.sum()}/{len(V)} flagged")
    synth = []
    for name, sig in [*synthetic_negatives(speech=True),
                      *[(f"synthetic_piano_seed{s}", synthetic_piano(seed=s)) for s in range(5)]]:
        _, P = pretrained.patches(sig, SR, rms_dbfs=rms_dbfs)
        o = pretrained.network_outputs(P[pretrained.select_patches(len(P), max_patches)], ONNX_DIR)
        r = det.check(pretrained.clip_vector(o), _ler(sig))
        synth.append({"name": name, "music": name.startswith("synthetic_piano"), "flagged": r["novel"],
                      "score": round(r["score"], 3), "low_energy_rate": round(r["low_energy_rate"], 3)})
        _say(f"  {name}: {'NOT MUSIC' if r['novel'] else 'music'} (score {r['score']:.2f}, "
             f"low-energy {r['low_energy_rate']:.2f})")
    info["synthetic"] = synth
    return det, info


#: PCA dimensions of the music detector, chosen among 8, 16, 24 and 32 on synthetic material and
#: training clips only (``../shared/samples`` unused): with the augmented copies among the music
#: rows, 16 was the basis that kept five synthetic solo-piano pieces (seeds 0-4) below 0.9 of the
#: novel threshold while tones, sweeps, clicks and pink noise scored above it and espeak-ng speech
#: above the suspect threshold (caught with its quiet gaps). Without augmented rows, 8 separated the
#: synthetic sets perfectly but flagged 15 % of held-out degraded music.
DETECTOR_DIMS: int = 16


def detector_arrays(V: np.ndarray, y: np.ndarray, k: int = DETECTOR_DIMS) -> dict[str, np.ndarray]:
    """Fit :class:`genre.models.pretrained.MusicDetector`'s basis and genre Gaussians on clip vectors
    ``V`` ``(n, FEATURE_DIM)`` with labels ``y`` (thresholds and held-out scores left empty)."""
    from sklearn.covariance import LedoitWolf
    from sklearn.decomposition import PCA

    D = np.asarray(V, dtype=np.float64)[:, pretrained.detector_columns()]
    mean, std = D.mean(axis=0), np.maximum(D.std(axis=0), 1e-6)
    Z = (D - mean) / std
    pca = PCA(k, random_state=0).fit(Z)
    W = pca.transform(Z) / np.sqrt(pca.explained_variance_)
    classes = np.unique(y)
    fits = [LedoitWolf().fit(W[y == c]) for c in classes]
    return {"scale_mean": mean, "scale_std": std, "pca_mean": pca.mean_, "pca_components": pca.components_,
            "pca_variance": pca.explained_variance_, "class_means": np.stack([f.location_ for f in fits]),
            "class_precisions": np.stack([f.precision_ for f in fits]),
            "heldout_scores": np.zeros(1), "thresholds": np.array([np.inf, np.inf, np.inf])}


def _ler(y: np.ndarray) -> float:
    from genre.novelty import low_energy_rate

    return float(low_energy_rate(y, SR))


def clip_ler(path: str | Path, aug: str | None = None, degrade: Callable | None = None,
             max_seconds: float | None = None) -> float:
    """Low-energy rate of a clip (or of its augmented copy ``aug``, or degraded by ``degrade``)."""
    from genre.audio import load as load_audio
    from genre.training.degrade import augment

    y = load_audio(path, min_seconds=0.5).y
    if max_seconds is not None:
        y = y[: int(max_seconds * SR)]
    if aug is not None:
        y = augment(aug, y, SR, aug_seed(_sha(path), aug))
    if degrade is not None:
        y = degrade(y, SR)
    return _ler(y)


def fit_detector(X_tr: np.ndarray, y_tr: np.ndarray, aug_tr: Sequence[np.ndarray] | None, folds,
                 ler_tr: np.ndarray, ler_aug: Sequence[np.ndarray] | None, ler_threshold: float,
                 say=_say) -> tuple["pretrained.MusicDetector", dict]:
    """The music detector on train+valid clip vectors (+ their augmented copies), thresholds at
    the 99th / 95th percentiles of held-out (artist-grouped ``folds``) scores of that music, clean
    and augmented apart (the larger of the two). ``ler_threshold``: the shipped generic detector's
    low-energy-rate threshold (its own 99th percentile on GTZAN music). Returns it and its
    held-out false-alarm figures."""
    n = len(X_tr)
    augs = aug_tr if aug_tr is not None else [np.zeros((0, X_tr.shape[1]))] * n
    lers = ler_aug if ler_aug is not None else [np.zeros(0)] * n

    def rows(idx):
        A = [X_tr[idx]] + [augs[i] for i in idx if len(augs[i])]
        L = [y_tr[idx]] + [np.full(len(augs[i]), y_tr[i]) for i in idx if len(augs[i])]
        return np.concatenate(A), np.concatenate(L)

    held_c = np.zeros(n)
    held_a: list[np.ndarray] = [np.zeros(0)] * n
    for tr, te in folds:
        det = pretrained.MusicDetector(detector_arrays(*rows(tr)))
        held_c[te] = det.scores(X_tr[te])
        for i in te:
            if len(augs[i]):
                held_a[i] = det.scores(augs[i])
    ha = np.concatenate(held_a) if any(len(h) for h in held_a) else np.zeros(0)
    t_novel = max(np.percentile(held_c, 99), np.percentile(ha, 99) if len(ha) else -np.inf)
    t_susp = max(np.percentile(held_c, 95), np.percentile(ha, 95) if len(ha) else -np.inf)
    arrays = detector_arrays(*rows(np.arange(n)))
    arrays["heldout_scores"] = np.concatenate([held_c, ha])
    arrays["thresholds"] = np.array([t_novel, t_susp, ler_threshold])
    det = pretrained.MusicDetector(arrays)
    la = np.concatenate(lers) if len(ha) else np.zeros(0)
    fa_c = det.decide(held_c, ler_tr)
    fa_a = det.decide(ha, la) if len(ha) else np.zeros(0, bool)
    info = {"dims": int(arrays["pca_components"].shape[0]), "threshold": float(t_novel),
            "suspect_threshold": float(t_susp), "ler_threshold": float(ler_threshold),
            "heldout_false_alarms": {"clean": {"n": int(n), "flagged": int(fa_c.sum())},
                                     "augmented": {"n": int(len(ha)), "flagged": int(fa_a.sum())}}}
    if say:
        say(f"music detector: thresholds {t_novel:.2f} / {t_susp:.2f}, low-energy {ler_threshold:.3f}; held-out "
            f"false alarms {fa_c.sum()}/{n} clean, {fa_a.sum()}/{len(ha)} augmented")
    return det, info


NET_LICENCE = """The four networks in this folder (MSD_musicnn, MTT_musicnn, MSD_vgg, MTT_vgg) are
ONNX exports (scripts/export_onnx.py) of the TensorFlow 1 checkpoints shipped in the musicnn 0.1.0
wheel (https://pypi.org/project/musicnn/, https://github.com/jordipons/musicnn). Models: J. Pons and
X. Serra, "musicnn: pre-trained convolutional neural networks for music audio tagging", ISMIR 2019
late-breaking/demo; MSD networks trained on the Million Song Dataset (last.fm top-50 tags), MTT
networks on MagnaTagATune (top-50 tags). The head (head.skops) is trained on GTZAN by
genre/training/pretrained_fit.py. Licence of the original code and models (ISC), reproduced from the wheel:

"""


def fit_main(seed: int = 0, head_names: Sequence[str] | None = None, artist_cv: str = "nested",
             rms_dbfs: float | None = None, augment: bool = False, name: str = "pretrained",
             max_patches: int | None = None, detector: bool = False, jobs: int = 1,
             band_route: bool = False, keep_detector: bool = False) -> int:
    """Choose, calibrate, evaluate and ship ``models/pretrained`` (see the module docstring).

    ``head_names`` restricts the candidates (e.g. to re-ship a choice already made by the full
    search, which is slow). ``artist_cv``: ``"nested"`` re-chooses C inside every artist fold;
    ``"fixed"`` fits the head chosen on train+valid in every fold (how ``musicnn_logreg``'s
    artist_cv_audio was made; about 5x cheaper); ``"none"`` skips the protocol (the results file
    keeps whatever it held)."""
    global CANDIDATES
    if head_names:
        CANDIDATES = {n: CANDIDATES[n] for n in head_names}
    import skops.io as sio

    from genre import registry
    from genre.training.reporting import dir_size as _dir_size, latency_ms, metrics, write_model_result as _write_result
    from genre.training.train_deep import _folds, clip_table

    df = clip_table()
    use = df[df["split"] != "excluded"].reset_index(drop=True)
    train = use[use["split"].isin(["train", "valid"])].reset_index(drop=True)
    test = use[use["split"] == "test"].reset_index(drop=True)
    full = (test["kind"] == "full").to_numpy()
    if max_patches is None:
        V = clean_table(rms_dbfs=rms_dbfs).set_index("clip")[pretrained.feature_names()]
    else:  # the clip vector pooled over the patches prediction analyses (the same for training)
        idx_all = use.drop_duplicates("clip")
        V = pd.DataFrame(np.stack([limited_vector(clip_outputs(p, rms_dbfs=rms_dbfs), max_patches)
                                   for p in idx_all["path"]]), index=list(idx_all["clip"]))
    X_use, X_tr, X_te = (V.loc[list(d["clip"])].to_numpy(np.float32) for d in (use, train, test))
    y_use, y_tr, y_te = (np.array([GTZAN_GENRES.index(g) for g in d["genre"]]) for d in (use, train, test))
    _say(f"clips: use {len(use)}, train {len(train)}, test {len(test)} ({full.sum()} full); "
         f"vector {X_tr.shape[1]}")
    seg_use = [pretrained.segment_vectors(clip_outputs(p, rms_dbfs=rms_dbfs)) for p in use["path"]]
    pos = {c: i for i, c in enumerate(use["clip"])}
    seg_tr = [seg_use[pos[c]] for c in train["clip"]]
    aug_use = aug_tr = None
    if augment:  # training copies of train+valid clips only: test audio is never augmented
        from genre.training.degrade import AUGMENTATIONS

        empty = np.zeros((0, pretrained.FEATURE_DIM), np.float32)
        aug_use = [np.stack([limited_vector(aug_outputs(p, a, rms_dbfs), max_patches) for a in AUGMENTATIONS])
                   if sp in ("train", "valid") else empty for p, sp in zip(use["path"], use["split"])]
        aug_tr = [aug_use[pos[c]] for c in train["clip"]]
        _say(f"augmented copies: {sum(len(a) for a in aug_use)} ({', '.join(AUGMENTATIONS)})")

    # 1. head chosen by artist-grouped CV over train+valid only
    folds_tr = _folds(train, seed=0)
    _say("head selection (artist 5-fold CV over train+valid):")
    best, scores, Z_oof = select_head(X_tr, y_tr, folds_tr, segs=seg_tr, augs=aug_tr)
    kind, params = CANDIDATES[best]
    T = fit_temperature(Z_oof, y_tr)
    P_oof_raw, P_oof = pretrained.softmax(Z_oof), pretrained.softmax(Z_oof / T)
    _say(f"chosen {best} (CV accuracy {scores[best]:.3f}); temperature {T:.3f}; out-of-fold NLL "
         f"{-np.mean(np.log(P_oof_raw[np.arange(len(y_tr)), y_tr] + 1e-12)):.3f} -> "
         f"{-np.mean(np.log(P_oof[np.arange(len(y_tr)), y_tr] + 1e-12)):.3f}, ECE "
         f"{ece(P_oof_raw, y_tr):.3f} -> {ece(P_oof, y_tr):.3f}")

    # 2. audio_holdout: fit on the 371 train+valid clips, score the 144 test clips once
    t0 = time.perf_counter()
    head = fit_head(kind, params, X_tr, y_tr, seg_tr, aug_tr)
    fit_s = time.perf_counter() - t0
    band_head, band_info = None, None
    if band_route:  # a second head for band-limited (telephone-like) input; see fit_band_route
        _say("band route (artist 5-fold CV over train+valid):")
        band_head, band_info = fit_band_route(
            list(train["path"]), X_tr, y_tr, seg_tr,
            aug_tr if aug_tr is not None else [np.zeros((0, pretrained.FEATURE_DIM))] * len(train),
            folds_tr, kind, params, rms_dbfs, max_patches)
        if band_head is None:
            _say(f"band route not shipped: {band_info['why']}")
    band_thr = band_info["threshold_db"] if band_head is not None else None

    def probs(h, X, db=None, h_band=None):
        """Probabilities of the main head (temperature T), rows below the band threshold through
        ``h_band`` (temperature from band_info)."""
        P = pretrained.softmax(head_logits10(h, params, X) / T)
        if h_band is not None and db is not None:
            m = np.asarray(db) < band_thr
            if m.any():
                P[m] = pretrained.softmax(head_logits10(h_band, params, X[m]) / band_info["temperature"])
        return P

    db_te = np.array([band_db(p, rms_dbfs=rms_dbfs) for p in test["path"]]) if band_head is not None else None
    P_te = probs(head, X_te, db_te, band_head)
    if band_head is not None:
        band_info["test_clips_routed"] = int((db_te < band_thr).sum())
    common = {"n_train": len(train), "fit_time_s": round(fit_s, 2),
              "params": {"head": best, **params, "temperature": T,
                         "cv_accuracy_train_valid": scores,
                         "selection": "artist-grouped 5-fold CV over the train+valid clips only",
                         "vector": f"{pretrained.FEATURE_DIM}: per network mean+max embedding and mean tags",
                         "hop_s": pretrained.HOP_FRAMES * 256 / 16000, "rms_dbfs": rms_dbfs,
                         "augment": (f"two degraded copies of each train+valid clip ({AUG_WEIGHT:g} weight "
                                     "each; genre.training.degrade.augment)") if augment else None,
                         **({"band_route": band_info} if band_info is not None else {})}}
    res = {"audio_holdout": {**metrics(y_te, P_te), **common, "ece": ece(P_te, y_te)},
           "audio_holdout_full": {**metrics(y_te[full], P_te[full]), **common}}

    # 3. artist_cv_audio: the 5 shared artist folds over every non-excluded clip with audio. The head
    #    family (kind, augmentation, tag transform) is the one chosen in step 1; its C is re-selected
    #    inside each fold by an inner artist CV over that fold's training clips (nested for C only:
    #    re-running the whole 15-candidate search per fold costs about 20 CPU-minutes)
    family = {n: c for n, c in CANDIDATES.items()
              if c[0] == kind and {k: v for k, v in c[1].items() if k != "C"} == {k: v for k, v in params.items() if k != "C"}}
    folds_use = _folds(use, seed=0)
    if artist_cv == "none":
        folds_use = []
    if artist_cv == "fixed":
        family = {best: CANDIDATES[best]}
    P_cv = np.zeros((len(use), len(GTZAN_GENRES)))
    chosen = []
    db_use = rows_use = None
    if band_head is not None:  # clips routed in a fold get a band head fitted on that fold's training inputs
        db_use = np.array([band_db(p, rms_dbfs=rms_dbfs) for p in use["path"]])
        if (db_use < band_thr).any() and folds_use:
            rows_use = band_rows(list(use["path"]), X_use, seg_use, rms_dbfs, max_patches,
                                 [len(a) > 0 for a in aug_use] if aug_use is not None else [False] * len(use))
        band_info["artist_cv_clips_routed"] = int((db_use < band_thr).sum())
    for k, (tr, te) in enumerate(folds_use):
        sub = use.iloc[tr].reset_index(drop=True)
        s_k = [seg_use[i] for i in tr]
        a_k = None if aug_use is None else [aug_use[i] for i in tr]
        if artist_cv == "fixed":
            b_k, T_k = best, T
        else:
            b_k, _, Z_k = select_head(X_use[tr], y_use[tr], _folds(sub, seed=0), say=None, segs=s_k,
                                      candidates=family, augs=a_k)
            T_k = fit_temperature(Z_k, y_use[tr])
        kind_k, params_k = CANDIDATES[b_k]
        h_k = fit_head(kind_k, params_k, X_use[tr], y_use[tr], s_k, a_k)
        P_cv[te] = pretrained.softmax(head_logits10(h_k, params_k, X_use[te]) / T_k)
        if rows_use is not None and (db_use[te] < band_thr).any():
            hb = fit_band_head(rows_use, tr, y_use, band_thr, kind_k, {**params_k, "C": band_info["C"]})
            m = te[db_use[te] < band_thr]
            P_cv[m] = pretrained.softmax(head_logits10(hb, params_k, X_use[m]) / band_info["temperature"])
        chosen.append(b_k)
        _say(f"  artist_cv_audio fold {k + 1}: inner choice {b_k}, accuracy "
             f"{(P_cv[te].argmax(1) == y_use[te]).mean():.3f}")
    fold_acc = [float((P_cv[te].argmax(1) == y_use[te]).mean()) for _, te in folds_use]
    if artist_cv != "none":
        res["artist_cv_audio"] = {**metrics(y_use, P_cv), "n_train": int(round(len(use) * 4 / 5)),
                                  "n_folds": len(folds_use), "fold_accuracy": fold_acc,
                                  "accuracy_std": float(np.std(fold_acc)), "ece": ece(P_cv, y_use),
                                  "params": {"selection": (f"head family of the train+valid choice ({best}); "
                                                           "C re-chosen in each fold by inner artist CV over "
                                                           "that fold's training clips") if artist_cv == "nested"
                                             else f"the head chosen on train+valid ({best}, temperature "
                                                  "from its train+valid out-of-fold logits) refitted in "
                                                  "every fold; no re-selection inside the folds",
                                             "family": sorted(family),
                                             "chosen_per_fold": chosen}}
    for k, v in res.items():
        _say(f"pretrained {k}: accuracy {v['accuracy']:.3f} macro-F1 {v['macro_f1']:.3f} (n={v['n_test']})")

    # 4. the music detector (version 2): fitted on train+valid (+ augmented copies), validated on
    #    the test clips, their degraded copies, and synthetic non-music and solo piano
    det_files, det_info = {}, None
    if detector:
        det, det_info = detector_main(train, test, X_tr, y_tr, X_te, aug_tr, folds_tr, rms_dbfs,
                                      max_patches, jobs)
        det_files = {"novelty.npz": det.to_bytes()}
    elif keep_detector:
        # the shipped detector reads only the clip vectors of the train+valid clips and their
        # augmented copies: it carries over when those are the ones it was fitted on, which the
        # head search's CV scores (computed on the same vectors) must show to the last digit
        from genre import registry as _reg

        old = _reg.verify(name)
        if "novelty.npz" not in old.get("files", {}):
            raise SystemExit(f"--keep-detector: models/{name} ships no detector")
        old_cv = (old.get("params") or {}).get("cv_accuracy_train_valid") or {}
        if any(old_cv.get(k) != v for k, v in scores.items()) or not set(scores) <= set(old_cv):
            raise SystemExit("--keep-detector: the training clip vectors do not reproduce the shipped "
                             f"model's (head CV {scores} against {old_cv}); refit it with --detector")
        det_files = {"novelty.npz": (_reg.model_dir(name) / "novelty.npz").read_bytes()}
        det_info = old.get("detector")
        _say("music detector carried over (training vectors reproduced: head CV scores identical)")

    # 5. ship
    data = sio.dumps(head)
    trusted = sorted(sio.get_untrusted_types(data=data))
    bad = [t for t in trusted if t not in registry.TRUSTED_TYPES]
    if bad:
        raise SystemExit(f"head uses types outside the allow-list: {bad}")
    wheel_licence = (registry.model_dir("musicnn") / "LICENSE").read_text()
    licence = NET_LICENCE + wheel_licence[wheel_licence.find("ISC"):] if "ISC" in wheel_licence else NET_LICENCE + wheel_licence
    band_files = {}
    if band_head is not None:
        band_data = sio.dumps(band_head)
        extra = sorted(set(sio.get_untrusted_types(data=band_data)) - set(trusted))
        if [t for t in extra if t not in registry.TRUSTED_TYPES]:
            raise SystemExit(f"band head uses types outside the allow-list: {extra}")
        trusted = sorted(set(trusted) | set(extra))
        band_files = {"band_head.skops": band_data}
    files = {"head.skops": data, "LICENSE": licence.encode(), **det_files, **band_files,
             **{f"{n}.onnx": (ONNX_DIR / f"{n}.onnx").read_bytes() for n in pretrained.NETS}}
    man = {"display_name": "Pretrained ensemble (4 musicnn networks + linear head)" if name == "pretrained"
           else f"Pretrained ensemble ({name})",
           "kind": "pretrained_onnx", "family": "pretrained", "classes": list(GTZAN_GENRES),
           "feature_columns": None, "input": "audio", "nets": list(pretrained.NETS),
           "temperature": T, "trusted_types": trusted,
           "vector": {"dim": pretrained.FEATURE_DIM, "version": pretrained.FEATURE_VERSION,
                      "layout": "per net in `nets` order: mean and max over patches of the embedding, "
                                "mean tag probabilities",
                      "patch_s": 187 * 256 / 16000, "hop_s": pretrained.HOP_FRAMES * 256 / 16000,
                      "tag_transform": params.get("tags"), "max_patches": max_patches,
                      "rms_dbfs": rms_dbfs},
           "onnx_info": {"input": "logmel (n, 187, 96)", "outputs": ["probs", "embedding"],
                         "exported_by": "scripts/export_onnx.py"},
           "trained_on": f"fault-filtered train+valid clips with audio ({len(train)} clips, GTZAN audio "
                         "index); networks pretrained on MSD / MagnaTagATune by Pons & Serra",
           "protocol": "audio_holdout", "n_train": len(train), "params": common["params"],
           "metrics": {k: {"accuracy": v["accuracy"], "macro_f1": v["macro_f1"]} for k, v in res.items()},
           "libraries": registry.library_versions(("onnxruntime",))}
    if det_info is not None:
        man["detector"] = det_info
    if band_head is not None:
        man["band_route"] = {"file": "band_head.skops", "measure": "genre.models.pretrained.high_band_db",
                             "high_band_hz": pretrained.HIGH_BAND_HZ, **band_info}
    path = registry.save(name, files, man)
    _write_result(name, man["display_name"], "pretrained", res, size_bytes=_dir_size(path),
                  latency_ms=latency_ms(name))
    _say(f"shipped {path} ({_dir_size(path) / 1e6:.1f} MB)")
    if detector:
        rc = steadiness_main(jobs=jobs, name=name)
        # genre.training.nonmusic builds on this module (no import back: no cycle)
        _say("the new music detector has no contrast stage yet: run `python -m genre.training.nonmusic "
             "fit` (after `extract DEBS` and `embed` if .cache/nonmusic is empty; see that module)")
        return rc
    return 0


#: The steadiness cue's threshold is this share of the lowest steadiness of any GTZAN music version
#: (every clip with audio, clean, through each robustness degradation and each training augmentation).
#: Fixed before the threshold was computed, as a safety margin below all music seen.
STEADY_MARGIN: float = 0.75


def _steadiness_versions(path: str, sha: str) -> dict[str, float]:
    """:func:`genre.novelty.steadiness` of one clip: clean, each degradation, each augmentation."""
    from genre.audio import load as load_audio
    from genre.novelty import steadiness
    from genre.training.degrade import AUGMENTATIONS, DEGRADATIONS, augment

    y = load_audio(path, min_seconds=0.5).y
    out = {"clean": steadiness(y, SR)}
    for name, fn in DEGRADATIONS.items():
        out[name] = steadiness(fn(y, SR), SR)
    for name in AUGMENTATIONS:
        out[name] = steadiness(augment(name, y, SR, aug_seed(sha, name)), SR)
    return out


def steadiness_main(jobs: int = 1, name: str = "pretrained") -> int:
    """Fit the music detector's steadiness cue on all GTZAN music with audio and re-ship ``name``.

    Measures :func:`genre.novelty.steadiness` on every clip with audio (full clips and excerpts, all
    splits: the cue has no genre model, so nothing here is a test score) clean, through each
    robustness degradation and each training augmentation; the threshold is :data:`STEADY_MARGIN`
    times the lowest value of all of them. Adds ``steady_threshold`` to the model's ``novelty.npz``
    and a ``detector.steadiness`` record (the distribution, and the synthetic non-music and solo
    piano answers) to its manifest; nothing else in the model changes.
    """
    from joblib import Parallel, delayed

    from genre import registry
    from genre.novelty import steadiness
    from genre.training.datasets import clips_index
    from genre.training.novelty_fit import synthetic_negatives, synthetic_piano

    idx = clips_index().drop_duplicates("clip").reset_index(drop=True)
    t0 = time.perf_counter()
    rows = Parallel(n_jobs=jobs)(delayed(_steadiness_versions)(p, _sha(p)) for p in idx["path"])
    S = pd.DataFrame(rows)
    S.insert(0, "clip", idx["clip"])
    low = float(np.nanmin(S.drop(columns="clip").to_numpy()))
    thr = STEADY_MARGIN * low
    where = S.drop(columns="clip").stack().idxmin()
    _say(f"steadiness of {len(S)} clips x {S.shape[1] - 1} versions in {time.perf_counter() - t0:.0f} s: "
         f"lowest {low:.2f} dB ({S.loc[where[0], 'clip']}, {where[1]}); threshold {thr:.2f} dB")
    synth = []
    for sname, y in [*synthetic_negatives(speech=True),
                     *[(f"synthetic_piano_seed{k}", synthetic_piano(seed=k)) for k in range(5)]]:
        v = steadiness(y, SR)
        synth.append({"name": sname, "music": sname.startswith("synthetic_piano"),
                      "steadiness": round(v, 3), "below_threshold": bool(v < thr)})
        _say(f"  {sname}: {v:.2f} dB{' -> NOT MUSIC' if v < thr else ''}")
    info = {"threshold_db": thr, "margin": STEADY_MARGIN, "lowest_music_db": low,
            "lowest_music": f"{S.loc[where[0], 'clip']} ({where[1]})",
            "music": {col: {"n": int(S[col].notna().sum()), "min": float(S[col].min()),
                            "p1": float(S[col].quantile(0.01)), "median": float(S[col].median())}
                      for col in S.columns[1:]},
            "music_false_alarms": int((S.drop(columns="clip").to_numpy() < thr).sum()),
            "synthetic": synth,
            "command": f"python -m genre.training.pretrained_fit steadiness --jobs {jobs}"}

    det = pretrained.MusicDetector.from_file(registry.model_dir(name) / "novelty.npz")
    reship_detector(name, pretrained.MusicDetector({**det.a, "steady_threshold": np.array([thr])}),
                    {"steadiness": info})
    _say(f"re-shipped models/{name} with steady_threshold {thr:.2f} dB")
    return 0


def reship_detector(name: str, det: "pretrained.MusicDetector", detector_info: dict) -> None:
    """Re-ship model ``name`` with music detector ``det`` (its ``novelty.npz``) and
    ``detector_info`` merged into the manifest's ``detector`` record; every other file and field
    stays as shipped."""
    from genre import registry

    man = registry.verify(name)
    folder = registry.model_dir(name)
    files = {f: (det.to_bytes() if f == "novelty.npz" else folder / f) for f in man["files"]}
    new = {k: v for k, v in man.items() if k not in ("files", "name")}
    new["detector"] = {**(man.get("detector") or {}), **detector_info}
    registry.save(name, files, new)


def main(argv: Sequence[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m genre.training.pretrained_fit", description=__doc__.split("\n\n")[0])
    ap.add_argument("command", choices=["embed", "fit", "steadiness"])
    ap.add_argument("--limit", type=int, default=None, help="embed: only the first N clips (timing)")
    ap.add_argument("--rms-dbfs", type=float, default=None,
                    help="bring every input to this RMS level (dBFS) before the networks (version 2: -17)")
    ap.add_argument("--augment", action="store_true",
                    help="embed: also the augmented training copies; fit: train the head on them too")
    ap.add_argument("--jobs", type=int, default=1, help="embed: processes")
    ap.add_argument("--name", default="pretrained", help="fit: registry name of the model shipped")
    ap.add_argument("--detector", action="store_true", help="fit: also fit and ship the music detector")
    ap.add_argument("--max-patches", type=int, default=None,
                    help="fit: clip vectors pool at most this many evenly spread patches (bounded latency)")
    ap.add_argument("--head", nargs="*", default=None, help="fit: only these CANDIDATES")
    ap.add_argument("--keep-detector", action="store_true",
                    help="fit: ship the shipped music detector again (only if the training vectors reproduce)")
    ap.add_argument("--band-route", action="store_true",
                    help="embed: also the telephone copies of the training clips; fit: also a head for "
                         "band-limited (telephone-like) input, shipped if it beats the main head in CV")
    ap.add_argument("--artist-cv", choices=["nested", "fixed", "none"], default="nested",
                    help="fit: how artist_cv_audio is run (see fit_main)")
    args = ap.parse_args(argv)
    if args.command == "embed":
        from genre.training.datasets import clips_index

        if args.limit:
            idx = clips_index().drop_duplicates("clip").reset_index(drop=True)
            # a fair sample for timing: alternate full clips and excerpts
            full = idx[idx["kind"] == "full"].head((args.limit + 1) // 2)
            exc = idx[idx["kind"] == "excerpt"].head(args.limit // 2)
            t0 = time.perf_counter()
            vectors(list(full["path"]) + list(exc["path"]), progress_every=0)
            _say(f"{len(full)} full clips + {len(exc)} excerpts in {time.perf_counter() - t0:.1f} s")
            return 0
        t0 = time.perf_counter()
        if args.jobs > 1 or args.augment or args.band_route:
            embed_all(args.rms_dbfs, args.augment, args.jobs, band_copies=args.band_route)
        df = clean_table(rms_dbfs=args.rms_dbfs)
        _say(f"clip vectors: {df.shape} in {time.perf_counter() - t0:.0f} s")
        return 0
    if args.command == "steadiness":
        return steadiness_main(jobs=args.jobs, name=args.name)
    if args.command == "fit":
        return fit_main(head_names=args.head, artist_cv=args.artist_cv, rms_dbfs=args.rms_dbfs,
                        augment=args.augment, name=args.name, max_patches=args.max_patches,
                        detector=args.detector, jobs=args.jobs, band_route=args.band_route,
                        keep_detector=args.keep_detector)
    return 2


if __name__ == "__main__":
    sys.exit(main())
