"""Request parameters (the ``params`` object) to :class:`Params`."""

from __future__ import annotations

import math
from typing import Any, Final

import orjson

from hydrawatch.events.schema import Params
from hydrawatch.ingest.errors import BadRecord
from hydrawatch.ingest.values import INT32_MAX, INT64_MAX, opt_bool, opt_float, opt_int, opt_str

# Every key of a request body that describes sampling or output; the request adapters copy these.
PARAM_KEYS: Final = (
    "max_tokens",
    "max_completion_tokens",
    "max_output_tokens",
    "max_tokens_to_sample",
    "temperature",
    "top_p",
    "n",
    "logprobs",
    "top_logprobs",
    "stream",
    "tools",
    "functions",
    "n_tools",
    "reasoning_effort",
    "reasoning",
    "thinking",
    "thinking_budget",
)
_MAX_TOKEN_KEYS: Final = ("max_tokens", "max_completion_tokens", "max_output_tokens", "max_tokens_to_sample")


def _max_tokens(p: dict[str, Any]) -> int | None:
    for k in _MAX_TOKEN_KEYS:
        v = p.get(k)
        if v is not None:
            return opt_int(v, f"params.{k}")
    return None


def _n_tools(p: dict[str, Any]) -> int:
    total = 0
    for k in ("tools", "functions"):
        v = p.get(k)
        if v is None:
            continue
        if isinstance(v, list):
            total += len(v)
        else:
            total += opt_int(v, f"params.{k}", hi=INT32_MAX) or 0
    if total == 0 and p.get("n_tools") is not None:
        total = opt_int(p["n_tools"], "params.n_tools", hi=INT32_MAX) or 0
    return min(total, INT32_MAX)


def _reasoning_effort(p: dict[str, Any]) -> str | None:
    v = p.get("reasoning_effort")
    if v is not None:
        return opt_str(v, "params.reasoning_effort")
    r = p.get("reasoning")
    if r is None:
        return None
    if isinstance(r, dict):
        return opt_str(r.get("effort"), "params.reasoning.effort")
    return opt_str(r, "params.reasoning")


def _thinking_budget(p: dict[str, Any]) -> int | None:
    t = p.get("thinking")
    if t is None:
        return opt_int(p.get("thinking_budget"), "params.thinking_budget")
    if isinstance(t, dict):
        if t.get("type") == "disabled":
            return None
        return opt_int(t.get("budget_tokens"), "params.thinking.budget_tokens")
    if type(t) is bool:
        return None
    return opt_int(t, "params.thinking")


def _logprobs(p: dict[str, Any]) -> tuple[bool | None, int | None]:
    top = opt_int(p.get("top_logprobs"), "params.top_logprobs", hi=INT32_MAX)
    v = p.get("logprobs")
    if (type(v) is int and v not in (0, 1)) or type(v) is float:  # legacy completions: logprobs=N
        n = opt_int(v, "params.logprobs", hi=INT32_MAX)
        return (n is not None and n > 0), (top if top is not None else n)
    return opt_bool(v, "params.logprobs"), top


SIMPLE_PARAM_KEYS: Final = frozenset({"max_tokens", "temperature", "top_p", "stream"})


def _simple(p: dict[str, Any]) -> Params | None:
    """The common case (only max_tokens, temperature, top_p, stream, with the usual types) without checks."""
    mt = p.get("max_tokens")
    temp = p.get("temperature")
    top_p = p.get("top_p")
    stream = p.get("stream")
    if (
        (mt is None or (type(mt) is int and 0 <= mt <= INT64_MAX))
        and (temp is None or (type(temp) is float and math.isfinite(temp)))
        and (top_p is None or (type(top_p) is float and math.isfinite(top_p)))
        and (stream is None or type(stream) is bool)
    ):
        return Params(mt, temp, top_p, None, None, None, stream)
    return None


def parse_params(value: Any) -> Params:
    """The contract's ``params`` object (or a JSON string of one, as CSV carries it)."""
    if type(value) is dict and value.keys() <= SIMPLE_PARAM_KEYS:
        fast = _simple(value)
        if fast is not None:
            return fast
    if value is None:
        return Params()
    if type(value) is str:
        if not value.strip():
            return Params()
        try:
            value = orjson.loads(value)
        except orjson.JSONDecodeError:
            raise BadRecord("params: not a JSON object") from None
    if not isinstance(value, dict):
        raise BadRecord(f"params: expected an object, got {type(value).__name__}")
    p = value
    logprobs, top_logprobs = _logprobs(p)
    return Params(
        max_tokens=_max_tokens(p),
        temperature=opt_float(p.get("temperature"), "params.temperature"),
        top_p=opt_float(p.get("top_p"), "params.top_p"),
        n=opt_int(p.get("n"), "params.n", hi=INT32_MAX),
        logprobs=logprobs,
        top_logprobs=top_logprobs,
        stream=opt_bool(p.get("stream"), "params.stream"),
        n_tools=_n_tools(p),
        reasoning_effort=_reasoning_effort(p),
        thinking_budget=_thinking_budget(p),
    )
