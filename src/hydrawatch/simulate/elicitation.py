"""Campaign prompts: real seed tasks wrapped in the disclosed elicitation styles.

Every style has many hand-written paraphrases with slots filled from synonym lists, and is
varied programmatically (instruction before/after/in the system prompt, task wrappers, output
format demands, casing and punctuation, some non-English variants), so no few fixed strings
identify it. The ``analyst`` style is one benign-looking request ("expert data analyst") in
tens of thousands of variations around one narrow capability.
"""

from __future__ import annotations

import random
from collections.abc import Callable
from dataclasses import dataclass
from functools import cache

from hydrawatch.simulate import corpus
from hydrawatch.simulate.seeding import derive_seed

SYN: dict[str, tuple[str, ...]] = {
    "reasoning": (
        "reasoning",
        "thought process",
        "line of reasoning",
        "chain of thought",
        "thinking",
        "internal reasoning",
        "train of thought",
        "reasoning process",
    ),
    "stepwise": (
        "step by step",
        "step-by-step",
        "one step at a time",
        "in numbered steps",
        "stage by stage",
        "in sequential steps",
        "point by point",
    ),
    "full": ("full", "complete", "entire", "detailed", "thorough", "exhaustive", "unabridged"),
    "write": ("write out", "spell out", "lay out", "write down", "articulate", "describe", "walk through"),
    "answer": ("answer", "response", "reply", "solution", "final answer"),
    "imagine": ("Imagine", "Picture", "Suppose", "Pretend", "Envision"),
    "before": ("Before", "Prior to", "Ahead of"),
    "hidden": ("internal", "hidden", "private", "behind-the-scenes", "underlying", "implicit"),
    "grade": ("Grade", "Score", "Rate", "Evaluate", "Assess", "Judge", "Mark"),
    "grader": (
        "impartial grader",
        "strict judge",
        "expert evaluator",
        "reward model",
        "careful reviewer",
        "calibrated rater",
        "exam marker",
    ),
    "safe": (
        "censorship-safe",
        "politically safe",
        "compliant",
        "sanitized",
        "regulator-friendly",
        "non-sensitive",
        "review-proof",
    ),
    "please": ("", "Please ", "Kindly ", "I'd like you to ", "Can you ", "Make sure to "),
}

