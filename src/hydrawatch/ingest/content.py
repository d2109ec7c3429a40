"""Message content as text: OpenAI and Anthropic content parts flattened.

Text parts are joined with newlines; non-text parts (images, audio, files, tool calls,
thinking blocks) become a short placeholder such as ``[image]`` so a prompt's shape
survives without its payload. Tool results are text the client sends, so their
content is flattened too.
"""

from __future__ import annotations

from typing import Any, Final

from hydrawatch.events.schema import Message
from hydrawatch.ingest.errors import BadRecord

_TEXT_TYPES: Final = frozenset({"text", "input_text", "output_text"})
_PLACEHOLDERS: Final[dict[str, str]] = {
    "image_url": "[image]",
    "image": "[image]",
    "input_image": "[image]",
    "input_audio": "[audio]",
    "audio": "[audio]",
    "file": "[file]",
    "input_file": "[file]",
    "document": "[document]",
    "tool_use": "[tool_use]",
    "server_tool_use": "[tool_use]",
    "function_call": "[tool_call]",
    "thinking": "[thinking]",
    "redacted_thinking": "[thinking]",
    "reasoning": "[thinking]",
}
_RESULT_TYPES: Final = frozenset({"tool_result", "function_call_output", "web_search_tool_result"})
_MAX_DEPTH: Final = 3
SYSTEM_ROLES: Final = frozenset({"system", "developer"})


def _placeholder(kind: Any) -> str:
    if type(kind) is str and kind:
        known = _PLACEHOLDERS.get(kind)
        if known is not None:
            return known
        safe = "".join(c for c in kind[:32] if c.isalnum() or c in "_-")
        return f"[{safe or 'part'}]"
    return "[part]"


def _part_text(part: Any, field: str, depth: int) -> str:
    if type(part) is str:
        return part
    if not isinstance(part, dict):
        raise BadRecord(f"{field}: a content part must be an object or a string, got {type(part).__name__}")
    kind = part.get("type")
    if kind is None or kind in _TEXT_TYPES or kind == "refusal":
        text = part.get("text", part.get("refusal"))
        if type(text) is str:
            return text
        if kind is None and text is None:
            return "[part]"
        raise BadRecord(f"{field}: a text part needs a string 'text'")
    if kind in _RESULT_TYPES:
        inner = part.get("content", part.get("output"))
        if depth >= _MAX_DEPTH:
            return "[tool_result]"
        return flatten_content(inner, field, depth + 1)
    return _placeholder(kind)


def flatten_content(value: Any, field: str = "content", depth: int = 0) -> str:
    """Text of a message content: a string, a list of parts, one part, or null (empty)."""
    if type(value) is str:
        return value
    if value is None:
        return ""
    if isinstance(value, list):
        if depth >= _MAX_DEPTH:
            return "[part]"
        texts = [_part_text(p, field, depth) for p in value]
        return "\n".join(t for t in texts if t)
    if isinstance(value, dict):
        return _part_text(value, field, depth)
    raise BadRecord(f"{field}: expected a string or a list of parts, got {type(value).__name__}")


def _tool_call_text(msg: dict[str, Any]) -> str:
    calls = msg.get("tool_calls")
    n = len(calls) if isinstance(calls, list) else 0
    if msg.get("function_call") is not None:
        n += 1
    return "\n".join(["[tool_call]"] * n)


def parse_messages(value: Any) -> tuple[list[Message], list[str]]:
    """Chat messages, with system/developer messages lifted out (their texts returned second)."""
    if not isinstance(value, list):
        raise BadRecord(f"messages: expected a list, got {type(value).__name__}")
    out: list[Message] = []
    system: list[str] = []
    for i, m in enumerate(value):
        if type(m) is not dict and not isinstance(m, dict):
            raise BadRecord(f"messages[{i}]: expected an object, got {type(m).__name__}")
        role = m.get("role")
        if type(role) is not str or not role:
            raise BadRecord(f"messages[{i}].role: expected a non-empty string")
        text = m.get("content")
        if type(text) is not str:
            text = flatten_content(text, f"messages[{i}].content")
            if not text and role == "assistant":
                text = _tool_call_text(m)
        if role in SYSTEM_ROLES:
            if text:
                system.append(text)
        else:
            out.append(Message(role, text))
    return out, system
