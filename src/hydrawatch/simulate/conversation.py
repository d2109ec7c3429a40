"""Texts written for the simulator: follow-ups of chat users, B2B integrations' fixed system
prompts and templates, eval-harness templates and coding-agent turns. The user requests
themselves come from the real corpora (``corpus``)."""

from __future__ import annotations

import random
from dataclasses import dataclass

from hydrawatch.simulate import corpus

FOLLOW_UPS: tuple[str, ...] = (
    "Can you make it shorter?",
    "thanks! can you give me an example?",
    "That's not quite right, the second point is wrong.",
    "Could you translate that into Spanish please",
    "now explain it like I'm 12",
    "ok, and what about edge cases?",
    "can you format that as a table",
    "wait, why?",
    "Can you cite sources for that?",
    "make it more formal",
    "hmm, I don't think that works in my case. I'm on Windows.",
    "perfect. now do the same for the other one",
    "What would you change if the budget was half?",
    "shorter pls",
    "Can you rewrite the intro only?",
    "Give me three alternatives",
    "is there a simpler way?",
    "I meant the other option, sorry",
    "ok that helps. what should I do first?",
    "Can you add comments to the code?",
    "and in Python?",
    "Why is that better than the usual approach?",
    "summarize this in 3 bullet points",
    "that's great, thank you!",
    "you misunderstood, I want it for a wedding speech, not a eulogy",
    "Can you double check the numbers?",
    "能再详细一点吗？",
    "用中文再解释一遍",
    "Kannst du das auf Deutsch zusammenfassen?",
    "Peux-tu simplifier ?",
    "what are the risks?",
    "Does this still hold in 2026?",
    "ok now write the email",
    "add a conclusion",
)


@dataclass(frozen=True, slots=True)
class Integration:
    """A B2B customer's fixed integration: one system prompt, templated user content."""

    name: str
    system: str
    template: str
    source: str  # corpus pool feeding {text}
    out_median: float
    max_tokens: int
    temperature: float


INTEGRATIONS: tuple[Integration, ...] = (
    Integration(
        "support-bot",
        "You are ShopBot, the customer support assistant for Northwind Outfitters. Be friendly and concise. "
        "Never promise refunds; escalate billing disputes to a human agent. Answer in the "
        "customer's language.",
        "Customer message: {text}\nOrder ID: NW-{num}\nCustomer tier: {tier}",
        "chat",
        180,
        512,
        0.3,
    ),
    Integration(
        "ticket-classifier",
        "Classify the support ticket into exactly one of: billing, bug, feature_request, account, "
        "abuse, other. "
        'Respond only with JSON: {"label": <label>, "confidence": <0-1>, "summary": <one sentence>}.',
        "Ticket #{num}\n---\n{text}",
        "chat",
        45,
        128,
        0.0,
    ),
    Integration(
        "product-copy",
        "You write product descriptions for an online marketplace. Output 60-120 words, no superlatives, "
        "mention materials and care instructions when given.",
        "Product: {product}\nFeatures: {feature}; {feature2}\nTone: {tone}\nSKU: {num}",
        "none",
        160,
        300,
        0.7,
    ),
    Integration(
        "contract-summary",
        "You are a legal document assistant for a mid-size law firm. Reason step by step about the "
        "obligations, "
        "deadlines and risks in the document before giving the final summary. Think carefully; "
        "accuracy matters "
        "more than brevity.",
        "Matter {num}. Summarize the following document for a partner review:\n\n{text}",
        "writing_short",
        700,
        2048,
        0.2,
    ),
    Integration(
        "math-tutor",
        "You are a patient tutor in a homework-help app for high-school students. Think step by "
        "step and show "
        "your reasoning clearly before giving the final answer, so the student can follow along.",
        "Student question (grade {grade}): {text}",
        "questions",
        450,
        1024,
        0.4,
    ),
    Integration(
        "code-review",
        "You are a senior code reviewer. Point out bugs, edge cases and style issues. Be specific and brief.",
        "Review this function from PR #{num}:\n\n```python\n{text}\n```",
        "code",
        300,
        800,
        0.2,
    ),
    Integration(
        "translation",
        "Translate the user's text into {lang}. Preserve formatting, names and numbers. Output only "
        "the translation.",
        "{text}",
        "chat",
        220,
        1024,
        0.0,
    ),
)

