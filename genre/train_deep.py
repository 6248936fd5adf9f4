"""Entry-point alias kept for ``python -m genre.train_deep``: runs :mod:`genre.training.train_deep`."""

from genre.training.train_deep import main

if __name__ == "__main__":
    raise SystemExit(main())
