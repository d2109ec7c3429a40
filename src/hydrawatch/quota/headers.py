"""Response headers carrying the remaining budget (OpenAI-style ``x-ratelimit-*``)."""

from __future__ import annotations

import math

from hydrawatch.quota.plan import metric_of
from hydrawatch.quota.usage import Denied, Reservation

_AGGREGATES = {
    "tokens": "x-ratelimit-remaining-tokens",
    "input-tokens": "x-ratelimit-remaining-input-tokens",
    "output-tokens": "x-ratelimit-remaining-output-tokens",
    "requests": "x-ratelimit-remaining-requests",
}


def quota_headers(r: Reservation | Denied) -> dict[str, str]:
    """``x-ratelimit-remaining-{tokens,input-tokens,output-tokens,requests}`` (the tightest
    limit of that kind), ``x-ratelimit-remaining-<limit name>`` per limit, and for a denial
    ``retry-after`` (whole seconds, at least 1) and ``x-ratelimit-limited-by``."""
    headers: dict[str, str] = {}
    tightest: dict[str, int] = {}
    for name, left in sorted(r.remaining.items()):
        value = max(0, int(left))
        headers[f"x-ratelimit-remaining-{name}"] = str(value)
        metric = metric_of(name)
        if metric is not None:
            tightest[metric] = min(value, tightest.get(metric, value))
    for kind, header in _AGGREGATES.items():
        if kind in tightest:
            headers[header] = str(tightest[kind])
    if isinstance(r, Denied):
        ra = r.retry_after if math.isfinite(r.retry_after) else 60.0
        headers["retry-after"] = str(max(1, math.ceil(ra)))
        headers["x-ratelimit-limited-by"] = r.limit
    return headers
