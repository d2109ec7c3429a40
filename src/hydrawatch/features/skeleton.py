"""Prompt skeletons: the template left when the filled-in material is masked.

Numbers, names, code, quoted material, URLs and e-mail addresses are replaced by
placeholders, so two prompts from the same template with different fillings share
a skeleton (and its hash).
"""

from __future__ import annotations

import re

from hydrawatch.features.hashing import stable_hash

_CODE = re.compile(r"```.*?(```|$)|`[^`\n]{1,200}`", re.S)
_QUOTED = re.compile(
    r"\"[^\"\n]{1,400}\"|“[^”]{1,400}”|«[^»]{1,400}»|「[^」]{1,400}」|『[^』]{1,400}』|"
    r"(?<![\w])'[^'\n]{1,200}'(?![\w])"
)
_URL = re.compile(r"https?://\S+|www\.\S+|\b[\w.+-]+@[\w-]+\.[\w.]+\b")
_NUMBER = re.compile(r"\d+(?:[.,:/-]\d+)*")
# A capitalised word that does not start a sentence: a name, a place, a product.
_NAME = re.compile(r"(?<=[^.!?:\n。]\s)[A-Z][\w'-]*")
_BRACED = re.compile(r"\{[^{}\n]{0,60}\}|\[[^\[\]\n]{0,60}\]")
_WS = re.compile(r"\s+")
_MAX_CHARS = 4000


def skeleton(text: str) -> str:
    """The masked, lower-cased, whitespace-collapsed form of a prompt."""
    t = text[:_MAX_CHARS]
    t = _CODE.sub(" <code> ", t)
    t = _URL.sub(" <url> ", t)
    t = _QUOTED.sub(" <q> ", t)
    t = _NAME.sub("<name>", t)
    t = _NUMBER.sub("0", t)
    t = _BRACED.sub("<slot>", t)
    return _WS.sub(" ", t).strip().lower()


def skeleton_hash(text: str) -> int:
    return stable_hash(skeleton(text))


_TOKEN = re.compile(r"<\w+>|\w+|[^\w\s]", re.U)


def _shingles(sk: str) -> set[str]:
    toks = _TOKEN.findall(sk)
    if len(toks) < 3 or sum(len(t) for t in toks) > 3 * len(toks) + len(sk) // 2:
        # few tokens, or unsegmented scripts (CJK): character 4-grams
        s = sk.replace(" ", "")
        return {s[i : i + 4] for i in range(max(1, len(s) - 3))}
    return {" ".join(toks[i : i + 3]) for i in range(len(toks) - 2)}


def template_family(text: str) -> int:
    """One MinHash of the skeleton's shingles: two prompts share it with probability equal to the
    Jaccard similarity of their skeletons, so paraphrased variations of one template mostly share it."""
    sh = _shingles(skeleton(text))
    if not sh:
        return 0
    return min(stable_hash(s) for s in sh)
