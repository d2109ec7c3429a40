"""The few request-body checks the gateway makes itself (everything else is the upstream's).

Only what the gateway relies on is checked: the model, the message list, token limits,
``stream`` and ``stream_options``. Unknown fields pass through untouched.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from hydrawatch.events.schema import Exchange
from hydrawatch.gateway.errors import GatewayError
from hydrawatch.quota import estimate_tokens

MAX_TOKENS_KEYS: dict[str, tuple[str, ...]] = {
    "chat": ("max_completion_tokens", "max_tokens"),
    "completions": ("max_tokens",),
    "responses": ("max_output_tokens",),
    "messages": ("max_tokens",),
}
CONTENT_KEY = {"chat": "messages", "messages": "messages", "completions": "prompt", "responses": "input"}


@dataclass(frozen=True, slots=True)
class RequestShape:
    model: str
    stream: bool
    max_tokens: int  # the request's output cap, or the configured default when absent
    include_usage: bool  # the client asked for the usage chunk itself


def _bad(message: str, param: str) -> GatewayError:
    return GatewayError(400, message, code="invalid_request", param=param)


def check_body(body: dict[str, Any], kind: str, default_max_tokens: int) -> RequestShape:
    model = body.get("model")
    if not isinstance(model, str) or not model.strip():
        raise _bad("'model' is required and must be a non-empty string.", "model")
    if len(model) > 256:
        raise _bad("'model' is too long.", "model")
    key = CONTENT_KEY[kind]
    content = body.get(key)
    if content is None:
        raise _bad(f"'{key}' is required.", key)
    if kind in ("chat", "messages"):
        if not isinstance(content, list):
            raise _bad(f"'{key}' must be a list of messages.", key)
        for i, m in enumerate(content):
            if not isinstance(m, dict) or not isinstance(m.get("role"), str):
                raise _bad(f"'{key}[{i}]' must be an object with a string 'role'.", f"{key}[{i}]")
    elif kind == "completions":
        if not (isinstance(content, str) or (isinstance(content, list) and content)):
            raise _bad("'prompt' must be a string or a non-empty list.", "prompt")
    elif not isinstance(content, str | list):
        raise _bad("'input' must be a string or a list of items.", "input")
    max_tokens: int | None = None
    for k in MAX_TOKENS_KEYS[kind]:
        v = body.get(k)
        if v is None:
            continue
        if isinstance(v, bool) or not isinstance(v, int) or v < 1:
            raise _bad(f"'{k}' must be a positive integer.", k)
        max_tokens = v
        break
    stream = body.get("stream", False)
    if stream is None:
        stream = False
    if not isinstance(stream, bool):
        raise _bad("'stream' must be a boolean.", "stream")
    so = body.get("stream_options")
    if so is not None and not isinstance(so, dict):
        raise _bad("'stream_options' must be an object.", "stream_options")
    include_usage = bool(isinstance(so, dict) and so.get("include_usage") is True)
    return RequestShape(
        model=model,
        stream=stream,
        max_tokens=max_tokens if max_tokens is not None else default_max_tokens,
        include_usage=include_usage,
    )


MESSAGE_OVERHEAD_TOKENS = 4  # role and separators each message costs (OpenAI's chat format: 3-4)


def estimate_input_tokens(ex: Exchange) -> int:
    """Prompt tokens before the upstream counts them, erring high
    (:func:`hydrawatch.quota.estimate_tokens` per message and system text, plus a few tokens
    of framing per message); settle replaces it with the upstream's count."""
    text = sum(estimate_tokens(m.content) for m in ex.messages) + estimate_tokens(ex.system or "")
    return text + MESSAGE_OVERHEAD_TOKENS * (len(ex.messages) + (1 if ex.system else 0))


def output_choices(ex: Exchange) -> int:
    """How many completions the request asks for (OpenAI ``n``; 1 when absent or invalid)."""
    n = ex.params.n
    return n if isinstance(n, int) and not isinstance(n, bool) and n > 1 else 1
