"""Output files of the simulator follow the contracts (exchange log, accounts, labels)."""

from __future__ import annotations

import csv
import functools
from collections import Counter
from dataclasses import replace
from pathlib import Path

import orjson
import pytest

from hydrawatch.simulate import SCENARIOS, simulate
from hydrawatch.simulate.scenarios import LOCKSTEP, NARROW_PIVOT, SCRAPER, STEALTH, Scenario, legit

PARAM_KEYS = {
    "max_tokens",
    "temperature",
    "top_p",
    "n",
    "logprobs",
    "top_logprobs",
    "stream",
    "tools",
    "reasoning_effort",
    "thinking",
}
ROLES = {"user", "assistant", "tool", "system"}

SMALL = Scenario(
    "small",
    "every population and campaign kind, tiny",
    3.0,
    legit(0.05),
    (
        replace(LOCKSTEP, accounts=12, cohort_size=4, start_day=0.2, per_account=(150, 250)),
        replace(NARROW_PIVOT, accounts=9, start_day=0.0, per_account=(150, 250)),
        replace(STEALTH, accounts=4, per_account=(150, 250)),
        replace(SCRAPER, per_account=(3000, 3500), start_day=1.0, days=0.5),
    ),
    new_model_day=1.5,
)


@pytest.fixture(scope="module")
def run(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("sim")
    simulate(SMALL, out, seed=11)
    return out


@functools.cache
def _events(out: Path) -> list[dict[str, object]]:
    return [orjson.loads(line) for line in (out / "events.jsonl").read_bytes().splitlines()]


def _labels(out: Path) -> list[dict[str, str]]:
    return list(csv.DictReader((out / "labels.csv").open()))


def test_labels_header_and_rows(run: Path) -> None:
    header = (run / "labels.csv").read_text().splitlines()[0]
    assert header == "account_id,campaign_id,population"
    labels = _labels(run)
    ids = [r["account_id"] for r in labels]
    assert len(ids) == len(set(ids))
    pops = Counter(r["population"] for r in labels)
    for kind in (
        "chat",
        "developer",
        "b2b",
        "research",
        "agentic",
        "company",
        "campus",
        "vpn",
        "hydra",
        "scraper",
    ):
        assert pops[kind] >= 1, kind
    for r in labels:
        assert (r["campaign_id"] != "") == (r["population"] in ("hydra", "scraper"))


def test_accounts_match_labels(run: Path) -> None:
    accounts = [orjson.loads(line) for line in (run / "accounts.jsonl").read_bytes().splitlines()]
    assert [a["account_id"] for a in accounts] == [r["account_id"] for r in _labels(run)]
    for a in accounts:
        assert a["created_at"].endswith("Z")
        assert "@" in a["email"] and a["email"].endswith(a["email_domain"])
        assert a["signup_path"] in {"standard", "education", "research", "startup", "enterprise"}
        assert isinstance(a["verified"], bool) and isinstance(a["country"], str)
        assert a["payment_fingerprint"].startswith("pm_")


def test_events_follow_contract_in_time_order(run: Path) -> None:
    events = _events(run)
    known = {r["account_id"] for r in _labels(run)}
    start = 1780272000.0  # 2026-06-01T00:00:00Z
    last = 0.0
    for e in events:
        assert isinstance(e["ts"], float) and start <= e["ts"] < start + SMALL.days * 86400
        assert e["ts"] >= last
        last = e["ts"]
        assert e["account_id"] in known
        msgs = e["messages"]
        assert isinstance(msgs, list) and msgs
        assert all(m["role"] in ROLES and isinstance(m["content"], str) and m["content"] for m in msgs)
        params = e["params"]
        assert set(params) <= PARAM_KEYS
        assert not ("thinking" in params and "reasoning_effort" in params)
        if "thinking" in params and "max_tokens" in params:
            assert 1024 <= params["thinking"]["budget_tokens"] < params["max_tokens"]
        for k in ("ip", "user_agent", "api_key_id", "client_fingerprint", "model"):
            assert isinstance(e[k], str) and e[k]
        assert e["status"] in (200, 429, 500)
        assert isinstance(e["input_tokens"], int) and e["input_tokens"] > 0
        assert isinstance(e["output_tokens"], int) and isinstance(e["reasoning_tokens"], int)
        assert (e["output_tokens"] > 0) == (e["status"] == 200)
        assert e["latency_ms"] > 0
        assert ("response" in e) == (e["status"] == 200)


def test_events_parse_with_the_ingest_reader(run: Path) -> None:
    contract = pytest.importorskip("hydrawatch.ingest.contract")
    for e in _events(run)[:3000]:
        ex = contract.parse_contract(e)
        assert ex.account_id == e["account_id"]
        assert ex.prompt


def test_every_named_scenario_is_listed() -> None:
    for name in (
        "naive-scraper",
        "hydra-lockstep",
        "hydra-narrow-pivot",
        "hydra-stealth",
        "legit-only",
        "mixed",
        "disclosed",
    ):
        assert name in SCENARIOS
    assert not SCENARIOS["legit-only"].campaigns
    assert len(SCENARIOS["mixed"].campaigns) >= 3
    assert SCENARIOS["disclosed"].responses is False


def test_disclosed_scale_one_matches_the_disclosure() -> None:
    sc = SCENARIOS["disclosed"]
    accounts = sum(c.accounts for c in sc.campaigns)
    assert 24_000 <= accounts <= 26_000
    expected = sum(c.accounts * sum(c.per_account) / 2 for c in sc.campaigns)
    assert 24e6 <= expected <= 28e6  # plus ~3M legitimate exchanges: ~28.8M
    assert sc.days == 45


def test_hydra_accounts_stay_under_per_account_thresholds(tmp_path: Path) -> None:
    campaign_only = replace(SCENARIOS["hydra-lockstep"], populations=())
    summary = simulate(campaign_only, tmp_path, seed=3, scale=0.02)
    labels = {r["account_id"]: r for r in _labels(tmp_path)}
    per = Counter(e["account_id"] for e in _events(tmp_path) if labels[str(e["account_id"])]["campaign_id"])
    assert summary.campaign_accounts == len(per) == 20
    assert all(n <= 250 for n in per.values()), per  # a week of a ~45-day life (see test_simulate_pacing)


def test_no_exchange_before_its_account_exists(run: Path) -> None:
    from datetime import datetime

    created = {
        a["account_id"]: datetime.fromisoformat(a["created_at"].replace("Z", "+00:00")).timestamp()
        for a in map(orjson.loads, (run / "accounts.jsonl").read_bytes().splitlines())
    }
    first: dict[str, float] = {}
    for e in _events(run):
        first.setdefault(str(e["account_id"]), float(e["ts"]))  # type: ignore[arg-type]
    assert all(first[a] >= created[a] - 1 for a in first)
    window_start = 1780272000.0
    assert any(c > window_start for c in created.values())  # some legitimate users sign up during the window
