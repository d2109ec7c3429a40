"""An ``Exchange`` back from its ``EVENT_COLUMNS`` row (what the scorer receives).

The row keeps the last user prompt, the system text, the turn counts, the sampling
parameters and the network columns: everything ``features.request.describe`` and the
online scorer read. Earlier turns are not in the row; they come back as empty messages so
``user_turns`` / ``assistant_turns`` keep their values. Keys outside ``EVENT_COLUMNS`` (the
gateway's ``payment_fp``) are not part of the exchange: ``ScoringEngine.observe`` reads them
from the row itself."""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

from hydrawatch.events.schema import Exchange, Message, Params

MAX_TURNS = 1000


# Each helper first answers the common cases (None, or exactly the expected type) with one
# ``type(v) is`` test: the scorer decodes every exchange the gateway serves.


def _str(v: Any) -> str | None:
    if v is None:
        return None
    return v if isinstance(v, str) and v else None


def _int(v: Any) -> int | None:
    if type(v) is int or v is None:
        return v
    if isinstance(v, bool):
        return None
    if isinstance(v, int):
        return v
    if isinstance(v, float) and math.isfinite(v):
        return int(v)
    return None


def _float(v: Any) -> float | None:
    if v is None:
        return None
    if type(v) is float:
        return v if math.isfinite(v) else None
    if isinstance(v, bool) or not isinstance(v, int | float):
        return None
    f = float(v)
    return f if math.isfinite(f) else None


def _bool(v: Any) -> bool | None:
    return v if isinstance(v, bool) else None


class BadRow(ValueError):
    """A row without a timestamp or an account."""


def exchange_from_row(row: Mapping[str, Any]) -> Exchange:
    """The exchange of one event row; raises ``BadRow`` without ``ts`` or ``account_id``."""
    ts = _float(row.get("ts"))
    account = _str(row.get("account_id"))
    if ts is None or account is None:
        raise BadRow("an event row needs a finite ts and a non-empty account_id")
    prompt = row.get("prompt") if isinstance(row.get("prompt"), str) else ""
    # turn counts rebuild empty messages: bounded, so a hostile row cannot allocate without end
    users = min(max(_int(row.get("user_turns")) or 0, 1 if prompt else 0), MAX_TURNS)
    assistants = min(max(_int(row.get("assistant_turns")) or 0, 0), MAX_TURNS)
    messages: list[Message] = []
    for i in range(max(users - 1, 0)):  # earlier turns: counted, text not in the row
        messages.append(Message("user", ""))
        if i < assistants:
            messages.append(Message("assistant", ""))
    messages.extend(Message("assistant", "") for _ in range(max(0, assistants - max(users - 1, 0))))
    if users:
        messages.append(Message("user", prompt or ""))
    params = Params(
        max_tokens=_int(row.get("max_tokens")),
        temperature=_float(row.get("temperature")),
        top_p=_float(row.get("top_p")),
        n=_int(row.get("n")),
        logprobs=_bool(row.get("logprobs")),
        top_logprobs=_int(row.get("top_logprobs")),
        stream=_bool(row.get("stream")),
        n_tools=_int(row.get("n_tools")) or 0,
        reasoning_effort=_str(row.get("reasoning_effort")),
        thinking_budget=_int(row.get("thinking_budget")),
    )
    return Exchange(
        ts=ts,
        account_id=account,
        model=_str(row.get("model")),
        messages=messages,
        system=_str(row.get("system")),
        ip=_str(row.get("ip")),
        user_agent=_str(row.get("user_agent")),
        api_key_id=_str(row.get("api_key_id")),
        client_fingerprint=_str(row.get("client_fingerprint")),
        params=params,
        input_tokens=_int(row.get("input_tokens")),
        output_tokens=_int(row.get("output_tokens")),
        reasoning_tokens=_int(row.get("reasoning_tokens")),
        status=_int(row.get("status")),
        latency_ms=_float(row.get("latency_ms")),
    )
