"""Build one exchange-log record (a line of events.jsonl) with plausible tokens, latency and status."""

from __future__ import annotations

import math
import random
from dataclasses import dataclass
from typing import Any

import orjson

from hydrawatch.simulate.corpus import response_text
from hydrawatch.simulate.models import REASONING
from hydrawatch.simulate.seeding import Z as _Z

_exp = math.exp
_EFFORT = {"low": 300, "medium": 1200, "high": 4000}

# (ts, account_id, sequence, line): heap key of the k-way merge; ties are broken deterministically.
Item = tuple[float, str, int, bytes]

_DUMPS = orjson.dumps
_NL = orjson.OPT_APPEND_NEWLINE


@dataclass(slots=True)
class Client:
    """What stays fixed for an account between requests (until it changes on purpose)."""

    user_agent: str
    fingerprint: str
    api_key_id: str


def thinking_params(params: dict[str, Any], user_agent: str, effort: str) -> None:
    """Ask for reasoning the way the client's API does (Anthropic: ``thinking``; others: effort)."""
    if user_agent.startswith("Anthropic") or user_agent.startswith("claude"):
        budget = {"low": 2048, "medium": 8000, "high": 24000}[effort]
        max_tokens = params.get("max_tokens")
        if max_tokens is not None:  # the budget must stay below max_tokens
            budget = max(1024, min(budget, int(max_tokens) - 1024))
            if int(max_tokens) <= budget:
                params["max_tokens"] = budget + 2048
        params["thinking"] = {"type": "enabled", "budget_tokens": budget}
    else:
        params["reasoning_effort"] = effort


class Emitter:
    """Serialises exchanges of one account; counts tokens and fills in outcome fields."""

    __slots__ = ("account_id", "error_rate", "reply_rng", "responses", "rng", "seq")

    def __init__(self, account_id: str, rng: random.Random, responses: bool, error_rate: float = 0.004):
        self.account_id = account_id
        self.rng = rng
        # replies draw from their own stream, so --responses does not change anything else
        reply_seed = rng.random()
        self.reply_rng = random.Random(reply_seed) if responses else rng
        self.responses = responses
        self.error_rate = error_rate
        self.seq = 0

    def emit(
        self,
        ts: float,
        *,
        model: str,
        messages: list[dict[str, str]],
        client: Client,
        ip: str,
        params: dict[str, Any],
        system: str | None = None,
        out_median: float = 350.0,
        out_sigma: float = 0.6,
        elicited: bool = False,
        extra_input_tokens: int = 0,
        status: int | None = None,
        response_style: str = "plain",
    ) -> Item:
        r = self.rng.random
        in_tok = extra_input_tokens + ((len(system.encode()) >> 2) + 1 if system else 0)
        for m in messages:
            in_tok += (len(m["content"].encode()) >> 2) + 5
        if status is None:
            x = r()
            status = 200 if x >= self.error_rate else (429 if x < self.error_rate * 0.7 else 500)
        if status == 200:
            cap = params.get("max_tokens") or 16000
            out_tok = int(out_median * _exp(out_sigma * _Z[int(r() * 4096)])) + 1
            if out_tok > cap:
                out_tok = cap
            r_tok = 0
            if model in REASONING:
                effort = params.get("reasoning_effort")
                if effort is None:
                    thinking = params.get("thinking")
                    effort = (
                        "medium"
                        if thinking is None
                        else ("high" if thinking["budget_tokens"] >= 12000 else "medium")
                    )
                base = _EFFORT[effort] * (1.8 if elicited else 1.0)
                r_tok = int(base * _exp(0.7 * _Z[int(r() * 4096)]))
            lat = (
                250.0 * _exp(0.4 * _Z[int(r() * 4096)])
                + r_tok * 6.0
                + out_tok * 12.0 * _exp(0.25 * _Z[int(r() * 4096)])
            )
        else:
            out_tok = r_tok = 0
            lat = 20.0 + r() * 80.0
        lat = int(lat * 10.0 + 0.5) / 10.0
        ts = int(ts * 1000.0 + 0.5) / 1000.0
        rec: dict[str, Any] = {
            "ts": ts,
            "account_id": self.account_id,
            "model": model,
            "messages": messages,
            "system": system,
            "ip": ip,
            "user_agent": client.user_agent,
            "api_key_id": client.api_key_id,
            "client_fingerprint": client.fingerprint,
            "params": params,
            "input_tokens": in_tok,
            "output_tokens": out_tok,
            "reasoning_tokens": r_tok,
            "status": status,
            "latency_ms": lat,
        }
        if system is None:
            del rec["system"]
        if self.responses and status == 200:
            rec["response"] = _response(self.reply_rng, out_tok, response_style)
        self.seq += 1
        return (ts, self.account_id, self.seq, _DUMPS(rec, option=_NL))


def _response(rng: random.Random, out_tok: int, style: str) -> str:
    chars = min(out_tok * 4, 1500)
    text = response_text(rng, chars)
    if style == "steps":
        parts = text.split("\n\n")
        return "\n\n".join(f"Step {i}: {p}" for i, p in enumerate(parts, 1))
    if style == "grade":
        return f"Score: {rng.randint(3, 10)}/10\n\nJustification: {text[:1200]}"
    return text
