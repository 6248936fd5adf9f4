"""Reading the results files the leaderboard is drawn from (``models/results/<model>.json``).

The read-only side of :mod:`genre.training.evaluate`: protocol names and descriptions, one model's
results file, and every results file as one long table. It sits in the core layer because the
registry (choosing the default model), the CLI and the dashboard read results at run time;
writing results and running protocols is offline work in :mod:`genre.training.evaluate`.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Iterable

import numpy as np
import pandas as pd

from genre.config import MODELS_DIR

__all__ = ["PROTOCOLS", "USER_PROTOCOLS", "PROTOCOL_DESCRIPTIONS", "SCALAR_METRICS", "results_dir", "load_result",
           "leaderboard"]

#: Protocol names of the GTZAN models, headline first.
PROTOCOLS: tuple[str, ...] = (
    "filtered_holdout", "random_10fold", "audio_holdout", "audio_holdout_full", "artist_cv_audio",
)
#: Protocols of models trained on your own dataset (:mod:`genre.training.user_data`).
USER_PROTOCOLS: tuple[str, ...] = ("group_holdout", "group_cv")
PROTOCOL_DESCRIPTIONS: dict[str, str] = {
    "filtered_holdout": "Fault-filtered artist-conscious split: fit on train+valid (640), test once on test (290).",
    "random_10fold": "Stratified random 10-fold CV over all 1000 clips (the literature's protocol; leaks artists).",
    "audio_holdout": "filtered_holdout fit, scored on the test clips that have audio here (full + excerpts).",
    "audio_holdout_full": "filtered_holdout fit, scored on the full-length test clips with audio.",
    "artist_cv_audio": "Artist-grouped stratified 5-fold CV (seed 0) over non-excluded clips with audio.",
    "group_holdout": "Your dataset: the first of k stratified, group-aware folds (seed 0) as test, fit on the rest.",
    "group_cv": "Your dataset: stratified, group-aware k-fold CV (seed 0); a group is never on both sides.",
}
#: Scalar metrics the leaderboard carries as columns.
SCALAR_METRICS: tuple[str, ...] = ("accuracy", "macro_f1", "n_train", "n_test", "fit_time_s",
                                   "latency_ms", "accuracy_std")

def results_dir(models_dir: str | Path | None = None) -> Path:
    """``models/results`` (or ``<models_dir>/results``)."""
    return Path(models_dir if models_dir is not None else MODELS_DIR) / "results"


def load_result(model: str, results: str | Path | None = None) -> dict:
    """The results file of ``model`` as a dict (``{}`` when there is none)."""
    path = (Path(results) if results is not None else results_dir()) / f"{model}.json"
    if not path.is_file():
        return {}
    return json.loads(path.read_text())


def leaderboard(results: str | Path | None = None, protocols: Iterable[str] | None = None) -> pd.DataFrame:
    """Every results file as one long table: one row per (model, protocol).

    Columns: ``model, display_name, family, protocol`` + :data:`SCALAR_METRICS` (NaN when
    absent) + ``size_bytes`` + ``model_latency_ms`` + ``per_genre_f1`` (dict) + ``confusion``
    (list of lists) + ``labels`` + ``params``. Sorted by protocol order, then accuracy (descending).
    """
    folder = Path(results) if results is not None else results_dir()
    rows = []
    if folder.is_dir():
        for path in sorted(folder.glob("*.json")):
            try:
                data = json.loads(path.read_text())
            except json.JSONDecodeError:
                continue
            for proto, m in (data.get("protocols") or {}).items():
                if protocols is not None and proto not in protocols:
                    continue
                row = {"model": data.get("model", path.stem),
                       "display_name": data.get("display_name", path.stem),
                       "family": data.get("family"), "protocol": proto}
                for k in SCALAR_METRICS:
                    row[k] = m.get(k, np.nan)
                    if row[k] is None:
                        row[k] = np.nan
                row["size_bytes"] = data.get("size_bytes", np.nan)
                row["model_latency_ms"] = data.get("latency_ms", np.nan)
                for k in ("per_genre_f1", "confusion", "labels", "params"):
                    row[k] = m.get(k)
                rows.append(row)
    cols = ["model", "display_name", "family", "protocol", *SCALAR_METRICS, "size_bytes",
            "model_latency_ms", "per_genre_f1", "confusion", "labels", "params"]
    df = pd.DataFrame(rows, columns=cols)
    if df.empty:
        return df
    order = {p: i for i, p in enumerate((*PROTOCOLS, *USER_PROTOCOLS))}
    df["_o"] = df["protocol"].map(lambda p: order.get(p, len(order)))
    df = df.sort_values(["_o", "accuracy", "model"], ascending=[True, False, True]).drop(columns="_o")
    return df.reset_index(drop=True)