PRODUCTS = (
    "merino wool sweater",
    "trail running shoe",
    "ceramic pour-over set",
    "linen duvet cover",
    "bamboo cutting board",
    "waterproof hiking jacket",
    "cast iron skillet",
    "leather card wallet",
    "noise-cancelling earbuds",
    "standing desk mat",
    "kids' rain boots",
    "yoga block set",
)
FEATURES = (
    "machine washable",
    "recycled materials",
    "lifetime warranty",
    "lightweight",
    "dishwasher safe",
    "handmade in Portugal",
    "vegan leather",
    "BPA-free",
    "fits 15-inch laptops",
    "non-slip base",
)
TONES = ("playful", "premium", "practical", "minimal", "warm")
LANGS = ("Spanish", "German", "French", "Japanese", "Portuguese (Brazil)", "Italian", "Korean")


def fill_integration(rng: random.Random, integ: Integration, lang: str) -> tuple[str, str]:
    """(system, user) of one request of a B2B integration."""
    text = ""
    if integ.source != "none":
        texts = corpus.pool(integ.source)
        text = texts[int(rng.random() * len(texts))]
    user = integ.template.format(
        text=text,
        num=rng.randrange(10000, 999999),
        tier=rng.choice(("free", "plus", "gold")),
        product=rng.choice(PRODUCTS),
        feature=rng.choice(FEATURES),
        feature2=rng.choice(FEATURES),
        tone=rng.choice(TONES),
        grade=rng.randint(8, 12),
    )
    return integ.system.replace("{lang}", lang), user


EVAL_TEMPLATES: tuple[str, ...] = (
    "{q}\n\nLet's think step by step.",
    "Answer the following question. Think step by step, then give the final answer after "
    "'Answer:'.\n\nQuestion: {q}",
    "Q: {q}\nA: Let's work this out in a step by step way to be sure we have the right answer.",
    "Solve the problem below. Reason step by step and put the final answer in \\boxed{{}}.\n\n{q}",
    "{q}",
    "Complete the following Python function. Return only code.\n\n{q}",
    "You will be asked a question. If the premise is false, say so. Think step by step.\n\nQuestion: {q}",
)

AGENT_SYSTEM_CORE = (
    "You are an autonomous coding agent working in the user's repository. Use the provided tools to read, "
    "search and edit files and to run commands. Make minimal, focused changes. Always run the tests after "
    "editing. Never commit secrets. When a command fails, read the error and fix the cause rather than "
    "retrying blindly. Explain what you changed at the end in a short summary. "
)
AGENT_TOOLS: tuple[str, ...] = (
    "read_file",
    "write_file",
    "edit_file",
    "list_dir",
    "grep",
    "glob",
    "run_command",
    "run_tests",
    "git_diff",
    "git_status",
    "web_fetch",
    "search_docs",
    "todo_write",
    "ask_user",
)
AGENT_ACTIONS: tuple[str, ...] = (
    "Let me look at the failing test first.",
    "I'll search for where this function is defined.",
    "Running the test suite to see the current state.",
    "The error comes from a None check; fixing it.",
    "Now I'll update the call sites.",
    "Tests pass. Let me also check the type hints.",
    "I need to read the config loader to understand the default.",
    "Let me check git status before editing.",
)
FILES = (
    "src/app/models.py",
    "src/app/api/routes.py",
    "tests/test_utils.py",
    "package.json",
    "src/index.ts",
    "internal/server/handler.go",
    "README.md",
    "src/lib/parser.rs",
    "app/services/billing.rb",
)
