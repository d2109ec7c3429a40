"""The pieces of a prompt an instruction would fill on its own.

A harvesting instruction is one sentence or paragraph wrapped around pages of material (a
question and its answer, a response to grade, a text to rewrite). Scored as a whole, the
material outweighs it: the embedding is a mean over all tokens and the TF-IDF row is normalised
over all grams. The intent classifier therefore also scores the first and last two paragraphs
and the first and last sentences of a prompt on their own, and a request shows the intent of
its most telling piece (``features.request.describe_texts``).
"""

from __future__ import annotations

import re

_PARAGRAPH = re.compile(r"\n[ \t]*\n")
_SENTENCE = re.compile(r"(?<=[.!?])\s+|(?<=[。？！])")
# where either split above could cut: a text with none of these is one piece
_ANY_CUT = re.compile(r"\n[ \t]*\n|[.!?]\s|[。？！]")
SEGMENT_MIN = 15  # characters: shorter pieces say too little to classify
SEGMENT_MAX = 300  # characters: longer pieces are material, and the whole already covers them
EDGE_PARAGRAPHS = 2  # paragraphs taken from each end


def instruction_segments(text: str) -> list[str]:
    """Distinct pieces of ``text`` (already canonical) other than the whole, in a fixed order.

    Empty when the text is one short piece: the whole is then the only thing to score."""
    text = text.strip()
    if _ANY_CUT.search(text) is None:
        return []
    pieces: list[str] = []
    paragraphs = [p.strip() for p in _PARAGRAPH.split(text)]
    paragraphs = [p for p in paragraphs if p]
    if len(paragraphs) > 1:
        k = EDGE_PARAGRAPHS
        edges = paragraphs if len(paragraphs) <= 2 * k else paragraphs[:k] + paragraphs[-k:]
        pieces.extend(edges)
    sentences = [s.strip() for s in _SENTENCE.split(text)]
    sentences = [s for s in sentences if s]
    if len(sentences) > 1:
        pieces.extend((sentences[0], sentences[-1]))
    out: list[str] = []
    seen = {text}
    for p in pieces:
        if SEGMENT_MIN <= len(p) <= SEGMENT_MAX and p not in seen:
            seen.add(p)
            out.append(p)
    return out
