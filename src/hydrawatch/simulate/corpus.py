"""Real, human-written prompt texts shipped in ``data/`` (see data/LICENSES.md), loaded lazily."""

from __future__ import annotations

import gzip
import random
from dataclasses import dataclass
from functools import cache
from pathlib import Path

import orjson

DATA_DIR = Path(__file__).parent / "data"


@dataclass(frozen=True, slots=True)
class Prompt:
    source: str
    topic: str
    lang: str
    text: str


@dataclass(frozen=True, slots=True)
class FaqPair:
    topic: str
    question: str
    answer: str


def _jsonl_gz(name: str) -> list[dict[str, str]]:
    with gzip.open(DATA_DIR / name, "rb") as fh:
        return [orjson.loads(line) for line in fh if line.strip()]


@cache
def prompts() -> tuple[Prompt, ...]:
    return tuple(Prompt(r["source"], r["topic"], r["lang"], r["text"]) for r in _jsonl_gz("prompts.jsonl.gz"))


@cache
def faq() -> tuple[FaqPair, ...]:
    return tuple(FaqPair(r["topic"], r["q"], r["a"]) for r in _jsonl_gz("faq.jsonl.gz"))


# Named pools of prompt texts, each a selection of the shipped sources.
_POOLS: dict[str, tuple[tuple[str, ...], int]] = {
    # name: (sources, max chars)
    "chat": (("persistbench", "freshqa", "donotanswer"), 3000),
    "writing": (("writingbench",), 3000),
    "writing_short": (("writingbench",), 900),
    "questions": (("freshqa",), 3000),
    "code": (("humaneval",), 3000),
    "roleplay": (("inthewild_jailbreak",), 3000),
    "seed_tasks": (("freshqa", "persistbench", "humaneval", "writingbench"), 900),
}


@cache
def pool(name: str) -> tuple[str, ...]:
    """Texts of a named pool (``chat``, ``writing``, ``questions``, ``code``, ``roleplay``, ...)."""
    if name == "faq_questions":
        return tuple(p.question for p in faq())
    sources, max_chars = _POOLS[name]
    texts = tuple(p.text for p in prompts() if p.source in sources and len(p.text) <= max_chars)
    if not texts:
        raise ValueError(f"empty prompt pool {name!r}")
    return texts


@cache
def _reply_text() -> str:
    """All FAQ answer paragraphs joined: replies are slices of it (real human-written prose)."""
    paras: list[str] = []
    for pair in faq():
        paras.extend(p.strip() for p in pair.answer.split("\n\n") if len(p.strip()) > 60)
    return "\n\n".join(paras)


def response_text(rng: random.Random, chars: int) -> str:
    """Human-written text (Python FAQ answers) of about ``chars`` characters, as a stand-in reply."""
    text = _reply_text()
    chars = max(1, min(chars, len(text) // 2))
    start = text.find("\n\n", int(rng.random() * (len(text) - chars)))
    start = 0 if start < 0 else start + 2
    return text[start : start + chars]
