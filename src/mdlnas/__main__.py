"""``python -m mdlnas`` runs the command line."""

from __future__ import annotations

import sys

from mdlnas.cli import main

sys.exit(main())
