"""Benchmark scripts: the results campaign (``results.py``) and reference models
(``references.py``). Not part of the installed package."""