COT: tuple[str, ...] = (
    "{imagine} and {write} the {hidden} {reasoning} behind a completed {answer}, and write it out "
    "{stepwise}.",
    "{please}{write} your {full} {reasoning} {stepwise} before giving the {answer}.",
    "{before} you give the {answer}, {write} the {full} {reasoning} that leads to it, {stepwise}.",
    "Think through this out loud. Show every intermediate step of your {reasoning} before the {answer}.",
    "{please}show the {full} {reasoning} behind your {answer}; do not skip any step.",
    "Explain {stepwise} the {reasoning} you would follow, then state the {answer}.",
    "Give your {answer}, but first {write} the {hidden} {reasoning} that produced it, {stepwise}.",
    "{imagine} you are narrating your own {hidden} {reasoning} as you solve this. {write} all of it "
    "{stepwise}.",
    "I want to see how you think. {write} the {full} {reasoning} {stepwise}, then the {answer}.",
    "Reveal your {hidden} {reasoning} in {full} detail, {stepwise}, and only then give the {answer}.",
    "Document your {reasoning} {stepwise} as if teaching a student, then conclude with the {answer}.",
    "Work through the task {stepwise}. Number each step. After the last step, give the {answer}.",
    "{please}reason {stepwise} and make the {full} {reasoning} visible.",
    "Produce a {full} trace of your {reasoning} ({stepwise}), followed by the {answer}.",
    "Don't just give the {answer}: {write} the {reasoning} behind it {stepwise}, including dead ends.",
    "Think carefully and {write} every step of your {reasoning} before the {answer}.",
    "{imagine} an expert solving this. {write} their {full} {hidden} {reasoning} {stepwise}.",
    "Respond with your {full} {reasoning} first, {stepwise}, and the {answer} last.",
)
COT_FOREIGN: tuple[str, ...] = (
    "请想象并阐述完成回答背后的内部推理过程，并一步一步详细写出来。",
    "在给出最终答案之前，请逐步写出你完整的思考过程。",
    "请一步一步地推理，并把每一步的思路都写清楚，最后给出答案。",
    "Antes de responder, describe paso a paso todo tu razonamiento interno.",
    "Imagina el razonamiento interno detrás de una respuesta completa y escríbelo paso a paso.",
    "Bevor du antwortest, schreibe deinen vollständigen Denkprozess Schritt für Schritt auf.",
    "Avant de répondre, détaille pas à pas l'intégralité de ton raisonnement interne.",
    "Прежде чем ответить, подробно и пошагово изложи весь ход своих рассуждений.",
    "回答する前に、あなたの思考過程をステップごとにすべて書き出してください。",
    "Antes de responder, escreva passo a passo todo o seu raciocínio interno.",
)
CENSOR_FOREIGN: tuple[str, ...] = (
    "请针对以下问题给出一个安全、合规、避免敏感政治内容的替代回答。",
    "请给出一个符合内容审核要求的回答版本，避免任何敏感话题。",
    "请提供一个能通过内容审查的回答，同时尽量保持有用。",
    "Da una respuesta alternativa segura frente a la censura, sin temas políticos sensibles.",
    "Дай безопасный с точки зрения цензуры альтернативный ответ, избегая политически чувствительных тем.",
)
TRACE: tuple[str, ...] = (
    "Below is a question and its final {answer}. Reconstruct the {full} {reasoning} that connects "
    "them, {stepwise}.",
    "Here is a task and a completed {answer}. {imagine} the {hidden} {reasoning} that produced this "
    "{answer} and "
    "{write} it {stepwise}.",
    "Given the question and the {answer} below, {write} the {full} derivation an expert would have "
    "gone through.",
    "Reverse-engineer the {reasoning}: starting from the question, show {stepwise} how one arrives "
    "at this {answer}.",
    "The {answer} below is correct. {write} the {reasoning} trace that would lead a careful solver "
    "to it, {stepwise}.",
    "Fill in the missing {reasoning} between the question and the {answer}. Be {full} and go {stepwise}.",
    "Reconstruct the scratchpad: what {full} {reasoning} would produce exactly this {answer}?",
    "Write the {hidden} monologue of a model that produced the {answer} below, {stepwise}.",
)
RUBRIC: tuple[str, ...] = (
    "You are an impartial grader. Score the {answer} below against the rubric, 1-10 per criterion, "
    "and justify "
    "each score.",
    "Evaluate the assistant's {answer} using this rubric. Give a score for each criterion and an "
    "overall score.",
    "Act as a reward model. Rate the {answer} from 1 to 10 on each criterion below, then give a final score.",
    "Grade this {answer} like a strict teacher. For each rubric item give points and a one-line reason.",
    "Compare the {answer} to an ideal one and score it on the rubric. Output the scores, then your "
    "justification.",
    "Judge the quality of the {answer} below. Use the rubric; be calibrated and explain deductions.",
    "{please}assess the following {answer} against the listed criteria and assign a numeric score to each.",
    "You are a {grader}. {grade} the {answer} below against the rubric and explain each score.",
    "{please}act as a {grader}: {grade} this {answer} per criterion (1-10), then overall.",
    "{grade} the following {answer} as a {grader} would. Be {full} in your justification.",
    "As a {grader}, {grade} the candidate {answer} on each rubric item. Output scores first.",
    "Return a score per criterion and a total for the {answer} below; you are a {grader}.",
    "{grade} how well the {answer} satisfies the rubric. Think like a {grader} and list deductions.",
)
RUBRICS: tuple[str, ...] = (
    "Correctness; Completeness; Clarity; Conciseness",
    "Factual accuracy (0-4); Reasoning quality (0-3); Helpfulness (0-2); Style (0-1)",
    "Instruction following; Truthfulness; Harmlessness; Helpfulness",
    "Relevance, depth, coherence, language quality, formatting",
    "Does it answer the question? Is every claim supported? Is the reasoning valid? Is it well written?",
)
CENSOR: tuple[str, ...] = (
    "Provide a censorship-safe alternative {answer} to the question below that avoids politically sensitive "
    "content while staying helpful.",
    "Rewrite a {answer} to this question so that it would pass a strict government content review, "
    "but keep it useful.",
    "Give a version of the {answer} that is acceptable under strict content rules: neutral, no sensitive "
    "political topics, no criticism of authorities.",
    "Answer the question, then {write} a second, politically safe alternative {answer} suitable for "
    "a regulated market.",
    "How would a compliant assistant in a heavily censored market answer this? Give that {answer}.",
    "Produce a sanitized {answer} that steers away from sensitive subjects but still addresses the question.",
    "Give a {safe} alternative {answer} to this question; keep it helpful but avoid sensitive topics.",
    "{please}rewrite the {answer} to the question below into a {safe} version for a regulated market.",
    "Write two answers: a normal one and a {safe} alternative {answer} that avoids political content.",
    "What would a {safe} {answer} to the following look like? {write} it in full.",
    "Produce only the {safe} alternative {answer} to this question, neutral in tone.",
)
WRAPPERS: tuple[str, ...] = (
    "{t}",
    "Question: {t}",
    "<task>\n{t}\n</task>",
    "### Task\n{t}",
    '"""\n{t}\n"""',
    "Problem:\n{t}",
    "TASK >>> {t}",
    "[INPUT]\n{t}\n[/INPUT]",
    "Here is the task:\n\n{t}",
    "Query: {t}",
)
FORMATS: tuple[str, ...] = (
    "",
    "",
    "",
    "Format: <thinking>...</thinking> then <answer>...</answer>.",
    "Use the headings 'Reasoning' and 'Final answer'.",
    'Return JSON with keys "reasoning_steps" (a list) and "answer".',
    "Number every step.",
    "Put the final answer on the last line, prefixed with 'ANSWER:'.",
    "Use markdown.",
)
ANALYST_PERSONA: tuple[str, ...] = (
    "You are an expert data analyst.",
    "Act as an expert data analyst.",
    "You're a senior data analyst.",
    "As an experienced data analyst,",
    "Pretend you are a world-class data analyst.",
    "You are a professional data analyst with 15 years of experience.",
    "Take the role of an expert analyst.",
    "I need help from an expert data analyst.",
    "Role: expert data analyst.",
    "You are a meticulous data scientist.",
    "你是一名资深数据分析师。",
    "Eres un analista de datos experto.",
)
ANALYST_ASK: tuple[str, ...] = (
    "Analyze the dataset below and identify the key trends.",
    "What are the most important insights in this data?",
    "Find anomalies or outliers in the following table and explain them.",
    "Look at this data and tell me what drives {metric}.",
    "Summarize this table for an executive audience.",
    "Which segment performs best on {metric}, and why?",
    "Describe the relationship between {col} and {metric}.",
    "Forecast {metric} for the next period from this data and explain your method.",
    "Give me three hypotheses that explain the changes in {metric}.",
    "Check this data for quality problems.",
    "What would you recommend based on this data?",
    "Compute growth rates and comment on them.",
)
ANALYST_TAIL: tuple[str, ...] = (
    "",
    "Explain your reasoning step by step.",
    "Show your calculations.",
    "Be concise.",
    "Walk me through your analysis.",
    "List your assumptions first.",
    "Think it through carefully.",
    "Present the result as a short report with headings.",
)
METRICS = (
    "revenue",
    "churn",
    "conversion rate",
    "daily active users",
    "average order value",
    "latency",
    "defect rate",
    "NPS",
    "ticket volume",
    "gross margin",
    "retention",
    "CAC",
    "session length",
)
DIMENSIONS = (
    "region",
    "month",
    "product line",
    "channel",
    "cohort",
    "plan",
    "device",
    "store",
    "team",
    "country",
    "week",
    "campaign",
    "segment",
    "warehouse",
)
LABELS = {
    "region": ("North", "South", "East", "West", "Central", "APAC", "EMEA", "LATAM"),
    "month": ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"),
    "plan": ("Free", "Basic", "Pro", "Team", "Enterprise"),
    "device": ("iOS", "Android", "Web", "Desktop"),
    "channel": ("Organic", "Paid search", "Social", "Email", "Referral", "Direct"),
}


