"""What a request costs and what a quota check answers: ``Usage``, ``Reservation``, ``Denied``."""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any, Literal

Metric = Literal["tokens", "input-tokens", "output-tokens", "requests"]


def _count(value: Any) -> int:
    """A non-negative int from untrusted input (anything else counts as 0)."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        return 0
    if isinstance(value, float) and not math.isfinite(value):
        return 0
    return max(0, int(value))


@dataclass(frozen=True, slots=True)
class Usage:
    """Tokens and requests of one call (an estimate before it, real usage after)."""

    input_tokens: int = 0
    output_tokens: int = 0
    requests: int = 1

    def amount(self, metric: Metric) -> int:
        """How much of ``metric`` this usage consumes (negative fields count as 0)."""
        i, o = _count(self.input_tokens), _count(self.output_tokens)
        if metric == "tokens":
            return i + o
        if metric == "input-tokens":
            return i
        if metric == "output-tokens":
            return o
        return _count(self.requests)


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
