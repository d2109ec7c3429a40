"""The scoring engine (transport-free): rows in, changed verdicts out; linkage on the wall
clock or on the events' clock; verdicts republished before the cache forgets them; the
Exchange rebuilt from an event row keeps what the features read."""

from __future__ import annotations

import math
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from hydrawatch.events.schema import Exchange, Message, Params, exchange_row
from hydrawatch.score.engine import ScoringEngine, to_verdict
from hydrawatch.score.rows import BadRow, exchange_from_row
from scoring_fakes import CountingScorer


class Clock:
    def __init__(self) -> None:
        self.t = 0.0

    def __call__(self) -> float:
        return self.t


def row(account: str, ts: float) -> dict[str, Any]:
    return {"ts": ts, "account_id": account, "prompt": "hi", "user_turns": 1}


def test_verdicts_only_when_changed_or_due_again() -> None:
    clock = Clock()
    eng = ScoringEngine(CountingScorer(), lambda ex: None, republish_seconds=100, clock=clock)
    assert eng.observe(row("a", 1.0)) and eng.observe(row("a", 2.0))
    assert [(a, v.reasons) for a, v in eng.verdicts()] == [("a", ("observed 2",))]
    assert eng.verdicts() == []  # nothing new observed
    eng.scorer.n["a"] -= 1  # the next row brings it back to the same verdict
    eng.observe(row("a", 3.0))
    assert eng.verdicts() == []  # unchanged: not published again ...
    clock.t = 150.0
    eng.observe(row("a", 4.0))
    eng.scorer.n["a"] -= 1
    assert [a for a, _ in eng.verdicts()] == ["a"]  # ... until it is due again


def test_bad_rows_are_counted_not_raised() -> None:
    eng = ScoringEngine(CountingScorer(), lambda ex: None)
    assert not eng.observe({"account_id": "a"}) and not eng.observe({"ts": 1.0, "account_id": ""})
    assert eng.errors == 2 and eng.observed == 0


def test_payment_fp_in_a_row_reaches_set_payment_once_per_change() -> None:
    scorer = CountingScorer()
    eng = ScoringEngine(scorer, lambda ex: None)
    assert eng.observe({**row("a", 1.0), "payment_fp": "pm_1"})
    assert eng.observe({**row("a", 2.0), "payment_fp": "pm_1"})  # unchanged: not set again
    assert eng.observe(row("a", 3.0))  # a row without it changes nothing
    assert eng.observe({**row("b", 4.0), "payment_fp": "pm_1"})  # b shares a's card
    assert eng.observe({**row("a", 5.0), "payment_fp": "pm_2"})  # a's card changed
    assert scorer.payments == [("a", "pm_1"), ("b", "pm_1"), ("a", "pm_2")]
    assert dict(eng.verdicts())["b"].reasons == ("observed 1", "payment pm_1")
    assert eng.observed == 5 and eng.errors == 0


@pytest.mark.parametrize("bad", [None, "", 42, 4.2, True, ["pm_1"], {"fp": "pm_1"}, "x" * 129, "x" * 10**6])
def test_bad_payment_fp_is_ignored_and_the_row_still_scored(bad: Any) -> None:
    scorer = CountingScorer()
    eng = ScoringEngine(scorer, lambda ex: None)
    assert eng.observe({**row("a", 1.0), "payment_fp": bad})
    assert scorer.payments == [] and eng.observed == 1 and eng.errors == 0
    # a bad row carries no payment to anyone
    assert not eng.observe({"account_id": "a", "payment_fp": "pm_1"}) and scorer.payments == []


def test_payment_fp_without_set_payment_or_when_it_fails() -> None:
    class NoPayments(CountingScorer):
        set_payment = None  # type: ignore[assignment]

    eng = ScoringEngine(NoPayments(), lambda ex: None)
    assert eng.observe({**row("a", 1.0), "payment_fp": "pm_1"}) and eng.observed == 1

    class FailingPayments(CountingScorer):
        def set_payment(self, account_id: str, payment_fp: str | None) -> None:
            self.payments.append((account_id, payment_fp))
            raise RuntimeError("no")

    failing = FailingPayments()
    eng = ScoringEngine(failing, lambda ex: None)
    assert eng.observe({**row("a", 1.0), "payment_fp": "pm_1"})
    assert eng.observe({**row("a", 2.0), "payment_fp": "pm_1"})  # tried once, not per row
    assert failing.payments == [("a", "pm_1")] and eng.observed == 2 and eng.errors == 0


