"""Degrade: serve the request, with less in it to distil.

``degrade_request`` caps max_tokens and drops logprobs / reasoning parameters;
``degrade_response`` strips reasoning / thinking content and logprobs from a JSON response;
``StreamDegrader`` does the same to a stream of parsed SSE events, dropping whole thinking
blocks (Anthropic) or reasoning items (OpenAI Responses) and renumbering the later indices so
the client sees a consistent stream. All of them take untrusted JSON-like input: they never
raise, never mutate their input, are idempotent, and never raise a max_tokens value.
"""

from __future__ import annotations

import math
from typing import Any, Literal

from hydrawatch.policy.decision import Decision

Api = Literal["openai", "anthropic"]

# reasoning fields on OpenAI-compatible chat messages and deltas (OpenAI, vLLM, DeepSeek, OpenRouter)
REASONING_FIELDS = ("reasoning_content", "reasoning", "reasoning_details", "thinking")
THINKING_BLOCKS = ("thinking", "redacted_thinking")
THINKING_DELTAS = ("thinking_delta", "signature_delta")
OPENAI_LIMIT_KEYS = ("max_tokens", "max_completion_tokens", "max_output_tokens")
_REASONING_INCLUDES = ("reasoning.encrypted_content",)
_LOGPROB_INCLUDES = ("message.output_text.logprobs",)


def _capped(value: Any, cap: int) -> Any:
    """``value`` lowered to ``cap``; a missing or non-numeric value becomes ``cap``."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        return cap
    if isinstance(value, float) and not math.isfinite(value):
        return cap
    return value if value <= cap else cap


def _index(value: Any) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) else None


def degrade_request(body: dict[str, Any], api: Api, d: Decision) -> dict[str, Any]:
    """A copy of the request body with the decision's caps and strips applied."""
    if not isinstance(body, dict):
        return body
    out = dict(body)
    cap = d.max_tokens_cap
    if api == "anthropic":
        if d.strip_reasoning:
            out.pop("thinking", None)
        if cap is not None:
            out["max_tokens"] = _capped(out.get("max_tokens"), cap)
            thinking = out.get("thinking")
            if isinstance(thinking, dict):
                budget = thinking.get("budget_tokens")
                limit = out["max_tokens"]
                if isinstance(budget, int | float) and not isinstance(budget, bool) and budget >= limit:
                    out.pop("thinking")  # a budget at or above max_tokens would be rejected upstream
        return out

    if d.max_choices is not None and "n" in out:
        out["n"] = _capped(out["n"], d.max_choices)
    drop_includes: tuple[str, ...] = ()
    if d.strip_logprobs:
        out.pop("logprobs", None)
        out.pop("top_logprobs", None)
        drop_includes += _LOGPROB_INCLUDES
    if d.strip_reasoning:
        out.pop("reasoning_effort", None)
        out.pop("reasoning", None)
        out.pop("thinking", None)
        drop_includes += _REASONING_INCLUDES
    include = out.get("include")
    if drop_includes and isinstance(include, list):
        out["include"] = [x for x in include if x not in drop_includes]
    if cap is not None:
        present = [k for k in OPENAI_LIMIT_KEYS if k in out]
        if not present:
            # the key each endpoint understands: Responses API, legacy completions, chat
            present = [
                "max_output_tokens"
                if "input" in out
                else "max_tokens"
                if "prompt" in out
                else "max_completion_tokens"
            ]
        for k in present:
            out[k] = _capped(out.get(k), cap)
    return out


# ------------------------------------------------------------------ responses
def _strip_choice(choice: Any, strip_reasoning: bool, strip_logprobs: bool) -> tuple[Any, bool]:
    """A chat/completions choice without reasoning fields and logprobs; and whether anything went."""
    if not isinstance(choice, dict):
        return choice, False
    out = dict(choice)
    removed = False
    if strip_logprobs and out.get("logprobs") is not None:
        out["logprobs"] = None
        removed = True
    if strip_reasoning:
        for part in ("message", "delta"):
            msg = out.get(part)
            if isinstance(msg, dict) and any(f in msg for f in REASONING_FIELDS):
                out[part] = {k: v for k, v in msg.items() if k not in REASONING_FIELDS}
                removed = True
    return out, removed


def _strip_output_item(item: Any, strip_logprobs: bool) -> Any:
    """A Responses API output item with logprobs emptied in its text parts."""
    if not strip_logprobs or not isinstance(item, dict) or not isinstance(item.get("content"), list):
        return item
    parts = []
    for p in item["content"]:
        if isinstance(p, dict) and p.get("logprobs"):
            p = {**p, "logprobs": []}
        parts.append(p)
    return {**item, "content": parts}


def _is_reasoning_item(item: Any) -> bool:
    return isinstance(item, dict) and item.get("type") == "reasoning"


def _is_thinking_block(block: Any) -> bool:
    return isinstance(block, dict) and block.get("type") in THINKING_BLOCKS


