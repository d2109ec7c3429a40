"""Percentiles, wrk summary parsing and the under-bound selection of the overhead benchmark."""

from __future__ import annotations

import math
import sys
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

sys.path.append(str(Path(__file__).resolve().parent.parent / "bench" / "overhead"))

from latency_stats import added, percentile, summarize
from results_report import best_under_bound, by_bound, ratio
from wrkrun import parse_done_line

floats = st.floats(min_value=0, max_value=1e6, allow_nan=False)


def test_percentile_interpolates() -> None:
    assert percentile([1.0, 2.0, 3.0, 4.0], 50) == 2.5
    assert percentile([5.0], 99) == 5.0
    assert math.isnan(percentile([], 50))
    with pytest.raises(ValueError):
        percentile([1.0], 101)


@given(st.lists(floats, min_size=1, max_size=50), st.floats(min_value=0, max_value=100))
def test_percentile_within_range_and_monotone(values: list[float], q: float) -> None:
    p = percentile(values, q)
    assert min(values) <= p <= max(values)
    assert percentile(values, min(100.0, q + 1)) >= p


def test_added_is_per_percentile_difference() -> None:
    base, proxy = summarize([1.0] * 10), summarize([3.0] * 9 + [10.0])
    assert added(proxy, base) == {"p50": 2.0, "p90": 2.7, "p99": 8.37}


def test_parse_done_line() -> None:
    out = (
        "Running 2s test\n"
        '{"requests":200,"duration_us":2000000,"bytes":1,"err_connect":0,"err_read":1,"err_write":0,'
        '"err_status":10,"err_timeout":0,"lat_p50_us":1500,"lat_p90_us":2500,"lat_p99_us":9000,'
        '"lat_max_us":12000,"lat_mean_us":1700.0}\n'
    )
    r = parse_done_line(out, 8)
    assert (r.connections, r.requests, r.errors) == (8, 200, 11)
    assert r.rps == pytest.approx(95.0) and r.p99_ms == 9.0
    with pytest.raises(ValueError):
        parse_done_line("wrk crashed", 1)


def _lv(c: int, rps: float, p99: float, errors: int = 0) -> dict[str, float]:
    return {"connections": c, "rps": rps, "p99_ms": p99, "errors": errors, "requests": 1000}


def test_best_under_bound_skips_slow_and_failing_levels() -> None:
    levels = [_lv(1, 100, 10), _lv(4, 300, 40), _lv(16, 500, 80), _lv(8, 400, 30, errors=50)]
    best = best_under_bound(levels, 50)
    assert best is not None and best["connections"] == 4
    assert best_under_bound(levels, 5) is None


def test_by_bound_ratio() -> None:
    rows = by_bound(
        {"hydrawatch": [_lv(4, 300, 40)], "litellm": [_lv(1, 30, 45), _lv(2, 40, 120)]}, (50.0, 200.0)
    )
    assert [r["ratio"] for r in rows] == [10.0, 7.5]
    assert ratio(None, 3.0) is None and ratio(3.0, 0.0) is None


def test_parse_backlog_sums_the_gauges_and_skips_bad_values() -> None:
    from gateway_probe import parse_backlog

    text = (
        "# HELP hydrawatch_events_pending x\n"
        "hydrawatch_events_pending 12\n"
        "hydrawatch_live_scoring_pending 3.0\n"
        "hydrawatch_events_recorded_total 999\n"
        "hydrawatch_live_scoring_pending nonsense\n"
    )
    assert parse_backlog(text) == 15
    assert parse_backlog("") == 0
