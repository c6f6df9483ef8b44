"""``python -m mdlnas`` runs the command line."""

from __future__ import annotations

from mdlnas.cli import run

run()
