"""Features of one request: THE code both the hunt (batch) and the gateway (online) use.

``describe(ex)`` describes one ``Exchange`` (``describe_many`` several, batching their
text features); ``describe_texts(texts)`` describes many
distinct prompt texts at once (the hunt computes text features once per distinct
prompt and joins them back to the events).
"""

from __future__ import annotations

import re
import time
from collections import OrderedDict
from collections.abc import Sequence
from dataclasses import dataclass
from threading import Lock

import numpy as np
import numpy.typing as npt

from hydrawatch.events.schema import Exchange, Params
from hydrawatch.features.cues import cue_mask, cue_names
from hydrawatch.features.hashing import stable_hash, system_fingerprint
from hydrawatch.features.intent import (
    _HEAD,
    _TAIL,
    CLASSES,
    INTENTS,
    TOPIC_DIMS,
    _token_rows,
    clip_text,
    default_model,
)
from hydrawatch.features.segments import instruction_segments
from hydrawatch.features.skeleton import families, skeleton

__all__ = [
    "INTENTS",
    "RequestFeatures",
    "TextFeatures",
    "describe",
    "describe_many",
    "describe_texts",
    "param_profile",
]

_DIGITS = re.compile(r"[0-9]+")


def canonical_text(prompt: str) -> str:
    """What text features are computed from: digits collapsed, long prompts clipped to head and tail.

    Requests that differ only in numbers or in the middle of a long filling share their text
    features, so the hunt classifies each canonical text once.
    """
    if len(prompt) > 2 * _SIDE:
        # Only the head and tail survive clipping: collapse digits in the two ends alone. A digit
        # run cut at an end still collapses to one "0" there, so the ends match the full result.
        head = _DIGITS.sub("0", prompt[:_SIDE])
        tail = _DIGITS.sub("0", prompt[-_SIDE:])
        if len(head) > _HEAD + _TAIL and len(tail) >= _TAIL:
            return head[:_HEAD] + " \n " + tail[-_TAIL:]
    return clip_text(_DIGITS.sub("0", prompt))


_SIDE = 2000  # raw characters read at each end of a long prompt


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
            tuple(self.topic[i].tolist()),
        )

    def rows(self) -> list[TextFeatures]:
        """``row(i)`` of every text (the columns converted once, not per row)."""
        return [
            TextFeatures(CLASSES[c], s, m, h, f, tuple(t))
            for c, s, m, h, f, t in zip(
                self.intent_idx.tolist(),
                self.intent_score.tolist(),
                self.cue_mask.tolist(),
                self.skeleton_hash.tolist(),
                self.family.tolist(),
                self.topic.tolist(),
                strict=True,
            )
        ]


def _intents(probs: npt.NDArray[np.float64]) -> tuple[npt.NDArray[np.int8], npt.NDArray[np.float32]]:
    if len(probs) == 0:
        return np.zeros(0, np.int8), np.zeros(0, np.float32)
    non_none = probs[:, 1:]
    best = non_none.argmax(axis=1)
    score = non_none[np.arange(len(best)), best]
    idx = np.where(score >= INTENT_THRESHOLD, best + 1, 0).astype(np.int8)
    return idx, score.astype(np.float32)


def _most_telling(
    whole: npt.NDArray[np.float64], seg_probs: npt.NDArray[np.float64], owner: npt.NDArray[np.intp]
) -> npt.NDArray[np.float64]:
    """Per text, the class probabilities of whichever of its whole or its pieces
    (``features.segments``) shows a distillation intent most strongly."""
    out = whole.copy()
    if not len(owner):
        return out
    seg_best = seg_probs[:, 1:].max(axis=1)
    order = np.lexsort((seg_best, owner))  # by text, then by strength
    last = np.ones(len(order), bool)
    last[:-1] = owner[order[1:]] != owner[order[:-1]]
    top = order[last]  # each text's strongest piece
    texts = owner[top]
    better = seg_best[top] > whole[texts, 1:].max(axis=1)
    out[texts[better]] = seg_probs[top[better]]
    return out


def describe_texts(
    texts: list[str], batch_size: int = 4096, stage_times: dict[str, float] | None = None
) -> TextFeatureBatch:
    """Text features of many prompts: everything vectorised per batch of ``batch_size`` texts
    except the skeleton (a few regex substitutions per text) and the cue scan (one RE2 pass).

    ``stage_times``, when given, gets the CPU seconds spent in each stage added to it."""
    clock = _StageClock(stage_times)
    canonical = [canonical_text(t) for t in texts]
    clock.lap("canonical")
    return _describe_canonical(canonical, batch_size, clock)


