"""Intent classifier: what a prompt is for, across paraphrases and languages.

A multinomial logistic regression over character n-gram TF-IDF (catches
morphology and scripts without tokenisation) and wordllama sentence embeddings
(catches paraphrase), trained on the shipped exemplars
(``data/intent_exemplars.jsonl``: EN, ZH, ES, FR, DE, RU, JA, KO, PT, IT, with
ordinary requests as negatives). Exemplars are augmented by embedding intent
instructions in ordinary tasks, since real prompts wrap the instruction around
material. Probabilities are temperature-calibrated on out-of-fold predictions.
The model trains in about a second on first use and is cached per process.
"""

from __future__ import annotations

import os
import random
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt
import orjson
from scipy import sparse
from scipy.optimize import minimize_scalar
from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import StratifiedKFold

EXEMPLARS = Path(__file__).parent / "data" / "intent_exemplars.jsonl"
NONE = "none"
INTENTS: tuple[str, ...] = (
    "cot_elicitation",
    "trace_reconstruction",
    "rubric_grading",
    "censorship_rewrite",
    "dataset_generation",
)
INTENT_LABELS: dict[str, str] = {
    "cot_elicitation": "chain-of-thought elicitation",
    "trace_reconstruction": "reasoning-trace reconstruction",
    "rubric_grading": "rubric grading",
    "censorship_rewrite": "censorship-safe rewriting",
    "dataset_generation": "dataset generation",
}
CLASSES: tuple[str, ...] = (NONE, *INTENTS)
_HEAD, _TAIL = 320, 160  # keep in step with hunt.enrich.CANON_SQL


def clip_text(text: str) -> str:
    """Head and tail of long prompts: instructions sit at the start or the end."""
    if len(text) <= _HEAD + _TAIL:
        return text
    return text[:_HEAD] + " \n " + text[-_TAIL:]


def load_exemplars(path: Path = EXEMPLARS) -> list[tuple[str, str]]:
    rows = [orjson.loads(line) for line in path.read_bytes().splitlines() if line.strip()]
    return [(str(r["text"]), str(r["intent"])) for r in rows]


def _augment(rows: list[tuple[str, str]], seed: int = 7) -> list[tuple[str, str]]:
    rng = random.Random(seed)
    negatives = [t for t, y in rows if y == NONE]
    out = list(rows)
    for t, y in rows:
        for _ in range(2):
            other = rng.choice(negatives)
            out.append((f"{other}\n\n{t}" if rng.random() < 0.5 else f"{t}\n\n{other}", y))
    for _ in range(len(negatives)):
        a, b = rng.sample(negatives, 2)
        out.append((f"{a}\n{b}", NONE))
    return out


@lru_cache(maxsize=1)
def _embedder() -> Any:
    import wordllama
    from wordllama import WordLlama

    return WordLlama.load(cache_dir=Path(wordllama.__file__).parent, disable_download=True)


def _embed(texts: list[str]) -> npt.NDArray[np.float32]:
    """wordllama mean-pooled, L2-normalised embeddings, as one sparse matrix product per batch
    (token-count matrix times the embedding table): the same vectors as ``WordLlama.embed``
    without padding every batch to its longest text."""
    wl = _embedder()
    table = wl.embedding
    if not texts:
        return np.zeros((0, table.shape[1]), np.float32)
    enc = wl.tokenizer.encode_batch(texts, is_pretokenized=False, add_special_tokens=False)
    ids = [
        np.asarray([i for i, m in zip(e.ids, e.attention_mask, strict=True) if m], dtype=np.int64)
        for e in enc
    ]
    lengths = np.fromiter((len(x) for x in ids), dtype=np.int64, count=len(ids))
    flat = np.clip(np.concatenate(ids) if len(ids) else np.zeros(0, np.int64), 0, table.shape[0] - 1)
    rows = np.repeat(np.arange(len(ids)), lengths)
    weights = np.repeat(1.0 / np.maximum(lengths, 1), lengths).astype(np.float32)
    m = sparse.csr_matrix((weights, (rows, flat)), shape=(len(ids), table.shape[0]))
    e = np.asarray(m @ table, dtype=np.float32)
    norms = np.linalg.norm(e, axis=1, keepdims=True)
    out: npt.NDArray[np.float32] = np.divide(e, norms, out=np.zeros_like(e), where=norms > 0)
    return out


