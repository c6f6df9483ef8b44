"""One exception family for everything mdlnas reports to its users.

Every error a user can cause derives from :class:`MdlnasError`, so callers (and the CLI)
catch one type and print its message. Messages say what was wrong and what to do.
"""

from __future__ import annotations


class MdlnasError(Exception):
    """Base class of every error mdlnas raises on purpose."""


class ConfigError(MdlnasError, ValueError):
    """An option or setting has an invalid value."""


class DataError(MdlnasError, ValueError):
    """Input data is missing, unreadable or unsuitable."""


class GenotypeError(MdlnasError, ValueError):
    """A genotype is malformed, inconsistent or of an unknown version."""


class RegistryError(MdlnasError, KeyError):
    """A name was looked up in a registry that does not hold it."""

    def __str__(self) -> str:  # KeyError quotes its message; we want it plain.
        return str(self.args[0]) if self.args else ""


class SearchError(MdlnasError, RuntimeError):
    """A search could not continue (for example the loss diverged)."""
