"""Campaign accounts work at the disclosed pace: per-account daily thresholds stay quiet."""

from __future__ import annotations

import csv
import random
from collections import Counter, defaultdict
from dataclasses import replace
from pathlib import Path

import orjson
import pytest

from hydrawatch.simulate import SCENARIOS, simulate
from hydrawatch.simulate.pacing import draw_pace

DAY = 86400.0
TOKENS_PER_DAY = 100_000  # the usual "tokens > 100k or requests > 5000 a day" rule
REQUESTS_PER_DAY = 5_000


def _account_days(out: Path) -> tuple[dict[tuple[str, int], list[int]], dict[str, str]]:
    population = {r["account_id"]: r["population"] for r in csv.DictReader((out / "labels.csv").open())}
    days: dict[tuple[str, int], list[int]] = defaultdict(lambda: [0, 0])
    for line in (out / "events.jsonl").read_bytes().splitlines():
        e = orjson.loads(line)
        cell = days[(e["account_id"], int(e["ts"] // DAY))]
        cell[0] += 1
        cell[1] += e["output_tokens"]
    return days, population


@pytest.mark.parametrize("name", ["hydra-lockstep", "hydra-narrow-pivot", "hydra-stealth", "mixed"])
def test_hydra_account_days_stay_under_threshold_rules(tmp_path: Path, name: str) -> None:
    campaigns_only = replace(SCENARIOS[name], populations=())
    simulate(campaigns_only, tmp_path, seed=4, scale=0.03, responses=False)
    days, population = _account_days(tmp_path)
    hydra = [v for (acct, _), v in days.items() if population[acct] == "hydra"]
    assert len(hydra) >= 50
    over = sum(1 for n, tok in hydra if tok > TOKENS_PER_DAY or n > REQUESTS_PER_DAY)
    assert over / len(hydra) <= 0.03, (over, len(hydra))
    assert max(n for n, _ in hydra) < REQUESTS_PER_DAY / 50
    per_active_day = sorted(n for n, _ in hydra)
    assert 10 <= per_active_day[len(per_active_day) // 2] <= 35
    scraper = [n for (acct, _), (n, _) in days.items() if population[acct] == "scraper"]
    assert all(n > REQUESTS_PER_DAY for n in scraper)  # the naive scraper keeps its huge volume


def test_a_week_sees_a_slice_of_each_life(tmp_path: Path) -> None:
    campaigns_only = replace(SCENARIOS["hydra-lockstep"], populations=())
    simulate(campaigns_only, tmp_path, seed=3, scale=0.02, responses=False)
    days, _ = _account_days(tmp_path)
    per = Counter[str]()
    for (acct, _), (n, _) in days.items():
        per[acct] += n
    assert len(per) == 20
    assert all(60 <= n <= 220 for n in per.values()), per


def test_disclosed_pacing_gives_the_disclosed_lifetime() -> None:
    sc = SCENARIOS["disclosed"]
    for spec in sc.campaigns:
        rng = random.Random(spec.campaign_id)
        for _ in range(500):
            pace = draw_pace(spec, rng, sc.days)
            assert 700 <= pace.lifetime <= 1150
            assert 15 <= pace.per_day <= 30
            assert 40 <= pace.life_days <= 50


def test_disclosed_accounts_total_the_disclosed_volume(tmp_path: Path) -> None:
    campaigns_only = replace(SCENARIOS["disclosed"], populations=())
    simulate(campaigns_only, tmp_path, seed=2, scale=0.0003)
    days, _ = _account_days(tmp_path)
    per = Counter[str]()
    for (acct, _), (n, _) in days.items():
        per[acct] += n
    assert len(per) >= 8
    assert all(600 <= n <= 1250 for n in per.values()), per
    assert sorted(per.values())[len(per) // 2] >= 700
