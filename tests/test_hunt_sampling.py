"""Text-feature sampling for large logs: which events are described, and that counts scale."""

from __future__ import annotations

import duckdb
import numpy as np
import pyarrow as pa
import pytest

from hydrawatch.hunt.pipeline import hunt_loaded
from hydrawatch.hunt.sampling import FULL_ACCOUNT_EVENTS, choose_sample, mark_sample
from hydrawatch.hunt.sql import account_aggregates, cutoff_view
from test_hunt_pipeline import load, make_log


def test_budget_zero_or_small_logs_describe_every_event() -> None:
    assert choose_sample(10_000_000, 0).complete
    assert choose_sample(500, 1000).complete
    s = choose_sample(4000, 1000)
    assert not s.complete and s.rate == pytest.approx(0.25)


def test_floors_take_at_most_half_the_budget() -> None:
    sizes = [40] * 10_000 + [5_000] * 100  # 900k events; floors of 64 would cost 406k
    s = choose_sample(sum(sizes), 500_000, sizes)
    floors = sum(min(n, s.floor) for n in sizes)
    assert floors <= 250_000 and s.floor >= 1
    expected = sum(max(s.rate * n, min(n, s.floor)) for n in sizes)
    assert expected <= 500_000 * 1.01


def _events(con: duckdb.DuckDBPyConnection, accounts: dict[str, int], spacing: float = 97.0) -> None:
    acc: list[str] = []
    ts: list[float] = []
    for a, n in accounts.items():
        acc += [a] * n
        ts += [1_780_000_000.0 + i * spacing for i in range(n)]
    con.register("_e", pa.table({"account_id": acc, "ts": ts}))
    con.execute("CREATE TABLE events AS SELECT * FROM _e")


def test_large_accounts_are_sampled_by_shared_time_buckets() -> None:
    con = duckdb.connect()
    _events(con, {"big1": 20_000, "big2": 20_000, "small": FULL_ACCOUNT_EVENTS})
    sample = choose_sample(40_064, 10_000)
    view = mark_sample(con, sample)
    rows = con.execute(f"SELECT account_id, ts, txt FROM {view} ORDER BY account_id, ts").fetchall()
    by: dict[str, list[bool]] = {}
    for a, _, txt in rows:
        by.setdefault(a, []).append(bool(txt))
    assert all(by["small"])  # small accounts: every event
    share = float(np.mean(by["big1"]))
    assert abs(share - sample.rate) < 0.08  # about the rate, by time bucket
    assert by["big1"] == by["big2"]  # the same buckets for every account: lockstep survives


def test_sampled_hunt_finds_the_campaign_and_scales_counts() -> None:
    exs, accounts, campaign = make_log(seed=3, bursts=240)
    full = duckdb.connect()
    load(full, exs, accounts)
    out_full = hunt_loaded(full, with_accounts=True)
    sampled = duckdb.connect()
    load(sampled, exs, accounts)
    out = hunt_loaded(sampled, with_accounts=True, text_budget=len(exs) // 3)
    assert any("sample" in n for n in out.notes)
    flagged = {a.account_id for a in out.report.accounts if a.flagged}
    assert flagged == {a.account_id for a in out_full.report.accounts if a.flagged} == campaign
    cutoff_view(full, None)
    cutoff_view(sampled, None)
    a_full = account_aggregates(full, with_accounts=True)
    a_smp = account_aggregates(sampled, with_accounts=True)
    i = a_full.account_id.index(sorted(campaign)[0])
    assert a_smp.n[i] == a_full.n[i]  # volume always counts every event
    assert a_smp.intent_n[i] == pytest.approx(a_full.intent_n[i], rel=0.25)
    assert a_smp.top_skel_n[i] <= a_smp.n[i]
