"""Adapters: the logs people already have, translated to contract records.

Each adapter turns one source record into a contract dict, which
:func:`hydrawatch.ingest.contract.parse_contract` then checks. Adapters only move
fields; they never coerce types.

- ``openai`` / ``anthropic``: request/response logs, a record holding ``request`` (the API
  request body) and ``response`` (the response body, or its stream events), plus metadata
  (timestamp, account/user/key id, ip, headers, status, latency). Both API shapes are
  recognised by either name.
- ``litellm``: rows of LiteLLM's ``LiteLLM_SpendLogs`` table.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Final

import orjson

from hydrawatch.ingest.contract import CONTRACT_FIELDS
from hydrawatch.ingest.errors import BadRecord
from hydrawatch.ingest.headers import header_fields, key_id, looks_like_secret
from hydrawatch.ingest.requests import request_account_hint, request_fields
from hydrawatch.ingest.responses import summarize_response
from hydrawatch.ingest.values import opt_ts

Adapter = Callable[[dict[str, Any]], dict[str, Any]]

_TS_KEYS: Final = (
    "ts",
    "timestamp",
    "@timestamp",
    "time",
    "created_at",
    "start_time",
    "startTime",
    "request_time",
)
_ACCOUNT_KEYS: Final = (
    "account_id",
    "user_id",
    "account",
    "customer_id",
    "org_id",
    "organization_id",
    "organization",
    "project_id",
    "user",
)
_KEY_KEYS: Final = ("api_key_id", "key_id", "api_key_hash", "api_key")
_IP_KEYS: Final = (
    "ip",
    "client_ip",
    "remote_addr",
    "remote_ip",
    "source_ip",
    "ip_address",
    "requester_ip_address",
)
_FP_KEYS: Final = ("client_fingerprint", "ja4", "ja3", "tls_fingerprint")
_STATUS_KEYS: Final = ("status", "status_code", "http_status", "response_status")
_LATENCY_KEYS: Final = ("latency_ms", "duration_ms", "elapsed_ms", "response_time_ms", "request_duration_ms")
_HEADER_KEYS: Final = ("headers", "request_headers")
_LOG_CONSUMED: Final = frozenset(
    {
        "request",
        "response",
        *_TS_KEYS,
        *_ACCOUNT_KEYS,
        *_KEY_KEYS,
        *_IP_KEYS,
        *_FP_KEYS,
        *_STATUS_KEYS,
        *_LATENCY_KEYS,
        *_HEADER_KEYS,
        "user_agent",
        "input_tokens",
        "output_tokens",
        "reasoning_tokens",
    }
)


def _first(rec: dict[str, Any], keys: tuple[str, ...]) -> Any:
    for k in keys:
        v = rec.get(k)
        if v is not None and v != "" and not isinstance(v, (dict, list)):
            return v
    return None


def _decode_json(v: Any, field: str) -> Any:
    """A JSON column that may arrive as a string (CSV exports, some log shippers)."""
    if type(v) is str:
        s = v.lstrip()
        if s[:1] in ("{", "["):
            try:
                return orjson.loads(s)
            except orjson.JSONDecodeError:
                raise BadRecord(f"{field}: a string that starts like JSON but is not") from None
    return v


def _key_id(v: Any) -> Any:
    return key_id(v) if type(v) is str and looks_like_secret(v) else v


def _passthrough(rec: dict[str, Any], consumed: frozenset[str], out: dict[str, Any]) -> None:
    for k, v in rec.items():
        if k not in consumed and k not in CONTRACT_FIELDS:
            out[k] = v


def request_log_record(rec: dict[str, Any]) -> dict[str, Any]:
    """An OpenAI- or Anthropic-style request/response log record to a contract record."""
    body = _decode_json(rec.get("request"), "request")
    out = request_fields(body)
    headers = next((rec[k] for k in _HEADER_KEYS if rec.get(k) is not None), None)
    if headers is None and isinstance(body, dict):
        headers = body.get("headers")
    out.update(header_fields(_decode_json(headers, "headers")))
    for field, keys in (
        ("ts", _TS_KEYS),
        ("api_key_id", _KEY_KEYS),
        ("ip", _IP_KEYS),
        ("client_fingerprint", _FP_KEYS),
        ("status", _STATUS_KEYS),
        ("latency_ms", _LATENCY_KEYS),
        ("user_agent", ("user_agent",)),
    ):
        v = _first(rec, keys)
        if v is not None:
            out[field] = v
    out["api_key_id"] = _key_id(out.get("api_key_id"))
    account = _first(rec, _ACCOUNT_KEYS)
    if account is None and isinstance(rec.get("metadata"), dict):
        account = _first(rec["metadata"], _ACCOUNT_KEYS)
    out["account_id"] = account if account is not None else request_account_hint(body)
    resp = summarize_response(_decode_json(rec.get("response"), "response"))
    if resp.text is not None:
        out["response"] = resp.text
    for field, value in (
        ("input_tokens", resp.input_tokens),
        ("output_tokens", resp.output_tokens),
        ("reasoning_tokens", resp.reasoning_tokens),
    ):
        own = rec.get(field)
        out[field] = own if own is not None else value
    if out.get("model") is None and resp.model is not None:
        out["model"] = resp.model
    if out.get("ts") is None and isinstance(rec.get("response"), dict):
        out["ts"] = rec["response"].get("created") or rec["response"].get("created_at")
    _passthrough(rec, _LOG_CONSUMED, out)
    return out


_LITELLM_CONSUMED: Final = frozenset(
    {
        "startTime",
        "endTime",
        "request_duration_ms",
        "model",
        "model_group",
        "user",
        "api_key",
        "requester_ip_address",
        "messages",
        "response",
        "proxy_server_request",
        "prompt_tokens",
        "completion_tokens",
        "status",
        "metadata",
    }
)
_LITELLM_STATUS: Final = {"success": 200, "failure": 500, "error": 500}


def _nonempty(*values: Any) -> Any:
    for v in values:
        if v is not None and v != "" and v != {} and v != []:
            return v
    return None


def litellm_record(rec: dict[str, Any]) -> dict[str, Any]:
    """A ``LiteLLM_SpendLogs`` row to a contract record.

    Account: ``user`` (the key's owner), else ``end_user``, else ``team_id``, else the hashed
    ``api_key``. Model: ``model_group`` (the name the client asked for), else ``model``.
    Prompt and parameters come from ``messages`` and ``proxy_server_request`` when the proxy
    stored them. ``status`` success/failure becomes 200/500.
    """
    out: dict[str, Any] = {}
    request = _decode_json(rec.get("proxy_server_request"), "proxy_server_request")
    if isinstance(request, dict) and request:
        out.update(request_fields(request))
    messages = _decode_json(rec.get("messages"), "messages")
    if isinstance(messages, list) and messages:
        out["messages"] = messages
    elif type(messages) is str and messages:
        out["prompt"] = messages
    metadata = _decode_json(rec.get("metadata"), "metadata")
    meta = metadata if isinstance(metadata, dict) else {}
    out["account_id"] = _nonempty(
        rec.get("user"),
        rec.get("end_user"),
        meta.get("user_api_key_user_id"),
        rec.get("team_id"),
        rec.get("api_key"),
    )
    out["api_key_id"] = _key_id(_nonempty(rec.get("api_key")))
    out["model"] = _nonempty(rec.get("model_group"), rec.get("model"), out.get("model"))
    out["ts"] = rec.get("startTime")
    out["ip"] = _nonempty(rec.get("requester_ip_address"))
    latency = rec.get("request_duration_ms")
    if latency is None and rec.get("endTime") is not None and rec.get("startTime") is not None:
        start, end = opt_ts(rec["startTime"], "startTime"), opt_ts(rec["endTime"], "endTime")
        if start is not None and end is not None:
            latency = (end - start) * 1000.0
    out["latency_ms"] = latency
    status = rec.get("status")
    out["status"] = _LITELLM_STATUS.get(status, status) if type(status) is str else status
    resp = summarize_response(_decode_json(rec.get("response"), "response"))
    if resp.text:
        out["response"] = resp.text
    out["input_tokens"] = _nonempty(rec.get("prompt_tokens"), resp.input_tokens)
    out["output_tokens"] = _nonempty(rec.get("completion_tokens"), resp.output_tokens)
    out["reasoning_tokens"] = resp.reasoning_tokens
    _passthrough(rec, _LITELLM_CONSUMED, out)
    return out


def contract_record(rec: dict[str, Any]) -> dict[str, Any]:
    return rec


def detect_adapter(rec: dict[str, Any]) -> Adapter:
    """The adapter for one record: request/response log, LiteLLM row, or the contract."""
    if ("request" in rec and "account_id" not in rec) or isinstance(rec.get("request"), dict):
        return request_log_record
    if "request_id" in rec and ("startTime" in rec or "call_type" in rec):
        return litellm_record
    return contract_record


ADAPTERS: Final[dict[str, Adapter]] = {
    "contract": contract_record,
    "openai": request_log_record,
    "anthropic": request_log_record,
    "litellm": litellm_record,
}
ADAPTER_NAMES: Final = ("auto", *ADAPTERS)
