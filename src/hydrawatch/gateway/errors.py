"""Error responses in each API's own format.

OpenAI clients expect ``{"error": {"message", "type", "param", "code"}}``; Anthropic
clients expect ``{"type": "error", "error": {"type", "message"}}``. The SDKs map the
HTTP status to an exception class, so the status matters as much as the body.
"""

from __future__ import annotations

from typing import Literal

import orjson
from starlette.responses import Response

Api = Literal["openai", "anthropic"]

# status -> (openai type, anthropic type)
_TYPES: dict[int, tuple[str, str]] = {
    400: ("invalid_request_error", "invalid_request_error"),
    401: ("authentication_error", "authentication_error"),
    403: ("permission_error", "permission_error"),
    404: ("not_found_error", "not_found_error"),
    405: ("invalid_request_error", "invalid_request_error"),
    413: ("invalid_request_error", "request_too_large"),
    415: ("invalid_request_error", "invalid_request_error"),
    429: ("rate_limit_error", "rate_limit_error"),
    500: ("server_error", "api_error"),
    502: ("upstream_error", "api_error"),
    503: ("server_error", "overloaded_error"),
    504: ("timeout_error", "timeout_error"),
}


class GatewayError(Exception):
    """An error the gateway answers with, in the caller's API format."""

    def __init__(
        self,
        status: int,
        message: str,
        *,
        code: str | None = None,
        headers: dict[str, str] | None = None,
        param: str | None = None,
    ) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.code = code
        self.headers = headers or {}
        self.param = param


def error_type(status: int, api: Api) -> str:
    openai_t, anthropic_t = _TYPES.get(status, ("invalid_request_error", "invalid_request_error"))
    if status >= 500 and status not in _TYPES:
        openai_t, anthropic_t = "server_error", "api_error"
    return openai_t if api == "openai" else anthropic_t


def error_body(
    status: int, message: str, api: Api, *, code: str | None = None, param: str | None = None
) -> bytes:
    if api == "anthropic":
        return orjson.dumps({"type": "error", "error": {"type": error_type(status, api), "message": message}})
    return orjson.dumps(
        {"error": {"message": message, "type": error_type(status, api), "param": param, "code": code}}
    )


def error_response(err: GatewayError, api: Api) -> Response:
    return Response(
        error_body(err.status, err.message, api, code=err.code, param=err.param),
        status_code=err.status,
        headers=err.headers,
        media_type="application/json",
    )


def sse_error_event(message: str, api: Api, status: int = 502) -> bytes:
    """One SSE event that makes the client's SDK raise: the end of a broken stream."""
    if api == "anthropic":
        data = orjson.dumps({"type": "error", "error": {"type": error_type(status, api), "message": message}})
        return b"event: error\ndata: " + data + b"\n\n"
    data = orjson.dumps({"error": {"message": message, "type": error_type(status, api), "code": status}})
    return b"data: " + data + b"\n\n"
