"""One base error and a few named subclasses.

Bad arguments and unreadable inputs raise these; the CLI turns them into one
line on stderr and a non-zero exit.  Bad *rows* are never raised: they are
quarantined with a reason and counted (see :mod:`alertrec.io.extract`).
"""

from __future__ import annotations


class AlertrecError(Exception):
    """Base class of every error alertrec raises on purpose."""

    exit_code = 1


class ConfigError(AlertrecError):
    """A setting or command-line argument is invalid."""

    exit_code = 2


class InputError(AlertrecError):
    """The input is missing, unreadable or lacks the contract's columns."""

    exit_code = 3


class OutputError(AlertrecError):
    """The output location cannot be written."""

    exit_code = 4


class PublishError(OutputError):
    """The publish protocol could not complete; the day is not published."""


class RegistryError(OutputError):
    """The query registry under the output root is unreadable, or a run would change a registered id."""
