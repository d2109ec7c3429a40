"""Decision API: verdicts and quotas for gateways that do the proxying themselves.

``POST /v1/decide`` answers one request summary with an action, reasons, risk, a quota
reservation and the headers to set; ``POST /v1/usage`` settles that reservation with
the real usage. ``/v1/authz/...`` is the same decision shaped for Envoy ``ext_authz``
(HTTP service) and nginx ``auth_request``: the client's own headers (and body, when the
proxy forwards it) in, a status code out: 200 to let the request through (with
``x-hydrawatch-*`` headers for the upstream), else 401/403/429 with an error body in the
client API's format. All three need the service token in ``x-hydrawatch-token``
(``decision_token`` or ``admin_token``).

Exchanges seen here are recorded like proxied ones: when ``/v1/usage`` arrives (with
usage), or after ``USAGE_WAIT_S`` without it.
"""

from __future__ import annotations

import asyncio
import collections
import math
import secrets
import time
from dataclasses import dataclass
from typing import Any, Literal, cast

import orjson
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from hydrawatch.events.schema import Exchange, Params, exchange_row
from hydrawatch.gateway.admission import Admission, account_row_fields, admit
from hydrawatch.gateway.auth import key_from_headers
from hydrawatch.gateway.config import ApiKind
from hydrawatch.gateway.errors import GatewayError, error_response
from hydrawatch.gateway.keystore import AccountRecord
from hydrawatch.gateway.redact import apply_recording
from hydrawatch.gateway.requests import check_body, estimate_input_tokens, output_choices
from hydrawatch.gateway.service_auth import require_token
from hydrawatch.gateway.state import GatewayState
from hydrawatch.gateway.usage import approx_tokens
from hydrawatch.ingest import exchange_from_anthropic_request, exchange_from_openai_request
from hydrawatch.ingest.errors import BadRecord
from hydrawatch.quota import Usage

USAGE_WAIT_S = 300.0
MAX_PENDING = 100_000
MAX_BODY = 8 << 20
SWEEP_EVERY_S = 5.0


@dataclass(slots=True)
class Pending:
    exchange: Exchange
    context_chars: int | None
    created: float
    account: AccountRecord | None = None  # as loaded for the decision (its payment fingerprint)


class PendingExchanges:
    """Exchanges decided here and waiting for their usage report (bounded, oldest first)."""

    def __init__(self, gw: GatewayState, wait_s: float = USAGE_WAIT_S, maxsize: int = MAX_PENDING) -> None:
        self.gw = gw
        self.wait_s = wait_s
        self.maxsize = maxsize
        self._items: collections.OrderedDict[str, Pending] = collections.OrderedDict()

    def add(self, reservation_id: str, p: Pending) -> None:
        self._items[reservation_id] = p
        while len(self._items) > self.maxsize:
            _, old = self._items.popitem(last=False)
            self.record(old)

    def pop(self, reservation_id: str) -> Pending | None:
        return self._items.pop(reservation_id, None)

    def record(self, p: Pending) -> None:
        row = exchange_row(p.exchange, source="gateway-decide")
        if p.context_chars is not None:
            row["context_chars"] = p.context_chars
        account_row_fields(row, p.account)
        self.gw.score(row)
        self.gw.sink.submit(apply_recording(row, self.gw.config.record.prompts))

    def sweep(self, now: float | None = None) -> int:
        now = time.monotonic() if now is None else now
        n = 0
        while self._items:
            rid, p = next(iter(self._items.items()))
            if now - p.created < self.wait_s:
                break
            del self._items[rid]
            self.record(p)
            n += 1
        return n

    def flush_all(self) -> None:
        while self._items:
            _, p = self._items.popitem(last=False)
            self.record(p)

    async def run(self) -> None:
        while True:
            await asyncio.sleep(SWEEP_EVERY_S)
            self.sweep()


def _json(obj: Any, status: int = 200, headers: dict[str, str] | None = None) -> Response:
    return Response(orjson.dumps(obj), status_code=status, media_type="application/json", headers=headers)


