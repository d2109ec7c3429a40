"""The normalised exchange: what every reader produces and every stage consumes.

Readers (``hydrawatch.ingest``) turn any supported log format into ``Exchange``
objects; the batch path stores them as rows of ``EVENT_COLUMNS`` (Arrow / DuckDB
table ``events``); the gateway builds the same ``Exchange`` from a live request.
Per-request features (``hydrawatch.features``) are computed from an ``Exchange``
alone, so batch and online describe a request with the same code.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import pyarrow as pa


@dataclass(slots=True)
class Message:
    """One chat message with its content flattened to text (parts joined by newlines)."""

    role: str
    content: str


@dataclass(slots=True)
class Params:
    """Sampling and output parameters of a request; ``None`` means not given."""

    max_tokens: int | None = None
    temperature: float | None = None
    top_p: float | None = None
    n: int | None = None
    logprobs: bool | None = None
    top_logprobs: int | None = None
    stream: bool | None = None
    n_tools: int = 0
    reasoning_effort: str | None = None
    thinking_budget: int | None = None


@dataclass(slots=True)
class Exchange:
    """One API call. ``ts`` is epoch seconds (UTC); ``account_id`` is never empty."""

    ts: float
    account_id: str
    model: str | None = None
    messages: list[Message] = field(default_factory=list)
    system: str | None = None
    ip: str | None = None
    user_agent: str | None = None
    api_key_id: str | None = None
    client_fingerprint: str | None = None
    params: Params = field(default_factory=Params)
    input_tokens: int | None = None
    output_tokens: int | None = None
    reasoning_tokens: int | None = None
    status: int | None = None
    latency_ms: float | None = None
    response: str | None = None
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def prompt(self) -> str:
        """Text of the last user message (empty when there is none)."""
        for m in reversed(self.messages):
            if m.role == "user":
                return m.content
        return ""

    @property
    def user_turns(self) -> int:
        return sum(1 for m in self.messages if m.role == "user")

    @property
    def assistant_turns(self) -> int:
        return sum(1 for m in self.messages if m.role == "assistant")

    @property
    def context_chars(self) -> int:
        return sum(len(m.content) for m in self.messages)


# Columnar form of an Exchange, as stored in Parquet and the DuckDB table ``events``.
# ``line`` is the 1-based source line (or row) number, ``source`` the input file.
EVENT_COLUMNS: pa.Schema = pa.schema(
    [
        ("ts", pa.float64()),
        ("account_id", pa.string()),
        ("model", pa.string()),
        ("prompt", pa.string()),
        ("system", pa.string()),
        ("n_messages", pa.int32()),
        ("user_turns", pa.int32()),
        ("assistant_turns", pa.int32()),
        ("context_chars", pa.int64()),
        ("ip", pa.string()),
        ("user_agent", pa.string()),
        ("api_key_id", pa.string()),
        ("client_fingerprint", pa.string()),
        ("max_tokens", pa.int64()),
        ("temperature", pa.float64()),
        ("top_p", pa.float64()),
        ("n", pa.int32()),
        ("logprobs", pa.bool_()),
        ("top_logprobs", pa.int32()),
        ("stream", pa.bool_()),
        ("n_tools", pa.int32()),
        ("reasoning_effort", pa.string()),
        ("thinking_budget", pa.int64()),
        ("input_tokens", pa.int64()),
        ("output_tokens", pa.int64()),
        ("reasoning_tokens", pa.int64()),
        ("status", pa.int32()),
        ("latency_ms", pa.float64()),
        ("response_chars", pa.int64()),
        ("line", pa.int64()),
        ("source", pa.string()),
    ]
)


def exchange_row(ex: Exchange, line: int = 0, source: str = "") -> dict[str, Any]:
    """The ``EVENT_COLUMNS`` row of an exchange."""
    p = ex.params
    return {
        "ts": ex.ts,
        "account_id": ex.account_id,
        "model": ex.model,
        "prompt": ex.prompt,
        "system": ex.system,
        "n_messages": len(ex.messages),
        "user_turns": ex.user_turns,
        "assistant_turns": ex.assistant_turns,
        "context_chars": ex.context_chars,
        "ip": ex.ip,
        "user_agent": ex.user_agent,
        "api_key_id": ex.api_key_id,
        "client_fingerprint": ex.client_fingerprint,
        "max_tokens": p.max_tokens,
        "temperature": p.temperature,
        "top_p": p.top_p,
        "n": p.n,
        "logprobs": p.logprobs,
        "top_logprobs": p.top_logprobs,
        "stream": p.stream,
        "n_tools": p.n_tools,
        "reasoning_effort": p.reasoning_effort,
        "thinking_budget": p.thinking_budget,
        "input_tokens": ex.input_tokens,
        "output_tokens": ex.output_tokens,
        "reasoning_tokens": ex.reasoning_tokens,
        "status": ex.status,
        "latency_ms": ex.latency_ms,
        "response_chars": None if ex.response is None else len(ex.response),
        "line": line,
        "source": source,
    }
