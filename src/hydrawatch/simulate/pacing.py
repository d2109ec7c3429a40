"""How fast a campaign account works: its lifetime exchanges spread over its lifetime.

The disclosure puts ~700-1,150 exchanges on each account over a ~45-day campaign (~16-25 a
day), which is what keeps per-account daily thresholds quiet. A scenario window (a week, say)
sees a slice of each account's life at that pace; the naive scraper has no lifetime
(``life_days=None``) and spends its whole target inside its window.
"""

from __future__ import annotations

import random
from dataclasses import dataclass

from hydrawatch.simulate.spec import CampaignSpec


@dataclass(frozen=True, slots=True)
class Pace:
    """``per_day`` exchanges a day (averaged over every day of a life of ``life_days``)."""

    per_day: float
    life_days: float

    @property
    def lifetime(self) -> float:
        return self.per_day * self.life_days


def draw_pace(spec: CampaignSpec, rng: random.Random, window_days: float) -> Pace:
    """One account's (or one lockstep cohort's) pace: a lifetime target from ``per_account`` over a
    life of ``life_days`` +-5%; a scraper (no lifetime) spends its target over its window."""
    target = rng.uniform(*spec.per_account)
    life = max(window_days, 1e-3) if spec.life_days is None else spec.life_days * rng.uniform(0.95, 1.05)
    return Pace(target / life, life)
