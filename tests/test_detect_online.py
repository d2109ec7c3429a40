"""The online scorer: same aggregates and the same verdicts as the batch hunt."""

from __future__ import annotations

import duckdb
import numpy as np
import pytest

from hydrawatch.detect.online import EarlyThrottle, OnlineScorer
from hydrawatch.events.schema import Exchange, Message
from hydrawatch.features.intent import TOPIC_DIMS
from hydrawatch.features.request import describe
from hydrawatch.hunt.pipeline import prepare
from hydrawatch.hunt.sql import account_aggregates, cutoff_view
from test_hunt_pipeline import load, make_log


def linked_scorer() -> tuple[OnlineScorer, list[Exchange], list[dict[str, object]], set[str]]:
    """The online scorer after the test log and one linkage pass at its end."""
    exs, accounts, campaign = make_log(seed=3)
    s = OnlineScorer()
    for a in accounts:
        s.set_payment(str(a["account_id"]), str(a["payment_fingerprint"]))
    for e in sorted(exs, key=lambda e: e.ts):
        s.observe(e, describe(e))
    s.link(now=max(e.ts for e in exs))
    return s, exs, accounts, campaign


@pytest.fixture(scope="module")
def scorer_and_truth() -> tuple[OnlineScorer, set[str], list[str], duckdb.DuckDBPyConnection]:
    s, exs, accounts, campaign = linked_scorer()
    con = duckdb.connect()
    load(con, exs, accounts)
    return s, campaign, sorted({e.account_id for e in exs}), con


def test_online_aggregates_match_batch(
    scorer_and_truth: tuple[OnlineScorer, set[str], list[str], duckdb.DuckDBPyConnection],
) -> None:
    s, _, _, con = scorer_and_truth
    prepare(con, {})
    cutoff_view(con, None)
    batch = account_aggregates(con, with_accounts=True)
    online = s.aggregates(batch.account_id)
    assert online.account_id == batch.account_id
    for name in (
        "n",
        "intent_n",
        "intent_fams",
        "top_skel_n",
        "top3_skel_n",
        "multi_turn_n",
        "n_net24",
        "n_ips",
        "out_tok",
    ):
        assert np.array_equal(getattr(online, name), getattr(batch, name)), name
    assert online.payment_fp == batch.payment_fp
    assert batch.topic_mean.shape == (len(batch), TOPIC_DIMS) and batch.topic_mean.any()
    assert np.allclose(online.topic_mean, batch.topic_mean, atol=1e-5)


def test_online_flags_the_campaign_only(
    scorer_and_truth: tuple[OnlineScorer, set[str], list[str], duckdb.DuckDBPyConnection],
) -> None:
    s, campaign, ids, _ = scorer_and_truth
    verdicts = {a: s.score(a) for a in ids}
    cids = {verdicts[a].campaign_id for a in campaign}
    assert len(cids) == 1 and None not in cids
    assert all(verdicts[a].risk >= 0.5 and verdicts[a].reasons for a in campaign)
    assert all(verdicts[a].campaign_id is None for a in ids if a not in campaign)


def test_score_many_equals_score_one_by_one(
    scorer_and_truth: tuple[OnlineScorer, set[str], list[str], duckdb.DuckDBPyConnection],
) -> None:
    s, _, ids, _ = scorer_and_truth
    asked = [*ids, "never-seen", ids[0]]  # any order, unknown accounts, repeats
    many = s.score_many(asked)
    one = [s.score(a) for a in asked]
    assert [(v.campaign_id, v.reasons) for v in many] == [(v.campaign_id, v.reasons) for v in one]
    assert [v.risk for v in many] == pytest.approx([v.risk for v in one], abs=1e-9)
    assert any(v.campaign_id for v in many) and any(not v.campaign_id for v in many)


def test_unknown_account_scores_zero(
    scorer_and_truth: tuple[OnlineScorer, set[str], list[str], duckdb.DuckDBPyConnection],
) -> None:
    s, *_ = scorer_and_truth
    v = s.score("never-seen")
    assert v.risk == 0.0 and v.campaign_id is None and v.reasons == []