@dataclass(slots=True)
class Request:
    system: str | None
    user: str
    out_median: float
    elicited: bool
    response_style: str


def _fill(rng: random.Random, template: str) -> str:
    out = template
    for key, options in SYN.items():
        token = "{" + key + "}"
        while token in out:
            out = out.replace(token, options[int(rng.random() * len(options))], 1)
    return out


def _noise(rng: random.Random, text: str, level: float) -> str:
    """Human-ish surface variation: casing, trailing punctuation, doubled spaces, small typos."""
    if rng.random() < level * 0.3:
        text = text.lower()
    if rng.random() < level * 0.3:
        text = text.rstrip(".") + rng.choice(("", "!", " pls", " thanks", "."))
    if rng.random() < level * 0.2 and len(text) > 20:
        i = rng.randrange(1, len(text) - 1)
        text = text[:i] + text[i + 1] + text[i] + text[i + 2 :]
    if rng.random() < level * 0.2:
        text = text.replace(" ", "  ", 1)
    return text


def _seed_task(rng: random.Random) -> str:
    texts = corpus.pool("seed_tasks")
    return texts[int(rng.random() * len(texts))]


def _compose(rng: random.Random, instruction: str, task: str, stealth: bool) -> tuple[str | None, str]:
    task = WRAPPERS[int(rng.random() * len(WRAPPERS))].format(t=task)
    fmt = FORMATS[int(rng.random() * len(FORMATS))]
    mode = int(rng.random() * (3 if stealth else 5))
    if mode == 0:
        user = f"{instruction}\n\n{task}"
    elif mode == 1:
        user = f"{task}\n\n{instruction}"
    elif mode == 2:
        user = f"{task} {instruction}"
    elif mode == 3:
        return instruction + (f" {fmt}" if fmt else ""), task
    else:
        user = f"{instruction}\n{fmt}\n\n{task}" if fmt else f"{instruction}\n\n{task}"
        fmt = ""
    if fmt:
        user = f"{user}\n\n{fmt}"
    return None, user


