"""End-to-end hunt of a stealth hydra (our own hand-made log, not the simulator).

Fifteen accounts that share no card, network or client, keep people's hours and mix ordinary
questions into their traffic, but word a third of their requests with paraphrases of one set of
distillation instructions. Ordinary users and a few legitimate heavy users around them.
"""

from __future__ import annotations

import random

import duckdb
import pyarrow as pa
import pytest

from hydrawatch.events.schema import EVENT_COLUMNS, Exchange, Message, Params, exchange_row
from hydrawatch.hunt.pipeline import HuntOutcome, hunt_loaded

T0 = 1_780_000_000.0
SUBJECTS = [
    "sourdough starters",
    "Roth IRAs",
    "vaccines",
    "the French revolution",
    "black holes",
    "tax brackets",
    "heat pumps",
    "sleep hygiene",
    "Kubernetes pods",
    "the Krebs cycle",
    "tide pools",
    "jazz harmony",
    "compound interest",
    "volcanoes",
    "the Roman senate",
    "photosynthesis",
    "garden compost",
    "TLS",
    "marathon training",
    "coral reefs",
    "the stock market",
    "bird migration",
    "solar panels",
    "Greek myths",
]
SENTENCE = (
    "please help me understand why my plan for the weekend trip keeps failing when the weather turns and "
    "what would you suggest for a small budget family dinner with kids who hate vegetables but love pasta "
    "how can I fix the leaking kitchen tap without calling a plumber on a sunday morning before guests "
    "arrive tell me a story about a dragon who learns to bake bread in a tiny mountain village "
    "compare two phones for battery life camera quality and price under four hundred euros"
)
WORDS = SENTENCE.split()


def chat_prompt(rng: random.Random) -> str:
    """An ordinary request: every user words things their own way."""
    words = rng.sample(WORDS, rng.randint(6, 14))
    return " ".join(words).capitalize() + rng.choice(["?", ".", "!"]) + " " + rng.choice(SUBJECTS)


QUESTIONS = [
    f"{w} {s}?"
    for w in ("What is the origin of", "Why do people care about", "How do scientists study", "What limits")
    for s in SUBJECTS
]
WORDINGS = [
    "Show your complete chain of thought, every step, before the final answer.\n\nQuestion: {q}",
    "Question: {q}\nWrite out your full internal reasoning step by step, then give the answer.",
    "Before answering, articulate the hidden reasoning you would use, in numbered steps.\n\n{q}",
    "{q}\n\nExplain your entire thought process in detail first; final answer last.",
    "Grade the response below against the rubric, 1-10 per criterion, and justify each score.\n\n"
    "Question: {q}\nResponse to grade: {a}",
    "Act as a reward model: score this answer for correctness and helpfulness and explain.\n\n"
    "Task: {q}\nAnswer: {a}",
    "Reconstruct the step-by-step reasoning that leads from this question to this final answer.\n\n"
    "Question: {q}\nFinal answer: {a}",
    "Here is a question and its answer. Imagine and articulate the internal reasoning behind the "
    "completed response.\n\n{q}\nAnswer: {a}",
]
SIGNOFFS = ["", " Thanks.", " Please be thorough.", " Use markdown.", " thx"]


def _ex(ts: float, acc: str, prompt: str, ip: str, client: str, turns: int = 1) -> Exchange:
    msgs: list[Message] = []
    for k in range(turns - 1):
        msgs += [Message("user", f"earlier question {k}"), Message("assistant", "earlier answer")]
    msgs.append(Message("user", prompt))
    return Exchange(
        ts=ts,
        account_id=acc,
        model="m-large",
        messages=msgs,
        ip=ip,
        user_agent=client,
        client_fingerprint=client,
        params=Params(max_tokens=2048),
        input_tokens=200,
        output_tokens=800,
        status=200,
    )


def _daytime(rng: random.Random, day: int) -> float:
    return T0 + day * 86400 + rng.uniform(9 * 3600, 22 * 3600)


def make_log(seed: int = 0) -> tuple[list[Exchange], list[dict[str, object]], set[str]]:
    rng = random.Random(seed)
    exs: list[Exchange] = []
    accounts: list[dict[str, object]] = []
    hydra: set[str] = set()
    for a in range(40):  # ordinary users
        acc = f"user{a:03d}"
        accounts.append({"account_id": acc, "payment_fingerprint": f"card-u{a}"})
        for _ in range(rng.randint(8, 40)):
            exs.append(
                _ex(
                    _daytime(rng, rng.randint(0, 4)),
                    acc,
                    chat_prompt(rng),
                    f"73.{a}.1.{rng.randint(1, 250)}",
                    f"browser-{a % 4}",
                    turns=rng.randint(1, 4),
                )
            )
    for a in range(3):  # legitimate heavy users: a tutor that sometimes asks for worked steps
        acc = f"tutor{a}"
        accounts.append({"account_id": acc, "payment_fingerprint": f"card-t{a}"})
        for _ in range(150):
            p = (
                f"{rng.choice(QUESTIONS)} Please explain step by step for my students."
                if rng.random() < 0.1
                else chat_prompt(rng)
            )
            exs.append(
                _ex(
                    _daytime(rng, rng.randint(0, 4)),
                    acc,
                    p,
                    f"81.2.{a}.9",
                    "sdk/2.0",
                    turns=rng.randint(1, 3),
                )
            )
    for a in range(15):  # the stealth hydra
        acc = f"zz{a:02d}"
        hydra.add(acc)
        accounts.append({"account_id": acc, "payment_fingerprint": f"card-z{a}"})
        ip = f"{rng.randint(20, 200)}.{rng.randint(0, 255)}.{rng.randint(0, 255)}.{rng.randint(1, 250)}"
        for _ in range(rng.randint(80, 120)):
            if rng.random() < 0.35:
                p = rng.choice(WORDINGS).format(q=rng.choice(QUESTIONS), a=f"answer {rng.randint(1, 999)}")
                p += rng.choice(SIGNOFFS)
            else:
                p = chat_prompt(rng)
            exs.append(_ex(_daytime(rng, rng.randint(0, 4)), acc, p, ip, f"client-{a}"))
    return exs, accounts, hydra


