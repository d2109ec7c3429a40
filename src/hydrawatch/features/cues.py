"""Interpretable cue groups: which kind of phrasing a prompt contains.

The intent classifier decides; cues say *why* in words a reviewer can check
("asks for the internal reasoning"). Each group is a handful of multilingual
patterns; a cue alone never flags a request.
"""

from __future__ import annotations

import re

CUE_GROUPS: dict[str, tuple[str, ...]] = {
    "asks for internal reasoning": (
        r"(internal|inner|hidden|private|raw|full|complete|entire)\s+(reasoning|thinking|thought|monologue|deliberation|scratchpad)",
        r"chain[- ]of[- ]thought|thought process|reasoning trace|think(ing)? out loud",
        r"内部.{0,4}(推理|思考|思维)|思维链|思考过程|推理过程",
        r"razonamiento interno|proceso de pensamiento|raisonnement interne|cha[iî]ne de pens[ée]e",
        r"(inneren?|gesamten?) denk|gedankenkette|внутренн\w* (ход|рассужд)|цепочк\w* мысл",
        r"思考過程|推論過程|추론 과정|raciocínio interno|ragionamento interno",
    ),
    "asks to reconstruct reasoning behind a given answer": (
        r"(reconstruct|reverse[- ]engineer|work backwards?|rationali[sz]e|infer)\b.{0,60}(reasoning|thought|rationale|steps|derivation)",  # noqa: E501
        r"(reasoning|thought process|rationale|thinking).{0,40}(led|lead|leads) to (this|the|that)",
        r"(behind|preced\w*) (a|the|this) (completed|final|given|provided) (response|answer|solution)",
        r"反推|重建.{0,6}(推理|思考)|得出(这个|该)答案",
        r"reconstru\w+ (el|le|o|den) (razonamiento|raisonnement|raciocínio|denkweg)|rekonstruiere|восстанови",
        r"に至るまで",
    ),
    "asks for a grade or preference": (
        r"\b(score|rate|grade|rank)\b.{0,40}\b(from|on a scale|out of|between)\b",
        r"\brubric\b|reward model|likert|\bjudge\b|which (one )?is better|response a.{0,20}response b",
        r"评分|打分|评分标准|哪个更好|rúbrica|puntúa|grille d'évaluation|note la réponse|bewerte|punktzahl",
        r"оцени|по шкале|採点|評価基準",
    ),
    "asks for a censorship-safe rewrite": (
        r"censor|politically sensitive|sensitive (political|topic|content)|content review|pass the filter|regulated market",  # noqa: E501
        r"审查|敏感(内容|话题)|censura|zensur|цензур|検閲",
    ),
    "asks for training data": (
        r"\b(training|fine[- ]?tuning|sft|instruction[- ]tuning|synthetic)\b.{0,30}\b(data|dataset|examples|corpus|set)\b",  # noqa: E501
        r"\bjsonl\b|question[- ]answer pairs|\bgenerate \d+\b|\bprompt\W+completion\b",
        r"训练数据|数据集|问答对|conjunto de entrenamiento|jeu de données|trainingsdatensatz|обучающ\w+ набор|データセット",  # noqa: E501
    ),
    "asks to reason step by step": (
        r"step[- ]by[- ]step|paso a paso|étape par étape|schritt für schritt|шаг за шагом|一步一步|逐步|一歩ずつ|단계별|passo a passo|passo dopo passo",  # noqa: E501
    ),
}

_COMPILED: dict[str, re.Pattern[str]] = {
    name: re.compile("|".join(f"(?:{p})" for p in pats), re.I) for name, pats in CUE_GROUPS.items()
}
CUE_NAMES: tuple[str, ...] = tuple(CUE_GROUPS)
_MAX_CHARS = 4000


def cue_mask(text: str) -> int:
    """Bit ``i`` set when cue group ``CUE_NAMES[i]`` matches the text."""
    t = text[:_MAX_CHARS]
    m = 0
    for i, name in enumerate(CUE_NAMES):
        if _COMPILED[name].search(t):
            m |= 1 << i
    return m


def cue_names(mask: int) -> list[str]:
    return [n for i, n in enumerate(CUE_NAMES) if mask >> i & 1]