@dataclass
class IntentModel:
    tfidf: TfidfVectorizer
    clf: LogisticRegression
    temperature: float
    emb_weight: float = 1.0

    def _matrix(self, texts: list[str]) -> sparse.csr_matrix:
        clipped = [clip_text(t) for t in texts]
        x_char = self.tfidf.transform(clipped)
        x_emb = sparse.csr_matrix(_embed(clipped) * self.emb_weight)
        return sparse.hstack([x_char, x_emb], format="csr")

    def predict_proba(self, texts: list[str]) -> npt.NDArray[np.float64]:
        """Rows follow ``texts``; columns follow ``CLASSES``."""
        if not texts:
            return np.zeros((0, len(CLASSES)))
        logits = self.clf.decision_function(self._matrix(texts)) / self.temperature
        logits -= logits.max(axis=1, keepdims=True)
        p = np.exp(logits)
        return np.asarray(p / p.sum(axis=1, keepdims=True), dtype=np.float64)


def _fit(
    texts: list[str], labels: list[int], emb_weight: float
) -> tuple[TfidfVectorizer, LogisticRegression]:
    tfidf = TfidfVectorizer(
        analyzer="char_wb", ngram_range=(2, 4), sublinear_tf=True, min_df=1, max_features=60000
    )
    clipped = [clip_text(t) for t in texts]
    x = sparse.hstack(
        [tfidf.fit_transform(clipped), sparse.csr_matrix(_embed(clipped) * emb_weight)], format="csr"
    )
    clf = LogisticRegression(C=8.0, max_iter=2000, class_weight="balanced")
    clf.fit(x, np.asarray(labels))
    return tfidf, clf


def train(rows: list[tuple[str, str]] | None = None, emb_weight: float = 1.0) -> IntentModel:
    rows = _augment(rows if rows is not None else load_exemplars())
    texts = [t for t, _ in rows]
    y = [CLASSES.index(lbl) for _, lbl in rows]
    # Out-of-fold logits for temperature calibration.
    oof = np.zeros((len(texts), len(CLASSES)))
    folds = StratifiedKFold(n_splits=4, shuffle=True, random_state=0)
    y_arr = np.asarray(y)
    for tr, te in folds.split(texts, y_arr):
        tfidf, clf = _fit([texts[i] for i in tr], [y[i] for i in tr], emb_weight)
        m = IntentModel(tfidf, clf, 1.0, emb_weight)
        oof[te] = m.clf.decision_function(m._matrix([texts[i] for i in te]))

    def nll(temp: float) -> float:
        z = oof / temp
        z -= z.max(axis=1, keepdims=True)
        logp = z - np.log(np.exp(z).sum(axis=1, keepdims=True))
        return float(-logp[np.arange(len(y_arr)), y_arr].mean())

    temperature = float(minimize_scalar(nll, bounds=(0.05, 20.0), method="bounded").x)
    tfidf, clf = _fit(texts, y, emb_weight)
    return IntentModel(tfidf, clf, temperature, emb_weight)


def _cache_path() -> Path:
    import hashlib
    import os

    import sklearn

    key = hashlib.sha256(EXEMPLARS.read_bytes() + Path(__file__).read_bytes()).hexdigest()[:16]
    base = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "hydrawatch"
    return base / f"intent-{key}-sk{sklearn.__version__}.pkl"


@lru_cache(maxsize=1)
def default_model() -> IntentModel:
    """The model trained on the shipped exemplars (cached on disk: training takes seconds)."""
    import pickle

    path = _cache_path()
    try:
        model = pickle.loads(path.read_bytes())  # our own artefact, keyed by the exemplars' hash
        if isinstance(model, IntentModel):
            return model
    except (OSError, pickle.UnpicklingError, EOFError, AttributeError, ImportError):
        pass
    model = train()
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_suffix(f".{os.getpid()}.tmp")
        tmp.write_bytes(pickle.dumps(model))
        tmp.replace(path)
    except OSError:
        pass
    return model
