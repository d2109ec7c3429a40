"""Scenario building blocks as data: legitimate populations and campaign switches."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True)
class PopulationSpec:
    """``accounts`` legitimate accounts of one registered population ``kind``.

    ``options`` tune the kind (e.g. ``{"per_day": 3000}`` for B2B volume); ``label`` is the
    population name written to labels.csv (default: ``kind``)."""

    kind: str
    accounts: int
    options: dict[str, Any] = field(default_factory=dict)
    label: str | None = None

    @property
    def population(self) -> str:
        return self.label or self.kind


@dataclass(frozen=True)
class CampaignSpec:
    """One distillation campaign; every tactic is a switch so scenarios can combine them.

    - ``styles``: elicitation styles with weights (cot, trace, rubric, censor, analyst).
    - ``per_account``: exchanges per account over its life (700-1,100 keeps per-account limits quiet).
    - ``life_days``: an account's life (~45 days, as disclosed); it works at ``per_account / life_days``
      a day, so a week-long window sees a slice of it. None: the whole target inside the window
      (the naive scraper).
    - ``lockstep``: accounts fire together in cohort waves (load balancing).
    - ``payment_group``: accounts sharing one payment method (1 = none shared).
    - ``proxies``: ``rotating`` (new residential exit per request), ``sticky`` (one per account-day),
      ``datacenter`` (a few cloud addresses).
    - ``pivot``: share of traffic moved to the newly released model within ``pivot_hours``.
    - ``unrelated``: share of ordinary, unrelated traffic mixed in.
    - ``stealth``: paraphrased prompts, human diurnal timing with jitter, varied clients and
      signup paths, aged accounts.
    - ``replacement``: each account slot is a chain of accounts; a new one starts as the old stops.
    """

    campaign_id: str
    accounts: int
    styles: tuple[tuple[str, float], ...] = (("cot", 1.0),)
    per_account: tuple[int, int] = (700, 1100)
    life_days: float | None = 45.0
    start_day: float = 0.0
    days: float | None = None
    lockstep: bool = False
    cohort_size: int = 40
    payment_group: int = 1
    proxies: str = "rotating"
    proxy_pool_per_account: float = 2.0
    pivot: float = 0.0
    pivot_hours: float = 24.0
    unrelated: float = 0.0
    stealth: bool = False
    replacement: bool = False
    chain: int = 3
    signup_paths: tuple[str, ...] = ("education", "research", "startup")
    logprobs: bool = False
    population: str = "hydra"
    min_accounts: int = 1
