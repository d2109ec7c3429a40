"""Upstream routing and the header rules for forwarding.

``base_url`` ending in ``/v1`` (``https://api.openai.com/v1``) gets the request path
after ``/v1`` appended; any other base (``https://api.anthropic.com``) gets the whole
path. A request goes to the first upstream whose API matches the ingress API (or has
none set) and whose model globs match the requested model.
"""

from __future__ import annotations

import fnmatch
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass

from hydrawatch.gateway.config import ApiKind, UpstreamConfig
from hydrawatch.gateway.errors import GatewayError

# client request headers passed on to the upstream (everything else is dropped: the
# client's gateway key, cookies, hop-by-hop and forwarding headers)
FORWARD_REQUEST_HEADERS = frozenset(
    {
        "content-type",
        "accept",
        "user-agent",
        "anthropic-version",
        "anthropic-beta",
        "openai-beta",
        "openai-organization",
        "openai-project",
        "idempotency-key",
        "x-request-id",
    }
)

# upstream response headers passed back to the client
FORWARD_RESPONSE_HEADERS = frozenset(
    {"content-type", "x-request-id", "request-id", "openai-processing-ms", "openai-version", "retry-after"}
)


@dataclass(frozen=True, slots=True)
class Route:
    upstream: UpstreamConfig
    url: str
    api: ApiKind


def join_url(base_url: str, path: str) -> str:
    base = base_url.rstrip("/")
    if base.endswith("/v1") and path.startswith("/v1/"):
        return base + path[3:]
    return base + path


class Router:
    def __init__(self, upstreams: Sequence[UpstreamConfig]) -> None:
        self.upstreams = tuple(upstreams)

    def route(self, api: ApiKind, model: str | None, path: str) -> Route:
        name = model or ""
        other_api: UpstreamConfig | None = None
        for up in self.upstreams:
            if not any(fnmatch.fnmatchcase(name, g) for g in up.models):
                continue
            if up.api is None or up.api == api:
                return Route(up, join_url(up.base_url, path), api)
            other_api = other_api or up
        if other_api is not None:
            raise GatewayError(
                400,
                f"model {model!r} is served by an {other_api.api} upstream; call it through the "
                f"{other_api.api} API of this gateway",
                code="model_api_mismatch",
                param="model",
            )
        raise GatewayError(
            404, f"The model {model!r} does not exist or is not routed", code="model_not_found"
        )

    def for_api(self, api: ApiKind) -> list[UpstreamConfig]:
        return [u for u in self.upstreams if u.api is None or u.api == api]


def upstream_headers(client_headers: Iterable[tuple[str, str]], route: Route) -> dict[str, str]:
    out = {k: v for k, v in client_headers if k in FORWARD_REQUEST_HEADERS}
    out["accept-encoding"] = "identity"
    if route.api == "anthropic" and "anthropic-version" not in out:
        out["anthropic-version"] = "2023-06-01"
    key = route.upstream.api_key
    if key:
        if route.api == "anthropic":
            out["x-api-key"] = key
        else:
            out["authorization"] = f"Bearer {key}"
    return out


def client_headers(upstream: Mapping[str, str]) -> dict[str, str]:
    out = {k: v for k, v in upstream.items() if k.lower() in FORWARD_RESPONSE_HEADERS}
    return out
