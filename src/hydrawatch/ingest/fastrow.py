"""The fast path of the batch loader: a plain contract record straight to its row.

:func:`simple_row` handles only records whose fields already have the plain types
(string message content, the common params, ...) and returns ``None`` for anything else,
which then goes through the full parser (:func:`parse_contract`). For every record it
accepts, the row equals ``event_tuple(parse_contract(record))``; a property test holds
the two paths to that. It skips building Exchange, Message and Params objects and
the second pass over them.
"""

from __future__ import annotations

import math
from datetime import UTC, datetime
from typing import Any

from hydrawatch.ingest.columns import EventRow
from hydrawatch.ingest.content import SYSTEM_ROLES
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


_NO_PARAMS: tuple[Any, ...] = (None, None, None, None, None, None, None, 0, None, None)
FAST_PARAM_KEYS = frozenset(
    {
        "max_tokens",
        "temperature",
        "top_p",
        "n",
        "logprobs",
        "top_logprobs",
        "stream",
        "tools",
        "reasoning_effort",
        "thinking",
    }
)


def _count(v: Any, hi: int) -> bool:
    return v is None or (type(v) is int and 0 <= v <= hi)


def _number(v: Any) -> float | bool | None:
    """The float of a plain number, ``None`` for absent, ``False`` when the full parser must decide."""
    if v is None:
        return None
    t = type(v)
    if t is float:
        return v if math.isfinite(v) else False
    if t is int and -INT64_MAX <= v <= INT64_MAX:
        return float(v)
    return False


def _fast_params(p: Any) -> tuple[Any, ...] | None:
    """The ten params columns, or ``None`` for anything but plain values of the common keys."""
    if type(p) is not dict or not p.keys() <= FAST_PARAM_KEYS:
        return None
    get = p.get
    max_tokens, n, top_logprobs = get("max_tokens"), get("n"), get("top_logprobs")
    if not (_count(max_tokens, INT64_MAX) and _count(n, INT32_MAX) and _count(top_logprobs, INT32_MAX)):
        return None
    temperature, top_p = _number(get("temperature")), _number(get("top_p"))
    if temperature is False or top_p is False:
        return None
    logprobs, stream = get("logprobs"), get("stream")
    if not ((logprobs is None or type(logprobs) is bool) and (stream is None or type(stream) is bool)):
        return None
    tools = get("tools")
    if tools is not None and type(tools) is not list:
        return None
    effort = get("reasoning_effort")
    if effort is not None and type(effort) is not str:
        return None
    thinking = get("thinking")
    budget = None
    if thinking is not None:
        if type(thinking) is not dict:
            return None
        budget = thinking.get("budget_tokens")
        if not _count(budget, INT64_MAX):
            return None
        if thinking.get("type") == "disabled":
            budget = None
    return (
        max_tokens,
        temperature,
        top_p,
        n,
        logprobs,
        top_logprobs,
        stream,
        len(tools) if tools else 0,
        effort or None,
        budget,
    )


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
    pcols = _NO_PARAMS if params is None else _fast_params(params)
    if pcols is None:
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
        *pcols,
        counts[0],
        counts[1],
        counts[2],
        status,
        latency,
        response_chars,
        line,
        source,
    )
