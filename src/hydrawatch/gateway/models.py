"""``GET /v1/models``: the models the gateway routes, in the caller's API format.

One upstream serving every model: its answer is relayed. Several upstreams (or model
globs): each upstream's list is fetched, filtered by its globs, and merged. Anthropic
clients (they send ``anthropic-version``) get Anthropic's list shape.
"""

from __future__ import annotations

import asyncio
import fnmatch
from typing import Any

import orjson
from starlette.requests import Request
from starlette.responses import Response

from hydrawatch.gateway.auth import key_from_headers
from hydrawatch.gateway.config import ApiKind, UpstreamConfig
from hydrawatch.gateway.errors import GatewayError, error_response
from hydrawatch.gateway.httpclients import UpstreamError, UpstreamTimeout
from hydrawatch.gateway.state import GatewayState
from hydrawatch.gateway.upstream import Route, client_headers, join_url, upstream_headers


async def _fetch(
    gw: GatewayState, up: UpstreamConfig, api: ApiKind, request: Request
) -> list[dict[str, Any]]:
    route = Route(up, join_url(up.base_url, "/v1/models"), api)
    headers = upstream_headers(request.headers.items(), route)
    try:
        resp = await gw.http.get(route.url, headers)
        content = await resp.aread()
    except UpstreamError:
        return []
    if resp.status_code != 200:
        return []
    try:
        doc = orjson.loads(content)
    except orjson.JSONDecodeError:
        return []
    data = doc.get("data") if isinstance(doc, dict) else None
    if not isinstance(data, list):
        return []
    return [
        m
        for m in data
        if isinstance(m, dict)
        and isinstance(m.get("id"), str)
        and any(fnmatch.fnmatchcase(m["id"], g) for g in up.models)
    ]


async def list_models(request: Request) -> Response:
    gw: GatewayState = request.app.state.gw
    api: ApiKind = "anthropic" if "anthropic-version" in request.headers else "openai"
    try:
        await gw.auth.authenticate(key_from_headers(request.headers))
        ups = gw.router.for_api(api)
        if not ups:
            raise GatewayError(404, "No upstream serves this API.", code="not_found")
        if len(ups) == 1 and ups[0].models == ("*",):
            route = Route(ups[0], join_url(ups[0].base_url, "/v1/models"), api)
            url = route.url + (f"?{request.url.query}" if request.url.query else "")
            try:
                resp = await gw.http.get(url, upstream_headers(request.headers.items(), route))
                content = await resp.aread()
            except UpstreamTimeout:
                raise GatewayError(
                    504, "The upstream did not answer in time.", code="upstream_timeout"
                ) from None
            except UpstreamError:
                raise GatewayError(
                    502, "Could not reach the upstream.", code="upstream_unreachable"
                ) from None
            if resp.status_code >= 500:
                raise GatewayError(
                    502, f"The upstream failed with HTTP {resp.status_code}.", code="upstream_error"
                )
            return Response(content, status_code=resp.status_code, headers=client_headers(resp.headers))
        lists = await asyncio.gather(*(_fetch(gw, u, api, request) for u in ups))
        seen: set[str] = set()
        data: list[dict[str, Any]] = []
        for items in lists:
            for m in items:
                if m["id"] not in seen:
                    seen.add(m["id"])
                    data.append(m)
        if api == "anthropic":
            doc: dict[str, Any] = {
                "data": data,
                "has_more": False,
                "first_id": data[0]["id"] if data else None,
                "last_id": data[-1]["id"] if data else None,
            }
        else:
            doc = {"object": "list", "data": data}
        return Response(orjson.dumps(doc), media_type="application/json")
    except GatewayError as e:
        return error_response(e, api)
