"""The requests every target receives: OpenAI chat bodies with varied, deterministic prompts."""

from __future__ import annotations

import json
import random

MODEL = "bench-model"
_WORDS = (
    "summarise",
    "explain",
    "compare",
    "the",
    "quarterly",
    "report",
    "river",
    "network",
    "latency",
    "budget",
    "customer",
    "invoice",
    "weather",
    "forecast",
    "recipe",
    "garden",
    "history",
    "of",
    "trains",
    "database",
    "index",
    "poem",
    "about",
    "autumn",
    "translate",
    "into",
    "French",
    "list",
    "three",
    "reasons",
    "why",
    "a",
    "small",
    "team",
    "should",
    "write",
    "tests",
)


def prompts(n: int, seed: int = 7) -> list[str]:
    """``n`` distinct short prompts (12-30 words), the same for every run with the same seed."""
    rng = random.Random(seed)
    return [f"{i}: " + " ".join(rng.choices(_WORDS, k=rng.randint(12, 30))) for i in range(n)]


def chat_bodies(n: int, *, stream: bool, max_tokens: int = 256, seed: int = 7) -> list[bytes]:
    """``n`` request bodies; streaming ones ask for the usage chunk (``include_usage``)."""
    out = []
    for p in prompts(n, seed):
        obj: dict[str, object] = {
            "model": MODEL,
            "max_tokens": max_tokens,
            "messages": [{"role": "user", "content": p}],
        }
        if stream:
            obj["stream"] = True
            obj["stream_options"] = {"include_usage": True}
        out.append(json.dumps(obj, separators=(",", ":")).encode())
    return out
