"""Intent classifier: what a prompt is for, across paraphrases and languages.

A multinomial logistic regression over TF-IDF of hashed token uni- and bigrams
(wordllama's multilingual BPE tokens, tokenised in Rust) and wordllama sentence embeddings
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


def _token_ids(texts: list[str]) -> list[npt.NDArray[np.int64]]:
    """wordllama (Llama-3 BPE) token ids of each text: multilingual, and tokenised in Rust."""
    wl = _embedder()
    enc = wl.tokenizer.encode_batch(texts, is_pretokenized=False, add_special_tokens=False)
    out: list[npt.NDArray[np.int64]] = []
    for e in enc:
        ids = np.asarray(e.ids, dtype=np.int64)
        mask = np.asarray(e.attention_mask, dtype=bool)
        out.append(ids[mask] if len(mask) == len(ids) else ids)
    return out


def _rows(ids: list[npt.NDArray[np.int64]]) -> tuple[npt.NDArray[np.int64], npt.NDArray[np.int64]]:
    lengths = np.fromiter((len(x) for x in ids), dtype=np.int64, count=len(ids))
    flat = np.concatenate(ids) if ids else np.zeros(0, np.int64)
    return flat, lengths


def _embed_ids(ids: list[npt.NDArray[np.int64]]) -> npt.NDArray[np.float32]:
    """wordllama mean-pooled, L2-normalised embeddings as one sparse product (token-count matrix
    times the embedding table): the vectors of ``WordLlama.embed`` without per-batch padding."""
    table = _embedder().embedding
    if not ids:
        return np.zeros((0, table.shape[1]), np.float32)
    flat, lengths = _rows(ids)
    flat = np.clip(flat, 0, table.shape[0] - 1)
    rows = np.repeat(np.arange(len(ids)), lengths)
    weights = np.repeat(1.0 / np.maximum(lengths, 1), lengths).astype(np.float32)
    m = sparse.csr_matrix((weights, (rows, flat)), shape=(len(ids), table.shape[0]))
    e = np.asarray(m @ table, dtype=np.float32)
    norms = np.linalg.norm(e, axis=1, keepdims=True)
    out: npt.NDArray[np.float32] = np.divide(e, norms, out=np.zeros_like(e), where=norms > 0)
    return out


def _embed(texts: list[str]) -> npt.NDArray[np.float32]:
    return _embed_ids(_token_ids(texts))


_GRAM_DIM = 1 << 16


def _gram_counts(ids: list[npt.NDArray[np.int64]]) -> sparse.csr_matrix:
    """Token unigrams and bigrams, hashed into ``_GRAM_DIM`` columns (vectorised, no Python loop
    per token)."""
    flat, lengths = _rows(ids)
    n = len(ids)
    rows = np.repeat(np.arange(n), lengths)
    uni = flat % _GRAM_DIM
    # bigrams: consecutive tokens of the same text
    same = np.zeros(len(flat), dtype=bool)
    if len(flat) > 1:
        same[1:] = rows[1:] == rows[:-1]
    prev = np.roll(flat, 1)
    bi = ((prev * 1_000_003 + flat * 7919 + 12_345) % _GRAM_DIM)[same]
    cols = np.concatenate([uni, bi])
    r = np.concatenate([rows, rows[same]])
    m = sparse.csr_matrix((np.ones(len(cols), np.float32), (r, cols)), shape=(n, _GRAM_DIM))
    m.sum_duplicates()
    return m


@dataclass
class TokenGramTfidf:
    """Sublinear TF-IDF over hashed token uni- and bigrams, rows L2-normalised."""

    idf: npt.NDArray[np.float32]

    @classmethod
    def fit(cls, ids: list[npt.NDArray[np.int64]]) -> TokenGramTfidf:
        m = _gram_counts(ids)
        df = np.bincount(m.indices, minlength=_GRAM_DIM).astype(np.float64)
        idf = np.log((1 + m.shape[0]) / (1 + df)) + 1.0
        return cls(idf.astype(np.float32))

    def transform(self, ids: list[npt.NDArray[np.int64]]) -> sparse.csr_matrix:
        m = _gram_counts(ids)
        m.data = (1.0 + np.log(m.data)) * self.idf[m.indices]
        norms = np.sqrt(np.asarray(m.multiply(m).sum(axis=1)).ravel())
        norms[norms == 0] = 1.0
        return sparse.csr_matrix(sparse.diags(1.0 / norms) @ m)


TOPIC_DIMS = 16


def _topic_projection() -> npt.NDArray[np.float32]:
    rng = np.random.default_rng(20260601)
    return rng.standard_normal((_embedder().embedding.shape[1], TOPIC_DIMS)).astype(np.float32)


@dataclass
class IntentModel:
    grams: TokenGramTfidf
    clf: LogisticRegression
    temperature: float
    emb_weight: float = 1.0
    emb_center: npt.NDArray[np.float32] | None = None

    def topics(self, texts: list[str]) -> npt.NDArray[np.float32]:
        """Unit ``TOPIC_DIMS``-d random projections of the centred embeddings: the mean of an
        account's topic vectors has norm near 1 when all its prompts are about one thing."""
        return self._topics(_embed_ids(_token_ids([clip_text(t) for t in texts])))

    def _topics(self, emb: npt.NDArray[np.float32]) -> npt.NDArray[np.float32]:
        center = self.emb_center if self.emb_center is not None else np.zeros(emb.shape[1], np.float32)
        z = (emb - center) @ _topic_projection()
        norms = np.linalg.norm(z, axis=1, keepdims=True)
        out: npt.NDArray[np.float32] = np.divide(z, norms, out=np.zeros_like(z), where=norms > 0)
        return out

    def predict_with_topics(
        self, texts: list[str]
    ) -> tuple[npt.NDArray[np.float64], npt.NDArray[np.float32]]:
        if not texts:
            return np.zeros((0, len(CLASSES))), np.zeros((0, TOPIC_DIMS), np.float32)
        ids = _token_ids([clip_text(t) for t in texts])
        emb = _embed_ids(ids)
        x = sparse.hstack([self.grams.transform(ids), sparse.csr_matrix(emb * self.emb_weight)], format="csr")
        logits = self.clf.decision_function(x) / self.temperature
        logits -= logits.max(axis=1, keepdims=True)
        p = np.exp(logits)
        return np.asarray(p / p.sum(axis=1, keepdims=True), dtype=np.float64), self._topics(emb)

    def _matrix(self, texts: list[str]) -> sparse.csr_matrix:
        ids = _token_ids([clip_text(t) for t in texts])
        x_emb = sparse.csr_matrix(_embed_ids(ids) * self.emb_weight)
        return sparse.hstack([self.grams.transform(ids), x_emb], format="csr")

    def predict_proba(self, texts: list[str]) -> npt.NDArray[np.float64]:
        """Rows follow ``texts``; columns follow ``CLASSES``."""
        if not texts:
            return np.zeros((0, len(CLASSES)))
        logits = self.clf.decision_function(self._matrix(texts)) / self.temperature
        logits -= logits.max(axis=1, keepdims=True)
        p = np.exp(logits)
        return np.asarray(p / p.sum(axis=1, keepdims=True), dtype=np.float64)


