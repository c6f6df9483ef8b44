"""Config files for ``mdlnas search --config FILE``: the same TOML tables a run directory
saves as ``config.toml`` ([data], [space], [search], [search.bayes], [train],
[train.bayes]), every option explained by a comment.

``mdlnas config --defaults`` prints :func:`defaults_text`, a complete file that loads back
to the defaults; :func:`option_help` makes its comments from the settings' declarations (a
test checks that every field of every config dataclass has one).
"""

from __future__ import annotations

import textwrap
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from mdlnas import tomlio
from mdlnas.errors import ConfigError, MdlnasError
from mdlnas.workflow.options import TRAIN_PREFIX, declared_keys, search_options
from mdlnas.workflow.run_config import (
    DEFAULT_DATA,
    RunConfig,
    config_from_tables,
    config_tables,
    default_run_config,
)

COMMENT_WIDTH = 88  # with "# ", lines stay within 90 columns

HEADER = """\
mdlnas configuration: every setting of `mdlnas search`, with its default.

Use it with `mdlnas search --config FILE`; an option typed on the command line overrides
the file. A commented-out `key = (unset)` is not set (its comment says what happens
then); to set it, remove the `#` and give a value. Left-out keys keep their defaults.
A run directory's config.toml has the same form (with the space spelled out), so
`mdlnas search --config runs/A/config.toml --out runs/B` repeats run A.
The command line alone says where and how to run: --out, --resume, --search-only,
--no-plots, --tensorboard, --quiet, --json, --debug."""

# What each table is; every key's comment is its setting's declared help.
TABLE_HELP = {
    "data": "What to learn from and how it is split (once, reproducibly from the seed).",
    "space": "The search space: a preset by name, with some of its settings changed, or a "
    "space spelled out completely (with dim and reduction_layers; run directories save it "
    "so).",
    "search": "The bilevel search: α on validation data, weights on training data.",
    "search.bayes": "How the search describes weights.",
    "train": "Retraining the found network from scratch, then one test on the held-out part.",
    "train.bayes": "How the retrained network describes weights (--prior-std, --init-sigma "
    "and the other options of the prior set both tables).",
}


def _option_notes() -> dict[str, str]:
    """Which option sets each key, as the comment's last words."""
    notes = {}
    for option in search_options():
        dotted = [".".join(key) for key in option.keys]
        also = f" sets {', '.join(dotted)}" if len(dotted) > 1 else ""
        if option.setting.negated:
            also = " sets it false"
        train = option.name.removeprefix(TRAIN_PREFIX)
        command = f"; `mdlnas train --{train}`" if train != option.name else ""
        for name in dotted:
            notes[name] = f" [--{option.name}{also}{command}]"
    return notes


def option_help() -> dict[str, str]:
    """The comment of every table and key of a config file, by dotted name."""
    notes = _option_notes()
    keys = {d.dotted: d.setting.help + notes.get(d.dotted, "") for d in declared_keys()}
    return {**TABLE_HELP, **keys}


def config_text(run: RunConfig, header: str = HEADER) -> str:
    """``run`` as a TOML file with a comment on every table and option."""
    intro = "\n".join(f"# {line}" if line else "#" for line in header.splitlines())
    wrapped = {key: textwrap.fill(text, COMMENT_WIDTH) for key, text in option_help().items()}
    return intro + "\n\n" + tomlio.dumps(config_tables(run), comments=wrapped)


def defaults_text() -> str:
    """The complete, commented default config file (`mdlnas config --defaults`)."""
    return config_text(default_run_config())


def load_config_file(path: Path) -> dict[str, Any]:
    """The tables of a config file, checked (a mistake names the file and the option).
    A file may leave out anything but must hold tables of options."""
    tables = tomlio.load(path)
    known = {"data", "space", "search", "train"}
    unknown = sorted(set(tables) - known)
    if unknown:
        raise ConfigError(
            f"{path}: unknown table(s) {', '.join(unknown)}; valid: {', '.join(sorted(known))}"
        )
    checked = dict(tables)
    data = checked.get("data", {})
    if isinstance(data, Mapping) and "name" not in data:
        checked["data"] = {**data, "name": DEFAULT_DATA}  # only to check the rest
    try:
        config_from_tables(checked)
    except (MdlnasError, TypeError) as exc:  # MdlnasError: also an unknown space name
        raise ConfigError(f"{path}: {exc}") from None
    return tables
