"""Compare front-end variants of the pretrained ensemble by artist-grouped CV on train+valid only.

    nice .venv/bin/python scripts/pretrained_variants.py [--head aug_taglogit_linsvm_C0.0003]

For each variant -- loudness normalisation (``rms_dbfs`` None or -17), augmented training copies
(off / on), and the number of patches pooled per clip (``max_patches``: all, 8, 6, 4, 3) -- fits
one fixed head (default: the family and C version 1 chose by its full search) in the shared artist
5-fold CV over the fault-filtered train+valid clips with audio, and prints the CV accuracy over all
clips, over the full-length clips alone, and over the held-out clips' augmented (degraded) copies
(``genre.training.degrade.augment``; normalised front end only), a robustness estimate from
training data alone. The test clips are not read. This is how version
2's front end was chosen; ``python -m genre.training.pretrained_fit fit`` then re-selects C by
nested CV and scores the test clips once. Needs the cache filled by
``python -m genre.training.pretrained_fit embed --rms-dbfs -17 --augment --jobs 2`` (and the
un-normalised one by ``... embed``).
"""

from __future__ import annotations

import argparse
import itertools
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--head", default="aug_taglogit_linsvm_C0.0003")
    ap.add_argument("--patches", nargs="*", type=int, default=[0, 8, 6, 4, 3], help="0 = all")
    ap.add_argument("--rms", nargs="*", default=["none", "-17"])
    args = ap.parse_args(argv)

    from genre.models import pretrained
    from genre.training import pretrained_fit as pf
    from genre.training.datasets import GTZAN_GENRES
    from genre.training.degrade import AUGMENTATIONS
    from genre.training.train_deep import _folds, clip_table

    df = clip_table()
    train = df[df["split"].isin(["train", "valid"])].reset_index(drop=True)
    y = np.array([GTZAN_GENRES.index(g) for g in train["genre"]])
    full = (train["kind"] == "full").to_numpy()
    folds = _folds(train, seed=0)
    kind, params = pf.CANDIDATES[args.head]
    print(f"{len(train)} train+valid clips ({full.sum()} full), head {args.head}, artist 5-fold CV")
    print(f"{'rms_dbfs':>8} {'augment':>7} {'patches':>7} {'CV acc':>7} {'full only':>9} {'degraded':>9}")
    for rms_s, aug, mp in itertools.product(args.rms, (False, True), args.patches):
        rms = None if rms_s == "none" else float(rms_s)
        if aug and rms is None:
            continue  # augmented copies are embedded for the normalised front end only
        mp = mp or None
        outs = [pf.clip_outputs(p, rms_dbfs=rms) for p in train["path"]]
        X = np.stack([pf.limited_vector(o, mp) for o in outs])
        segs = [pretrained.segment_vectors(o) for o in outs]
        augs = ([np.stack([pf.limited_vector(pf.aug_outputs(p, a, rms), mp) for a in AUGMENTATIONS])
                 for p in train["path"]] if aug else None)
        # held-out degraded copies: each clip's augmented copies, scored by the fold's head (which
        # never saw that clip nor its copies): a robustness estimate from training data only
        A = [np.stack([pf.limited_vector(pf.aug_outputs(p, a, rms), mp) for a in AUGMENTATIONS])
             for p in train["path"]] if rms is not None else None
        Z = np.zeros((len(X), len(GTZAN_GENRES)))
        ok_aug = []
        for tr, te in folds:
            h = pf.fit_head(kind, params, X[tr], y[tr], [segs[i] for i in tr],
                            None if augs is None else [augs[i] for i in tr])
            Z[te] = pf.head_logits10(h, params, X[te])
            if A is not None:
                for i in te:
                    ok_aug += list(pf.head_logits10(h, params, A[i]).argmax(1) == y[i])
        ok = Z.argmax(1) == y
        rob = f"{np.mean(ok_aug):9.3f}" if ok_aug else "        -"
        print(f"{rms_s:>8} {str(aug):>7} {str(mp or 'all'):>7} {ok.mean():7.3f} {ok[full].mean():9.3f} {rob}",
              flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