def _fit(texts: list[str], labels: list[int], emb_weight: float) -> tuple[TokenGramTfidf, LogisticRegression]:
    ids = _token_ids([clip_text(t) for t in texts])
    grams = TokenGramTfidf.fit(ids)
    x = sparse.hstack([grams.transform(ids), sparse.csr_matrix(_embed_ids(ids) * emb_weight)], format="csr")
    clf = LogisticRegression(C=8.0, max_iter=300, tol=1e-3, class_weight="balanced")
    clf.fit(x, np.asarray(labels))
    return grams, clf


def train(rows: list[tuple[str, str]] | None = None, emb_weight: float = 1.0) -> IntentModel:
    rows = _augment(rows if rows is not None else load_exemplars())
    texts = [t for t, _ in rows]
    y = [CLASSES.index(lbl) for _, lbl in rows]
    # Out-of-fold logits for temperature calibration.
    oof = np.zeros((len(texts), len(CLASSES)))
    folds = StratifiedKFold(n_splits=4, shuffle=True, random_state=0)
    y_arr = np.asarray(y)
    for tr, te in folds.split(texts, y_arr):
        grams, clf = _fit([texts[i] for i in tr], [y[i] for i in tr], emb_weight)
        m = IntentModel(grams, clf, 1.0, emb_weight)
        oof[te] = m.clf.decision_function(m._matrix([texts[i] for i in te]))

    def nll(temp: float) -> float:
        z = oof / temp
        z -= z.max(axis=1, keepdims=True)
        logp = z - np.log(np.exp(z).sum(axis=1, keepdims=True))
        return float(-logp[np.arange(len(y_arr)), y_arr].mean())

    temperature = float(minimize_scalar(nll, bounds=(0.05, 20.0), method="bounded").x)
    grams, clf = _fit(texts, y, emb_weight)
    center = _embed(texts).mean(axis=0).astype(np.float32)
    return IntentModel(grams, clf, temperature, emb_weight, center)


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
