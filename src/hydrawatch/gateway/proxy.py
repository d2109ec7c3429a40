"""The proxy: authenticate, admit, forward, stream back, settle, record.

One :class:`ProxyCall` per request. Streams are forwarded event by event as they
arrive; the gateway parses each event only to count usage, to hide the usage chunk it
asked for itself, and to degrade when the policy says so. Usage is settled and the
exchange recorded off the request path, also when the client goes away mid-stream.
"""

from __future__ import annotations

import itertools
import logging
import math
import secrets
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from typing import Any, Literal, cast

import anyio
import orjson
from starlette.requests import ClientDisconnect, Request
from starlette.responses import Response, StreamingResponse

from hydrawatch.events.schema import Exchange, exchange_row
from hydrawatch.gateway.admission import Admission, account_row_fields, admit
from hydrawatch.gateway.auth import key_from_headers
from hydrawatch.gateway.config import ApiKind
from hydrawatch.gateway.errors import GatewayError, error_body, error_response, sse_error_event
from hydrawatch.gateway.httpclients import UpstreamError, UpstreamResponse, UpstreamTimeout
from hydrawatch.gateway.keystore import AccountRecord
from hydrawatch.gateway.redact import apply_recording
from hydrawatch.gateway.requests import RequestShape, check_body, estimate_input_tokens, output_choices
from hydrawatch.gateway.sse import SSESplitter, encode_event, parse_event
from hydrawatch.gateway.state import GatewayState
from hydrawatch.gateway.upstream import Route, client_headers, upstream_headers
from hydrawatch.gateway.usage import (
    AnthropicStreamCounter,
    Counted,
    OpenAIStreamCounter,
    count_anthropic_response,
    count_openai_response,
    loads_or_none,
)
from hydrawatch.ingest import exchange_from_anthropic_request, exchange_from_openai_request
from hydrawatch.ingest.errors import BadRecord
from hydrawatch.policy import StreamDegrader, degrade_request, degrade_response
from hydrawatch.quota import Usage

log = logging.getLogger("hydrawatch.gateway")

Kind = Literal["chat", "completions", "responses", "messages"]
MAX_UPSTREAM_ERROR_BYTES = 1 << 20


@dataclass(frozen=True, slots=True)
class Endpoint:
    path: str
    api: ApiKind
    kind: Kind


async def read_body(request: Request, limit: int) -> bytes:
    """The request body, or 413 past ``limit`` bytes (checked before and while reading)."""
    cl = request.headers.get("content-length")
    if cl is not None and cl.strip().isdigit() and int(cl) > limit:
        raise GatewayError(413, f"Request body is larger than {limit} bytes.", code="request_too_large")
    chunks: list[bytes] = []
    size = 0
    try:
        async for chunk in request.stream():
            size += len(chunk)
            if size > limit:
                raise GatewayError(
                    413, f"Request body is larger than {limit} bytes.", code="request_too_large"
                )
            chunks.append(chunk)
    except ClientDisconnect:
        raise GatewayError(
            400, "Client disconnected while sending the request.", code="client_disconnect"
        ) from None
    return b"".join(chunks)


def parse_json_object(raw: bytes) -> dict[str, Any]:
    if not raw.strip():
        raise GatewayError(400, "Request body is empty; expected a JSON object.", code="invalid_json")
    try:
        body = orjson.loads(raw)
    except orjson.JSONDecodeError as e:
        raise GatewayError(400, f"Request body is not valid JSON: {e}", code="invalid_json") from None
    if not isinstance(body, dict):
        raise GatewayError(400, "Request body must be a JSON object.", code="invalid_json")
    return body


REPLAY_HEADER = "x-hydrawatch-replay-ts"


def replay_ts(headers: Any, default: float) -> float:
    """BENCHMARK ONLY (config ``replay_clock``): the request's "now" from the replay header
    (epoch seconds), else ``default``."""
    raw = headers.get(REPLAY_HEADER)
    if raw is None:
        return default
    try:
        ts = float(raw)
    except ValueError:
        return default
    return ts if math.isfinite(ts) and ts > 0 else default


