"""Same seed, same bytes; a different seed, different traffic."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from hydrawatch.simulate import SCENARIOS, simulate
from hydrawatch.simulate.scenarios import LOCKSTEP, NARROW_PIVOT, STEALTH, Scenario, legit

TINY = Scenario(
    "tiny",
    "tiny",
    1.0,
    legit(0.02),
    (
        replace(LOCKSTEP, accounts=3, start_day=0.0, per_account=(100, 150)),
        replace(NARROW_PIVOT, accounts=3, per_account=(60, 90)),
        replace(STEALTH, accounts=2, per_account=(60, 90)),
    ),
    new_model_day=0.5,
)
CAMPAIGNS_ONLY = Scenario("campaigns-only", "tiny", 1.0, (), TINY.campaigns[:2], new_model_day=0.5)
FILES = ("events.jsonl", "accounts.jsonl", "labels.csv")


def test_same_seed_gives_identical_files(tmp_path: Path) -> None:
    simulate(TINY, tmp_path / "a", seed=5)
    simulate(TINY, tmp_path / "b", seed=5)
    for f in FILES:
        assert (tmp_path / "a" / f).read_bytes() == (tmp_path / "b" / f).read_bytes(), f


def test_named_scenario_is_deterministic(tmp_path: Path) -> None:
    half_day = replace(SCENARIOS["mixed"], days=0.5)
    simulate(half_day, tmp_path / "a", seed=1, scale=0.01)
    simulate(half_day, tmp_path / "b", seed=1, scale=0.01)
    for f in FILES:
        assert (tmp_path / "a" / f).read_bytes() == (tmp_path / "b" / f).read_bytes(), f


def test_responses_switch_changes_nothing_else(tmp_path: Path) -> None:
    simulate(TINY, tmp_path / "a", seed=5, responses=True)
    simulate(TINY, tmp_path / "b", seed=5, responses=False)
    import orjson

    a = [orjson.loads(x) for x in (tmp_path / "a" / "events.jsonl").read_bytes().splitlines()]
    b = [orjson.loads(x) for x in (tmp_path / "b" / "events.jsonl").read_bytes().splitlines()]
    assert len(a) == len(b)
    assert any("response" in e for e in a) and not any("response" in e for e in b)
    for x, y in zip(a, b, strict=True):
        x.pop("response", None)
        assert x == y


@settings(max_examples=2, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(seed=st.integers(min_value=0, max_value=2**40))
def test_different_seeds_differ_and_stay_valid(tmp_path: Path, seed: int) -> None:
    a, b = tmp_path / f"{seed}a", tmp_path / f"{seed}b"
    sa = simulate(CAMPAIGNS_ONLY, a, seed=seed)
    sb = simulate(CAMPAIGNS_ONLY, b, seed=seed + 1)
    assert (a / "events.jsonl").read_bytes() != (b / "events.jsonl").read_bytes()
    assert sa.events > 0 and sb.events > 0
    assert sa.accounts == sb.accounts


def test_worker_processes_give_the_same_bytes(tmp_path: Path) -> None:
    one = simulate(CAMPAIGNS_ONLY, tmp_path / "one", seed=9)
    two = simulate(CAMPAIGNS_ONLY, tmp_path / "two", seed=9, workers=2)
    for f in FILES:
        assert (tmp_path / "one" / f).read_bytes() == (tmp_path / "two" / f).read_bytes(), f
    assert (one.events, one.campaign_events, one.bytes) == (two.events, two.campaign_events, two.bytes)
