"""Clients, requests and the accounting check for gateway replicas sharing quotas in Redis.

``make_plans`` draws a mix of OpenAI and Anthropic requests (streamed or not, some with
``n > 1``, some streams cancelled after ``k`` content events); ``run_clients`` sends them
through the official SDKs (``AsyncOpenAI``, ``AsyncAnthropic``) spread over the replicas;
``expected_totals`` says what the quota counters must hold, from the upstream's ground
truth; ``counter_totals`` reads what they do hold; ``overshoots`` compares them with the limits.

Expected usage of a request the gateway admitted:
  completed            the upstream's real input and output tokens, 1 request
  cancelled stream     output = tokens the upstream sent (all of which the client received);
                       input = the upstream's count when the stream reported it before the
                       cancel (Anthropic ``message_start``), else the gateway's own estimate
                       (OpenAI reports prompt tokens only in its final chunk)
  refused (429)        nothing
Campaign counters get the requests the gateway attributed to the campaign (it says so with
``x-ratelimit-remaining-campaign-*`` headers); a replica that could not read the account's
verdict in time (the verdict cache answers its local copy after 0.1-0.2 s) charges the
account alone, and the tally counts those as "campaign verdict missed".
"""

from __future__ import annotations

import asyncio
import random
from collections import Counter, defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import anthropic
import openai

from hydrawatch.gateway.requests import estimate_input_tokens
from hydrawatch.ingest import exchange_from_openai_request

TOKENS_PER_EVENT = 8  # as usage_upstream.TOKENS_PER_EVENT
WORDS = [
    "the",
    "model",
    "answers",
    "questions",
    "about",
    "data",
    "analysis",
    "with",
    "care",
    "and",
    "explains",
    "each",
    "step",
    "of",
    "reasoning",
    "plainly",
    "while",
    "citing",
    "numbers",
    "such",
    "as",
    "42,",
    "3.14",
    "and",
    "2026-11-22",
]
Key = tuple[str, str, str]  # (scope, owner, metric)


@dataclass(frozen=True)
class Plan:
    tag: str
    client: int
    account: str
    campaign: str | None
    api: str  # openai | anthropic
    stream: bool
    max_tokens: int
    n: int
    cancel_after: int | None  # content events to read before closing the stream
    prompt: str
    system: str | None

    def openai_body(self) -> dict[str, Any]:
        msgs: list[dict[str, Any]] = []
        if self.system:
            msgs.append({"role": "system", "content": self.system})
        msgs.append({"role": "user", "content": self.prompt})
        body: dict[str, Any] = {"model": "bench-model", "messages": msgs, "max_tokens": self.max_tokens}
        if self.n > 1:
            body["n"] = self.n
        return body


@dataclass
class Outcome:
    tag: str
    status: int
    cancelled: bool = False
    received_tokens: int = 0
    error: str = ""
    campaign_charged: bool = False  # the gateway charged the campaign (its x-ratelimit headers)


def _prompt(rng: random.Random, tag: str, cancel: int | None) -> str:
    words = " ".join(rng.choice(WORDS) for _ in range(rng.randint(20, 400)))
    marker = f" cancel={cancel}" if cancel is not None else ""
    return f"tag={tag}{marker} {words}"


