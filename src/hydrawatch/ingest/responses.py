"""API response bodies (OpenAI and Anthropic, whole or as stream events) to text and usage."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from hydrawatch.ingest.content import flatten_content
from hydrawatch.ingest.errors import BadRecord
from hydrawatch.ingest.values import opt_int, opt_str


@dataclass(slots=True)
class ResponseSummary:
    """What ingest keeps of a response: its text and its token usage."""

    text: str | None = None
    input_tokens: int | None = None
    output_tokens: int | None = None
    reasoning_tokens: int | None = None
    model: str | None = None
    error: bool = False


def _dict(v: Any) -> dict[str, Any]:
    return v if isinstance(v, dict) else {}


def _add(a: int | None, b: int | None) -> int | None:
    if a is None:
        return b
    return a if b is None else a + b


def _usage(summary: ResponseSummary, usage: Any) -> None:
    u = _dict(usage)
    if not u:
        return
    # OpenAI chat: prompt_tokens/completion_tokens; Responses API and Anthropic: input_tokens/output_tokens.
    inp = opt_int(u.get("prompt_tokens", u.get("input_tokens")), "response.usage.input_tokens")
    if "input_tokens" in u:  # Anthropic counts cached input separately
        for k in ("cache_creation_input_tokens", "cache_read_input_tokens"):
            inp = _add(inp, opt_int(u.get(k), f"response.usage.{k}"))
    out = opt_int(u.get("completion_tokens", u.get("output_tokens")), "response.usage.output_tokens")
    details = _dict(u.get("completion_tokens_details") or u.get("output_tokens_details"))
    reasoning = opt_int(details.get("reasoning_tokens"), "response.usage.reasoning_tokens")
    if inp is not None:
        summary.input_tokens = inp
    if out is not None:
        summary.output_tokens = out
    if reasoning is not None:
        summary.reasoning_tokens = reasoning


def _choice_text(choice: Any) -> str:
    c = _dict(choice)
    msg = c.get("message") or c.get("delta")
    if isinstance(msg, dict):
        text = flatten_content(msg.get("content"), "response.choices.message.content")
        if not text and (msg.get("tool_calls") or msg.get("function_call")):
            return "[tool_call]"
        return text
    t = c.get("text")
    return t if type(t) is str else ""


def _output_items_text(items: list[Any]) -> str:
    texts: list[str] = []
    for item in items:
        it = _dict(item)
        kind = it.get("type")
        if kind == "message":
            texts.append(flatten_content(it.get("content"), "response.output.content"))
        elif kind in ("function_call", "custom_tool_call"):
            texts.append("[tool_call]")
    return "\n".join(t for t in texts if t)


def _from_body(body: dict[str, Any]) -> ResponseSummary:
    s = ResponseSummary(model=opt_str(body.get("model"), "response.model"))
    if body.get("error") is not None:
        s.error = True
    choices = body.get("choices")
    if isinstance(choices, list):
        s.text = "\n".join(t for t in (_choice_text(c) for c in choices) if t)
    elif isinstance(body.get("output"), list):
        s.text = _output_items_text(body["output"])
    elif isinstance(body.get("content"), list):
        s.text = flatten_content(
            [p for p in body["content"] if _dict(p).get("type") not in ("thinking", "redacted_thinking")],
            "response.content",
        )
    elif type(body.get("output_text")) is str:
        s.text = body["output_text"]
    _usage(s, body.get("usage"))
    return s


def _from_events(events: list[Any]) -> ResponseSummary:
    """Stream events: OpenAI chunks (choices[].delta) or Anthropic events (message_start, deltas)."""
    s = ResponseSummary()
    texts: list[str] = []
    for ev in events:
        e = _dict(ev)
        kind = e.get("type")
        if kind == "message_start":
            msg = _dict(e.get("message"))
            s.model = s.model or opt_str(msg.get("model"), "response.model")
            _usage(s, msg.get("usage"))
        elif kind == "content_block_delta":
            d = _dict(e.get("delta"))
            if d.get("type") == "text_delta" and type(d.get("text")) is str:
                texts.append(d["text"])
        elif kind == "message_delta":
            u = _dict(e.get("usage"))
            out = opt_int(u.get("output_tokens"), "response.usage.output_tokens")
            if out is not None:
                s.output_tokens = out
        elif kind == "response.completed":  # OpenAI Responses API stream
            done = _from_body(_dict(e.get("response")))
            return done
        elif kind == "error":
            s.error = True
        elif isinstance(e.get("choices"), list):
            s.model = s.model or opt_str(e.get("model"), "response.model")
            for c in e["choices"]:
                delta = _dict(_dict(c).get("delta"))
                if type(delta.get("content")) is str:
                    texts.append(delta["content"])
            _usage(s, e.get("usage"))
    s.text = "".join(texts)
    return s


def summarize_response(body: Any) -> ResponseSummary:
    """Text and usage of a response body, a list of stream events, or plain text."""
    if body is None:
        return ResponseSummary()
    if type(body) is str:
        return ResponseSummary(text=body)
    if isinstance(body, dict):
        return _from_body(body)
    if isinstance(body, list):
        return _from_events(body)
    raise BadRecord(f"response: expected text or a response object, got {type(body).__name__}")
