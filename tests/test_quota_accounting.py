"""Exact accounting across processes sharing Redis (a small run of bench/quota/quota_contention.py)."""

from __future__ import annotations

import importlib
import sys
from pathlib import Path
from types import ModuleType

import pytest
import redis

BENCH_DIR = Path(__file__).resolve().parents[1] / "bench" / "quota"


def load_bench() -> ModuleType:
    # importable by name so the spawned worker processes can find the worker function
    if str(BENCH_DIR) not in sys.path:
        sys.path.insert(0, str(BENCH_DIR))
    return importlib.import_module("quota_contention")


@pytest.mark.services
def test_two_processes_account_exactly_and_never_overshoot() -> None:
    try:
        redis.Redis.from_url("redis://127.0.0.1:6379/0", socket_connect_timeout=0.5).ping()
    except redis.RedisError:
        pytest.skip("no Redis at 127.0.0.1:6379")
    # actual usage never exceeds the estimate here, so no limit may be exceeded at all
    out = load_bench().run(workers=2, clients=30, ops=8, input_jitter=0.0, accounts=6)
    assert out["state_errors"] == 0
    assert out["reserved"] > 0 and out["denied"] > 0  # the limits were contended
    assert out["counters_at_limit"] > 0
    assert out["lost_usage_counters"] == []  # every counter equals the usage settled into it
    assert out["unsettled_reservations"] == 0
    assert out["max_overshoot"] == 0.0