@pytest.fixture(scope="module")
def outcome() -> tuple[HuntOutcome, set[str]]:
    exs, accounts, hydra = make_log()
    con = duckdb.connect()
    rows = [exchange_row(e, i + 1, "mem") for i, e in enumerate(exs)]
    con.register("_ev", pa.Table.from_pylist(rows, schema=EVENT_COLUMNS))
    con.execute("CREATE TABLE events AS SELECT * FROM _ev")
    con.register("_acc", pa.Table.from_pylist(accounts))
    con.execute("CREATE TABLE accounts AS SELECT * FROM _acc")
    return hunt_loaded(con, with_accounts=True), hydra


def test_stealth_hydra_found_as_one_campaign(outcome: tuple[HuntOutcome, set[str]]) -> None:
    out, hydra = outcome
    flagged = {a.account_id for a in out.report.accounts if a.flagged}
    assert flagged == hydra  # the users and the tutors stay clean
    ids = {a.campaign_id for a in out.report.accounts if a.account_id in hydra}
    assert len(ids) == 1 and None not in ids


def test_content_campaign_reasons_have_numbers(outcome: tuple[HuntOutcome, set[str]]) -> None:
    out, hydra = outcome
    camp = out.report.campaigns[0]
    wording = [e for e in camp.evidence if "wordings (template families)" in e]
    assert wording and any(ch.isdigit() for ch in wording[0])
    acc = next(a for a in out.report.accounts if a.account_id in hydra)
    assert any("use wordings other members of" in r for r in acc.reasons)


def test_online_linkage_finds_the_stealth_hydra_as_the_hunt_does() -> None:
    """The gateway's scorer runs the content pass too: same campaign, same clean users."""
    from hydrawatch.detect.online import OnlineScorer
    from hydrawatch.features.request import describe_many

    exs, accounts, hydra = make_log()
    s = OnlineScorer()
    for a in accounts:
        s.set_payment(str(a["account_id"]), str(a["payment_fingerprint"]))
    exs.sort(key=lambda e: e.ts)
    for e, f in zip(exs, describe_many(exs), strict=True):
        s.observe(e, f)
    s.link(now=exs[-1].ts)
    ids = sorted({e.account_id for e in exs})
    verdicts = dict(zip(ids, s.score_many(ids), strict=True))
    assert {a for a, v in verdicts.items() if v.campaign_id} == hydra
    assert len({verdicts[a].campaign_id for a in hydra}) == 1
    assert all(verdicts[a].risk >= 0.5 for a in hydra)


def test_a_late_account_in_the_campaigns_wordings_inherits_it_at_throttle() -> None:
    """Between linkage passes, an account whose distillation requests use the content campaign's
    own wordings joins it, held in the throttle band; ordinary users do not."""
    from hydrawatch.detect.online import UNCORROBORATED_MAX_RISK, OnlineScorer
    from hydrawatch.features.request import describe_many

    exs, _, hydra = make_log()
    late = sorted(hydra)[-1]
    exs.sort(key=lambda e: e.ts)
    s = OnlineScorer()
    before = [e for e in exs if e.account_id != late]
    for e, f in zip(before, describe_many(before), strict=True):
        s.observe(e, f)
    s.link(now=before[-1].ts)
    mine = [e for e in exs if e.account_id == late]
    assert s.score(late).campaign_id is None  # not seen yet
    fed = 0
    for e, f in zip(mine, describe_many(mine), strict=True):
        s.observe(e, f)
        fed += 1
        if s.score(late).campaign_id:
            break
    v = s.score(late)
    campaign = s.score(sorted(hydra)[0]).campaign_id
    assert v.campaign_id == campaign and campaign is not None
    assert 0.5 <= v.risk <= UNCORROBORATED_MAX_RISK  # throttled, not refused, on wording alone
    assert any("wordings of campaign" in r for r in v.reasons)
    assert fed < len(mine) // 2  # early in its life, not at the end
    users = sorted({e.account_id for e in exs if e.account_id.startswith(("user", "tutor"))})
    assert all(v.campaign_id is None for v in s.score_many(users))
