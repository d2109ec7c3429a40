"""The fast path of the batch loader: a plain contract record straight to its row.

:func:`simple_row` handles only records whose fields already have the plain types
(string content, the four common params, ...) and returns ``None`` for anything else,
which then goes through the full parser (:func:`parse_contract`). For every record it
accepts, the row equals ``event_tuple(parse_contract(record))``; a property test holds
the two paths to that. It skips building Exchange, Message and Params objects, which
is most of the per-record cost of a large load.
"""

from __future__ import annotations

import math
from datetime import UTC, datetime
from typing import Any

from hydrawatch.ingest.columns import EventRow
from hydrawatch.ingest.content import SYSTEM_ROLES
from hydrawatch.ingest.params import SIMPLE_PARAM_KEYS
from hydrawatch.ingest.values import INT32_MAX, INT64_MAX, MAX_EPOCH_S

_fromiso = datetime.fromisoformat


def _iso_ts(s: str) -> float | None:
    if len(s) < 10 or s[4] != "-":
        return None
    try:
        d = _fromiso(s)
        if d.tzinfo is None:
            d = d.replace(tzinfo=UTC)
        f = d.timestamp()
    except (ValueError, OverflowError, OSError):
        return None
    return f if f >= 0 else None


def _str(v: Any) -> tuple[bool, str | None]:
    if v is None:
        return True, None
    if type(v) is str:
        return True, v or None
    return False, None


def simple_row(obj: dict[str, Any], line: int, source: str) -> EventRow | None:
    """The ``EVENT_COLUMNS`` row of a plain contract record, or ``None`` to use the full parser."""
    get = obj.get
    account = get("account_id")
    if type(account) is not str or not account or account.isspace():
        return None
    raw_ts: Any = get("ts")
    t = type(raw_ts)
    ts: float | None
    if t is float or t is int:
        if not 0 <= raw_ts < MAX_EPOCH_S:  # NaN fails this too
            return None
        ts = float(raw_ts)
    elif t is str:
        ts = _iso_ts(raw_ts)
        if ts is None:
            return None
    else:
        return None

    prompt = ""
    n_msgs = user_turns = assistant_turns = chars = 0
    lifted: list[str] = []
    msgs = get("messages")
    if msgs is None or (type(msgs) is list and not msgs):
        p = get("prompt")
        if type(p) is str:
            if p:
                prompt, n_msgs, user_turns, chars = p, 1, 1, len(p)
        elif p is not None:
            return None
    elif type(msgs) is list:
        for m in msgs:
            if type(m) is not dict:
                return None
            role = m.get("role")
            content = m.get("content")
            if type(role) is not str or type(content) is not str or not role:
                return None
            if role in SYSTEM_ROLES:
                if content:
                    lifted.append(content)
                continue
            n_msgs += 1
            chars += len(content)
            if role == "user":
                user_turns += 1
                prompt = content
            elif role == "assistant":
                assistant_turns += 1
    else:
        return None

    system = get("system")
    if system is None or type(system) is str:
        texts = [system, *lifted] if system else lifted
        system = "\n".join(texts) if texts else None
    else:
        return None

    params = get("params")
    max_tokens = temperature = top_p = stream = None
    if params is not None:
        if type(params) is not dict or not params.keys() <= SIMPLE_PARAM_KEYS:
            return None
        max_tokens = params.get("max_tokens")
        temperature = params.get("temperature")
        top_p = params.get("top_p")
        stream = params.get("stream")
        if not (
            (max_tokens is None or (type(max_tokens) is int and 0 <= max_tokens <= INT64_MAX))
            and (temperature is None or (type(temperature) is float and math.isfinite(temperature)))
            and (top_p is None or (type(top_p) is float and math.isfinite(top_p)))
            and (stream is None or type(stream) is bool)
        ):
            return None

    ok1, model = _str(get("model"))
    ok2, ip = _str(get("ip"))
    ok3, user_agent = _str(get("user_agent"))
    ok4, api_key_id = _str(get("api_key_id"))
    ok5, fingerprint = _str(get("client_fingerprint"))
    if not (ok1 and ok2 and ok3 and ok4 and ok5):
        return None

    counts = (get("input_tokens"), get("output_tokens"), get("reasoning_tokens"))
    for c in counts:
        if c is not None and not (type(c) is int and 0 <= c <= INT64_MAX):
            return None
    status = get("status")
    if status is not None and not (type(status) is int and 0 <= status <= INT32_MAX):
        return None
    latency = get("latency_ms")
    if latency is not None:
        tl = type(latency)
        if tl is float:
            if not math.isfinite(latency):
                return None
        elif tl is int and -INT64_MAX <= latency <= INT64_MAX:
            latency = float(latency)
        else:
            return None
    response = get("response")
    if response is None:
        response_chars = None
    elif type(response) is str:
        response_chars = len(response)
    else:
        return None

    return (
        ts,
        account,
        model,
        prompt,
        system,
        n_msgs,
        user_turns,
        assistant_turns,
        chars,
        ip,
        user_agent,
        api_key_id,
        fingerprint,
        max_tokens,
        temperature,
        top_p,
        None,
        None,
        None,
        stream,
        0,
        None,
        None,
        counts[0],
        counts[1],
        counts[2],
        status,
        latency,
        response_chars,
        line,
        source,
    )
