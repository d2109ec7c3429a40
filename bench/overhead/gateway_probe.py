"""Read hydrawatch's background backlog from ``/metrics`` and wait for it to drain.

The gateway scores and records every exchange off the request path. When targets are
interleaved, work left over from one target's turn would otherwise run during the next
target's turn (on the same CPU) and be missing from its own CPU-per-request figure.
"""

from __future__ import annotations

import time
import urllib.request

SCORING_GAUGES = ("hydrawatch_live_scoring_pending",)
BACKLOG_GAUGES = (*SCORING_GAUGES, "hydrawatch_events_pending")


def parse_backlog(metrics_text: str, gauges: tuple[str, ...] = BACKLOG_GAUGES) -> int:
    """Sum of the backlog gauges in a Prometheus text body (0 when absent; bad values skipped)."""
    total = 0
    for line in metrics_text.splitlines():
        name, _, value = line.partition(" ")
        if name in gauges:
            try:
                total += int(float(value.strip()))
            except ValueError:
                continue
    return total


def backlog(base: str, gauges: tuple[str, ...] = BACKLOG_GAUGES) -> int | None:
    """Exchanges waiting to be scored or recorded; None when /metrics cannot be read."""
    try:
        with urllib.request.urlopen(base + "/metrics", timeout=10) as r:
            return parse_backlog(r.read().decode("utf-8", "replace"), gauges)
    except OSError:
        return None


def drain(
    base: str, timeout: float = 60.0, poll: float = 0.02, gauges: tuple[str, ...] = BACKLOG_GAUGES
) -> float:
    """Wait until the backlog is 0 (or ``timeout``); return the seconds waited."""
    t0 = time.monotonic()
    while time.monotonic() - t0 < timeout:
        n = backlog(base, gauges)
        if n is None or n == 0:
            break
        time.sleep(poll)
    return round(time.monotonic() - t0, 3)
