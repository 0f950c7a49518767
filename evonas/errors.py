"""The error hierarchy of evonas.

Every error a user can cause derives from :class:`NASError`; the command line prints
its message as one line and exits 1. Subclasses also inherit the matching built-in
(``ValueError``, ``KeyError``) so library callers can catch them the usual way.
"""

from __future__ import annotations

# An evaluation error that starts with this is a failure of the infrastructure (a lost worker,
# a timeout), not of the genome: such an evaluation is never reused as the genome's fitness.
INFRASTRUCTURE = "infrastructure:"


class NASError(Exception):
    """Base class of every evonas error a user can act on."""


class ConfigError(NASError, ValueError):
    """A configuration value is outside its allowed range or of the wrong type."""


class InvalidGenomeError(NASError, ValueError):
    """A genome breaks an ordering rule, collapses the spatial size or is too large."""


class DatasetError(NASError, ValueError):
    """A dataset is missing, corrupt or not in the expected format."""


class StorageError(NASError):
    """The database could not be opened, read or written."""


class RunNotFoundError(NASError, KeyError):
    """No run with the given name or id exists in the database."""

    def __str__(self) -> str:  # KeyError would quote the message
        return str(self.args[0]) if self.args else ""
