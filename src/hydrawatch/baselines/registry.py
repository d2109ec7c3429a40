"""The baselines by name, each a function from a loaded DuckDB connection to flags."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import duckdb

from hydrawatch.baselines.prada import Prada
from hydrawatch.baselines.thresholds import DailyVolume, HeavyMean, IpBurst
from hydrawatch.baselines.verdicts import Flag

Runner = Callable[[duckdb.DuckDBPyConnection], dict[str, Flag]]

DESCRIPTIONS: dict[str, str] = {
    "daily-volume": "per account per UTC day: output tokens > 100,000 or requests > 5,000",
    "heavy-mean": "per account: requests > 1,000 and mean output tokens > 500",
    "ip-burst": "per IP: > 100 requests in any minute; every account on the IP is flagged",
    "prada": "PRADA (Juuti et al. 2019): Shapiro-Wilk on per-account minimum query distances",
}
NAMES: tuple[str, ...] = tuple(DESCRIPTIONS)


def runner(name: str, **options: Any) -> Runner:
    """The baseline called ``name``; ``options`` go to PRADA (delta, min_queries, ...)."""
    if name == "daily-volume":
        return DailyVolume().run
    if name == "heavy-mean":
        return HeavyMean().run
    if name == "ip-burst":
        return IpBurst().run
    if name == "prada":
        prada = Prada(**options)
        return lambda con: prada.run(con)[0]
    raise KeyError(f"unknown baseline {name!r}; choose from {', '.join(NAMES)}")
