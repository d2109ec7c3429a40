"""Real token usage from upstream responses, streamed or not.

OpenAI reports usage once (``usage`` on the response, or a final chunk with empty
``choices`` when ``stream_options.include_usage`` is set; the Responses API in
``response.completed``). Anthropic splits it: ``message_start`` carries the input
tokens, ``message_delta`` the cumulative output tokens. When a stream ends before any
usage arrived (client gone, upstream dropped), output is estimated from the text seen
at about four characters per token.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import orjson

CHARS_PER_TOKEN = 4
RESPONSE_TEXT_CAP = 32_768


def approx_tokens(chars: int) -> int:
    return 0 if chars <= 0 else max(1, (chars + CHARS_PER_TOKEN - 1) // CHARS_PER_TOKEN)


def _int(v: Any) -> int | None:
    if isinstance(v, bool) or not isinstance(v, int | float):
        return None
    return max(0, int(v))


@dataclass(slots=True)
class Counted:
    """Usage of one exchange as the gateway counted it."""

    input_tokens: int | None = None
    output_tokens: int | None = None
    reasoning_tokens: int | None = None
    response_chars: int = 0
    response_text: str = ""
    exact: bool = False  # True once the upstream reported its final usage

    def add_text(self, text: str) -> None:
        self.response_chars += len(text)
        room = RESPONSE_TEXT_CAP - len(self.response_text)
        if room > 0:
            self.response_text += text[:room]

    def billed_output(self) -> int:
        """Reported output when final; else the larger of partial report and text estimate."""
        if self.exact and self.output_tokens is not None:
            return self.output_tokens
        return max(self.output_tokens or 0, approx_tokens(self.response_chars))


def _openai_usage(u: Any, c: Counted) -> None:
    if not isinstance(u, dict):
        return
    inp = _int(u.get("prompt_tokens", u.get("input_tokens")))
    out = _int(u.get("completion_tokens", u.get("output_tokens")))
    details = u.get("completion_tokens_details") or u.get("output_tokens_details")
    if isinstance(details, dict):
        r = _int(details.get("reasoning_tokens"))
        if r is not None:
            c.reasoning_tokens = r
    if inp is not None:
        c.input_tokens = inp
    if out is not None:
        c.output_tokens = out
    if inp is not None or out is not None:
        c.exact = True


def _anthropic_usage(u: Any, c: Counted, final: bool = True) -> None:
    if not isinstance(u, dict):
        return
    parts = [
        _int(u.get(k)) for k in ("input_tokens", "cache_creation_input_tokens", "cache_read_input_tokens")
    ]
    if any(p is not None for p in parts):
        c.input_tokens = sum(p or 0 for p in parts)
    out = _int(u.get("output_tokens"))
    if out is not None:
        c.output_tokens = out
    if final and (c.input_tokens is not None or out is not None):
        c.exact = True


def _openai_text(obj: dict[str, Any], c: Counted) -> None:
    choices = obj.get("choices")
    if isinstance(choices, list):
        for ch in choices:
            if not isinstance(ch, dict):
                continue
            for holder in (ch.get("message"), ch.get("delta")):
                if isinstance(holder, dict):
                    for k in ("content", "reasoning_content", "reasoning"):
                        v = holder.get(k)
                        if isinstance(v, str):
                            c.add_text(v)
            t = ch.get("text")
            if isinstance(t, str):
                c.add_text(t)
    output = obj.get("output")  # Responses API object
    if isinstance(output, list):
        for item in output:
            if isinstance(item, dict) and isinstance(item.get("content"), list):
                for part in item["content"]:
                    if isinstance(part, dict) and isinstance(part.get("text"), str):
                        c.add_text(part["text"])


def count_openai_response(body: Any) -> Counted:
    c = Counted()
    if isinstance(body, dict):
        _openai_usage(body.get("usage"), c)
        _openai_text(body, c)
    return c


def count_anthropic_response(body: Any) -> Counted:
    c = Counted()
    if isinstance(body, dict):
        _anthropic_usage(body.get("usage"), c)
        content = body.get("content")
        if isinstance(content, list):
            for block in content:
                if isinstance(block, dict):
                    for k in ("text", "thinking"):
                        v = block.get(k)
                        if isinstance(v, str):
                            c.add_text(v)
    return c


class OpenAIStreamCounter:
    """Follows an OpenAI chat/completions/responses stream event by event."""

    def __init__(self) -> None:
        self.counted = Counted()

    def feed(self, event: str | None, obj: Any) -> None:
        if not isinstance(obj, dict):
            return
        c = self.counted
        if event and event.startswith("response."):
            if event.endswith(".delta") and isinstance(obj.get("delta"), str):
                c.add_text(obj["delta"])
            resp = obj.get("response")
            if isinstance(resp, dict):
                _openai_usage(resp.get("usage"), c)
            return
        if obj.get("usage"):
            _openai_usage(obj["usage"], c)
        _openai_text(obj, c)

    @staticmethod
    def is_usage_chunk(obj: Any) -> bool:
        """The final chunk ``stream_options.include_usage`` adds: usage, no choices."""
        return isinstance(obj, dict) and bool(obj.get("usage")) and obj.get("choices") == []


class AnthropicStreamCounter:
    """Merges usage from ``message_start`` and ``message_delta``; counts deltas."""

    def __init__(self) -> None:
        self.counted = Counted()

    def feed(self, event: str | None, obj: Any) -> None:
        if not isinstance(obj, dict):
            return
        c = self.counted
        kind = obj.get("type", event)
        if kind == "message_start":
            msg = obj.get("message")
            if isinstance(msg, dict):
                _anthropic_usage(msg.get("usage"), c, final=False)
        elif kind == "message_delta":
            _anthropic_usage(obj.get("usage"), c)
        elif kind == "content_block_delta":
            d = obj.get("delta")
            if isinstance(d, dict):
                for k in ("text", "thinking", "partial_json"):
                    v = d.get(k)
                    if isinstance(v, str):
                        c.add_text(v)


def loads_or_none(data: str | None) -> Any:
    if data is None or data == "[DONE]":
        return None
    try:
        return orjson.loads(data)
    except orjson.JSONDecodeError:
        return None
