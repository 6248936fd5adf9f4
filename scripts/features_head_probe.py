"""Do the 57 features help the default's head? A probe, on training clips only (issue 9, item 3:
"add ... the 57 features if they help").

``python scripts/features_head_probe.py`` (needs the pretrained cache of ``pretrained_fit embed
--rms-dbfs -17 --augment``; about 5 min on 2 cores). The 57 features
(:func:`genre.features.clip_features`) of each of the 371 train+valid clips and of its two
training copies (``aug_band``, ``aug_mix``: :func:`genre.training.degrade.augment`, the same seeds
as the cached vectors) are log-transformed where heavy-tailed as the feature models do
(``*_var`` columns), then appended to the clip vector, times a weight ``w`` after the head's
standardisation (so ``w`` scales their say in the linear head). Over the shared artist folds the
shipped head recipe is fitted for each ``w`` and scored on the held-out clips clean and on their
held-out copies. Nothing here reads a test clip. The baseline (w = 0) has no segment views (the
features exist per clip only), so it scores below the shipped recipe.

Measured 2026-12-06 (clean / ``aug_band`` / ``aug_mix``): w 0: 0.733 / 0.563 / 0.636; w 1: 0.730 /
0.563 / 0.628; w 3: 0.736 / 0.555 / 0.633; w 10: 0.720 / 0.563 / 0.660. No help; not shipped.
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))


def features(path: str) -> np.ndarray:
    from genre.audio import load
    from genre.features import clip_features
    from genre.training import pretrained_fit as pf
    from genre.training.degrade import augment

    y = load(path, min_seconds=0.5).y
    sha = pf._sha(path)
    out = [clip_features(y, 22050)]
    for a in ("aug_band", "aug_mix"):
        out.append(clip_features(augment(a, y, 22050, pf.aug_seed(sha, a)), 22050))
    return np.stack(out)


def main() -> int:
    from joblib import Parallel, delayed
    from sklearn.preprocessing import StandardScaler

    from genre.models import pretrained
    from genre.training.train_deep import clip_table

    sys.path.insert(0, str(Path(__file__).resolve().parent))
    from noise_head_probe import load

    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--weights", type=float, nargs="*", default=[0.0, 1.0, 3.0, 10.0])
    ap.add_argument("--jobs", type=int, default=2)
    args = ap.parse_args()
    X, y, segs, copies, folds = load()
    df = clip_table()
    train = df[df["split"].isin(["train", "valid"])].reset_index(drop=True)
    F = np.stack(Parallel(n_jobs=args.jobs)(delayed(features)(str(p)) for p in train["path"]))
    F = np.where(np.isfinite(F), F, 0.0)
    F = np.sign(F) * np.log1p(np.abs(F))  # heavy tails (variances, tempo) on one scale
    from sklearn.svm import LinearSVC

    n_emb = X.shape[1]
    for w in args.weights:
        res: dict[str, list] = {}
        for tr, te in folds:
            fsc = StandardScaler().fit(F[tr].reshape(-1, F.shape[-1]))
            versions = [(X, 0), (copies["aug_band"], 1), (copies["aug_mix"], 2)]
            esc = StandardScaler().fit(np.concatenate([pretrained.transform(V[tr], "logit") for V, _ in versions]))

            def rows(V, k, idx):
                E = esc.transform(pretrained.transform(V[idx], "logit"))
                return np.concatenate([E, w * fsc.transform(F[idx, k])], axis=1) if w else E

            A = np.concatenate([rows(V, k, tr) for V, k in versions])
            Y = np.concatenate([y[tr]] * 3)
            W = np.concatenate([np.ones(len(tr)), np.full(2 * len(tr), 0.5)])
            h = LinearSVC(C=1e-4, class_weight="balanced", max_iter=20000, random_state=0).fit(A, Y, sample_weight=W)
            for name, (V, k) in zip(("clean", "aug_band", "aug_mix"), versions):
                res.setdefault(name, []).append(h.classes_[h.decision_function(rows(V, k, te)).argmax(1)] == y[te])
        print(f"features weight {w:g} (embedding {n_emb} columns): "
              + ", ".join(f"{k} {np.concatenate(v).mean():.3f}" for k, v in res.items()), flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
