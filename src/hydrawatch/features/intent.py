"""Intent classifier: what a prompt is for, across paraphrases and languages.

A multinomial logistic regression over TF-IDF of hashed token uni- and bigrams
(wordllama's multilingual BPE tokens, through a per-word cache: ``features.tokens``) and
wordllama sentence embeddings
(catches paraphrase), trained on the shipped exemplars
(``data/intent_exemplars.jsonl``: EN, ZH, ES, FR, DE, RU, JA, KO, PT, IT, with
ordinary requests as negatives). Exemplars are augmented by embedding intent
instructions in ordinary tasks, since real prompts wrap the instruction around
material. Probabilities are temperature-calibrated on out-of-fold predictions.
The model trains in about a second on first use and is cached per process.

Inference is vectorised per batch: one sort gives the canonical sparse gram matrix, one sparse
product the embeddings, and the scores are computed in the classifier's own dtype and summation
order, so they equal ``clf.decision_function`` on the stacked matrix bit for bit (tested).
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

from hydrawatch.features.tokens import WordTokens, split_rows

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


Ids = npt.NDArray[np.int64]
Rows = tuple[Ids, Ids]  # all texts' token ids end to end, and each text's number of tokens


@lru_cache(maxsize=1)
def _word_tokens() -> WordTokens:
    return WordTokens(_embedder().tokenizer)


def _token_rows(texts: list[str]) -> Rows:
    """wordllama (SentencePiece BPE, 32k multilingual vocabulary) token ids of many texts, through
    a per-word cache: the ids the tokenizer itself gives, without padding (``features.tokens``)."""
    return _word_tokens().rows(texts)


def _token_ids(texts: list[str]) -> list[Ids]:
    return split_rows(*_token_rows(texts))


def _rows(ids: list[Ids]) -> Rows:
    lengths = np.fromiter((len(x) for x in ids), dtype=np.int64, count=len(ids))
    flat = np.concatenate(ids) if ids else np.zeros(0, np.int64)
    return flat, lengths


def _sorted_counts(keys: Ids) -> tuple[Ids, npt.NDArray[np.float32]]:
    """Distinct keys in increasing order and how often each occurs."""
    if not len(keys):
        return keys, np.zeros(0, np.float32)
    s = np.sort(keys)
    first = np.empty(len(s), bool)
    first[0] = True
    np.not_equal(s[1:], s[:-1], out=first[1:])
    at = np.flatnonzero(first)
    counts = np.diff(np.append(at, len(s))).astype(np.float32)
    return s[at], counts


def _csr(keys: Ids, data: npt.NDArray[np.float32], shift: int, n: int, dim: int) -> sparse.csr_matrix:
    """A CSR matrix from distinct sorted ``row << shift | col`` keys: the canonical form (sorted
    indices, no duplicates) scipy builds from COO triplets, without its sort."""
    rows = keys >> shift
    indptr = np.zeros(n + 1, np.int32 if len(keys) < 1 << 31 else np.int64)
    np.cumsum(np.bincount(rows, minlength=n), out=indptr[1:])
    m = sparse.csr_matrix((data, (keys & ((1 << shift) - 1)).astype(np.int32), indptr), shape=(n, dim))
    m.has_sorted_indices = True
    m.has_canonical_format = True
    return m


def _embed_rows(flat: Ids, lengths: Ids) -> npt.NDArray[np.float32]:
    """wordllama mean-pooled, L2-normalised embeddings as one sparse product (token-count matrix
    times the embedding table): the vectors of ``WordLlama.embed`` without per-batch padding."""
    table = _embedder().embedding
    n = len(lengths)
    if not n:
        return np.zeros((0, table.shape[1]), np.float32)
    kt = np.int32 if n < 1 << 16 else np.int64  # narrow keys sort faster
    flat = np.clip(flat, 0, table.shape[0] - 1).astype(kt)
    rows: npt.NDArray[np.signedinteger[Any]] = np.repeat(np.arange(n, dtype=kt), lengths)
    keys, counts = _sorted_counts(rows << 15 | flat)
    # Each distinct token weighs count / length, summed one 1/length at a time in float32 as
    # scipy sums duplicate COO entries, so the vectors match the COO-built product bit for bit.
    w = (1.0 / np.maximum(lengths, 1)).astype(np.float32)[keys >> 15]
    data = w.copy()
    extra = np.flatnonzero(counts > 1)
    k = 1
    while len(extra):
        data[extra] += w[extra]
        k += 1
        extra = extra[counts[extra] > k]
    m = _csr(keys, data, 15, n, table.shape[0])
    e = np.asarray(m @ table, dtype=np.float32)
    norms = np.linalg.norm(e, axis=1, keepdims=True)
    out: npt.NDArray[np.float32] = np.divide(e, norms, out=np.zeros_like(e), where=norms > 0)
    return out


def _embed_ids(ids: list[Ids]) -> npt.NDArray[np.float32]:
    return _embed_rows(*_rows(ids))


def _embed(texts: list[str]) -> npt.NDArray[np.float32]:
    return _embed_rows(*_token_rows(texts))


_GRAM_DIM = 1 << 16


def _gram_counts_rows(flat: Ids, lengths: Ids) -> sparse.csr_matrix:
    """Token unigrams and bigrams, hashed into ``_GRAM_DIM`` columns (vectorised, no Python loop
    per token; one sort of ``row << 16 | column`` keys gives the canonical CSR form)."""
    n = len(lengths)
    kt = np.int32 if n < 1 << 15 else np.int64  # narrow keys sort faster
    rows: npt.NDArray[np.signedinteger[Any]] = np.repeat(np.arange(n, dtype=kt), lengths)
    uni: npt.NDArray[np.signedinteger[Any]] = (flat % _GRAM_DIM).astype(kt)
    # bigrams: consecutive tokens of the same text
    same = np.zeros(len(flat), dtype=bool)
    if len(flat) > 1:
        same[1:] = rows[1:] == rows[:-1]
    prev = np.roll(flat, 1)
    bi_all = (prev * 1_000_003 + flat * 7919 + 12_345) % _GRAM_DIM
    bi: npt.NDArray[np.signedinteger[Any]] = bi_all[same].astype(kt)
    keys, counts = _sorted_counts(np.concatenate([rows << 16 | uni, rows[same] << 16 | bi]))
    return _csr(keys, counts, 16, n, _GRAM_DIM)


def _gram_counts(ids: list[Ids]) -> sparse.csr_matrix:
    return _gram_counts_rows(*_rows(ids))


def _reversed_rows(m: sparse.csr_matrix) -> sparse.csr_matrix:
    """``m`` with each row's entries in decreasing column order: the order scipy's sparse product
    ``diags(1 / norms) @ m`` leaves them in. Sums over a row then add in the same order as in
    the model's training matrices, so scores come out bit for bit the same."""
    counts = np.diff(m.indptr)
    row_end = np.repeat(m.indptr[1:], counts)
    pos = np.arange(m.nnz, dtype=np.int64)
    src = row_end - 1 - (pos - np.repeat(m.indptr[:-1], counts))
    return sparse.csr_matrix((m.data[src], m.indices[src], m.indptr.copy()), shape=m.shape)


