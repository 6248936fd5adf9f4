"""Command line: ``python -m genre {features,train,evaluate,predict,models,catalogue} ...``.

Every sub-command returns one of the exit codes in :data:`EXIT_CODES`; errors a user can cause
are printed as one line on stderr, never as a traceback.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import warnings
from pathlib import Path
from typing import Sequence

from genre.errors import AudioError, DataError, GenreError, ModelError

EXIT_OK, EXIT_INPUT_FAILED, EXIT_USAGE, EXIT_MODEL, EXIT_INTERNAL = 0, 1, 2, 3, 4
EXIT_CODES = {
    EXIT_OK: "success",
    EXIT_INPUT_FAILED: "some inputs failed (unreadable or bad audio); the others were processed",
    EXIT_USAGE: "usage error (bad arguments, no such file or folder)",
    EXIT_MODEL: "model or data error (unknown/missing/corrupt model or non-music detector, "
                "missing GTZAN data)",
    EXIT_INTERNAL: "internal error (a bug) on some inputs; the others were processed",
}

EPILOG = "exit codes:\n" + "\n".join(f"  {k}  {v}" for k, v in EXIT_CODES.items()) + """

examples:
  python -m genre predict song.mp3 --top 3
  python -m genre predict my_folder/ --json --jobs 2 > answers.json
  python -m genre features ../shared/gtzan/audio --out features.parquet
  python -m genre evaluate
  python -m genre models
  python -m genre catalogue ~/Music --out catalogue.parquet
  python -m genre catalogue tracks.txt --out catalogue.parquet --scheduler tcp://10.0.0.5:8786
  python -m genre train --data-root my_labelled/ --models-dir my_models/   # your own labels
  python -m genre evaluate --models-dir my_models/
  python -m genre predict song.mp3 --models-dir my_models/
