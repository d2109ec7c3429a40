"""Backend-independent quota arithmetic: which counters a request touches, and the answers.

Both stores (in-process and Redis) call these functions, so they agree by construction;
only "read the counters, check, add" differs (a dict vs one Lua script)."""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

from hydrawatch.quota.limits import METRICS, Limit, QuotaLimits
from hydrawatch.quota.usage import Denied, Metric, Reservation, Usage


@dataclass(frozen=True, slots=True)
class Charge:
    """One counter a reservation is checked against and added to.

    In sliding mode the previous window's counter (``prev_key``) also counts, weighted by
    ``prev_weight`` (the share of it still inside the last window-length of time)."""

    limit: Limit
    key: str  # counter key, without the store's prefix
    amount: int  # what the estimate adds to it
    cap: int  # the limit after the throttle factor
    window_end: float  # epoch seconds when the counter's window ends
    prev_key: str | None = None
    prev_weight: float = 0.0

    def ttl(self, now: float) -> int:
        """Seconds the counter must live: to its window's end plus one window (it is the
        previous window for the next one, and settles may still arrive)."""
        return max(1, math.ceil(self.window_end - now) + self.limit.seconds)

    def seen(self, current: int, previous: int) -> int:
        """The usage the check sees: this window's counter plus the previous one's weighted share."""
        if self.prev_weight <= 0.0 or previous <= 0:
            return current
        return current + math.floor(previous * self.prev_weight)

    def fits(self, seen: int) -> bool:
        return self.amount <= 0 or seen + self.amount <= self.cap

    def retry_after(self, current: int, previous: int, now: float) -> float:
        """Seconds until this request could fit, if nothing else arrives meanwhile."""
        length = float(self.limit.seconds)
        if self.prev_key is None or self.amount > self.cap:
            return max(0.0, self.window_end - now)
        room = self.cap - current - self.amount
        if room >= 0:  # the previous window's share has to decay below the room left
            return max(0.0, self.window_end - room * length / max(previous, 1) - now)
        # this window's counter alone is too much: it decays through the next window
        return max(0.0, self.window_end + length - (self.cap - self.amount) * length / max(current, 1) - now)


def counter_key(limit: Limit, owner: str, now: float) -> tuple[str, float]:
    """The counter of ``limit`` for ``owner`` (account or campaign id) in the window holding ``now``."""
    index = math.floor(now / limit.seconds)
    return f"{limit.scope}:{owner}:{limit.metric}:{limit.window}:{index}", float((index + 1) * limit.seconds)


def effective_cap(limit: Limit, factor: float) -> int:
    """A throttle factor scales account limits (never campaign ones); NaN or < 0 count as 1 and 0."""
    if limit.scope != "account" or factor == 1.0:
        return limit.value
    if math.isnan(factor):
        return limit.value
    return max(0, math.floor(limit.value * max(0.0, factor)))


def with_margin(limits: QuotaLimits, estimate: Usage) -> Usage:
    """The estimate a store charges: input tokens raised by ``limits.input_margin`` (settle
    later replaces it by the real usage, so the margin only holds budget while in flight)."""
    m = limits.input_margin
    inp = estimate.input_tokens
    if m <= 0 or inp <= 0:
        return estimate
    return Usage(math.ceil(inp * (1 + m)), estimate.output_tokens, estimate.requests)


def plan_charges(
    limits: QuotaLimits,
    account_id: str,
    campaign_id: str | None,
    estimate: Usage,
    now: float,
    tier: str | None = None,
    factor: float = 1.0,
) -> list[Charge]:
    """Every counter a reservation touches, in config order: account limits, then campaign ones."""
    charges: list[Charge] = []
    owners: list[tuple[tuple[Limit, ...], str]] = [(limits.account_limits(tier), account_id)]
    if campaign_id:
        owners.append((limits.campaign, campaign_id))
    sliding = limits.window == "sliding"
    for group, owner in owners:
        for limit in group:
            key, end = counter_key(limit, owner, now)
            amount, cap = estimate.amount(limit.metric), effective_cap(limit, factor)
            if not sliding:
                charges.append(Charge(limit, key, amount, cap, end))
                continue
            prev_key, _ = counter_key(limit, owner, now - limit.seconds)
            weight = min(1.0, max(0.0, (end - now) / limit.seconds))
            charges.append(Charge(limit, key, amount, cap, end, prev_key, weight))
    return charges


def remaining_of(charges: Sequence[Charge], seen: Sequence[int]) -> dict[str, int]:
    """Budget left per limit name, given the usage each check sees (never below 0)."""
    return {c.limit.name: max(0, c.cap - v) for c, v in zip(charges, seen, strict=True)}


def seen_values(charges: Sequence[Charge], current: Sequence[int], previous: Sequence[int]) -> list[int]:
    return [c.seen(v, p) for c, v, p in zip(charges, current, previous, strict=True)]


def denial(charges: Sequence[Charge], current: Sequence[int], previous: Sequence[int], now: float) -> Denied:
    """The answer when some counter would overflow: the limit that frees up last (retrying
    before then would fail again), with the budget left everywhere."""
    seen = seen_values(charges, current, previous)
    failing = [
        (c.retry_after(v, p, now), c)
        for c, v, p, sv in zip(charges, current, previous, seen, strict=True)
        if not c.fits(sv)
    ]
    wait, worst = max(failing, key=lambda f: f[0])
    text = worst.limit.description
    if worst.amount > worst.cap:
        text += " (this request alone exceeds the limit)"
    return Denied(limit=text, retry_after=wait, remaining=remaining_of(charges, seen))


def accepted(
    reservation_id: str,
    account_id: str,
    campaign_id: str | None,
    estimate: Usage,
    charges: Sequence[Charge],
    seen_before: Sequence[int],
    now: float,
) -> Reservation:
    after = [v + c.amount for c, v in zip(charges, seen_before, strict=True)]
    return Reservation(
        id=reservation_id,
        account_id=account_id,
        campaign_id=campaign_id,
        estimate=estimate,
        remaining=remaining_of(charges, after),
        ts=now,
        charged=tuple((c.key, c.limit.metric) for c in charges),
    )


def settle_deltas(reservation: Reservation, actual: Usage) -> list[tuple[str, int]]:
    """(counter key, amount to add) replacing the estimate by the actual usage."""
    out: list[tuple[str, int]] = []
    for key, metric in reservation.charged:
        delta = actual.amount(metric) - reservation.estimate.amount(metric)
        out.append((key, delta))
    return out


def metric_of(name: str) -> Metric | None:
    """The metric of a limit name (``campaign-output-tokens-day`` -> ``output-tokens``)."""
    base = name.removeprefix("campaign-").rpartition("-")[0]
    for m in METRICS:
        if base == m:
            return m
    return None