def degrade_response(
    body: dict[str, Any], api: Api, *, strip_reasoning: bool = True, strip_logprobs: bool = True
) -> dict[str, Any]:
    """A copy of a JSON response without reasoning / thinking content and logprobs."""
    if not isinstance(body, dict):
        return body
    out = dict(body)
    if api == "anthropic":
        content = out.get("content")
        if strip_reasoning and isinstance(content, list):
            out["content"] = [b for b in content if not _is_thinking_block(b)]
        return out
    choices = out.get("choices")
    if isinstance(choices, list):
        out["choices"] = [_strip_choice(c, strip_reasoning, strip_logprobs)[0] for c in choices]
    output = out.get("output")
    if isinstance(output, list):
        items = [i for i in output if not (strip_reasoning and _is_reasoning_item(i))]
        out["output"] = [_strip_output_item(i, strip_logprobs) for i in items]
    return out


# -------------------------------------------------------------------- streams
class StreamDegrader:
    """Degrades one stream of parsed SSE ``data`` objects; keep one instance per stream.

    Call it on each event in order; ``None`` means drop the event."""

    def __init__(self, api: Api, *, strip_reasoning: bool = True, strip_logprobs: bool = True) -> None:
        self.api = api
        self.strip_reasoning = strip_reasoning
        self.strip_logprobs = strip_logprobs
        self._dropped: set[int] = set()  # original indices of dropped blocks / output items

    def _shift(self, index: int) -> int:
        return index - sum(1 for i in self._dropped if i < index)

    def __call__(self, event: Any) -> Any:
        if not isinstance(event, dict):
            return event
        if self.api == "anthropic":
            return self._anthropic(event)
        if isinstance(event.get("choices"), list):
            return self._openai_chunk(event)
        return self._openai_responses(event)

    def _openai_chunk(self, event: dict[str, Any]) -> dict[str, Any] | None:
        out = dict(event)
        choices = []
        removed = False
        for c in event["choices"]:
            new, gone = _strip_choice(c, self.strip_reasoning, self.strip_logprobs)
            choices.append(new)
            removed = removed or gone
        out["choices"] = choices
        if removed and out.get("usage") is None and all(_empty_choice(c) for c in choices):
            return None  # the chunk carried only what was stripped
        return out

    def _openai_responses(self, event: dict[str, Any]) -> dict[str, Any] | None:
        etype = event.get("type")
        etype = etype if isinstance(etype, str) else ""
        out = dict(event)
        idx = _index(event.get("output_index"))
        if self.strip_reasoning:
            if etype.startswith("response.reasoning"):
                return None
            if _is_reasoning_item(event.get("item")):
                if idx is not None:
                    self._dropped.add(idx)
                return None
            if idx is not None and idx in self._dropped:
                return None
        if idx is not None and self._dropped:
            out["output_index"] = self._shift(idx)
        if isinstance(event.get("response"), dict):
            out["response"] = degrade_response(
                event["response"],
                "openai",
                strip_reasoning=self.strip_reasoning,
                strip_logprobs=self.strip_logprobs,
            )
        if "item" in event:
            out["item"] = _strip_output_item(event["item"], self.strip_logprobs)
        if "part" in event:
            out["part"] = _strip_output_item({"content": [event["part"]]}, self.strip_logprobs)["content"][0]
        if self.strip_logprobs and event.get("logprobs"):
            out["logprobs"] = []
        return out

    def _anthropic(self, event: dict[str, Any]) -> dict[str, Any] | None:
        etype = event.get("type")
        out = dict(event)
        if etype == "message_start" and isinstance(event.get("message"), dict):
            out["message"] = degrade_response(
                event["message"], "anthropic", strip_reasoning=self.strip_reasoning, strip_logprobs=False
            )
            return out
        idx = _index(event.get("index"))
        if self.strip_reasoning and etype in (
            "content_block_start",
            "content_block_delta",
            "content_block_stop",
        ):
            block = event.get("content_block") if etype == "content_block_start" else event.get("delta")
            thinking = _is_thinking_block(block) or (
                isinstance(block, dict) and block.get("type") in THINKING_DELTAS
            )
            if thinking or (idx is not None and idx in self._dropped):
                if idx is not None:
                    self._dropped.add(idx)
                return None
        if idx is not None and self._dropped and isinstance(etype, str) and etype.startswith("content_block"):
            out["index"] = self._shift(idx)
        return out


def _empty_choice(choice: Any) -> bool:
    if not isinstance(choice, dict):
        return False
    delta = choice.get("delta")
    return (
        (delta is None or delta == {})
        and choice.get("finish_reason") is None
        and choice.get("logprobs") is None
        and "message" not in choice
        and "text" not in choice
    )


def degrade_sse_event(
    event: dict[str, Any],
    api: Api,
    state: StreamDegrader | None = None,
    *,
    strip_reasoning: bool = True,
    strip_logprobs: bool = True,
) -> dict[str, Any] | None:
    """One parsed SSE event degraded (``None`` = drop it).

    Pass the same ``state`` (a ``StreamDegrader``) for every event of a stream so dropped
    blocks are renumbered and their stop events dropped; without it each event is judged
    alone (its own strip flags then apply)."""
    degrader = state or StreamDegrader(api, strip_reasoning=strip_reasoning, strip_logprobs=strip_logprobs)
    result: dict[str, Any] | None = degrader(event)
    return result