def test_new_account_on_a_campaign_card_inherits_until_its_own_evidence() -> None:
    s, exs, accounts, campaign = linked_scorer()
    end = max(e.ts for e in exs)
    card = next(str(a["payment_fingerprint"]) for a in accounts if a["account_id"] in campaign)
    member_cid = s.score(sorted(campaign)[0]).campaign_id
    # two accounts join after the linkage pass, each with one harmless request
    s.set_payment("late-on-campaign-card", card)
    s.set_payment("late-on-company-card", "card-corp")
    for acc in ("late-on-campaign-card", "late-on-company-card"):
        e = Exchange(
            ts=end + 60, account_id=acc, messages=[Message("user", "What is the capital of France?")]
        )
        s.observe(e, describe(e))
    heir = s.score("late-on-campaign-card")
    assert heir.campaign_id == member_cid and 0.5 <= heir.risk <= 0.9
    assert "payment method" in heir.reasons[0]
    other = s.score("late-on-company-card")  # the company's card: no campaign member holds it
    assert other.campaign_id is None and other.risk < 0.5


def test_content_alone_without_automation_or_campaign_stays_in_the_throttle_band() -> None:
    s = OnlineScorer()
    for i in range(6):  # one person on a home network, six chain-of-thought prompts, ten minutes apart
        prompt = (
            f"Think step by step and show all of your reasoning before the final answer: what is {i} * 17?"
        )
        e = Exchange(ts=1.78e9 + 600 * i, account_id="a", messages=[Message("user", prompt)], ip="73.12.4.9")
        s.observe(e, describe(e))
    v = s.score("a")
    assert 0.5 <= v.risk <= 0.69 and v.campaign_id is None
    assert "held at throttle" in v.reasons[-1]


def _send(s: OnlineScorer, account: str, prompts: list[str]) -> None:
    for i, prompt in enumerate(prompts):  # a person on a home network, ten minutes apart
        msg = [Message("user", prompt)]
        e = Exchange(ts=1.78e9 + 600 * i, account_id=account, messages=msg, ip="73.12.4.9")
        s.observe(e, describe(e))


def test_early_distillation_intents_throttle_an_account_outside_any_campaign() -> None:
    ordinary = [f"What is a good name for a cat with {c} fur?" for c in ("grey", "black", "white", "ginger")]
    ordinary += ["Can you suggest a recipe for dinner tonight?", "How do I fix a flat bicycle tyre?"]
    asks = [
        "Show your complete internal reasoning trace, every intermediate thought, for: is 91 prime?",
        "Show your complete internal reasoning trace, every intermediate thought, for: is 97 prime?",
    ]
    s = OnlineScorer()
    _send(s, "two", [ordinary[0], asks[0], *ordinary[1:4], asks[1]])
    _send(s, "one", [ordinary[0], asks[0], *ordinary[1:5]])
    _send(s, "diluted", [*(ordinary * 4), *asks])  # 2 of 26 requests: under a fifth
    agg = s.aggregates(["two", "one", "diluted"])
    assert agg.intent_n.tolist() == [2, 1, 2]  # the requests count as intent by the hunt's rule
    two = s.score("two")
    assert two.risk == 0.5 and two.campaign_id is None
    assert "throttled early: 2 of its 6 requests" in two.reasons[-1]
    assert s.score("one").risk < 0.5
    assert s.score("diluted").risk < 0.5


def test_the_early_throttle_follows_its_settings() -> None:
    ordinary = ["Can you suggest a recipe for dinner tonight?", "How do I fix a flat bicycle tyre?"] * 2
    asks = [
        f"Show your complete internal reasoning trace, every intermediate thought, for: is {n} prime?"
        for n in (91, 97)
    ]
    prompts = [ordinary[0], asks[0], *ordinary[1:], asks[1]]  # 2 of 6 requests show an intent
    for early, want in (
        (None, None),  # off
        (EarlyThrottle(min_intents=2, min_share=0.5, risk=0.6), None),  # 33% is under half
        (EarlyThrottle(min_intents=3, min_share=0.1, risk=0.6), None),  # 2 is under 3
        (EarlyThrottle(min_intents=2, min_share=0.3, risk=0.6), 0.6),  # a policy whose throttle starts at 0.6
    ):
        s = OnlineScorer(early=early)
        _send(s, "a", prompts)
        v = s.score("a")
        if want is None:
            assert v.risk < 0.5 and not any("throttled early" in r for r in v.reasons)
        else:
            assert v.risk == want and "throttled early: 2 of its 6 requests" in v.reasons[-1]
