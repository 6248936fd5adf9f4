"""Offline work: datasets, the feature cache, training, evaluation and 2-D embeddings.

Nothing at prediction time (``genre.predict``, the CLI's ``predict``, the dashboard's Classify
page) imports this package; it imports the core and :mod:`genre.models`, never the other way
round (checked by the import-linter contracts in ``pyproject.toml``).
"""
