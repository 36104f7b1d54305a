"""Errors a user can fix. The CLI maps every :class:`TuneforgeError` to exit code 2.

Each message is one line that names where the problem is (a file, a dotted config key or a data
column) and what was expected, so the user never needs a traceback to act on it.
"""

from __future__ import annotations


class TuneforgeError(Exception):
    """Bad input: a config, a data file or an argument the user can fix."""


class ConfigError(TuneforgeError):
    """A config key is unknown, has the wrong type, is out of range or contradicts another."""


class DataError(TuneforgeError):
    """A data source is missing, unreadable, or has a column that cannot be used as asked."""
