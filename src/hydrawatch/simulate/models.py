"""Catalogue of the (fictional) provider's models, with release times, and the mid-scenario
release of a new flagship model that campaigns pivot to."""

from __future__ import annotations

import random
from bisect import bisect_left
from dataclasses import dataclass
from itertools import accumulate

DAY = 86400.0


@dataclass(frozen=True, slots=True)
class Model:
    name: str
    released: str  # ISO date, or "scenario" for the model released during the scenario
    reasoning: bool
    tier: str  # small, standard, flagship


CATALOGUE: tuple[Model, ...] = (
    Model("nova-2-flash", "2025-08-12", False, "small"),
    Model("nova-2", "2025-08-12", False, "standard"),
    Model("nova-2.5-pro", "2026-01-20", True, "flagship"),
    Model("nova-2.5-reasoner", "2026-03-03", True, "flagship"),
    Model("nova-3-pro", "scenario", True, "flagship"),
)
NEW_MODEL = "nova-3-pro"
REASONING = frozenset(m.name for m in CATALOGUE if m.reasoning)

# Model mixes by user type before the new release (weights).
MIXES: dict[str, tuple[tuple[str, float], ...]] = {
    "chat": (("nova-2-flash", 0.35), ("nova-2", 0.45), ("nova-2.5-pro", 0.2)),
    "developer": (("nova-2", 0.5), ("nova-2.5-pro", 0.35), ("nova-2-flash", 0.15)),
    "b2b": (("nova-2-flash", 0.6), ("nova-2", 0.4)),
    "research": (("nova-2.5-pro", 0.4), ("nova-2.5-reasoner", 0.4), ("nova-2", 0.2)),
    "agentic": (("nova-2.5-pro", 0.8), ("nova-2.5-reasoner", 0.2)),
    "distill": (("nova-2.5-reasoner", 0.6), ("nova-2.5-pro", 0.4)),
    "scraper": (("nova-2.5-reasoner", 1.0),),
}


_CUMULATIVE: dict[str, tuple[tuple[float, ...], tuple[str, ...]]] = {
    k: (tuple(accumulate(w for _, w in v)), tuple(n for n, _ in v)) for k, v in MIXES.items()
}


def pick(rng: random.Random, mix: str) -> str:
    """A model drawn from a user type's mix."""
    cum, names = _CUMULATIVE[mix]
    return names[bisect_left(cum, rng.random() * cum[-1])]


def is_reasoning(name: str) -> bool:
    return name in REASONING


def new_model_share(ts: float, release_ts: float | None, final_share: float, ramp_s: float) -> float:
    """Share of traffic on the new model at ``ts``: 0 before release, ramping to ``final_share``."""
    if release_ts is None or ts < release_ts:
        return 0.0
    if ramp_s <= 0:
        return final_share
    return final_share * min(1.0, (ts - release_ts) / ramp_s)
