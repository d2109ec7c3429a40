"""The exchange-log contract: one record (a dict) to one :class:`Exchange`.

This is the one place where field values are checked and coerced; the adapters for
other log shapes translate their records into contract dicts and call it.
"""

from __future__ import annotations

from typing import Any, Final

import orjson

from hydrawatch.events.schema import Exchange, Message, Params
from hydrawatch.ingest.content import flatten_content, parse_messages
from hydrawatch.ingest.errors import BadRecord
from hydrawatch.ingest.params import parse_params
from hydrawatch.ingest.responses import summarize_response
from hydrawatch.ingest.values import INT32_MAX, INT64_MAX, opt_float, opt_int, opt_str, opt_ts

CONTRACT_FIELDS: Final = frozenset(
    {
        "ts",
        "account_id",
        "model",
        "messages",
        "prompt",
        "system",
        "ip",
        "user_agent",
        "api_key_id",
        "client_fingerprint",
        "params",
        "input_tokens",
        "output_tokens",
        "reasoning_tokens",
        "status",
        "latency_ms",
        "response",
    }
)


_INF: Final = (float("inf"), float("-inf"))


def _messages(obj: dict[str, Any]) -> tuple[list[Message], list[str]]:
    raw = obj.get("messages")
    if raw is not None:
        if type(raw) is str:  # CSV carries messages as a JSON string
            if not raw.strip():
                raw = None
            else:
                try:
                    raw = orjson.loads(raw)
                except orjson.JSONDecodeError:
                    raise BadRecord("messages: a string must hold a JSON list") from None
        if raw is not None and (type(raw) is not list or raw):
            return parse_messages(raw)
    prompt = obj.get("prompt")
    if prompt is None or prompt == "":
        return [], []
    if type(prompt) is not str:
        raise BadRecord(f"prompt: expected a string, got {type(prompt).__name__}")
    return [Message("user", prompt)], []


def _system(value: Any, lifted: list[str]) -> str | None:
    own = value if type(value) is str else flatten_content(value, "system")
    texts = [own, *lifted] if own else lifted
    return "\n".join(texts) if texts else None


def _s(v: Any, field: str) -> str | None:
    """An optional string field (fast path inline, slow path in :func:`opt_str`)."""
    if type(v) is str:
        return v or None
    return None if v is None else opt_str(v, field)


def _n(v: Any, field: str) -> int | None:
    """An optional non-negative count."""
    if type(v) is int and 0 <= v <= INT64_MAX:
        return v
    return None if v is None else opt_int(v, field)


def parse_contract(obj: Any, *, keep_extra: bool = True) -> Exchange:
    """One contract record to an Exchange; raises :class:`BadRecord` with the reason."""
    if type(obj) is not dict and not isinstance(obj, dict):
        raise BadRecord(f"record: expected a JSON object, got {type(obj).__name__}")
    get = obj.get
    account = get("account_id")
    account_id = account if type(account) is str else opt_str(account, "account_id")
    if not account_id or account_id.isspace():
        raise BadRecord("account_id: missing")
    raw_ts = get("ts")
    ts = opt_ts(raw_ts, "ts")
    if ts is None:
        raise BadRecord("ts: missing")
    raw_messages = get("messages")
    if type(raw_messages) is list and raw_messages:
        messages, lifted = parse_messages(raw_messages)
    else:
        messages, lifted = _messages(obj)
    system = get("system")
    if lifted or (system is not None and type(system) is not str):
        system = _system(system, lifted)
    elif not system:
        system = None
    params = get("params")
    response = get("response")
    input_tokens = _n(get("input_tokens"), "input_tokens")
    output_tokens = _n(get("output_tokens"), "output_tokens")
    reasoning_tokens = _n(get("reasoning_tokens"), "reasoning_tokens")
    if response is not None and type(response) is not str:
        summary = summarize_response(response)
        response = summary.text
        input_tokens = summary.input_tokens if input_tokens is None else input_tokens
        output_tokens = summary.output_tokens if output_tokens is None else output_tokens
        reasoning_tokens = summary.reasoning_tokens if reasoning_tokens is None else reasoning_tokens
    status = get("status")
    if not (type(status) is int and 0 <= status <= INT32_MAX):
        status = None if status is None else opt_int(status, "status", hi=INT32_MAX)
    latency = get("latency_ms")
    if type(latency) is not float or latency != latency or latency in _INF:
        latency = None if latency is None else opt_float(latency, "latency_ms")
    ex = Exchange(
        ts,
        account_id,
        _s(get("model"), "model"),
        messages,
        system,
        _s(get("ip"), "ip"),
        _s(get("user_agent"), "user_agent"),
        _s(get("api_key_id"), "api_key_id"),
        _s(get("client_fingerprint"), "client_fingerprint"),
        Params() if params is None else parse_params(params),
        input_tokens,
        output_tokens,
        reasoning_tokens,
        status,
        latency,
        response,
    )
    if keep_extra:
        extra = {k: v for k, v in obj.items() if k not in CONTRACT_FIELDS}
        if extra:
            ex.extra = extra
    return ex
