"""Named scenarios: compositions of legitimate populations and campaign switches (data only).

Add a scenario by adding an entry to ``SCENARIOS``; see docs/simulate.md.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

from hydrawatch.simulate.spec import CampaignSpec, PopulationSpec


@dataclass(frozen=True)
class Scenario:
    name: str
    description: str
    days: float
    populations: tuple[PopulationSpec, ...] = ()
    campaigns: tuple[CampaignSpec, ...] = ()
    new_model_day: float | None = None  # the new model ships this many days in
    start: str = "2026-06-01T00:00:00+00:00"
    responses: bool = True


def legit(factor: float = 1.0) -> tuple[PopulationSpec, ...]:
    """Every legitimate population, hard cases included, ``factor`` x the size of one ``mixed`` week."""

    def n(x: int) -> int:
        return max(1, round(x * factor))

    return (
        PopulationSpec("chat", n(900)),
        PopulationSpec("developer", n(200)),
        PopulationSpec("b2b", n(4), {"per_day": 2500}),
        PopulationSpec("research", n(10)),
        PopulationSpec("agentic", n(60)),
        PopulationSpec("company", n(30), {"domain": "northwind-analytics.com", "country": "US"}),
        PopulationSpec("campus", n(200), {"nat_addresses": 4}),
        PopulationSpec("vpn", n(80)),
    )


# Lifetime exchanges per account in ``disclosed``: over a ~45-day life (16-26 a day), ~700-1,150
# in the window; no replacement there, since a 45-day window sees one whole life per account.
DISCLOSED_PER_ACCOUNT = (750, 1150)

# Campaign building blocks (scenarios adjust size and window with dataclasses.replace).
LOCKSTEP = CampaignSpec(
    "hydra-lockstep",
    800,
    styles=(("cot", 0.6), ("trace", 0.25), ("rubric", 0.15)),
    lockstep=True,
    cohort_size=25,
    payment_group=10,
    proxies="rotating",
    logprobs=True,
    start_day=1.0,
)
NARROW_PIVOT = CampaignSpec(
    "hydra-narrow",
    1000,
    styles=(("analyst", 0.92), ("cot", 0.08)),
    pivot=0.5,
    pivot_hours=24.0,
    replacement=True,
    chain=2,
    payment_group=6,
    proxies="rotating",
    unrelated=0.1,
    start_day=0.5,
)
STEALTH = CampaignSpec(
    "hydra-stealth",
    400,
    styles=(("cot", 0.35), ("trace", 0.2), ("rubric", 0.25), ("censor", 0.2)),
    stealth=True,
    proxies="sticky",
    unrelated=0.3,
    signup_paths=("standard", "education", "research", "startup"),
)
SCRAPER = CampaignSpec(
    "naive-scraper",
    1,
    styles=(("cot", 0.7), ("rubric", 0.3)),
    per_account=(35000, 45000),
    life_days=None,
    proxies="datacenter",
    start_day=2.0,
    days=3.0,
    population="scraper",
    signup_paths=("standard",),
)

_SCENARIOS: tuple[Scenario, ...] = (
    Scenario(
        "legit-only",
        "A week of legitimate traffic only, with every hard case (B2B, eval bursts, "
        "agentic users, a company, a campus NAT, VPN users); a new model ships on day 3.5.",
        7.0,
        legit(),
        new_model_day=3.5,
    ),
    Scenario(
        "naive-scraper",
        "Three days: light legitimate traffic and two accounts pulling huge volume "
        "from datacenter IPs (what threshold rules do catch).",
        3.0,
        legit(0.25),
        (replace(SCRAPER, accounts=2, start_day=0.5, days=2.0),),
    ),
    Scenario(
        "hydra-lockstep",
        "A week: legitimate traffic and a 1,000-account hydra load-balanced in lockstep "
        "cohorts over rotating residential proxies, payment methods shared in groups.",
        7.0,
        legit(0.4),
        (replace(LOCKSTEP, accounts=1000, payment_group=8),),
    ),
    Scenario(
        "hydra-narrow-pivot",
        "A week: one 'expert data analyst' prompt in endless variations from 1,200 "
        "accounts (banned and replaced), half the traffic moving to the new model within 24 h of its "
        "day-3 release.",
        7.0,
        legit(0.4),
        (replace(NARROW_PIVOT, accounts=1200),),
        new_model_day=3.0,
    ),
    Scenario(
        "hydra-stealth",
        "A week: a 600-account stealth hydra (paraphrased prompts, human timing, "
        "varied clients and signup paths, aged accounts, sticky residential IPs) mixed with "
        "unrelated traffic.",
        7.0,
        legit(0.4),
        (replace(STEALTH, accounts=600),),
    ),
    Scenario(
        "mixed",
        "A week: every legitimate population and four campaigns (lockstep hydra, narrow "
        "capability with model pivot and replacement, stealth hydra, naive scraper).",
        7.0,
        legit(),
        (LOCKSTEP, NARROW_PIVOT, STEALTH, SCRAPER),
        new_model_day=3.5,
    ),
    Scenario(
        "disclosed",
        "The disclosed size at scale 1: ~25,000 campaign accounts, ~28.8M exchanges in 45 "
        "days, campaigns ~90% of traffic (four labs' tactics), plus legitimate traffic; responses off.",
        45.0,
        legit(3.8),
        (
            replace(
                LOCKSTEP, campaign_id="lab-a", accounts=150, start_day=1.0, per_account=DISCLOSED_PER_ACCOUNT
            ),
            replace(
                LOCKSTEP,
                campaign_id="lab-b",
                accounts=3200,
                styles=(("rubric", 0.45), ("censor", 0.3), ("cot", 0.25)),
                payment_group=20,
                cohort_size=80,
                start_day=0.0,
                per_account=DISCLOSED_PER_ACCOUNT,
            ),
            replace(
                NARROW_PIVOT,
                campaign_id="lab-c",
                accounts=20900,
                styles=(("analyst", 0.7), ("cot", 0.2), ("trace", 0.1)),
                lockstep=True,
                cohort_size=200,
                payment_group=25,
                replacement=False,
                start_day=0.0,
                per_account=DISCLOSED_PER_ACCOUNT,
            ),
            replace(
                STEALTH, campaign_id="lab-d", accounts=1500, per_account=DISCLOSED_PER_ACCOUNT, start_day=1.0
            ),
        ),
        new_model_day=30.0,
        responses=False,
    ),
)

SCENARIOS: dict[str, Scenario] = {s.name: s for s in _SCENARIOS}


def get_scenario(name: str) -> Scenario:
    try:
        return SCENARIOS[name]
    except KeyError:
        raise KeyError(f"unknown scenario {name!r}; choose from: {', '.join(SCENARIOS)}") from None
