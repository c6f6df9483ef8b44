"""Search checkpoints: written atomically after every epoch, loaded without unpickling code.

A checkpoint is a dict of tensors and plain values (see ``BilevelSearch.state_dict``)
saved with ``torch.save`` to a temporary file that is then renamed over the old one, so a
kill at any moment leaves either the previous checkpoint or the new one, never half of
one. Loading uses ``weights_only=True``: a file crafted to run code is refused.
"""

from __future__ import annotations

import os
import pickle
from pathlib import Path
from typing import Any

import torch

from mdlnas.errors import SearchError

FORMAT = "mdlnas.search-checkpoint"
VERSION = 2  # 2: the calibration state; runs of version 1 had other defaults


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


def load_weights_only(path: Path, device: torch.device | str, what: str, remedy: str) -> Any:
    """``torch.load`` that never unpickles code; every failure is one clear SearchError.

    torch's own message for a refused file suggests ``weights_only=False``, the unsafe way
    round; ours says the file was not written by mdlnas (damaged, or made to run code)."""
    try:
        return torch.load(path, map_location=device, weights_only=True)
    except pickle.UnpicklingError:
        raise SearchError(
            f"cannot load {what} safely: it holds objects other than tensors and plain "
            f"values, so it is damaged or was not written by mdlnas (it may be made to run "
            f"code, which mdlnas never does); {remedy}"
        ) from None
    except Exception as exc:  # unreadable or truncated
        reason = str(exc).split(". ")[0]  # torch's first sentence says what broke
        raise SearchError(
            f"cannot load {what}: it is damaged or unreadable ({reason}); {remedy}"
        ) from None


def load_checkpoint(path: Path) -> dict[str, Any]:
    if not path.is_file():
        raise SearchError(
            f"no checkpoint at {path}; a search writes one after its first epoch, so this "
            "run has nothing to resume: start it again with `mdlnas search`"
        )
    payload = load_weights_only(
        path, "cpu",
        what=f"the checkpoint {path}",
        remedy="start the search again with `mdlnas search` (a fresh --out)",
    )
    if not isinstance(payload, dict) or payload.get("format") != FORMAT:
        raise SearchError(f"{path} is not an mdlnas search checkpoint")
    if payload.get("version") != VERSION:
        raise SearchError(
            f"{path} is a checkpoint of version {payload.get('version')!r}; this mdlnas "
            f"reads version {VERSION}"
        )
    state: dict[str, Any] = payload["state"]
    return state