_ID_PREFIX = "hwreq_" + secrets.token_hex(8)  # random per process, so replicas never collide
_ID_SEQ = itertools.count()


def _new_request_id() -> str:
    """Unique, not secret: a per-process random prefix and a counter (no syscall per request)."""
    return f"{_ID_PREFIX}{next(_ID_SEQ):08x}"


class ProxyCall:
    """One proxied request, from headers to the recorded event."""

    def __init__(self, gw: GatewayState, request: Request, ep: Endpoint) -> None:
        self.gw = gw
        self.request = request
        self.ep = ep
        self.api: ApiKind = ep.api
        self.t0 = time.perf_counter()
        self.ts = time.time()
        self.request_id = _new_request_id()
        self.exchange: Exchange | None = None
        self.account: AccountRecord | None = None
        self.admission: Admission | None = None
        self.shape: RequestShape | None = None
        self.finished = False

    # ------------------------------------------------------------------ entry
    async def run(self) -> Response:
        try:
            return await self._run()
        except GatewayError as err:
            self._finish_now(err.status, None)
            return self._error(err)

    def _error(self, err: GatewayError) -> Response:
        self.gw.metrics.inc(
            "hydrawatch_requests_total", (("route", self.ep.path), ("status", str(err.status)))
        )
        resp = error_response(err, self.api)
        resp.headers["x-request-id"] = self.request_id
        return resp

    async def _run(self) -> Response:
        gw = self.gw
        req = self.request
        if gw.config.replay_clock:
            self.ts = replay_ts(req.headers, self.ts)
        key = key_from_headers(req.headers)
        cl = req.headers.get("content-length")
        limit = gw.config.max_body_bytes
        if key is None:
            raise GatewayError(
                401,
                "Missing API key: send 'Authorization: Bearer KEY' or 'x-api-key: KEY'.",
                code="missing_api_key",
            )
        if cl is not None and cl.strip().isdigit() and int(cl) > limit:
            raise GatewayError(413, f"Request body is larger than {limit} bytes.", code="request_too_large")
        key_rec, account = await gw.auth.authenticate(key)
        self.account = account
        raw = await read_body(req, limit)
        body = parse_json_object(raw)
        shape = check_body(body, self.ep.kind, gw.config.default_max_tokens)
        self.shape = shape
        peer = req.client.host if req.client else None
        ip = gw.ips.resolve(peer, req.headers.getlist("forwarded"), req.headers.getlist("x-forwarded-for"))
        builder = exchange_from_anthropic_request if self.api == "anthropic" else exchange_from_openai_request
        try:
            ex = builder(body, account_id=account.account_id, ts=self.ts, ip=ip, headers=req.headers)
        except BadRecord as e:
            raise GatewayError(400, f"Invalid request: {e}", code="invalid_request") from None
        ex.api_key_id = key_rec.key_id
        self.exchange = ex
        route = gw.router.route(self.api, shape.model, self.ep.path)
        adm = await admit(
            gw,
            account,
            input_tokens=estimate_input_tokens(ex),
            max_tokens=shape.max_tokens,
            request_id=self.request_id,
            now=self.ts,
            choices=output_choices(ex),
        )
        self.admission = adm
        if adm.refusal is not None:
            raise adm.refusal
        payload = raw
        d = adm.decision
        client_wants_usage = shape.include_usage
        add_usage = shape.stream and self.ep.kind in ("chat", "completions") and not client_wants_usage
        if d.degrades or add_usage:
            if d.degrades:
                body = degrade_request(body, self.api, d)
            if add_usage:
                so = body.get("stream_options")
                body["stream_options"] = {**(so if isinstance(so, dict) else {}), "include_usage": True}
            payload = orjson.dumps(body)
        return await self._forward(route, payload, strip_usage=add_usage)

    # -------------------------------------------------------------- forwarding
    async def _forward(self, route: Route, payload: bytes, *, strip_usage: bool) -> Response:
        gw = self.gw
        headers = upstream_headers(self.request.headers.items(), route)
        headers["x-request-id"] = self.request.headers.get("x-request-id", self.request_id)
        try:
            upstream = await gw.http.post(route.url, payload, headers)
        except UpstreamTimeout:
            gw.metrics.inc("hydrawatch_upstream_errors_total", (("kind", "timeout"),))
            raise GatewayError(504, "The upstream did not answer in time.", code="upstream_timeout") from None
        except UpstreamError as e:
            gw.metrics.inc("hydrawatch_upstream_errors_total", (("kind", "connect"),))
            raise GatewayError(
                502, f"Could not reach the upstream: {e}.", code="upstream_unreachable"
            ) from None
        ctype = upstream.headers.get("content-type", "")
        if upstream.status_code >= 400:
            return await self._upstream_error(upstream)
        if self.shape is not None and self.shape.stream and ctype.startswith("text/event-stream"):
            return self._stream(upstream, strip_usage=strip_usage)
        return await self._whole(upstream)

    def _base_headers(self, upstream: UpstreamResponse) -> dict[str, str]:
        h = client_headers(upstream.headers)
        if self.admission is not None:
            h.update(self.admission.headers)
        h["x-request-id"] = upstream.headers.get("x-request-id", self.request_id)
        d = self.admission.decision if self.admission is not None else None
        if d is not None and d.action != "allow":
            h["x-hydrawatch-action"] = d.action
        return h

    async def _upstream_error(self, upstream: UpstreamResponse) -> Response:
        gw = self.gw
        try:
            body = await self._read_capped(upstream, MAX_UPSTREAM_ERROR_BYTES)
        except UpstreamTimeout:
            raise GatewayError(504, "The upstream did not answer in time.", code="upstream_timeout") from None
        except UpstreamError:
            raise GatewayError(502, "The upstream connection failed.", code="upstream_error") from None
        finally:
            await upstream.aclose()
        status = upstream.status_code
        gw.metrics.inc("hydrawatch_upstream_errors_total", (("kind", f"http_{status // 100}xx"),))
        if status >= 500 and gw.config.upstream_5xx == "502":
            raise GatewayError(502, f"The upstream failed with HTTP {status}.", code="upstream_error")
        headers = self._base_headers(upstream)
        self._finish_now(status, None)
        gw.metrics.inc("hydrawatch_requests_total", (("route", self.ep.path), ("status", str(status))))
        if not upstream.headers.get("content-type", "").startswith("application/json"):
            body = error_body(status, body.decode("utf-8", "replace")[:2000] or f"HTTP {status}", self.api)
            headers["content-type"] = "application/json"
        return Response(body, status_code=status, headers=headers)

    @staticmethod
    async def _read_capped(upstream: UpstreamResponse, cap: int) -> bytes:
        parts: list[bytes] = []
        size = 0
        async for chunk in upstream.aiter_raw():
            parts.append(chunk)
            size += len(chunk)
            if size >= cap:
                break
        return b"".join(parts)[:cap]

    async def _whole(self, upstream: UpstreamResponse) -> Response:
        gw = self.gw
        try:
            content = await upstream.aread()
        except UpstreamTimeout:
            gw.metrics.inc("hydrawatch_upstream_errors_total", (("kind", "timeout"),))
            raise GatewayError(504, "The upstream did not answer in time.", code="upstream_timeout") from None
        except UpstreamError:
            gw.metrics.inc("hydrawatch_upstream_errors_total", (("kind", "read"),))
            raise GatewayError(502, "The upstream connection failed.", code="upstream_error") from None
        obj = loads_or_none(content.decode("utf-8", "replace")) if content else None
        counted = count_anthropic_response(obj) if self.api == "anthropic" else count_openai_response(obj)
        adm = self.admission
        if adm is not None and isinstance(obj, dict) and adm.decision.degrades:
            d = adm.decision
            content = orjson.dumps(
                degrade_response(
                    obj, self.api, strip_reasoning=d.strip_reasoning, strip_logprobs=d.strip_logprobs
                )
            )
        headers = self._base_headers(upstream)
        self._finish_now(upstream.status_code, counted)
        gw.metrics.inc(
            "hydrawatch_requests_total", (("route", self.ep.path), ("status", str(upstream.status_code)))
        )
        return Response(content, status_code=upstream.status_code, headers=headers)

    def _stream(self, upstream: UpstreamResponse, *, strip_usage: bool) -> Response:
        headers = self._base_headers(upstream)
        headers["cache-control"] = "no-cache"
        headers["x-accel-buffering"] = "no"
        self.gw.metrics.inc("hydrawatch_requests_total", (("route", self.ep.path), ("status", "200")))

        async def abandon() -> None:  # the client left before the first event was sent
            if not self.finished:
                await upstream.aclose()
                self.gw.metrics.inc("hydrawatch_client_disconnects_total")
                self._finish_now(499, None)

        return ClosingStreamingResponse(
            self._events(upstream, strip_usage=strip_usage),
            status_code=upstream.status_code,
            headers=headers,
            media_type="text/event-stream",
            on_close=abandon,
        )

    async def _events(self, upstream: UpstreamResponse, *, strip_usage: bool) -> AsyncIterator[bytes]:
        counter: OpenAIStreamCounter | AnthropicStreamCounter = (
            AnthropicStreamCounter() if self.api == "anthropic" else OpenAIStreamCounter()
        )
        adm = self.admission
        degrader: StreamDegrader | None = None
        if adm is not None and adm.decision.degrades:
            d = adm.decision
            degrader = StreamDegrader(
                self.api, strip_reasoning=d.strip_reasoning, strip_logprobs=d.strip_logprobs
            )
        splitter = SSESplitter()
        status = upstream.status_code
        outcome = "disconnect"
        try:
            try:
                async for chunk in upstream.aiter_raw():
                    for raw in splitter.feed(chunk):
                        out = self._event(raw, counter, strip_usage, degrader)
                        if out:
                            yield out
                rest = splitter.rest()
                if rest.strip():
                    out = self._event(rest, counter, strip_usage, degrader)
                    if out:
                        yield out
                outcome = "complete"
            except UpstreamTimeout:
                outcome, status = "error", 504
                self.gw.metrics.inc("hydrawatch_upstream_errors_total", (("kind", "stream_timeout"),))
                yield sse_error_event("The upstream stopped sending (timeout).", self.api, 504)
            except UpstreamError as e:
                outcome, status = "error", 502
                self.gw.metrics.inc("hydrawatch_upstream_errors_total", (("kind", "stream_dropped"),))
                yield sse_error_event(f"The upstream stream broke: {e}.", self.api, 502)
        finally:
            with anyio.CancelScope(shield=True):
                await upstream.aclose()
            if outcome == "disconnect":
                self.gw.metrics.inc("hydrawatch_client_disconnects_total")
                status = 499
            self._finish_now(status, counter.counted)

    def _event(
        self,
        raw: bytes,
        counter: OpenAIStreamCounter | AnthropicStreamCounter,
        strip_usage: bool,
        degrader: StreamDegrader | None,
    ) -> bytes | None:
        ev = parse_event(raw)
        obj = loads_or_none(ev.data)
        if obj is None:
            return raw
        counter.feed(ev.event, obj)
        if strip_usage and OpenAIStreamCounter.is_usage_chunk(obj):
            return None
        if degrader is not None and isinstance(obj, dict):
            new = degrader(obj)
            if new is None:
                return None
            if new != obj:
                return encode_event(orjson.dumps(new), ev.event)
        return raw

    # --------------------------------------------------------------- finishing
    def _finish_now(self, status: int, counted: Counted | None) -> None:
        """Settle the reservation and record the exchange, off the request path (once)."""
        if self.finished:
            return
        self.finished = True
        latency_ms = (time.perf_counter() - self.t0) * 1000.0
        adm = self.admission
        if adm is not None and adm.reservation is not None:
            if counted is None:
                actual = Usage(0, 0, 1)
            else:
                inp = counted.input_tokens if counted.input_tokens is not None else adm.estimate.input_tokens
                actual = Usage(inp, counted.billed_output(), 1)
            self.gw.metrics.inc("hydrawatch_tokens_total", (("direction", "input"),), actual.input_tokens)
            self.gw.metrics.inc("hydrawatch_tokens_total", (("direction", "output"),), actual.output_tokens)
            self.gw.quota.settle_later(adm.reservation, actual, self.gw.spawn)
        ex = self.exchange
        if ex is None:
            return
        ex.status = status
        ex.latency_ms = round(latency_ms, 3)
        response_chars: int | None = None
        if counted is not None:
            ex.input_tokens = counted.input_tokens
            ex.output_tokens = counted.billed_output() if (counted.exact or counted.response_chars) else None
            ex.reasoning_tokens = counted.reasoning_tokens
            ex.response = counted.response_text
            response_chars = counted.response_chars
        row = exchange_row(ex, source="gateway")
        row["response_chars"] = response_chars
        account_row_fields(row, self.account)
        self.gw.score(row)  # serialised at once: redaction below does not reach the scorer
        self.gw.sink.submit(apply_recording(row, self.gw.config.record.prompts))


