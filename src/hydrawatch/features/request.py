"""Features of one request: THE code both the hunt (batch) and the gateway (online) use.

``describe(ex)`` describes one ``Exchange``; ``describe_texts(texts)`` describes many
distinct prompt texts at once (the hunt computes text features once per distinct
prompt and joins them back to the events).
"""

from __future__ import annotations

import re
from collections import OrderedDict
from dataclasses import dataclass
from threading import Lock

import numpy as np
import numpy.typing as npt

from hydrawatch.events.schema import Exchange, Params
from hydrawatch.features.cues import cue_mask, cue_names
from hydrawatch.features.hashing import stable_hash, system_fingerprint
from hydrawatch.features.intent import CLASSES, INTENTS, TOPIC_DIMS, clip_text, default_model
from hydrawatch.features.skeleton import skeleton_hash, template_family

__all__ = ["INTENTS", "RequestFeatures", "TextFeatures", "describe", "describe_texts", "param_profile"]

_DIGITS = re.compile(r"[0-9]+")


def canonical_text(prompt: str) -> str:
    """What text features are computed from: digits collapsed, long prompts clipped to head and tail.

    Requests that differ only in numbers or in the middle of a long filling share their text
    features, so the hunt classifies each canonical text once.
    """
    return clip_text(_DIGITS.sub("0", prompt))


# An intent probability at or above this counts the request as showing that intent.
INTENT_THRESHOLD = 0.5


@dataclass(slots=True, frozen=True)
class TextFeatures:
    """Features of one prompt text."""

    intent: str  # "none" or one of INTENTS
    intent_score: float  # probability of the most likely non-"none" intent
    cue_mask: int
    skeleton_hash: int
    family: int  # MinHash of the skeleton: shared by most variations of one template
    topic: tuple[float, ...] = ()  # unit topic vector (features.intent.TOPIC_DIMS)

    @property
    def cues(self) -> list[str]:
        return cue_names(self.cue_mask)

    @property
    def has_intent(self) -> bool:
        return self.intent != "none"


@dataclass(slots=True, frozen=True)
class RequestFeatures:
    """Features of one request: its text features plus system prompt and parameters."""

    text: TextFeatures
    system_fp: int | None
    param_profile: str
    prompt_chars: int

    @property
    def intent(self) -> str:
        return self.text.intent

    @property
    def intent_score(self) -> float:
        return self.text.intent_score

    @property
    def skeleton_hash(self) -> int:
        return self.text.skeleton_hash


@dataclass(slots=True)
class TextFeatureBatch:
    """Column form of ``TextFeatures`` for many texts (the hunt's path)."""

    intent_idx: npt.NDArray[np.int8]  # index into CLASSES; 0 = "none"
    intent_score: npt.NDArray[np.float32]
    cue_mask: npt.NDArray[np.int32]
    skeleton_hash: npt.NDArray[np.int64]
    family: npt.NDArray[np.int64]
    topic: npt.NDArray[np.float32]

    def row(self, i: int) -> TextFeatures:
        return TextFeatures(
            CLASSES[int(self.intent_idx[i])],
            float(self.intent_score[i]),
            int(self.cue_mask[i]),
            int(self.skeleton_hash[i]),
            int(self.family[i]),
            tuple(float(x) for x in self.topic[i]),
        )


def _intents(probs: npt.NDArray[np.float64]) -> tuple[npt.NDArray[np.int8], npt.NDArray[np.float32]]:
    if len(probs) == 0:
        return np.zeros(0, np.int8), np.zeros(0, np.float32)
    non_none = probs[:, 1:]
    best = non_none.argmax(axis=1)
    score = non_none[np.arange(len(best)), best]
    idx = np.where(score >= INTENT_THRESHOLD, best + 1, 0).astype(np.int8)
    return idx, score.astype(np.float32)


def describe_texts(texts: list[str], batch_size: int = 4096) -> TextFeatureBatch:
    """Text features of many prompts (vectorised classifier; cues and skeletons per text)."""
    texts = [canonical_text(t) for t in texts]
    model = default_model()
    idx_parts: list[npt.NDArray[np.int8]] = []
    score_parts: list[npt.NDArray[np.float32]] = []
    topic_parts: list[npt.NDArray[np.float32]] = []
    for start in range(0, len(texts), batch_size):
        probs, topics = model.predict_with_topics(texts[start : start + batch_size])
        i, s = _intents(probs)
        idx_parts.append(i)
        score_parts.append(s)
        topic_parts.append(topics)
    return TextFeatureBatch(
        np.concatenate(idx_parts) if idx_parts else np.zeros(0, np.int8),
        np.concatenate(score_parts) if score_parts else np.zeros(0, np.float32),
        np.fromiter((cue_mask(t) for t in texts), dtype=np.int32, count=len(texts)),
        np.fromiter((skeleton_hash(t) for t in texts), dtype=np.int64, count=len(texts)),
        np.fromiter((template_family(t) for t in texts), dtype=np.int64, count=len(texts)),
        np.concatenate(topic_parts) if topic_parts else np.zeros((0, TOPIC_DIMS), np.float32),
    )


class _LRU:
    def __init__(self, size: int) -> None:
        self.size = size
        self.data: OrderedDict[int, TextFeatures] = OrderedDict()
        self.lock = Lock()

    def get(self, key: int) -> TextFeatures | None:
        with self.lock:
            v = self.data.get(key)
            if v is not None:
                self.data.move_to_end(key)
            return v

    def put(self, key: int, value: TextFeatures) -> None:
        with self.lock:
            self.data[key] = value
            if len(self.data) > self.size:
                self.data.popitem(last=False)


_CACHE = _LRU(100_000)


def text_features(prompt: str) -> TextFeatures:
    """Features of one prompt text, cached by its hash."""
    key = stable_hash(canonical_text(prompt))
    hit = _CACHE.get(key)
    if hit is not None:
        return hit
    tf = describe_texts([prompt]).row(0)
    _CACHE.put(key, tf)
    return tf


def param_profile(p: Params) -> str:
    """A compact, comparable description of the sampling parameters."""
    return (
        f"max_tokens={p.max_tokens}|temperature={p.temperature}|top_p={p.top_p}|n={p.n}|"
        f"logprobs={p.logprobs}|top_logprobs={p.top_logprobs}|stream={p.stream}|tools={p.n_tools}|"
        f"effort={p.reasoning_effort}|thinking={p.thinking_budget}"
    )


def describe(ex: Exchange) -> RequestFeatures:
    """Features of one exchange (the gateway calls this per request)."""
    prompt = ex.prompt
    return RequestFeatures(
        text=text_features(prompt),
        system_fp=system_fingerprint(ex.system),
        param_profile=param_profile(ex.params),
        prompt_chars=len(prompt),
    )
