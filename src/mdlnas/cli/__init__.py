"""The ``mdlnas`` command line: it builds configs and calls the library, nothing else.

One module per command (:mod:`~mdlnas.cli.search`, :mod:`~mdlnas.cli.train`, ...), each
with ``add_parser(sub)`` and ``execute(args)``; :mod:`~mdlnas.cli.main` assembles them and
turns errors into one line and an exit code.
"""

from __future__ import annotations

from mdlnas.cli.main import build_parser, main, run

__all__ = ["build_parser", "main", "run"]
