"""Typed errors raised on bad input. Each message says what was wrong and what is accepted.

Every class derives from :class:`AffordkitError` and from the built-in exception a caller would
expect (``ValueError`` for bad values, ``LookupError`` for unknown names), so ``except ValueError``
keeps working for code that does not know affordkit.
"""

from __future__ import annotations


class AffordkitError(Exception):
    """Base class of every error affordkit raises on purpose."""


class ConfigError(AffordkitError, ValueError):
    """A configuration value is out of range, of the wrong type, or inconsistent with another."""


class UnknownNameError(AffordkitError, LookupError):
    """A name (environment, preset, ...) is not registered; the message lists the known ones."""

    def __str__(self) -> str:  # LookupError would otherwise print the repr of the message
        return str(self.args[0]) if self.args else ""


class InvalidActionError(AffordkitError, ValueError):
    """An action has the wrong shape, or holds NaN or infinite values."""


class InvalidSeedError(AffordkitError, ValueError):
    """A seed is not a non-negative integer (or a list of them, one per environment)."""


class InvalidStateError(AffordkitError, ValueError):
    """A state given to an environment is malformed or physically impossible (overlapping bodies,
    a body off the table)."""


class MissingDependencyError(AffordkitError, ImportError):
    """An optional dependency (an extra such as ``sim``, or a system library) is not installed; the
    message names the command that installs it."""
