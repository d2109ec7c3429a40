"""The two ways ingest reports bad input."""

from __future__ import annotations


class BadRecord(ValueError):
    """One record that does not follow the exchange-log contract; ``str(e)`` is the reason."""


class IngestError(Exception):
    """Bad input in strict mode (message ``file:line: reason``), or an input that cannot be read at all."""