@dataclass
class TokenGramTfidf:
    """Sublinear TF-IDF over hashed token uni- and bigrams, rows L2-normalised."""

    idf: npt.NDArray[np.float32]

    @classmethod
    def fit(cls, ids: list[Ids]) -> TokenGramTfidf:
        return cls.fit_rows(*_rows(ids))

    @classmethod
    def fit_rows(cls, flat: Ids, lengths: Ids) -> TokenGramTfidf:
        m = _gram_counts_rows(flat, lengths)
        df = np.bincount(m.indices, minlength=_GRAM_DIM).astype(np.float64)
        idf = np.log((1 + m.shape[0]) / (1 + df)) + 1.0
        return cls(idf.astype(np.float32))

    def transform(self, ids: list[Ids]) -> sparse.csr_matrix:
        return self.transform_counts(_gram_counts(ids))

    def transform_rows(self, flat: Ids, lengths: Ids) -> sparse.csr_matrix:
        return self.transform_counts(_gram_counts_rows(flat, lengths))

    def transform_counts(self, m: sparse.csr_matrix) -> sparse.csr_matrix:
        m.data = (1.0 + np.log(m.data)) * self.idf[m.indices]
        # row norms as ``m.multiply(m).sum(axis=1)`` computes them (float32 reduceat), and the
        # rows scaled in place (the same float32 products as ``diags(1 / norms) @ m``)
        sq = np.zeros(m.shape[0], np.float32)
        full = np.flatnonzero(np.diff(m.indptr))
        if len(full):
            sq[full] = np.add.reduceat(m.data * m.data, m.indptr[full])
        norms = np.sqrt(sq)
        norms[norms == 0] = 1.0
        m.data *= np.repeat((1.0 / norms).astype(np.float32), np.diff(m.indptr))
        return m


TOPIC_DIMS = 16