def _instruction(
    rng: random.Random, templates: tuple[str, ...], stealth: bool, foreign: tuple[str, ...] = ()
) -> str:
    if foreign and rng.random() < 0.12:
        return foreign[int(rng.random() * len(foreign))]
    text = _fill(rng, templates[int(rng.random() * len(templates))])
    return _noise(rng, text, 1.0 if stealth else 0.3)


def _table(rng: random.Random) -> tuple[str, str, str]:
    dim = DIMENSIONS[int(rng.random() * len(DIMENSIONS))]
    metric = METRICS[int(rng.random() * len(METRICS))]
    other = METRICS[int(rng.random() * len(METRICS))]
    labels = LABELS.get(dim) or tuple(f"{dim.title()} {c}" for c in "ABCDEFGHIJ")
    rows = rng.randint(4, min(12, len(labels)))
    start = rng.randrange(len(labels) - rows + 1)
    base, drift = rng.uniform(10, 5000), rng.uniform(-0.15, 0.25)
    sep = rng.choice((",", " | ", "\t"))
    lines = [sep.join((dim, metric, other))]
    for j in range(rows):
        v = base * (1 + drift) ** j * rng.uniform(0.85, 1.15)
        lines.append(
            sep.join((labels[start + j], f"{v:.{rng.randint(0, 2)}f}", f"{rng.uniform(0, 100):.1f}"))
        )
    table = "\n".join(lines)
    if rng.random() < 0.3:
        table = f"```\n{table}\n```"
    return table, metric, dim


TEMPLATES: dict[str, tuple[tuple[str, ...], tuple[str, ...]]] = {
    "cot": (COT, COT_FOREIGN),
    "trace": (TRACE, ()),
    "rubric": (RUBRIC, ()),
    "censor": (CENSOR, CENSOR_FOREIGN),
}
BOOK_SIZE = 2048