class ClosingStreamingResponse(StreamingResponse):
    """A StreamingResponse that always closes its generator (its ``finally`` settles usage),
    also when the client disconnects while the generator is suspended; ``on_close`` runs
    last, for a generator that never started."""

    def __init__(self, *args: Any, on_close: Callable[[], Awaitable[None]] | None = None, **kw: Any) -> None:
        super().__init__(*args, **kw)
        self.on_close = on_close

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        try:
            await super().__call__(scope, receive, send)
        finally:
            gen = cast(Any, self.body_iterator)
            with anyio.CancelScope(shield=True):
                await gen.aclose()
                if self.on_close is not None:
                    await self.on_close()


async def forward_plain(gw: GatewayState, request: Request, ep: Endpoint) -> Response:
    """An authenticated call forwarded as is, without quota or recording (free utility
    endpoints such as Anthropic's ``/v1/messages/count_tokens``)."""
    try:
        _, _account = await gw.auth.authenticate(key_from_headers(request.headers))
        raw = await read_body(request, gw.config.max_body_bytes)
        body = parse_json_object(raw)
        model = body.get("model")
        if not isinstance(model, str) or not model:
            raise GatewayError(400, "'model' is required and must be a non-empty string.", param="model")
        route = gw.router.route(ep.api, model, ep.path)
        headers = upstream_headers(request.headers.items(), route)
        try:
            resp = await gw.http.post(route.url, raw, headers)
            content = await resp.aread()
        except UpstreamTimeout:
            raise GatewayError(504, "The upstream did not answer in time.", code="upstream_timeout") from None
        except UpstreamError:
            raise GatewayError(502, "Could not reach the upstream.", code="upstream_unreachable") from None
        if resp.status_code >= 500 and gw.config.upstream_5xx == "502":
            raise GatewayError(
                502, f"The upstream failed with HTTP {resp.status_code}.", code="upstream_error"
            )
        gw.metrics.inc("hydrawatch_requests_total", (("route", ep.path), ("status", str(resp.status_code))))
        return Response(content, status_code=resp.status_code, headers=client_headers(resp.headers))
    except GatewayError as err:
        gw.metrics.inc("hydrawatch_requests_total", (("route", ep.path), ("status", str(err.status))))
        return error_response(err, ep.api)
