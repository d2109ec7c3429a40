"""OpenAI- and Anthropic-style request bodies to the contract (and to an Exchange).

The gateway describes a live request with :func:`exchange_from_openai_request` /
:func:`exchange_from_anthropic_request`; the log adapters use :func:`request_fields`
on logged request bodies, so both paths produce the same Exchange for the same call.
Handled bodies: OpenAI Chat Completions (``messages``), Responses (``input``,
``instructions``), legacy Completions (``prompt``), Anthropic Messages (``system``,
``messages``, ``thinking``).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from hydrawatch.events.schema import Exchange
from hydrawatch.ingest.contract import parse_contract
from hydrawatch.ingest.errors import BadRecord
from hydrawatch.ingest.headers import header_fields
from hydrawatch.ingest.params import PARAM_KEYS


def _input_items(items: list[Any]) -> list[dict[str, Any]]:
    """Responses API ``input`` items to chat messages."""
    out: list[dict[str, Any]] = []
    for i, item in enumerate(items):
        if type(item) is str:
            out.append({"role": "user", "content": item})
            continue
        if not isinstance(item, dict):
            raise BadRecord(f"input[{i}]: expected an object, got {type(item).__name__}")
        kind = item.get("type")
        if "role" in item:
            out.append({"role": item["role"], "content": item.get("content")})
        elif kind in ("function_call", "custom_tool_call"):
            out.append({"role": "assistant", "content": "[tool_call]"})
        elif kind in ("function_call_output", "custom_tool_call_output"):
            out.append(
                {"role": "tool", "content": [{"type": "function_call_output", "output": item.get("output")}]}
            )
    return out


def _prompt_text(prompt: Any) -> Any:
    if isinstance(prompt, list) and all(type(p) is str for p in prompt):
        return "\n".join(prompt)
    return prompt


def request_fields(body: Any) -> dict[str, Any]:
    """Contract fields (model, messages or prompt, system, params) of a request body."""
    if not isinstance(body, dict):
        raise BadRecord(f"request: expected a JSON object, got {type(body).__name__}")
    out: dict[str, Any] = {}
    if body.get("model") is not None:
        out["model"] = body["model"]
    if body.get("messages") is not None:
        out["messages"] = body["messages"]
    elif body.get("input") is not None:
        inp = body["input"]
        if type(inp) is str:
            out["prompt"] = inp
        elif isinstance(inp, list):
            out["messages"] = _input_items(inp)
        else:
            raise BadRecord(f"request.input: expected a string or a list, got {type(inp).__name__}")
    elif body.get("prompt") is not None:
        out["prompt"] = _prompt_text(body["prompt"])
    system = body.get("system", body.get("instructions"))
    if system is not None:
        out["system"] = system
    params = {k: body[k] for k in PARAM_KEYS if body.get(k) is not None}
    if params:
        out["params"] = params
    return out


def request_account_hint(body: Any) -> str | None:
    """The end-user id a client put in the body (OpenAI ``user``, Anthropic ``metadata.user_id``)."""
    if not isinstance(body, dict):
        return None
    user = body.get("user")
    if type(user) is str and user:
        return user
    meta = body.get("metadata")
    if isinstance(meta, dict):
        uid = meta.get("user_id")
        if type(uid) is str and uid:
            return uid
    return None


def _exchange(
    body: dict[str, Any],
    account_id: str,
    ts: float,
    ip: str | None,
    headers: Mapping[str, str] | None,
) -> Exchange:
    rec = request_fields(body)
    if headers is not None:
        hdr = header_fields(headers)
        hdr.pop("ip", None)  # the caller passes the peer address it trusts
        rec.update(hdr)
    rec["account_id"] = account_id
    rec["ts"] = ts
    if ip is not None:
        rec["ip"] = ip
    return parse_contract(rec, keep_extra=False)


def exchange_from_openai_request(
    body: dict[str, Any],
    *,
    account_id: str,
    ts: float,
    ip: str | None = None,
    headers: Mapping[str, str] | None = None,
) -> Exchange:
    """The Exchange of an OpenAI Chat Completions / Responses / Completions request body.

    Raises :class:`BadRecord` when the body does not have the shape of a request.
    """
    return _exchange(body, account_id, ts, ip, headers)


def exchange_from_anthropic_request(
    body: dict[str, Any],
    *,
    account_id: str,
    ts: float,
    ip: str | None = None,
    headers: Mapping[str, str] | None = None,
) -> Exchange:
    """The Exchange of an Anthropic Messages request body (``system``, ``messages``, ``thinking``).

    Raises :class:`BadRecord` when the body does not have the shape of a request.
    """
    return _exchange(body, account_id, ts, ip, headers)
