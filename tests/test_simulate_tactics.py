"""Each campaign tactic and each legitimate hard case shows up in the generated traffic."""

from __future__ import annotations

import csv
from collections import Counter, defaultdict
from dataclasses import replace
from itertools import combinations
from pathlib import Path
from typing import Any

import orjson
import pytest

from hydrawatch.simulate import PopulationSpec, simulate
from hydrawatch.simulate.models import NEW_MODEL
from hydrawatch.simulate.scenarios import LOCKSTEP, NARROW_PIVOT, SCRAPER, STEALTH, Scenario, legit

DAY = 86400.0
T0 = 1780272000.0  # 2026-06-01T00:00:00Z
RELEASE = T0 + 1.0 * DAY
SCENARIO = Scenario(
    "tactics",
    "all tactics, small",
    3.0,
    legit(0.08),
    (
        replace(LOCKSTEP, accounts=12, cohort_size=4, start_day=0.0, per_account=(300, 400)),
        replace(NARROW_PIVOT, accounts=9, chain=3, payment_group=3, per_account=(300, 400)),
        replace(STEALTH, accounts=4, per_account=(200, 300)),
        replace(SCRAPER, per_account=(3000, 3500), start_day=1.0, days=0.5),
    ),
    new_model_day=1.0,
)


class Run:
    def __init__(self, out: Path):
        self.labels = {r["account_id"]: r for r in csv.DictReader((out / "labels.csv").open())}
        self.accounts = {
            a["account_id"]: a for a in map(orjson.loads, (out / "accounts.jsonl").read_bytes().splitlines())
        }
        self.events: list[dict[str, Any]] = [
            orjson.loads(x) for x in (out / "events.jsonl").read_bytes().splitlines()
        ]
        self.by_account: dict[str, list[dict[str, Any]]] = defaultdict(list)
        for e in self.events:
            self.by_account[e["account_id"]].append(e)

    def of(
        self, *, campaign: str | None = None, population: str | None = None
    ) -> dict[str, list[dict[str, Any]]]:
        return {
            a: evs
            for a, evs in self.by_account.items()
            if (campaign is None or self.labels[a]["campaign_id"] == campaign)
            and (population is None or self.labels[a]["population"] == population)
        }


@pytest.fixture(scope="module")
def run(tmp_path_factory: pytest.TempPathFactory) -> Run:
    out = tmp_path_factory.mktemp("tactics")
    simulate(SCENARIO, out, seed=2)
    return Run(out)