def _service(request: Request) -> GatewayState:
    gw: GatewayState = request.app.state.gw
    require_token(
        request.headers.get("x-hydrawatch-token"),
        (gw.config.decision_token, gw.config.admin_token),
        "decision",
    )
    return gw


async def _json_body(request: Request, *, required: bool) -> dict[str, Any] | None:
    cl = request.headers.get("content-length")
    if cl is not None and cl.strip().isdigit() and int(cl) > MAX_BODY:
        raise GatewayError(413, "Request body too large.", code="request_too_large")
    raw = await request.body()
    if len(raw) > MAX_BODY:
        raise GatewayError(413, "Request body too large.", code="request_too_large")
    if not raw.strip():
        if required:
            raise GatewayError(400, "Expected a JSON object.", code="invalid_json")
        return None
    try:
        obj = orjson.loads(raw)
    except orjson.JSONDecodeError as e:
        if required:
            raise GatewayError(400, f"Invalid JSON: {e}", code="invalid_json") from None
        return None
    if not isinstance(obj, dict):
        if required:
            raise GatewayError(400, "Expected a JSON object.", code="invalid_json")
        return None
    return obj


def _int(v: Any, key: str, default: int | None = None) -> int | None:
    if v is None:
        return default
    if isinstance(v, bool) or not isinstance(v, int | float) or not math.isfinite(v) or v < 0:
        raise GatewayError(400, f"'{key}' must be a non-negative integer.", param=key)
    return int(v)


def _opt_str(v: Any, key: str) -> str | None:
    if v is None:
        return None
    if not isinstance(v, str):
        raise GatewayError(400, f"'{key}' must be a string.", param=key)
    return v


def _kind_for(api: ApiKind, path: str) -> Literal["chat", "completions", "responses", "messages"]:
    if api == "anthropic":
        return "messages"
    if path.endswith("/responses"):
        return "responses"
    if path.endswith("/completions") and not path.endswith("/chat/completions"):
        return "completions"
    return "chat"


@dataclass(slots=True)
class Summary:
    api: ApiKind
    model: str | None
    max_tokens: int
    exchange: Exchange
    context_chars: int | None  # when known only as a count (no body)


def _summary_from_body(
    gw: GatewayState,
    api: ApiKind,
    path: str,
    body: dict[str, Any],
    account_id: str,
    ip: str | None,
    headers: Any,
) -> Summary:
    shape = check_body(body, _kind_for(api, path), gw.config.default_max_tokens)
    builder = exchange_from_anthropic_request if api == "anthropic" else exchange_from_openai_request
    try:
        ex = builder(body, account_id=account_id, ts=time.time(), ip=ip, headers=headers)
    except BadRecord as e:
        raise GatewayError(400, f"Invalid request: {e}", code="invalid_request") from None
    return Summary(api, shape.model, shape.max_tokens, ex, None)


async def _account(
    gw: GatewayState, doc: dict[str, Any], request: Request
) -> tuple[AccountRecord, str | None]:
    key = _opt_str(doc.get("key"), "key")
    account_id = _opt_str(doc.get("account_id"), "account_id")
    if key:
        rec, acc = await gw.auth.authenticate(key)
        return acc, rec.key_id
    if account_id:
        return await gw.keys.get_account(account_id), None
    raise GatewayError(400, "Give 'key' (the client's API key) or 'account_id'.", code="invalid_request")


def _decision_json(adm: Admission, account_id: str) -> dict[str, Any]:
    d = adm.decision
    refusal = adm.refusal
    headers = dict(refusal.headers) if refusal is not None else adm.headers
    return {
        "account_id": account_id,
        "allowed": refusal is None,
        "status": 200 if refusal is None else refusal.status,
        "action": d.action,
        "reasons": list(d.reasons),
        "risk": d.risk,
        "campaign_id": d.campaign_id,
        "message": refusal.message if refusal is not None else None,
        "code": refusal.code if refusal is not None else None,
        "max_tokens_cap": d.max_tokens_cap,
        "strip_reasoning": d.strip_reasoning,
        "strip_logprobs": d.strip_logprobs,
        "throttle_factor": d.throttle_factor,
        "retry_after": float(headers["retry-after"]) if "retry-after" in headers else d.retry_after,
        "reservation_id": adm.reservation.id if adm.reservation is not None else None,
        "remaining": adm.reservation.remaining if adm.reservation is not None else {},
        "headers": headers,
    }


