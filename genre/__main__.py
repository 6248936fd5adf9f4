"""``python -m genre``: see :mod:`genre.cli` (``python -m genre --help``)."""

import sys

from genre.cli import main

if __name__ == "__main__":
    sys.exit(main())
