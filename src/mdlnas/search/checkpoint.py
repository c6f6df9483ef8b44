"""Search checkpoints: written atomically after every epoch, loaded without unpickling code.

A checkpoint is a dict of tensors and plain values (see ``BilevelSearch.state_dict``)
saved with ``torch.save`` to a temporary file that is then renamed over the old one, so a
kill at any moment leaves either the previous checkpoint or the new one, never half of
one. Loading uses ``weights_only=True``: a file crafted to run code is refused.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import torch

from mdlnas.errors import SearchError

FORMAT = "mdlnas.search-checkpoint"
VERSION = 1


def checkpoint_path(run_dir: Path) -> Path:
    return run_dir / "checkpoints" / "search.pt"


def save_checkpoint(path: Path, state: dict[str, Any]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    with tmp.open("wb") as f:
        torch.save({"format": FORMAT, "version": VERSION, "state": state}, f)
        f.flush()
        os.fsync(f.fileno())  # the rename must not overtake the data on a crash
    os.replace(tmp, path)


def load_checkpoint(path: Path) -> dict[str, Any]:
    if not path.is_file():
        raise SearchError(
            f"no checkpoint at {path}; a search writes one after its first epoch, so this "
            "run has nothing to resume: start it again with `mdlnas search`"
        )
    try:
        payload = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:  # unreadable, truncated or unsafe: refuse it with one message
        raise SearchError(f"cannot load the checkpoint {path} safely: {exc}") from None
    if not isinstance(payload, dict) or payload.get("format") != FORMAT:
        raise SearchError(f"{path} is not an mdlnas search checkpoint")
    if payload.get("version") != VERSION:
        raise SearchError(
            f"{path} is a checkpoint of version {payload.get('version')!r}; this mdlnas "
            f"reads version {VERSION}"
        )
    state: dict[str, Any] = payload["state"]
    return state