class Phrasebook:
    """A campaign's pre-generated paraphrases (instructions per style, data tables, analyst asks).

    Drawing from thousands of pre-generated variants keeps per-request cost low while no
    single string repeats often; the seed task, wrapper, format and layout vary per request."""

    def __init__(self, seed: int, stealth: bool):
        rng = random.Random(derive_seed(seed, "phrasebook", stealth))
        size = BOOK_SIZE * (2 if stealth else 1)
        self.stealth = stealth
        self.instructions = {
            style: tuple(_instruction(rng, t, stealth, f) for _ in range(size))
            for style, (t, f) in TEMPLATES.items()
        }
        self.tables = tuple(_table(rng) for _ in range(size))
        self.asks = tuple(
            _noise(rng, ANALYST_ASK[int(rng.random() * len(ANALYST_ASK))], 1.0 if stealth else 0.3)
            for _ in range(size)
        )

    def instruction(self, rng: random.Random, style: str) -> str:
        pool = self.instructions[style]
        return pool[int(rng.random() * len(pool))]


@cache
def phrasebook(seed: int, stealth: bool) -> Phrasebook:
    return Phrasebook(seed, stealth)


def cot(rng: random.Random, book: Phrasebook) -> Request:
    system, user = _compose(rng, book.instruction(rng, "cot"), _seed_task(rng), book.stealth)
    return Request(system, user, 2200.0, True, "steps")


def trace(rng: random.Random, book: Phrasebook) -> Request:
    if rng.random() < 0.5:
        pairs = corpus.faq()
        pair = pairs[int(rng.random() * len(pairs))]
        question, answer = pair.question, pair.answer[: 300 + int(rng.random() * 1200)]
    else:
        question, answer = _seed_task(rng), corpus.response_text(rng, 300 + int(rng.random() * 900))
    task = f"Question:\n{question}\n\nFinal answer:\n{answer}"
    system, user = _compose(rng, book.instruction(rng, "trace"), task, book.stealth)
    return Request(system, user, 2600.0, True, "steps")


def rubric(rng: random.Random, book: Phrasebook) -> Request:
    rubric_text = RUBRICS[int(rng.random() * len(RUBRICS))]
    candidate = corpus.response_text(rng, 300 + int(rng.random() * 1200))
    task = f"Question: {_seed_task(rng)}\n\nResponse to grade:\n{candidate}\n\nRubric: {rubric_text}"
    system, user = _compose(rng, book.instruction(rng, "rubric"), task, book.stealth)
    return Request(system, user, 450.0, False, "grade")


def censor(rng: random.Random, book: Phrasebook) -> Request:
    texts = corpus.pool("questions" if rng.random() < 0.5 else "chat")
    system, user = _compose(
        rng, book.instruction(rng, "censor"), texts[int(rng.random() * len(texts))], book.stealth
    )
    return Request(system, user, 700.0, False, "plain")


def analyst(rng: random.Random, book: Phrasebook) -> Request:
    table, metric, dim = book.tables[int(rng.random() * len(book.tables))]
    persona = ANALYST_PERSONA[int(rng.random() * len(ANALYST_PERSONA))]
    ask = book.asks[int(rng.random() * len(book.asks))].replace("{metric}", metric).replace("{col}", dim)
    tail = ANALYST_TAIL[int(rng.random() * len(ANALYST_TAIL))]
    x = rng.random()
    if x < 0.35:
        return Request(persona, f"{ask}\n\n{table}\n\n{tail}".strip(), 900.0, bool(tail), "plain")
    parts = (persona, ask, table, tail) if x < 0.75 else (persona, table, ask, tail)
    return Request(None, "\n\n".join(p for p in parts if p), 900.0, "step" in tail, "plain")


def unrelated(rng: random.Random, book: Phrasebook) -> Request:
    pools = ("chat", "chat", "chat", "writing", "writing", "code", "code", "roleplay")
    texts = corpus.pool(pools[int(rng.random() * len(pools))])
    return Request(None, texts[int(rng.random() * len(texts))], 350.0, False, "plain")


STYLES: dict[str, Callable[[random.Random, Phrasebook], Request]] = {
    "cot": cot,
    "trace": trace,
    "rubric": rubric,
    "censor": censor,
    "analyst": analyst,
    "unrelated": unrelated,
}