def _describe_canonical(
    texts: list[str], batch_size: int = 4096, clock: _StageClock | None = None
) -> TextFeatureBatch:
    """``describe_texts`` of texts that are already ``canonical_text``."""
    clock = clock or _StageClock(None)
    model = default_model()
    n = len(texts)
    intent_idx = np.zeros(n, np.int8)
    score = np.zeros(n, np.float32)
    topic = np.zeros((n, TOPIC_DIMS), np.float32)
    family = np.zeros(n, np.int64)
    cues = np.zeros(n, np.int32)
    skel_hash = np.zeros(n, np.int64)
    for start in range(0, n, batch_size):
        chunk = texts[start : start + batch_size]
        end = start + len(chunk)
        rows = _token_rows(chunk)  # canonical texts are clipped already
        clock.lap("tokens")
        probs, topic[start:end] = model.predict_rows(*rows)
        pieces = [instruction_segments(t) for t in chunk]
        owner = np.repeat(np.arange(len(chunk)), [len(p) for p in pieces])
        if len(owner):
            seg_probs, _ = model.predict_rows(*_token_rows([p for ps in pieces for p in ps]), topics=False)
            probs = _most_telling(probs, seg_probs, owner)
        intent_idx[start:end], score[start:end] = _intents(probs)
        clock.lap("intent")
        cues[start:end] = np.fromiter(map(cue_mask, chunk), dtype=np.int32, count=len(chunk))
        clock.lap("cues")
        skels = [skeleton(t, canonical=True) for t in chunk]
        clock.lap("skeleton")
        skel_hash[start:end] = np.fromiter(map(stable_hash, skels), dtype=np.int64, count=len(chunk))
        clock.lap("skeleton_hash")
        family[start:end] = families(skels)
        clock.lap("family")
    return TextFeatureBatch(intent_idx, score, cues, skel_hash, family, topic)


class _StageClock:
    def __init__(self, into: dict[str, float] | None) -> None:
        self.into = into
        self.t = time.process_time() if into is not None else 0.0

    def lap(self, stage: str) -> None:
        if self.into is not None:
            now = time.process_time()
            self.into[stage] = self.into.get(stage, 0.0) + now - self.t
            self.t = now


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
    return text_features_many([prompt])[0]


def text_features_many(prompts: Sequence[str]) -> list[TextFeatures]:
    """``text_features`` of many prompts: cache hits as they are, the distinct misses in one
    ``describe_texts`` batch (a batch of 32 costs about a tenth of 32 single calls)."""
    canonical = [canonical_text(p) for p in prompts]
    keys = [stable_hash(c) for c in canonical]
    out: list[TextFeatures | None] = [_CACHE.get(k) for k in keys]
    todo: dict[int, int] = {}  # key -> index of its first prompt
    for i, (k, hit) in enumerate(zip(keys, out, strict=True)):
        if hit is None and k not in todo:
            todo[k] = i
    if todo:
        batch = _describe_canonical([canonical[i] for i in todo.values()])
        fresh = dict(zip(todo, batch.rows(), strict=True))
        for k, tf in fresh.items():
            _CACHE.put(k, tf)
        out = [hit if hit is not None else fresh[k] for k, hit in zip(keys, out, strict=True)]
    return [tf for tf in out if tf is not None]


def param_profile(p: Params) -> str:
    """A compact, comparable description of the sampling parameters."""
    return (
        f"max_tokens={p.max_tokens}|temperature={p.temperature}|top_p={p.top_p}|n={p.n}|"
        f"logprobs={p.logprobs}|top_logprobs={p.top_logprobs}|stream={p.stream}|tools={p.n_tools}|"
        f"effort={p.reasoning_effort}|thinking={p.thinking_budget}"
    )


def describe(ex: Exchange) -> RequestFeatures:
    """Features of one exchange (the gateway calls this per request)."""
    return describe_many([ex])[0]


def describe_many(exs: Sequence[Exchange]) -> list[RequestFeatures]:
    """``describe`` of each exchange, the text features computed as one batch."""
    texts = text_features_many([ex.prompt for ex in exs])
    return [
        RequestFeatures(
            text=tf,
            system_fp=system_fingerprint(ex.system),
            param_profile=param_profile(ex.params),
            prompt_chars=len(ex.prompt),
        )
        for ex, tf in zip(exs, texts, strict=True)
    ]