@lru_cache(maxsize=1)
def _topic_projection() -> npt.NDArray[np.float32]:
    rng = np.random.default_rng(20260601)
    out = rng.standard_normal((_embedder().embedding.shape[1], TOPIC_DIMS)).astype(np.float32)
    out.flags.writeable = False
    return out


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
        return self._topics(_embed_rows(*_token_rows([clip_text(t) for t in texts])))

    def _topics(self, emb: npt.NDArray[np.float32]) -> npt.NDArray[np.float32]:
        center = self.emb_center if self.emb_center is not None else np.zeros(emb.shape[1], np.float32)
        z = (emb - center) @ _topic_projection()
        norms = np.linalg.norm(z, axis=1, keepdims=True)
        out: npt.NDArray[np.float32] = np.divide(z, norms, out=np.zeros_like(z), where=norms > 0)
        return out

    def _split_coef(self) -> tuple[npt.NDArray[Any], npt.NDArray[Any]]:
        """The classifier's weights of the gram and the embedding columns, contiguous (cached)."""
        cached: tuple[npt.NDArray[Any], npt.NDArray[Any]] | None = self.__dict__.get("_coef")
        if cached is None:
            coef = np.asarray(self.clf.coef_)
            cached = (
                np.ascontiguousarray(coef[:, :_GRAM_DIM].T),
                np.ascontiguousarray(coef[:, _GRAM_DIM:].T),
            )
            self.__dict__["_coef"] = cached
        return cached

    def predict_rows(
        self, flat: Ids, lengths: Ids, topics: bool = True
    ) -> tuple[npt.NDArray[np.float64], npt.NDArray[np.float32]]:
        """Class probabilities and topic vectors of token-id rows (``_token_rows`` of clipped texts);
        ``topics=False`` leaves the topic vectors out (an empty array).

        The classifier's ``decision_function`` over ``[grams | embedding]`` without building the
        stacked matrix: the gram columns in one sparse product, then the embedding columns added
        one at a time, in the dtype and order of that product, so the scores match it bit for bit.
        """
        if not len(lengths):
            return np.zeros((0, len(CLASSES))), np.zeros((0, TOPIC_DIMS), np.float32)
        emb = _embed_rows(flat, lengths)
        w_gram, w_emb = self._split_coef()
        g = self.grams.transform_rows(flat, lengths)
        # The training matrices hold each row's gram entries in decreasing column order (as
        # scipy's product left them): run the product over the matrix read back to front (rows
        # and entries reversed) and flip the rows of the result.
        flipped = sparse.csr_matrix((g.data[::-1], g.indices[::-1], g.nnz - g.indptr[::-1]), shape=g.shape)
        logits = np.ascontiguousarray(np.asarray(flipped @ w_gram)[::-1])
        x_emb = emb * self.emb_weight
        # the embedding columns added one at a time, in float32, as the product adds them
        if len(logits) <= 64:  # few rows: one running sum (accumulate adds strictly in order)
            terms = x_emb[:, :, None] * w_emb[None, :, :]
            logits = np.add.accumulate(np.concatenate([logits[:, None, :], terms], axis=1), axis=1)[:, -1, :]
        else:  # many rows: a loop over the columns, each step over all rows
            term = np.empty_like(logits)
            for j in range(x_emb.shape[1]):
                np.multiply(x_emb[:, j : j + 1], w_emb[j], out=term)
                logits += term
        logits += self.clf.intercept_
        logits = logits / self.temperature
        logits -= logits.max(axis=1, keepdims=True)
        p = np.exp(logits)
        topic = self._topics(emb) if topics else np.zeros((0, TOPIC_DIMS), np.float32)
        return np.asarray(p / p.sum(axis=1, keepdims=True), dtype=np.float64), topic

    def predict_with_topics(
        self, texts: list[str]
    ) -> tuple[npt.NDArray[np.float64], npt.NDArray[np.float32]]:
        return self.predict_rows(*_token_rows([clip_text(t) for t in texts]))

    def _matrix(self, texts: list[str]) -> sparse.csr_matrix:
        flat, lengths = _token_rows([clip_text(t) for t in texts])
        x_emb = sparse.csr_matrix(_embed_rows(flat, lengths) * self.emb_weight)
        return sparse.hstack([_reversed_rows(self.grams.transform_rows(flat, lengths)), x_emb], format="csr")

    def predict_proba(self, texts: list[str]) -> npt.NDArray[np.float64]:
        """Rows follow ``texts``; columns follow ``CLASSES``."""
        return self.predict_with_topics(texts)[0]


def _fit(texts: list[str], labels: list[int], emb_weight: float) -> tuple[TokenGramTfidf, LogisticRegression]:
    flat, lengths = _token_rows([clip_text(t) for t in texts])
    grams = TokenGramTfidf.fit_rows(flat, lengths)
    x_emb = sparse.csr_matrix(_embed_rows(flat, lengths) * emb_weight)
    x = sparse.hstack([_reversed_rows(grams.transform_rows(flat, lengths)), x_emb], format="csr")
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
