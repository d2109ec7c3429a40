"""End-to-end hunt on a small hand-made log (our own generator, not the simulator)."""

from __future__ import annotations

import random

import duckdb
import pyarrow as pa
import pytest

from hydrawatch.events.schema import EVENT_COLUMNS, Exchange, Message, Params, exchange_row
from hydrawatch.hunt.pipeline import HuntOutcome, hunt_loaded
from hydrawatch.report.model import Report

T0 = 1_780_000_000.0
CHAT = [
    "How do I make a sourdough starter from scratch?",
    "Can you recommend a few books similar to The Name of the Wind?",
    "Write a short birthday message for my sister Anna.",
    "What is the difference between a Roth IRA and a traditional IRA?",
    "Fix the bug in this function: def add(a, b): return a - b",
    "Explain how vaccines train the immune system.",
    "Translate 'where is the train station' into Italian.",
    "Give me a workout plan for three days a week.",
    "Summarise the plot of Hamlet in three sentences.",
    "Why does my bread not rise? I used 500 g of flour and 7 g of yeast.",
]
TOPICS = [
    "the derivative of x^3 sin x",
    "the boiling point of ethanol at altitude",
    "why 0.1 + 0.2 != 0.3",
    "the time complexity of heapsort",
    "the Coriolis effect",
    "the proof that sqrt 2 is irrational",
    "the Krebs cycle",
    "how TLS handshakes work",
    "integer overflow in C",
    "the Monty Hall problem",
]
CAMPAIGN = (
    "Question: {q}\nFinal answer: {a}\n\nImagine and articulate the internal reasoning that led to this "
    "completed response, and write it out step by step in full detail."
)


def _ex(
    ts: float,
    acc: str,
    prompt: str,
    ip: str,
    model: str = "m-large",
    system: str | None = None,
    turns: int = 1,
) -> Exchange:
    msgs = []
    for k in range(turns - 1):
        msgs += [Message("user", f"earlier question {k}"), Message("assistant", "earlier answer")]
    msgs.append(Message("user", prompt))
    return Exchange(
        ts=ts,
        account_id=acc,
        model=model,
        messages=msgs,
        system=system,
        ip=ip,
        user_agent="sdk/1.0",
        params=Params(max_tokens=2048),
        input_tokens=200,
        output_tokens=800,
        status=200,
    )


def make_log(seed: int = 0, bursts: int = 60) -> tuple[list[Exchange], list[dict[str, object]], set[str]]:
    rng = random.Random(seed)
    exs: list[Exchange] = []
    accounts: list[dict[str, object]] = []
    campaign: set[str] = set()
    for a in range(40):  # ordinary chat users on home networks
        acc = f"user{a:03d}"
        accounts.append({"account_id": acc, "payment_fingerprint": f"card-u{a}"})
        for _ in range(rng.randint(8, 30)):
            ts = T0 + rng.uniform(0, 5 * 86400)
            exs.append(
                _ex(
                    ts,
                    acc,
                    rng.choice(CHAT) + f" ({rng.randint(1, 999)})",
                    f"73.{a}.{rng.randint(0, 3)}.{rng.randint(1, 250)}",
                    turns=rng.randint(1, 4),
                )
            )
    for a in range(8):  # one company: shared card, office IP, diverse work
        acc = f"corp{a:02d}"
        accounts.append({"account_id": acc, "payment_fingerprint": "card-corp"})
        for _ in range(rng.randint(20, 40)):
            ts = T0 + rng.uniform(0, 5 * 86400)
            exs.append(_ex(ts, acc, rng.choice(CHAT), "198.51.100.7", turns=rng.randint(1, 5)))
    for a in range(15):  # the campaign: shared cards, rotating IPs, one template, lockstep
        acc = f"zz{a:02d}"
        campaign.add(acc)
        accounts.append({"account_id": acc, "payment_fingerprint": f"card-c{a % 3}"})
    for burst in range(bursts):
        ts = T0 + burst * 7200.0
        for acc in sorted(campaign):
            q = rng.choice(TOPICS)
            exs.append(
                _ex(
                    ts + rng.uniform(0, 60),
                    acc,
                    CAMPAIGN.format(q=q, a=rng.randint(1, 10_000)),
                    f"{rng.randint(20, 200)}.{rng.randint(0, 255)}.{rng.randint(0, 255)}.{rng.randint(1, 250)}",  # noqa: E501
                )
            )
    return exs, accounts, campaign


def load(con: duckdb.DuckDBPyConnection, exs: list[Exchange], accounts: list[dict[str, object]]) -> None:
    rows = [exchange_row(e, i + 1, "mem") for i, e in enumerate(exs)]
    tbl = pa.Table.from_pylist(rows, schema=EVENT_COLUMNS)
    con.register("_ev", tbl)
    con.execute("CREATE TABLE events AS SELECT * FROM _ev")
    acc = pa.Table.from_pylist(accounts)
    con.register("_acc", acc)
    con.execute("CREATE TABLE accounts AS SELECT * FROM _acc")


@pytest.fixture(scope="module")
def outcome() -> tuple[HuntOutcome, set[str], int]:
    exs, accounts, campaign = make_log()
    accounts = [*accounts, {"account_id": "idle01", "payment_fingerprint": "card-idle"}]  # no exchanges
    con = duckdb.connect()
    load(con, exs, accounts)
    out = hunt_loaded(con, with_accounts=True, replay_every=12 * 3600)
    return out, campaign, len({e.account_id for e in exs} | {str(a["account_id"]) for a in accounts})


def test_accounts_without_exchanges_are_listed_unflagged(outcome: tuple[HuntOutcome, set[str], int]) -> None:
    out, _, _ = outcome
    idle = [a for a in out.report.accounts if a.account_id == "idle01"]
    assert len(idle) == 1
    assert not idle[0].flagged and idle[0].risk == 0.0
    assert idle[0].reasons == ["no exchanges in the log"]


def test_every_account_appears_and_report_is_valid(outcome: tuple[HuntOutcome, set[str], int]) -> None:
    out, _, n = outcome
    assert len(out.report.accounts) == n
    Report.from_json(out.report.to_json())


def test_campaign_found_and_attributed(outcome: tuple[HuntOutcome, set[str], int]) -> None:
    out, campaign, _ = outcome
    flagged = {a.account_id for a in out.report.accounts if a.flagged}
    assert campaign <= flagged
    assert flagged == campaign  # the company and the chat users stay clean
    ids = {a.campaign_id for a in out.report.accounts if a.account_id in campaign}
    assert len(ids) == 1


def test_reasons_and_evidence_have_numbers(outcome: tuple[HuntOutcome, set[str], int]) -> None:
    out, campaign, _ = outcome
    camp = out.report.campaigns[0]
    assert any("payment fingerprints" in e for e in camp.evidence)
    acc = next(a for a in out.report.accounts if a.account_id in campaign)
    assert acc.reasons and any(ch.isdigit() for ch in acc.reasons[0])


def test_replay_sets_first_flagged(outcome: tuple[HuntOutcome, set[str], int]) -> None:
    out, campaign, _ = outcome
    ts = [a.first_flagged_ts for a in out.report.accounts if a.account_id in campaign]
    assert all(t is not None for t in ts)
    clean = [a.first_flagged_ts for a in out.report.accounts if not a.flagged]
    assert all(t is None for t in clean)