def test_lockstep_cohorts_fire_together(run: Run) -> None:
    camp = run.of(campaign="hydra-lockstep")
    buckets = {a: {int(e["ts"] // 10) for e in evs} for a, evs in camp.items()}
    ids = sorted(camp)
    # cohort membership is not in the files; recover it from co-occurrence: within-cohort pairs share
    # most 10 s buckets, cross-cohort pairs almost none.
    overlaps = sorted(
        len(buckets[a] & buckets[b]) / min(len(buckets[a]), len(buckets[b])) for a, b in combinations(ids, 2)
    )
    # 12 accounts in 3 cohorts of 4: 18 same-cohort pairs out of 66
    high = [o for o in overlaps if o > 0.6]
    assert len(high) == 18
    assert sum(1 for o in overlaps if o < 0.1) >= 40


def test_payment_methods_shared_in_groups(run: Run) -> None:
    camp = run.of(campaign="hydra-narrow")
    pays = Counter(
        run.accounts[a]["payment_fingerprint"]
        for a in run.labels
        if run.labels[a]["campaign_id"] == "hydra-narrow"
    )
    assert sorted(pays.values()) == [3, 3, 3]
    assert camp


def test_rotating_residential_proxies_span_many_networks(run: Run) -> None:
    evs = [e for evs in run.of(campaign="hydra-lockstep").values() for e in evs]
    ips = {e["ip"] for e in evs}
    nets = {ip.rsplit(".", 2)[0] for ip in ips}
    assert len(ips) > 0.5 * min(len(evs), 50)
    assert len(nets) >= 25


def test_pivot_to_the_new_model_within_a_day(run: Run) -> None:
    evs = [e for evs in run.of(campaign="hydra-narrow").values() for e in evs]
    before = [e for e in evs if e["ts"] < RELEASE]
    after = [e for e in evs if e["ts"] >= RELEASE + DAY]
    assert before and after
    assert not any(e["model"] == NEW_MODEL for e in before)
    share = sum(e["model"] == NEW_MODEL for e in after) / len(after)
    assert 0.4 <= share <= 0.6


def test_banned_accounts_are_replaced(run: Run) -> None:
    camp = run.of(campaign="hydra-narrow")
    spans = sorted((min(e["ts"] for e in evs), max(e["ts"] for e in evs)) for evs in camp.values())
    assert len(spans) == 9
    starts = [s for s, _ in spans]
    assert sum(1 for s in starts if s > T0 + 0.9 * DAY) >= 6  # two of three generations start later
    assert all(e - s < 1.2 * DAY for s, e in spans)


def test_narrow_capability_prompt_in_many_variations(run: Run) -> None:
    evs = [e for evs in run.of(campaign="hydra-narrow").values() for e in evs]
    texts = [(e.get("system") or "") + e["messages"][-1]["content"] for e in evs]
    analyst = [t for t in texts if "analys" in t.lower() or "分析" in t or "analista" in t]
    assert len(analyst) > 0.7 * len(texts)
    assert len(set(texts)) > 0.97 * len(texts)


def test_stealth_accounts_look_like_people(run: Run) -> None:
    camp = run.of(campaign="hydra-stealth")
    uas = {evs[0]["user_agent"] for evs in camp.values()}
    paths = {run.accounts[a]["signup_path"] for a in camp}
    assert len(uas) >= 2 and len(paths) >= 2
    for a, evs in camp.items():
        assert len({e["ip"] for e in evs}) <= 10  # sticky home-like addresses, not per-request rotation
        assert run.accounts[a]["created_at"] < "2026-05-25"


def test_naive_scraper_pulls_huge_volume(run: Run) -> None:
    (evs,) = run.of(population="scraper").values()
    assert len(evs) >= 3000
    assert len({e["ip"] for e in evs}) <= 3


def test_campus_nat_puts_many_accounts_behind_one_slash24(run: Run) -> None:
    camp = run.of(population="campus")
    ips = {e["ip"] for evs in camp.values() for e in evs}
    assert len(camp) >= 10
    assert len({ip.rsplit(".", 1)[0] for ip in ips}) == 1 and len(ips) <= 4


def test_company_accounts_share_payment_domain_and_office(run: Run) -> None:
    accts = [run.accounts[a] for a, r in run.labels.items() if r["population"] == "company"]
    assert len(accts) >= 2
    assert len({a["payment_fingerprint"] for a in accts}) == 1
    assert len({a["email_domain"] for a in accts}) == 1


def test_b2b_integrator_is_high_volume_with_a_fixed_system_prompt(run: Run) -> None:
    for evs in run.of(population="b2b").values():
        assert len(evs) / SCENARIO.days > 1000
        assert len({e["system"] for e in evs}) == 1
        assert len({e["ip"] for e in evs}) <= 6


def test_research_accounts_run_benchmarks_in_bursts(run: Run) -> None:
    for evs in run.of(population="research").values():
        ts = sorted(e["ts"] for e in evs)
        densest = max(sum(1 for t in ts[i:] if t < start + 7200) for i, start in enumerate(ts))
        assert densest >= 100


def test_research_prompts_ask_to_think_step_by_step(tmp_path: Path) -> None:
    only = Scenario("research", "eval accounts", 4.0, (PopulationSpec("research", 6, {"burst_prob": 0.6}),))
    simulate(only, tmp_path, seed=4)
    evs = [orjson.loads(x) for x in (tmp_path / "events.jsonl").read_bytes().splitlines()]
    steps = sum("step by step" in e["messages"][-1]["content"].lower() for e in evs)
    assert steps > 0.2 * len(evs)


def test_agentic_users_send_long_contexts_with_tools(run: Run) -> None:
    evs = [e for evs in run.of(population="agentic").values() for e in evs]
    assert evs
    assert all(e["params"].get("tools") for e in evs)
    assert max(e["input_tokens"] for e in evs) > 20000


def test_vpn_users_share_exit_addresses(run: Run) -> None:
    camp = run.of(population="vpn")
    owners: dict[str, set[str]] = defaultdict(set)
    for a, evs in camp.items():
        for e in evs:
            owners[e["ip"]].add(a)
    assert len(camp) >= 3
    assert max(len(v) for v in owners.values()) >= 2