"""

AUDIO_SUFFIXES = (".wav", ".flac", ".mp3", ".ogg", ".oga", ".opus", ".m4a", ".aac", ".mp4", ".au", ".aif", ".aiff")


class UsageError(Exception):
    """Bad command-line usage found after parsing (exit code 2)."""


def _jobs(value: str) -> int:
    try:
        n = int(value)
    except ValueError:
        raise argparse.ArgumentTypeError(f"--jobs takes an integer, not {value!r}") from None
    if n == 0 or n < -1:
        raise argparse.ArgumentTypeError("--jobs must be a positive number, or -1 for all cores")
    return n


def _positive(value: str) -> int:
    try:
        n = int(value)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected an integer, not {value!r}") from None
    if n < 1:
        raise argparse.ArgumentTypeError("must be 1 or more")
    return n


def build_parser() -> argparse.ArgumentParser:
    """The argparse parser (exposed for tests and documentation)."""
    p = argparse.ArgumentParser(
        prog="python -m genre", description="Music-genre classification (GTZAN's ten genres by default, "
        "or your own labels).",
        epilog=EPILOG, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = p.add_subparsers(dest="command", metavar="COMMAND", required=True)

    f = sub.add_parser("features", help="extract the 57 published features of a folder of audio (cached)",
                       epilog=EPILOG, formatter_class=argparse.RawDescriptionHelpFormatter)
    f.add_argument("folder", metavar="DIR", help="a <root>/<label>/<clip> folder or any folder of audio files")
    f.add_argument("--out", metavar="FILE", help="write the table to FILE.parquet or FILE.csv "
                   "(default: print a summary only)")
    f.add_argument("--jobs", type=_jobs, default=-1, metavar="N", help="parallel workers (default -1: all cores)")
    f.add_argument("--no-progress", action="store_true", help="hide the progress bar")

    t = sub.add_parser("train", help="train and evaluate the feature models (and --deep models), on GTZAN or "
                       "on your own labelled folder (--data-root)",
                       epilog=EPILOG, formatter_class=argparse.RawDescriptionHelpFormatter)
    t.add_argument("--models", nargs="+", metavar="NAME", help="only these feature models (default: all)")
    t.add_argument("--data-root", metavar="DIR", help="your own dataset: <DIR>/<label>/<clip>.<ext>, 2 or more labels "
                   "(with --labels: the folder the CSV's paths start from)")
    t.add_argument("--labels", metavar="CSV", help="CSV of path,label[,group] replacing the folder names; clips "
                   "sharing a group are never split between training and test")
    t.add_argument("--models-dir", metavar="DIR", help="where models trained on your dataset go (required with "
                   "--data-root unless GENRE_MODELS_DIR is set; never the shipped models/)")
    t.add_argument("--folds", type=int, default=5, metavar="K", help="folds of the group-aware CV on your dataset "
                   "(default 5; every label needs at least K clips, or K groups)")
    t.add_argument("--deep", action="store_true", help="also train the deep models (genre.models.deep / genre.training.train_deep train_all; slow)")
    t.add_argument("--novelty", action="store_true", help="also refit the non-music detector (models/novelty)")

    e = sub.add_parser("evaluate", help="print the leaderboard (honest and random protocols side by side)",
                       epilog=EPILOG, formatter_class=argparse.RawDescriptionHelpFormatter)
    e.add_argument("--json", action="store_true", help="print the leaderboard rows as JSON")
    e.add_argument("--markdown", action="store_true",
                   help="print the README's leaderboard table (Markdown) from models/results")
    e.add_argument("--models-dir", metavar="DIR", help="leaderboard of another models folder (default: models/)")

    pr = sub.add_parser("predict", help="classify audio files or folders",
                        epilog=EPILOG, formatter_class=argparse.RawDescriptionHelpFormatter)
    pr.add_argument("inputs", nargs="+", metavar="FILE_OR_DIR", help="audio files and/or folders (searched recursively)")
    pr.add_argument("--model", metavar="NAME", help="registry model name (default: the default model; see `models`)")
    pr.add_argument("--models-dir", metavar="DIR", help="models folder to load from (e.g. models trained on your "
                    "own labels; default: GENRE_MODELS_DIR or models/)")
    pr.add_argument("--json", action="store_true", help="print one JSON document (a list, one entry per file)")
    pr.add_argument("--top", type=_positive, default=3, metavar="K", help="classes shown per file (default 3)")
    pr.add_argument("--jobs", type=_jobs, default=1, metavar="N", help="parallel workers for many files (default 1)")
    pr.add_argument("--no-progress", action="store_true", help="hide the progress bar")
    pr.add_argument("--no-novelty", action="store_true",
                    help="skip the non-music check (required to run when models/novelty is missing)")

    mo = sub.add_parser("models", help="list the shipped models", epilog=EPILOG,
                        formatter_class=argparse.RawDescriptionHelpFormatter)
    mo.add_argument("--tree-sha256", action="store_true",
                    help="print the SHA-256 of the whole models/ tree (pin it in GENRE_MODELS_SHA256)")
    mo.add_argument("--models-dir", metavar="DIR", help="list another models folder (default: models/)")
    _add_catalogue_parser(sub)
    return p


def _at_least_one(value: str) -> int:
    try:
        n = int(value)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected an integer, not {value!r}") from None
    if n < 1:
        raise argparse.ArgumentTypeError("must be at least 1")
    return n


def _add_catalogue_parser(sub) -> None:
    c = sub.add_parser(
        "catalogue", help="classify a whole library on Dask into a resumable Parquet catalogue",
        description="Classify every track (whole length, up to the configured limit) on a Dask "
        "cluster into a Parquet catalogue, one row per track. Rerunning skips tracks already "
        "catalogued with the same model (keyed by content hash); bad files become error rows. "
        "See genre/catalogue.py.", epilog=EPILOG, formatter_class=argparse.RawDescriptionHelpFormatter)
    c.add_argument("sources", nargs="+", metavar="SRC",
                   help="folders (searched recursively), .txt/.csv lists of paths, globs, or files")
    c.add_argument("--out", required=True, metavar="DIR",
                   help="the catalogue: a Parquet dataset folder (e.g. catalogue.parquet), created or resumed")
    c.add_argument("--model", metavar="NAME", help="registry model name (default: the default model)")
    c.add_argument("--scheduler", metavar="ADDRESS",
                   help="use an existing Dask cluster (tcp://HOST:PORT) instead of a local one")
    c.add_argument("--workers", type=_jobs, default=None, metavar="N",
                   help="local cluster workers, one thread each (default: one per core)")
    c.add_argument("--memory-limit", default="auto", metavar="SIZE",
                   help="local cluster memory limit per worker, e.g. 2GiB (default auto: an equal share)")
    c.add_argument("--batch-size", type=_at_least_one, default=32, metavar="N",
                   help="rows per Parquet part file: the most a crash can lose (default 32)")
    c.add_argument("--relative-to", metavar="DIR", help="store paths relative to DIR")
    c.add_argument("--no-progress", action="store_true", help="hide the progress bar")


# ------------------------------------------------------------------------------ helpers

def _audio_files(folder: Path) -> list[Path]:
    return sorted(p for p in folder.rglob("*")
                  if p.is_file() and p.suffix.lower() in AUDIO_SUFFIXES and not p.name.startswith("."))


def _expand_inputs(inputs: Sequence[str]) -> list[Path]:
    out: list[Path] = []
    for raw in inputs:
        p = Path(raw)
        if p.is_dir():
            found = _audio_files(p)
            if not found:
                raise UsageError(f"No audio files ({', '.join(AUDIO_SUFFIXES)}) in folder {p}.")
            out.extend(found)
        elif p.exists():
            out.append(p)
        else:
            raise UsageError(f"No such file or folder: {p}.")
    return out


def _err(msg: str) -> None:
    print(f"error: {msg}", file=sys.stderr)


# ------------------------------------------------------------------------------ commands

def cmd_features(args) -> int:
    import pandas as pd

    from genre.training import cache
    from genre.training import datasets

    folder = Path(args.folder)
    if not folder.is_dir():
        raise UsageError(f"No such folder: {folder}.")
    if args.out and Path(args.out).suffix.lower() not in (".parquet", ".csv"):
        raise UsageError(f"--out must end in .parquet or .csv, not {Path(args.out).name!r}.")
    try:
        layout = datasets.labelled_folder(folder)
    except DataError:  # not a labelled folder (or one label only): list its audio files
        layout = pd.DataFrame(columns=["clip", "label", "path"])
    if len(layout):
        paths = list(layout["path"])
        genre_of = dict(zip(layout["path"], layout["label"]))
    else:
        paths = [str(p.resolve()) for p in _audio_files(folder)]
        genre_of = {}
    if not paths:
        raise UsageError(f"No audio files in {folder}.")
    df = cache.extract_many(paths, n_jobs=args.jobs, progress=not args.no_progress)
    errors = df.attrs.get("errors", {})
    df.insert(0, "clip", [Path(p).stem for p in df.index])
    if genre_of:
        df.insert(1, "genre", [genre_of.get(p, "") for p in df.index])
    for path, msg in errors.items():
        _err(f"{path}: {msg}")
    n_cached = int(df["cached"].sum()) if len(df) else 0
    print(f"{len(df)} files: {n_cached} from the cache, {len(df) - n_cached} computed, "
          f"{len(errors)} failed.")
    if args.out:
        out = Path(args.out)
        out.parent.mkdir(parents=True, exist_ok=True)
        if out.suffix.lower() == ".csv":
            df.to_csv(out)
        else:
            df.to_parquet(out)
        print(f"wrote {out}")
    return EXIT_INPUT_FAILED if errors else EXIT_OK


def cmd_train(args) -> int:
    import importlib

    from genre.training import train
    from genre.models.feature_models import MODEL_NAMES

    unknown = sorted(set(args.models or ()) - set(MODEL_NAMES))
    if unknown:
        raise UsageError(f"Unknown feature model(s) {', '.join(unknown)}; choose from {', '.join(MODEL_NAMES)}.")
    if args.data_root or args.labels:
        return _train_user(args)
    if args.models_dir:
        raise UsageError("--models-dir goes with --data-root (your own dataset); GTZAN models are written to "
                         "GENRE_MODELS_DIR or models/.")
    board = train.train_feature_models(args.models or None)
    cols = [c for c in ("model", "protocol", "accuracy", "macro_f1", "n_train", "n_test") if c in board.columns]
    if len(board):
        print(board[cols].to_string(index=False))
    if args.deep:
        fn = None
        for module in ("genre.models.deep", "genre.training.train_deep"):  # the deep training entry point
            try:
                fn = getattr(importlib.import_module(module), "train_all", None)
            except ImportError:
                continue
            if fn is not None:
                break
        if fn is None:
            raise ModelError("No deep training entry point (genre.models.deep.train_all) is available here.")
        fn()
    if args.novelty:
        from genre.training import novelty_fit

        man = novelty_fit.fit_and_save()
        print(f"novelty detector: threshold {man['threshold']:.2f} "
              f"({man['threshold_percentile']:g}th percentile of held-out music)")
    return EXIT_OK


def _train_user(args) -> int:
    """``train --data-root DIR``: feature models (and ``--deep`` networks) on your own labelled dataset."""
    from genre.training import user_data

    out = user_data.user_models_dir(args.models_dir)
    board = user_data.train_feature_models(args.data_root, args.labels, out, args.models, n_folds=args.folds)
    cols = [c for c in ("model", "protocol", "accuracy", "macro_f1", "n_train", "n_test") if c in board.columns]
    if len(board):
        print(board[cols].to_string(index=False))
    for name, why in board.attrs.get("failed_models", {}).items():
        _err(f"model {name} was not trained: {why}")
    if args.deep:
        from genre.training import train_deep

        train_deep.train_on_folder(args.data_root, args.labels, out, n_folds=args.folds)
    n_bad = len(board.attrs.get("unreadable", {}))
    print(f"models, results and dataset.json in {out}" + (f"; {n_bad} unreadable file(s) skipped" if n_bad else ""))
    print(f"leaderboard: python -m genre evaluate --models-dir {out}")
    return EXIT_OK


def leaderboard_table(models_dir: str | Path | None = None):
    """The leaderboard with the honest and random protocols side by side (one row per model)."""
    import pandas as pd

    from genre.training import evaluate

    board = evaluate.leaderboard(evaluate.results_dir(models_dir))
    if board is None or len(board) == 0:
        where = evaluate.results_dir(models_dir)
        raise ModelError(f"No results in {where}: train models first (python -m genre train).")
    metrics = [m for m in ("accuracy", "macro_f1") if m in board.columns]
    wide = board.pivot_table(index="model", columns="protocol", values=metrics, aggfunc="first")
    wide.columns = [f"{proto}:{metric}" for metric, proto in wide.columns]
    order = [*evaluate.PROTOCOLS, *evaluate.USER_PROTOCOLS]
    protos = [p for p in order if any(c.startswith(p + ":") for c in wide.columns)]
    protos += sorted({c.split(":")[0] for c in wide.columns} - set(protos))
    cols = [f"{p}:{m}" for p in protos for m in metrics if f"{p}:{m}" in wide.columns]
    wide = wide[cols]
    if "display_name" in board.columns:
        names = board.drop_duplicates("model").set_index("model")["display_name"]
        wide.insert(0, "display_name", names.reindex(wide.index))
    key = next((c for c in cols if c.startswith("filtered_holdout:accuracy")), cols[0] if cols else None)
    if key:
        wide = wide.sort_values(key, ascending=False, na_position="last")
    return pd.DataFrame(wide), board


def leaderboard_markdown() -> str:
    """The README's leaderboard: one Markdown row per model, every protocol, from models/results.

    The README embeds this text between ``<!-- leaderboard:start -->`` and ``<!-- leaderboard:end -->``;
    ``tests/test_readme.py`` fails when the two disagree, so no figure there is typed by hand.
    """
    _, board = leaderboard_table()
    cols = [("filtered_holdout", "accuracy"), ("filtered_holdout", "macro_f1"), ("random_10fold", "accuracy"),
            ("audio_holdout", "accuracy"), ("audio_holdout", "macro_f1"), ("audio_holdout_full", "accuracy"),
            ("artist_cv_audio", "accuracy")]
    heads = ["model", "family", "fault-filtered acc", "fault-filtered macro-F1", "random 10-fold acc",
             "gap (random - filtered)", "audio subset acc (144)", "audio subset macro-F1",
             "audio full clips acc (79)", "artist CV on audio acc", "trained on (n, audio subset)",
             "fit time (audio subset)"]
    first = board.drop_duplicates("model").set_index("model")
    cell = {(r.model, r.protocol): r for r in board.itertuples()}

    def fmt(v):
        return "–" if v is None or v != v else f"{100 * v:.1f} %"

    def value(m, proto, metric):
        r = cell.get((m, proto))
        return None if r is None else getattr(r, metric)

    def key(m):
        f, a = value(m, "filtered_holdout", "accuracy"), value(m, "audio_holdout", "accuracy")
        return (f is None or f != f, -(f or 0), -(a or 0))

    lines = ["| " + " | ".join(heads) + " |", "|" + "---|" * len(heads)]
    for m in sorted(first.index, key=key):
        vals = [fmt(value(m, p, k)) for p, k in cols]
        f, r = value(m, "filtered_holdout", "accuracy"), value(m, "random_10fold", "accuracy")
        gap = "–" if f is None or r is None or f != f or r != r else f"{100 * (r - f):+.1f} pts"
        n = value(m, "audio_holdout", "n_train")
        n = "–" if n is None or n != n else str(int(n))
        t = value(m, "audio_holdout", "fit_time_s")
        t = "–" if t is None or t != t else (f"{t:.1f} s" if t < 100 else f"{t / 60:.1f} min")
        lines.append("| " + " | ".join([str(first.loc[m, "display_name"]), str(first.loc[m, "family"]),
                                        *vals[:3], gap, *vals[3:], n, t]) + " |")
    return "\n".join(lines)


def cmd_evaluate(args) -> int:
    if args.markdown and args.models_dir:
        raise UsageError("--markdown prints the README's GTZAN table of models/; drop it to see the leaderboard "
                         "of another models folder.")
    if args.markdown:
        print(leaderboard_markdown())
        return EXIT_OK
    wide, board = leaderboard_table(args.models_dir)
    if args.json:
        print(board.to_json(orient="records", indent=1, default_handler=str))
        return EXIT_OK
    import pandas as pd

    with pd.option_context("display.max_columns", None, "display.width", 200,
                           "display.float_format", "{:.3f}".format):
        if set(board["protocol"]) <= {"group_holdout", "group_cv"}:
            print(f"Leaderboard of {args.models_dir or 'models/'} (group_holdout = first group-aware fold as test "
                  "set; group_cv = group-aware cross-validation)")
        else:
            print("Leaderboard (filtered_holdout = honest, artist-conscious split; "
                  "random_10fold = random CV, inflated by repeated artists)")
        print(wide.to_string())
    return EXIT_OK


def cmd_models(args) -> int:
    import pandas as pd

    from genre import registry

    if getattr(args, "tree_sha256", False):
        print(registry.tree_sha256(args.models_dir) if args.models_dir else registry.tree_sha256())
        return EXIT_OK
    models = registry.list_models(args.models_dir)
    if not models:
        raise ModelError(f"No models in {args.models_dir or 'models/'} (train them: python -m genre train).")
    try:
        default = registry.default_name(args.models_dir)
    except GenreError:
        default = None
    rows = []
    for m in models:
        metrics = m.get("metrics") or {}
        proto = next((p for p in ("filtered_holdout", "audio_holdout", "group_cv", "group_holdout") if p in metrics),
                     None)
        acc = (metrics.get(proto) or {}).get("accuracy") if proto else None
        rows.append({"": "*" if m.get("name") == default else "", "name": m.get("name", "?"),
                     "display name": m.get("display_name", ""), "kind": m.get("kind", ""),
                     "family": m.get("family", ""), "input": m.get("input", ""),
                     "classes": len(m.get("classes") or ()),
                     "accuracy": f"{acc:.3f} ({proto})" if isinstance(acc, (int, float)) else ""})
    print(pd.DataFrame(rows).to_string(index=False))
    if default:
        print("* = default model")
    return EXIT_OK


def _format_row(path: str, pred, k: int) -> str:
    top = "  ".join(f"{g} {p:5.1%}" for g, p in pred.top(k))
    flag = " [NOT MUSIC]" if pred.not_music else (" [low confidence]" if pred.low_confidence else "")
    return f"{path}\t{top}{flag}"


def cmd_predict(args) -> int:
    from genre import predict as P

    files = _expand_inputs(args.inputs)
    model = args.model
    models_dir = str(args.models_dir) if args.models_dir else None
    P.load_model(model, models_dir)  # fail early (exit 3) on a bad model name, before any work
    novelty = not args.no_novelty
    if novelty and P.load_detector(models_dir) is None:  # fail early and loudly: no silent non-music check
        raise ModelError("The non-music detector is missing (models/novelty, or novelty/ in "
                         "--models-dir): answers could not flag speech or noise. Restore it, or pass "
                         "--no-novelty to classify without the check.")
    results = P.predict_many([str(f) for f in files], model=model, n_jobs=args.jobs,
                             progress=not args.no_progress and len(files) > 1, novelty=novelty,
                             models_dir=models_dir)
    failed = [r for r in results if isinstance(r, P.Failure)]
    if args.json:
        docs = []
        for f, r in zip(files, results):
            if isinstance(r, P.Failure):
                err = {"type": r.kind, "message": r.message}
                if r.internal:
                    err["internal"] = True
                docs.append({"path": str(f), "error": err})
            else:
                d = r.to_dict()
                d["path"] = str(f)
                docs.append(d)
        json.dump(docs, sys.stdout, indent=1)
        print()
    else:
        for f, r in zip(files, results):
            if isinstance(r, P.Failure):
                print(f"{f}\tERROR ({r.kind}): {r.message}")
            else:
                print(_format_row(str(f), r, args.top))
                if len(files) == 1:
                    print(f"  {r.verdict}")
                    print(f"  model: {r.model_display_name}; {r.duration_s:.1f} s analysed in "
                          f"{r.timings_ms['total']:.0f} ms")
                    for n in r.notes:
                        print(f"  note: {n}")
    for f, r in zip(files, results):
        if isinstance(r, P.Failure):
            _err(f"{f}: {r.message}")
            if r.internal and os.environ.get("GENRE_DEBUG"):
                print(r.detail, file=sys.stderr)
    if any(r.internal for r in failed):
        _err("internal errors above are bugs (set GENRE_DEBUG=1 for their tracebacks); "
             "the other inputs were processed")
        return EXIT_INTERNAL
    if any(r.model_error for r in failed):
        return EXIT_MODEL
    return EXIT_INPUT_FAILED if failed else EXIT_OK


def cmd_catalogue(args) -> int:
    from genre import catalogue

    workers = None if args.workers in (None, -1) else args.workers
    try:
        summary = catalogue.run(args.sources, args.out, model=args.model, scheduler=args.scheduler,
                                n_workers=workers, memory_limit=args.memory_limit,
                                batch_size=args.batch_size, progress=not args.no_progress,
                                relative_to=args.relative_to)
    except catalogue.SourceError as exc:
        raise UsageError(str(exc)) from None
    print(summary.text())
    for path, kind, message in summary.errors:
        _err(f"{path}: {kind}: {message}")
    return EXIT_INPUT_FAILED if summary.failed else EXIT_OK


COMMANDS = {"features": cmd_features, "train": cmd_train, "evaluate": cmd_evaluate,
            "predict": cmd_predict, "models": cmd_models, "catalogue": cmd_catalogue}


def _show_warning(message, category, filename, lineno, file=None, line=None):
    """Cache warnings read as one ``note:`` line on stderr; other warnings as Python prints them."""
    from genre.config import CacheWarning

    if issubclass(category, CacheWarning):
        print(f"note: {message}", file=sys.stderr)
    else:
        sys.stderr.write(warnings.formatwarning(message, category, filename, lineno, line))


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line; returns the exit code (see :data:`EXIT_CODES`)."""
    parser = build_parser()
    try:
        args = parser.parse_args(argv)
    except SystemExit as exc:  # argparse: 0 for --help, 2 for bad usage
        return int(exc.code or 0)
    previous = warnings.showwarning
    warnings.showwarning = _show_warning
    try:
        return _run(args)
    finally:
        warnings.showwarning = previous


def _run(args) -> int:
    try:
        return COMMANDS[args.command](args)
    except UsageError as exc:
        _err(str(exc))
        return EXIT_USAGE
    except (ModelError, DataError) as exc:
        _err(str(exc))
        return EXIT_MODEL
    except AudioError as exc:
        _err(str(exc))
        return EXIT_INPUT_FAILED
    except GenreError as exc:
        _err(str(exc))
        return EXIT_MODEL
    except KeyboardInterrupt:
        _err("interrupted")
        return 130
    except BrokenPipeError:
        try:
            sys.stdout = open(os.devnull, "w")
        except OSError:
            pass
        return EXIT_OK
    except Exception as exc:  # a bug: one line for the user, the traceback on request
        _err(f"internal error ({type(exc).__name__}: {exc}); this is a bug in genre"
             + ("" if os.environ.get("GENRE_DEBUG") else " (set GENRE_DEBUG=1 for the traceback)"))
        if os.environ.get("GENRE_DEBUG"):
            import traceback

            traceback.print_exc()
        return EXIT_INTERNAL
