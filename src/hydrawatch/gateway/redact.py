"""Prompt redaction for ``record.prompts: redacted``.

Keeps the text (detectors need its shape and intent) and masks what identifies a
person or opens a door: e-mail addresses, phone numbers, card-like digit runs, IP
addresses, URLs' credentials and API-key-like secrets. ``none`` drops the text.
"""

from __future__ import annotations

import re
from typing import Any

from hydrawatch.gateway.config import PromptRecording

_PATTERNS: tuple[tuple[re.Pattern[str], str], ...] = (
    (re.compile(r"[A-Za-z0-9._%+-]+@[A-Za-z0-9.-]+\.[A-Za-z]{2,}"), "[email]"),
    (re.compile(r"\b(?:sk|pk|rk|hw|xox[abp]|ghp|gho|AKIA)[-_A-Za-z0-9]{16,}\b"), "[secret]"),
    (re.compile(r"\b[A-Za-z0-9_\-]{32,}\b"), "[token]"),
    (re.compile(r"\b(?:\d[ -]?){13,19}\b"), "[card]"),
    (re.compile(r"\b(?:\d{1,3}\.){3}\d{1,3}\b"), "[ip]"),
    (re.compile(r"\b(?:[0-9A-Fa-f]{1,4}:){2,7}[0-9A-Fa-f]{1,4}\b"), "[ip]"),
    (re.compile(r"(?<!\w)\+?\d[\d ().-]{7,}\d\b"), "[phone]"),
    (re.compile(r"(https?://)[^/\s:@]+:[^/\s@]+@"), r"\1[credentials]@"),
)


def redact_text(text: str) -> str:
    for pat, repl in _PATTERNS:
        text = pat.sub(repl, text)
    return text


def apply_recording(row: dict[str, Any], mode: PromptRecording) -> dict[str, Any]:
    """Mask or drop ``prompt`` and ``system`` of an EVENT_COLUMNS row in place."""
    if mode == "full":
        return row
    for col in ("prompt", "system"):
        v = row.get(col)
        if isinstance(v, str):
            row[col] = None if mode == "none" else redact_text(v)
    return row