def _pending(request: Request) -> PendingExchanges:
    return cast(PendingExchanges, request.app.state.pending)


async def decide(request: Request) -> Response:
    try:
        gw = _service(request)
        doc = await _json_body(request, required=True)
        assert doc is not None
        summary_doc = doc.get("request", doc)
        if not isinstance(summary_doc, dict):
            raise GatewayError(400, "'request' must be an object.", param="request")
        account, key_id = await _account(gw, doc, request)
        api_v = summary_doc.get("api", "openai")
        if api_v not in ("openai", "anthropic"):
            raise GatewayError(400, "'api' must be openai or anthropic.", param="api")
        api = cast(ApiKind, api_v)
        ip = _opt_str(summary_doc.get("ip"), "ip")
        body = summary_doc.get("body")
        if body is not None:
            if not isinstance(body, dict):
                raise GatewayError(400, "'body' must be the request body object.", param="body")
            s = _summary_from_body(
                gw, api, str(summary_doc.get("path", "")), body, account.account_id, ip, None
            )
        else:
            model = _opt_str(summary_doc.get("model"), "model")
            max_tokens = _int(summary_doc.get("max_tokens"), "max_tokens", gw.config.default_max_tokens)
            chars = _int(summary_doc.get("prompt_chars"), "prompt_chars", 0)
            stream = summary_doc.get("stream")
            ex = Exchange(
                ts=time.time(),
                account_id=account.account_id,
                model=model,
                ip=ip,
                user_agent=_opt_str(summary_doc.get("user_agent"), "user_agent"),
                params=Params(max_tokens=max_tokens, stream=stream if isinstance(stream, bool) else None),
            )
            s = Summary(api, model, max_tokens or 0, ex, chars)
        s.exchange.api_key_id = key_id
        in_tokens = (
            approx_tokens(s.context_chars)
            if s.context_chars is not None
            else estimate_input_tokens(s.exchange)
        )
        request_id = _opt_str(doc.get("request_id"), "request_id") or "hwdec_" + secrets.token_hex(12)
        adm = await admit(
            gw,
            account,
            input_tokens=in_tokens,
            max_tokens=s.max_tokens,
            request_id=request_id,
            choices=output_choices(s.exchange),
        )
        out = _decision_json(adm, account.account_id)
        out["request_id"] = request_id
        if adm.reservation is not None:
            _pending(request).add(
                adm.reservation.id, Pending(s.exchange, s.context_chars, time.monotonic(), account)
            )
        else:
            s.exchange.status = adm.refusal.status if adm.refusal is not None else None
            _pending(request).record(Pending(s.exchange, s.context_chars, time.monotonic(), account))
        return _json(out)
    except GatewayError as e:
        return error_response(e, "openai")


async def usage(request: Request) -> Response:
    try:
        gw = _service(request)
        doc = await _json_body(request, required=True)
        assert doc is not None
        rid = _opt_str(doc.get("reservation_id"), "reservation_id")
        if not rid:
            raise GatewayError(400, "'reservation_id' is required.", param="reservation_id")
        u = doc.get("usage", doc)
        if not isinstance(u, dict):
            raise GatewayError(400, "'usage' must be an object.", param="usage")
        inp = _int(u.get("input_tokens", u.get("prompt_tokens")), "input_tokens", 0) or 0
        out = _int(u.get("output_tokens", u.get("completion_tokens")), "output_tokens", 0) or 0
        status = _int(doc.get("status"), "status")
        latency = doc.get("latency_ms")
        if latency is not None and (isinstance(latency, bool) or not isinstance(latency, int | float)):
            raise GatewayError(400, "'latency_ms' must be a number.", param="latency_ms")
        res = await gw.quota.reservation(rid)
        if res is None:
            raise GatewayError(404, "Unknown or already settled reservation.", code="unknown_reservation")
        await gw.quota.settle(res, Usage(inp, out, 1))
        gw.metrics.inc("hydrawatch_tokens_total", (("direction", "input"),), inp)
        gw.metrics.inc("hydrawatch_tokens_total", (("direction", "output"),), out)
        p = _pending(request).pop(rid)
        if p is not None:
            p.exchange.input_tokens = inp
            p.exchange.output_tokens = out
            p.exchange.status = status
            p.exchange.latency_ms = float(latency) if latency is not None else None
            _pending(request).record(p)
        return _json({"reservation_id": rid, "settled": True, "input_tokens": inp, "output_tokens": out})
    except GatewayError as e:
        return error_response(e, "openai")


