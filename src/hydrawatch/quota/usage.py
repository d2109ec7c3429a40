"""What a request costs and what a quota check answers: ``Usage``, ``Reservation``, ``Denied``."""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any, Literal

Metric = Literal["tokens", "input-tokens", "output-tokens", "requests"]


MAX_COUNT = 10**12  # counts are clamped here so Redis integers (int64) can never overflow


def _count(value: Any) -> int:
    """A count in [0, MAX_COUNT] from untrusted input (anything but a number counts as 0)."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        return 0
    if isinstance(value, float) and not math.isfinite(value):
        return 0
    return min(MAX_COUNT, max(0, int(value)))


@dataclass(frozen=True, slots=True)
class Usage:
    """Tokens and requests of one call (an estimate before it, real usage after).

    Fields that are not non-negative counts (None, negative, NaN, text) are stored as 0;
    finite floats are truncated; counts above ``MAX_COUNT`` are clamped to it."""

    input_tokens: int = 0
    output_tokens: int = 0
    requests: int = 1

    def __post_init__(self) -> None:
        # untrusted counts (upstream usage, client fields): anything but a count becomes 0
        for name in ("input_tokens", "output_tokens", "requests"):
            v = getattr(self, name)
            if type(v) is not int or v < 0 or v > MAX_COUNT:
                object.__setattr__(self, name, _count(v))

    def amount(self, metric: Metric) -> int:
        """How much of ``metric`` this usage consumes."""
        if metric == "tokens":
            return self.input_tokens + self.output_tokens
        if metric == "input-tokens":
            return self.input_tokens
        if metric == "output-tokens":
            return self.output_tokens
        return self.requests


@dataclass(frozen=True, slots=True)
class Reservation:
    """An accepted estimate, charged to every applicable counter until ``settle`` replaces it.

    ``remaining`` maps limit names (``tokens-minute``, ``campaign-requests-day``...) to the
    budget left after this reservation. ``charged`` lists the (counter key, metric) pairs the
    estimate was added to; ``state_error`` is true when the quota state was unreachable and
    the store failed open (nothing was charged)."""

    id: str
    account_id: str
    campaign_id: str | None
    estimate: Usage
    remaining: dict[str, int]
    ts: float = 0.0
    charged: tuple[tuple[str, Metric], ...] = ()
    state_error: bool = False


@dataclass(frozen=True, slots=True)
class Denied:
    """A refused reservation: which limit, when to retry (seconds), what is left."""

    limit: str
    retry_after: float
    remaining: dict[str, int] = field(default_factory=dict)
    state_error: bool = False
