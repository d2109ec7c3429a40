"""Coercion of untrusted field values to the contract's types.

Every function takes the raw value and the field name (for the error message) and
returns the typed value or raises :class:`BadRecord`. ``None`` and ``""`` mean
"not given" for optional fields (CSV has no null).
"""

from __future__ import annotations

import math
from datetime import UTC, datetime
from typing import Any, Final

from hydrawatch.ingest.errors import BadRecord

INT32_MAX: Final = 2**31 - 1
INT64_MAX: Final = 2**53  # counts beyond this are not real; also keeps DOUBLE conversions exact
_TRUE: Final = frozenset({"true", "1", "yes", "y", "t"})
_FALSE: Final = frozenset({"false", "0", "no", "n", "f"})
MAX_EPOCH_S: Final = 1e11  # year 5138; anything larger is read as ms, us or ns


def _kind(v: Any) -> str:
    return type(v).__name__


def opt_str(v: Any, field: str) -> str | None:
    """A string field; integers are accepted and printed (ids are often numeric)."""
    if v is None:
        return None
    t = type(v)
    if t is str:
        return v or None
    if t is int:
        return str(v)
    raise BadRecord(f"{field}: expected a string, got {_kind(v)}")


def opt_int(v: Any, field: str, *, lo: int = 0, hi: int = INT64_MAX) -> int | None:
    """An integer in ``[lo, hi]``; integral floats and numeric strings are accepted."""
    if v is None:
        return None
    t = type(v)
    if t is int:
        n = int(v)
    elif t is float:
        if not math.isfinite(v) or not v.is_integer():
            raise BadRecord(f"{field}: expected an integer, got {v!r}")
        n = int(v)
    elif t is str:
        s = v.strip()
        if not s:
            return None
        try:
            n = int(s)
        except ValueError:
            try:
                f = float(s)
            except ValueError:
                raise BadRecord(f"{field}: expected an integer, got {s[:40]!r}") from None
            return opt_int(f, field, lo=lo, hi=hi)
    else:
        raise BadRecord(f"{field}: expected an integer, got {_kind(v)}")
    if n < lo or n > hi:
        raise BadRecord(f"{field}: {n} is out of range [{lo}, {hi}]")
    return n


def opt_float(v: Any, field: str) -> float | None:
    """A finite number; numeric strings are accepted."""
    if v is None:
        return None
    t = type(v)
    if t is float or t is int:
        try:
            f = float(v)
        except OverflowError:
            raise BadRecord(f"{field}: {str(v)[:40]} is out of range") from None
    elif t is str:
        s = v.strip()
        if not s:
            return None
        try:
            f = float(s)
        except ValueError:
            raise BadRecord(f"{field}: expected a number, got {s[:40]!r}") from None
    else:
        raise BadRecord(f"{field}: expected a number, got {_kind(v)}")
    if not math.isfinite(f):
        raise BadRecord(f"{field}: expected a finite number, got {f!r}")
    return f


def opt_bool(v: Any, field: str) -> bool | None:
    """A boolean; 0/1 and the strings true/false/yes/no/1/0 are accepted."""
    if v is None:
        return None
    t = type(v)
    if t is bool:
        return bool(v)
    if t is int and v in (0, 1):
        return bool(v == 1)
    if t is str:
        s = v.strip().lower()
        if not s:
            return None
        if s in _TRUE:
            return True
        if s in _FALSE:
            return False
    raise BadRecord(f"{field}: expected a boolean, got {str(v)[:40]!r}")


def epoch_from_number(f: float, field: str) -> float:
    """Epoch seconds from seconds, milliseconds, microseconds or nanoseconds (chosen by magnitude)."""
    if not math.isfinite(f) or f < 0:
        raise BadRecord(f"{field}: {f!r} is not a valid epoch time")
    while f >= MAX_EPOCH_S:  # ms (> 1e12 today), then us, then ns
        f /= 1000.0
    return f


def epoch_from_datetime(d: datetime, field: str = "ts") -> float:
    """Epoch seconds of a datetime; a naive datetime is taken as UTC. Times before 1970 are refused."""
    if d.tzinfo is None:
        d = d.replace(tzinfo=UTC)
    try:
        f = d.timestamp()
    except (OverflowError, ValueError, OSError):
        raise BadRecord(f"{field}: out of range: {d.isoformat()[:40]!r}") from None
    if f < 0:
        raise BadRecord(f"{field}: {d.isoformat()[:40]!r} is before 1970")
    return f


def _looks_iso(s: str) -> bool:
    return len(s) >= 10 and s[4] == "-"


def opt_ts(v: Any, field: str) -> float | None:
    """A time: ISO-8601 (naive = UTC) or epoch seconds/ms/us/ns, as a number or numeric string."""
    if v is None:
        return None
    t = type(v)
    if t is float or t is int:
        try:
            return epoch_from_number(float(v), field)
        except OverflowError:
            raise BadRecord(f"{field}: {str(v)[:40]} is not a valid epoch time") from None
    if t is str:
        s = v.strip()
        if not s:
            return None
        if _looks_iso(s):
            try:
                d = datetime.fromisoformat(s)
            except ValueError:
                raise BadRecord(f"{field}: not ISO-8601 or epoch seconds: {s[:40]!r}") from None
            return epoch_from_datetime(d, field)
        try:
            f = float(s)
        except ValueError:
            raise BadRecord(f"{field}: not ISO-8601 or epoch seconds: {s[:40]!r}") from None
        return epoch_from_number(f, field)
    if isinstance(v, datetime):
        return epoch_from_datetime(v, field)
    raise BadRecord(f"{field}: expected a time, got {_kind(v)}")