async def authz(request: Request) -> Response:
    """Envoy ext_authz (HTTP service) / nginx auth_request: the client's request in, a verdict out."""
    path = "/" + request.path_params.get("path", "").lstrip("/")
    original = request.headers.get("x-original-uri") or request.headers.get("x-envoy-original-path") or path
    api: ApiKind = "anthropic" if "/messages" in original else "openai"
    nginx = request.headers.get("x-hydrawatch-mode", "").lower() == "nginx"
    try:
        gw = _service(request)
        key_rec, account = await gw.auth.authenticate(key_from_headers(request.headers))
        peer = request.client.host if request.client else None
        ip = gw.ips.resolve(
            peer, request.headers.getlist("forwarded"), request.headers.getlist("x-forwarded-for")
        )
        body = await _json_body(request, required=False)
        if body is not None:
            s = _summary_from_body(
                gw, api, original.split("?")[0], body, account.account_id, ip, request.headers
            )
        else:
            ex = Exchange(
                ts=time.time(),
                account_id=account.account_id,
                model=request.headers.get("x-hydrawatch-model"),
                ip=ip,
                user_agent=request.headers.get("user-agent"),
            )
            s = Summary(api, ex.model, gw.config.default_max_tokens, ex, 0)
        s.exchange.api_key_id = key_rec.key_id
        in_tokens = (
            approx_tokens(s.context_chars)
            if s.context_chars is not None
            else estimate_input_tokens(s.exchange)
        )
        request_id = request.headers.get("x-request-id") or "hwdec_" + secrets.token_hex(12)
        adm = await admit(
            gw,
            account,
            input_tokens=in_tokens,
            max_tokens=s.max_tokens,
            request_id=request_id,
            choices=output_choices(s.exchange),
        )
        if adm.refusal is not None:
            s.exchange.status = adm.refusal.status
            _pending(request).record(Pending(s.exchange, s.context_chars, time.monotonic(), account))
            raise adm.refusal
        assert adm.reservation is not None
        _pending(request).add(
            adm.reservation.id, Pending(s.exchange, s.context_chars, time.monotonic(), account)
        )
        d = adm.decision
        headers = {
            **adm.headers,
            "x-hydrawatch-account": account.account_id,
            "x-hydrawatch-reservation": adm.reservation.id,
            "x-hydrawatch-action": d.action,
            "x-hydrawatch-risk": f"{d.risk:.4f}",
        }
        if d.max_tokens_cap is not None:
            headers["x-hydrawatch-max-tokens-cap"] = str(d.max_tokens_cap)
        if d.campaign_id:
            headers["x-hydrawatch-campaign"] = d.campaign_id
        return Response(b"", status_code=200, headers=headers)
    except GatewayError as e:
        if nginx and e.status not in (401, 403):
            # auth_request understands only 2xx, 401 and 403
            e = GatewayError(
                403, e.message, code=e.code, headers={**e.headers, "x-hydrawatch-status": str(e.status)}
            )
        resp = error_response(e, api)
        resp.headers.setdefault("x-hydrawatch-status", str(e.status))
        return resp


ALL_METHODS = ["GET", "POST", "PUT", "PATCH", "DELETE", "HEAD", "OPTIONS"]
ROUTES = [
    Route("/v1/decide", decide, methods=["POST"]),
    Route("/v1/usage", usage, methods=["POST"]),
    Route("/v1/authz", authz, methods=ALL_METHODS),
    Route("/v1/authz/{path:path}", authz, methods=ALL_METHODS),
]