def make_plans(
    seed: int,
    *,
    clients: int,
    per_client: int,
    accounts: int,
    campaign_every: int = 2,
    cancel_share: float = 0.25,
) -> list[Plan]:
    """``clients x per_client`` requests; client ``c`` uses account ``c % accounts``; every
    ``campaign_every``-th account belongs to campaign ``camp-bench``."""
    rng = random.Random(seed)
    plans: list[Plan] = []
    for c in range(clients):
        acct_i = c % accounts
        account = f"acct-{acct_i:03d}"
        campaign = "camp-bench" if acct_i % campaign_every == 0 else None
        for i in range(per_client):
            tag = f"s{seed}c{c}r{i}"
            api = rng.choice(("openai", "anthropic"))
            stream = rng.random() < 0.6
            max_tokens = rng.choice((64, 128, 256, 512))
            n = rng.choice((1, 1, 1, 2, 3)) if api == "openai" and not stream else 1
            cancel: int | None = None
            if stream and rng.random() < cancel_share:
                most = max(1, int((max_tokens * 0.25 - 1) // TOKENS_PER_EVENT))
                cancel = rng.randint(1, most)
            system = "You are an expert data analyst." if rng.random() < 0.5 else None
            plans.append(
                Plan(
                    tag,
                    c,
                    account,
                    campaign,
                    api,
                    stream,
                    max_tokens,
                    n,
                    cancel,
                    _prompt(rng, tag, cancel),
                    system,
                )
            )
    return plans


class Sdks:
    """One OpenAI and one Anthropic SDK client per replica; per-account copies share their
    connection pools (``with_options``)."""

    def __init__(self, urls: Sequence[str], keys: dict[str, str]) -> None:
        self.keys = keys
        self._oa = [
            openai.AsyncOpenAI(base_url=u + "/v1", api_key="-", max_retries=0, timeout=120.0) for u in urls
        ]
        self._an = [
            anthropic.AsyncAnthropic(base_url=u, api_key="-", max_retries=0, timeout=120.0) for u in urls
        ]
        self._cache: dict[tuple[str, int, str], Any] = {}

    def openai(self, replica: int, account: str) -> openai.AsyncOpenAI:
        k = ("o", replica, account)
        if k not in self._cache:
            self._cache[k] = self._oa[replica].with_options(api_key=self.keys[account])
        client: openai.AsyncOpenAI = self._cache[k]
        return client

    def anthropic(self, replica: int, account: str) -> anthropic.AsyncAnthropic:
        k = ("a", replica, account)
        if k not in self._cache:
            self._cache[k] = self._an[replica].with_options(api_key=self.keys[account])
        client: anthropic.AsyncAnthropic = self._cache[k]
        return client

    async def aclose(self) -> None:
        for c in [*self._oa, *self._an]:
            await c.close()


async def run_one(sdks: Sdks, replica: int, p: Plan) -> Outcome:
    out = Outcome(p.tag, 0)
    try:
        if p.api == "openai":
            await _openai(sdks.openai(replica, p.account), p, out)
        else:
            await _anthropic(sdks.anthropic(replica, p.account), p, out)
    except (openai.APIStatusError, anthropic.APIStatusError) as e:
        out.status = e.status_code
        out.error = f"{type(e).__name__}: {str(e)[:200]}"
    except Exception as e:  # connection errors of either SDK's HTTP stack
        out.status = -1
        out.error = f"{type(e).__name__}: {e} ({e.__cause__!r})"
    return out


def _charged(out: Outcome, headers: Any) -> None:
    out.status = 200
    out.campaign_charged = any(k.lower().startswith("x-ratelimit-remaining-campaign-") for k in headers)


async def _openai(client: openai.AsyncOpenAI, p: Plan, out: Outcome) -> None:
    body = p.openai_body()
    if not p.stream:
        raw = await client.chat.completions.with_raw_response.create(**body)
        _charged(out, raw.headers)
        r = raw.parse()
        out.received_tokens = sum(len(c.message.content or "") // 4 for c in r.choices)
        return
    sraw = await client.chat.completions.with_raw_response.create(**body, stream=True)
    _charged(out, sraw.headers)
    stream = sraw.parse()
    events = 0
    async for chunk in stream:
        for ch in chunk.choices:
            if ch.delta.content:
                events += 1
                out.received_tokens += len(ch.delta.content) // 4
        if p.cancel_after is not None and events >= p.cancel_after:
            out.cancelled = True
            break
    await stream.close()


async def _anthropic(client: anthropic.AsyncAnthropic, p: Plan, out: Outcome) -> None:
    kw: dict[str, Any] = {
        "model": "bench-model",
        "max_tokens": p.max_tokens,
        "messages": [{"role": "user", "content": p.prompt}],
    }
    if p.system:
        kw["system"] = p.system
    if not p.stream:
        araw = await client.messages.with_raw_response.create(**kw)
        _charged(out, araw.headers)
        r = await araw.parse()
        out.received_tokens = sum(len(getattr(b, "text", "")) // 4 for b in r.content)
        return
    asraw = await client.messages.with_raw_response.create(**kw, stream=True)
    _charged(out, asraw.headers)
    stream = await asraw.parse()
    events = 0
    async for ev in stream:
        if ev.type == "content_block_delta":
            events += 1
            out.received_tokens += len(getattr(ev.delta, "text", "")) // 4
        if p.cancel_after is not None and events >= p.cancel_after:
            out.cancelled = True
            break
    await stream.close()


async def run_clients(sdks: Sdks, plans: Sequence[Plan], replicas: int) -> list[Outcome]:
    """Every client runs its plans one after another, all clients concurrently; client ``c``
    sends its ``i``-th request to replica ``(c + i) % replicas``."""
    by_client: dict[int, list[Plan]] = defaultdict(list)
    for p in plans:
        by_client[p.client].append(p)

    async def client(c: int, mine: list[Plan]) -> list[Outcome]:
        return [await run_one(sdks, (c + i) % replicas, p) for i, p in enumerate(mine)]

    results = await asyncio.gather(*(client(c, mine) for c, mine in by_client.items()))
    return [o for rs in results for o in rs]


def gateway_input_estimate(p: Plan) -> int:
    """The input estimate the gateway charges for ``p`` (what a cancelled OpenAI stream is billed)."""
    ex = exchange_from_openai_request(p.openai_body(), account_id=p.account, ts=0.0)
    return estimate_input_tokens(ex)


def expected_totals(
    plans: Sequence[Plan], outcomes: Sequence[Outcome], truth: dict[str, dict[str, Any]]
) -> tuple[Counter[Key], Counter[str], Counter[Key]]:
    """What the counters must hold per (scope, owner, metric), a tally of outcomes, and per
    requests counter how many requests got no answer at all (a connection error: the
    gateway may or may not have counted them, with 0 tokens either way)."""
    by_tag = {p.tag: p for p in plans}
    exp: Counter[Key] = Counter()
    tally: Counter[str] = Counter()
    unanswered: Counter[Key] = Counter()
    for o in outcomes:
        p = by_tag[o.tag]
        if o.status == -1:  # no answer: the gateway may have admitted it (a request, no tokens)
            tally["connection error"] += 1
            exp_maybe = [("account", p.account)] + ([("campaign", p.campaign)] if p.campaign else [])
            for scope, owner in exp_maybe:
                unanswered[(scope, owner, "requests")] += 1
            continue
        if o.status != 200:
            tally[f"status {o.status}"] += 1
            if o.status in (502, 504):  # admitted, then the upstream failed: 1 request, 0 tokens
                for scope, owner in [("account", p.account)] + (
                    [("campaign", p.campaign)] if p.campaign else []
                ):
                    exp[(scope, owner, "requests")] += 1
            continue
        t = truth[o.tag]
        if t["complete"]:
            inp, outp = int(t["input_tokens"]), int(t["output_sent"])
            tally["completed (stream)" if p.stream else "completed"] += 1
        else:
            outp = int(t["output_sent"])
            inp = int(t["input_tokens"]) if p.api == "anthropic" else gateway_input_estimate(p)
            tally["cancelled stream"] += 1
        owners = [("account", p.account)]
        if p.campaign and o.campaign_charged:
            owners.append(("campaign", p.campaign))
        elif p.campaign:  # the replica did not see the account's verdict in time
            tally["campaign verdict missed"] += 1
        for scope, owner in owners:
            exp[(scope, owner, "input-tokens")] += inp
            exp[(scope, owner, "output-tokens")] += outp
            exp[(scope, owner, "tokens")] += inp + outp
            exp[(scope, owner, "requests")] += 1
    return exp, tally, unanswered


def counter_values(raw: dict[str, int], quota_prefix: str) -> dict[tuple[str, str, str, str], int]:
    """Quota counters ``{prefix}{scope}:{owner}:{metric}:{window}:{index}`` -> value, keyed
    (scope, owner, metric, window); pending reservation records are skipped."""
    out: dict[tuple[str, str, str, str], int] = defaultdict(int)
    for name, value in raw.items():
        rest = name[len(quota_prefix) :]
        if rest.startswith("res:"):
            continue
        scope, _, tail = rest.partition(":")
        owner, metric, window, _index = tail.rsplit(":", 3)
        out[(scope, owner, metric, window)] += value
    return dict(out)


def read_counters(redis_client: Any, quota_prefix: str) -> tuple[dict[tuple[str, str, str, str], int], int]:
    """(counter values, pending reservations left) from a sync redis client."""
    names = [n.decode() for n in redis_client.scan_iter(match=quota_prefix + "*", count=1000)]
    pending = sum(1 for n in names if n[len(quota_prefix) :].startswith("res:"))
    counters = [n for n in names if not n[len(quota_prefix) :].startswith("res:")]
    values = redis_client.mget(counters) if counters else []
    raw = {n: int(v) for n, v in zip(counters, values, strict=True) if v is not None}
    return counter_values(raw, quota_prefix), pending


def compare(
    counters: dict[tuple[str, str, str, str], int],
    expected: Counter[Key],
    unanswered: Counter[Key] | None = None,
    window: str = "day",
) -> list[tuple[Key, int, int]]:
    """(key, counter, expected) for every counter of ``window`` that differs from the expected
    usage (a requests counter may also hold up to ``unanswered`` more)."""
    bad = []
    extra = unanswered or Counter()
    for (scope, owner, metric, w), value in sorted(counters.items()):
        if w != window:
            continue
        key = (scope, owner, metric)
        want = expected.get(key, 0)
        if not want <= value <= want + extra.get(key, 0):
            bad.append((key, value, want))
    return bad


def overshoots(
    counters: dict[tuple[str, str, str, str], int], limits: dict[tuple[str, str], int]
) -> list[tuple[tuple[str, str, str], int, int, float]]:
    """(scope, owner, metric), counter, limit, (counter - limit) / limit, worst first, for
    token limits; ``limits`` maps (scope, metric-window) to the limit value."""
    rows = []
    for (scope, owner, metric, window), value in counters.items():
        if metric == "requests":
            continue
        cap = limits.get((scope, f"{metric}-{window}"))
        if cap:
            rows.append(((scope, owner, metric), value, cap, (value - cap) / cap))
    rows.sort(key=lambda r: -r[3])
    return rows
