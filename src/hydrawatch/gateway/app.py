"""The gateway's ASGI app: routes, error shapes, lifespan.

POST /v1/chat/completions, /v1/completions, /v1/responses   OpenAI-compatible proxy
POST /v1/messages                                           Anthropic-compatible proxy
GET  /v1/models                                             routed models
POST /v1/decide, /v1/usage; ANY /v1/authz/...               decision API
/admin/...                                                  keys, accounts, verdicts
GET  /healthz, /metrics                                     health, Prometheus text
"""

from __future__ import annotations

import asyncio
import contextlib
import gc
import logging
from collections.abc import AsyncIterator
from typing import Any

from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse, Response
from starlette.routing import Route

from hydrawatch.gateway import admin, decide_api
from hydrawatch.gateway.config import GatewayConfig
from hydrawatch.gateway.decide_api import PendingExchanges
from hydrawatch.gateway.errors import GatewayError, error_response
from hydrawatch.gateway.models import list_models
from hydrawatch.gateway.proxy import Endpoint, ProxyCall, forward_plain
from hydrawatch.gateway.state import GatewayState, open_state

log = logging.getLogger("hydrawatch.gateway")

ENDPOINTS = (
    Endpoint("/v1/chat/completions", "openai", "chat"),
    Endpoint("/v1/completions", "openai", "completions"),
    Endpoint("/v1/responses", "openai", "responses"),
    Endpoint("/v1/messages", "anthropic", "messages"),
)


COUNT_TOKENS = Endpoint("/v1/messages/count_tokens", "anthropic", "messages")


async def count_tokens(request: Request) -> Response:
    return await forward_plain(request.app.state.gw, request, COUNT_TOKENS)


class GatewayApp(Starlette):
    """Starlette, except that a POST to a proxy endpoint goes straight to its ``ProxyCall``.

    Every proxied request otherwise passes two middlewares, the router and Starlette's
    handler wrappers: about 8% of the gateway's CPU per request. The answers are the same:
    an unexpected error becomes this API's 500 (when nothing was sent yet), as the
    ``Exception`` handler below makes it; any other method or path goes through Starlette."""

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] == "http" and scope["method"] == "POST" and not scope.get("root_path"):
            ep = _BY_PATH.get(scope["path"])
            if ep is not None:
                scope["app"] = self
                await _serve_proxy(self.state.gw, ep, scope, receive, send)
                return
        await super().__call__(scope, receive, send)


async def _serve_proxy(gw: GatewayState, ep: Endpoint, scope: Any, receive: Any, send: Any) -> None:
    started = False

    async def sending(message: Any) -> None:
        nonlocal started
        if message["type"] == "http.response.start":
            started = True
        await send(message)

    try:
        response = await ProxyCall(gw, Request(scope, receive, send), ep).run()
        await response(scope, receive, sending)
    except Exception:
        log.exception("unhandled error on %s", ep.path)
        if started:
            raise
        await error_response(GatewayError(500, "Internal gateway error."), ep.api)(scope, receive, send)


_BY_PATH = {ep.path: ep for ep in ENDPOINTS}


def _proxy_route(ep: Endpoint) -> Route:
    async def handler(request: Request) -> Response:
        return await ProxyCall(request.app.state.gw, request, ep).run()

    return Route(ep.path, handler, methods=["POST"], name=ep.kind)


async def healthz(request: Request) -> Response:
    gw: GatewayState = request.app.state.gw
    return JSONResponse(
        {
            "status": "ok",
            "mode": "redis" if gw.config.redis_url else "embedded",
            "upstreams": [u.name for u in gw.config.upstreams],
            "events_pending": gw.sink.pending(),
            "live_scoring": gw.live.state if gw.live is not None else "off",
            "scorer_pid": gw.live.pid if gw.live is not None else None,
        }
    )


async def metrics(request: Request) -> Response:
    gw: GatewayState = request.app.state.gw
    return PlainTextResponse(gw.metrics.render(), media_type="text/plain; version=0.0.4")


def _api_of(request: Request) -> Any:
    path = request.url.path
    return (
        "anthropic" if path.startswith("/v1/messages") or "anthropic-version" in request.headers else "openai"
    )


async def _http_error(request: Request, exc: Exception) -> Response:
    status = exc.status_code if isinstance(exc, HTTPException) else 500
    message = {404: "Unknown URL.", 405: "Method not allowed."}.get(status, "Request failed.")
    return error_response(
        GatewayError(status, f"{message} ({request.method} {request.url.path})"), _api_of(request)
    )


async def _server_error(request: Request, exc: Exception) -> Response:
    log.exception("unhandled error on %s", request.url.path)
    return error_response(GatewayError(500, "Internal gateway error."), _api_of(request))


def build_app(config: GatewayConfig, state: GatewayState | None = None) -> Starlette:
    """The app; with ``state`` given (tests), the caller owns and closes it."""

    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        gw = state if state is not None else await open_state(config)
        app.state.gw = gw
        app.state.loop = asyncio.get_running_loop()
        pending = PendingExchanges(gw)
        app.state.pending = pending
        sweeper = asyncio.get_running_loop().create_task(pending.run())
        # everything loaded so far lives as long as the process: keep it out of the cyclic
        # collector's full passes, which otherwise walk it and pause requests for milliseconds
        gc.collect()
        gc.freeze()
        try:
            yield
        finally:
            sweeper.cancel()
            pending.flush_all()
            if state is None:
                await gw.close()
            else:
                await gw.drain()

    routes = [
        *(_proxy_route(ep) for ep in ENDPOINTS),
        Route("/v1/messages/count_tokens", count_tokens, methods=["POST"]),
        Route("/v1/models", list_models, methods=["GET"]),
        *decide_api.ROUTES,
        *admin.ROUTES,
        Route("/healthz", healthz, methods=["GET"]),
        Route("/metrics", metrics, methods=["GET"]),
    ]
    return GatewayApp(
        routes=routes,
        lifespan=lifespan,
        exception_handlers={HTTPException: _http_error, Exception: _server_error},
    )
