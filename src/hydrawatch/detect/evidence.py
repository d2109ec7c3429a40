"""Which per-request features count as evidence of a distillation intent.

The intent classifier (``features.intent``) errs on some ordinary traffic, e.g. bare coding tasks
(a function signature and a docstring with examples) read as "dataset generation". A request
counts as showing a distillation intent when the classifier says so *and* either one of the
readable cue groups (``features.cues``) agrees, other than "asks to reason step by step" (benchmark
prompts carry it), or the classifier is confident on its own. The hunt's SQL and the online scorer
use the same rule.
"""

from __future__ import annotations

from hydrawatch.features.cues import CUE_NAMES

INTENT_CONFIDENT = 0.75  # classifier probability that stands without a cue
CORROBORATING_CUES = sum(1 << i for i, name in enumerate(CUE_NAMES) if name != "asks to reason step by step")


def shows_intent(intent_idx: int, intent_score: float, cue_mask: int) -> bool:
    return intent_idx > 0 and ((cue_mask & CORROBORATING_CUES) != 0 or intent_score >= INTENT_CONFIDENT)


def intent_sql(
    intent_idx: str = "intent_idx", intent_score: str = "intent_score", cue_mask: str = "cue_mask"
) -> str:
    """SQL twin of :func:`shows_intent` over the enriched columns."""
    return (
        f"({intent_idx} > 0 AND (({cue_mask} & {CORROBORATING_CUES}) != 0 "
        f"OR {intent_score} >= {INTENT_CONFIDENT}))"
    )