def test_link_clock_events_follows_the_event_timestamps() -> None:
    clock = Clock()
    eng = ScoringEngine(CountingScorer(), lambda ex: None, link_seconds=300, clock=clock, link_clock="events")
    eng.observe(row("a", 1000.0))
    assert not eng.link_due()
    clock.t = 10_000.0  # wall time does not matter
    assert not eng.link_due()
    eng.observe(row("a", 1300.0))
    assert eng.link_due() and eng.link_wait() == 0.0
    assert [a for a, _ in eng.link()] == ["a"] and eng.scorer.links == 1
    assert not eng.link_due()
    wall = ScoringEngine(CountingScorer(), lambda ex: None, link_seconds=60, clock=clock)
    assert not wall.link_due()
    clock.t += 60
    assert wall.link_due()
    with pytest.raises(ValueError):
        ScoringEngine(CountingScorer(), lambda ex: None, link_clock="sundial")


def test_to_verdict_clamps() -> None:
    from types import SimpleNamespace

    v = to_verdict(SimpleNamespace(risk=math.nan, campaign_id="", reasons=["r"]))
    assert (v.risk, v.campaign_id, v.reasons) == (0.0, None, ("r",))
    assert to_verdict(SimpleNamespace(risk=3.0, campaign_id="C1", reasons=[])).risk == 1.0


def test_exchange_from_row_round_trip() -> None:
    ex = Exchange(
        ts=1.5,
        account_id="a",
        model="m",
        messages=[Message("user", "q1"), Message("assistant", "a1"), Message("user", "q2")],
        system="sys",
        ip="198.51.100.7",
        user_agent="ua",
        client_fingerprint="fp",
        params=Params(
            max_tokens=5, temperature=0.2, logprobs=True, top_logprobs=3, n_tools=2, thinking_budget=9
        ),
        input_tokens=4,
        output_tokens=6,
    )
    back = exchange_from_row(exchange_row(ex))
    assert (back.prompt, back.user_turns, back.assistant_turns) == ("q2", 2, 1)
    assert back.params == ex.params and back.system == "sys" and back.ip == ex.ip
    assert (back.input_tokens, back.output_tokens, back.client_fingerprint) == (4, 6, "fp")
    with pytest.raises(BadRow):
        exchange_from_row({"ts": math.inf, "account_id": "a"})


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=20),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=5), inner, max_size=3),
    max_leaves=8,
)
row_keys = st.sampled_from(
    ["ts", "account_id", "prompt", "system", "user_turns", "assistant_turns", "max_tokens", "n",
     "temperature", "logprobs", "stream", "n_tools", "ip", "model", "input_tokens", "status", "junk"]
)  # fmt: skip


@given(st.dictionaries(row_keys, json_values, max_size=12))
def test_any_row_is_an_exchange_or_a_bad_row(raw: dict[str, Any]) -> None:
    raw.setdefault("user_turns", 10**15)  # a hostile count must not allocate messages without end
    try:
        ex = exchange_from_row(raw)
    except BadRow:
        return
    assert ex.account_id and math.isfinite(ex.ts)
    assert len(ex.messages) <= 2001
    assert ex.prompt == (raw["prompt"] if isinstance(raw.get("prompt"), str) else "")


@given(st.binary(max_size=64), st.dictionaries(st.sampled_from(["t", "a", "risk", "c", "why"]), json_values))
def test_protocol_decoders_never_raise(line: bytes, msg: dict[str, Any]) -> None:
    from hydrawatch.score.pipe import decode_row, verdict_of_message

    got = decode_row(line)
    assert got is None or (got[0] >= 0 and isinstance(got[1], bytes))
    v = verdict_of_message(msg)
    assert v is None or isinstance(v[0], str)


def test_observe_many_learns_what_observe_learns_and_counts_bad_rows() -> None:
    seen: list[list[str]] = []

    def many(exs: Any) -> list[Any]:
        seen.append([e.account_id for e in exs])
        return [None for _ in exs]

    rows = [row("a", 1.0), {"ts": "not a time", "account_id": "x"}, row("b", 2.0), row("a", 3.0)]
    batched = ScoringEngine(CountingScorer(), lambda ex: None, describe_many=many)
    one_by_one = ScoringEngine(CountingScorer(), lambda ex: None)
    assert batched.observe_many(rows) == 3
    assert sum(one_by_one.observe(r) for r in rows) == 3
    assert seen == [["a", "b", "a"]]  # one batch, in order, without the bad row
    assert batched.errors == one_by_one.errors == 1
    assert batched.verdicts() == one_by_one.verdicts()
    assert batched.now == one_by_one.now == 3.0


def test_observe_many_falls_back_to_one_at_a_time_when_the_batch_fails() -> None:
    def many(exs: Any) -> list[Any]:
        raise ValueError("batch failed")

    eng = ScoringEngine(CountingScorer(), lambda ex: None, describe_many=many)
    assert eng.observe_many([row("a", 1.0), row("a", 2.0)]) == 2
    assert [(a, v.reasons) for a, v in eng.verdicts()] == [("a", ("observed 2",))]
