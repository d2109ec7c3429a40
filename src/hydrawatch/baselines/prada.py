"""PRADA (Juuti, Szyller, Marchal, Asokan: "PRADA: Protecting against DNN Model Stealing Attacks",
IEEE EuroS&P 2019), adapted from images to prompts.

Per account, in time order: each new query's minimum distance to the account's *growing set* is
recorded; the query joins the growing set when that distance exceeds the set's threshold, which is
then raised to ``max(T, mean - std)`` of the growing set's own distances. Benign streams give normally
distributed minimum distances; extraction streams do not. Every ``check_every`` queries, once at least
``min_queries`` distances exist, a Shapiro-Wilk test runs on them (after dropping values more than
``outlier_sigma`` standard deviations from the mean, as the authors' reference code does); the account
is flagged when ``W < delta``. ``first_flagged_ts`` is the time of the query at which the test failed.

Adaptation to text (documented in docs/bench.md): a query is the prompt (last user message) embedded with
wordllama (256-d, L2-normalised; distance = Euclidean), and there is one class per account (an LLM has no
predicted class to split on). Each account's first ``max_queries`` queries are examined (cost is
quadratic in the growing set).
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import duckdb
import numpy as np
import numpy.typing as npt
from scipy import stats

from hydrawatch.baselines.verdicts import Flag, iso

Embedder = Callable[[list[str]], npt.NDArray[np.float32]]

# Calibrated with `hydrawatch baseline prada EVENTS --calibrate` on legitimate-only traffic
# (docs/bench.md).
DEFAULT_DELTA = 0.0258


def wordllama_embedder() -> Embedder:
    """wordllama's static 256-d embeddings, loaded from the installed package (no download)."""
    import wordllama
    from wordllama import WordLlama

    wl = WordLlama.load(cache_dir=Path(wordllama.__file__).parent, disable_download=True)

    def embed(texts: list[str]) -> npt.NDArray[np.float32]:
        # wordllama pads each batch to its longest text: batching texts of similar length is ~2x faster
        order = np.argsort(np.fromiter((len(t) for t in texts), np.int64, len(texts)), kind="stable")
        with np.errstate(invalid="ignore", divide="ignore"), warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)
            sorted_vecs = np.asarray(
                wl.embed([texts[i] for i in order], norm=True, batch_size=64), np.float32
            )
        vecs = np.empty_like(sorted_vecs)
        vecs[order] = sorted_vecs
        return np.nan_to_num(vecs, nan=0.0)  # an empty prompt embeds to the zero vector

    return embed


@dataclass(slots=True)
class StreamResult:
    queries: int  # queries examined
    growing_set: int
    tests: int
    min_w: float | None  # lowest W seen (None: never tested)
    flagged_at: int | None  # index of the query at which W < delta
    w_at_flag: float | None
    distances_at_flag: int | None


def shapiro_w(distances: npt.NDArray[np.float64], outlier_sigma: float) -> float | None:
    """W of the minimum distances after outlier rejection; None when too few values remain."""
    d = distances
    if len(d) < 3:
        return None
    sd = float(d.std())
    if sd > 0:
        d = d[np.abs(d - d.mean()) < outlier_sigma * sd]
    if len(d) < 3:
        return None
    if float(d.max() - d.min()) == 0.0:
        return 1.0  # identical distances: nothing to reject normality on
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return float(stats.shapiro(d).statistic)


@dataclass(frozen=True, slots=True)
class Prada:
    delta: float = DEFAULT_DELTA
    min_queries: int = 50
    check_every: int = 10
    outlier_sigma: float = 3.0
    max_queries: int = 2_000

    def stream(self, x: npt.NDArray[np.float32], stop_on_flag: bool = True) -> StreamResult:
        """Run PRADA over one account's query embeddings (rows in time order, L2-normalised)."""
        n = min(len(x), self.max_queries)
        if n == 0:
            return StreamResult(0, 0, 0, None, None, None, None)
        x = x[:n]
        best_sim = x @ x[0]  # best similarity of every query to the growing set so far
        # the growing set's minimum distances start with 0 for its first member (as in the reference code)
        gs_n, gs_sum, gs_sumsq = 1, 0.0, 0.0
        threshold = 0.0
        dists = np.empty(max(n - 1, 0), np.float64)
        tests = 0
        min_w: float | None = None
        flag: tuple[int, float] | None = None
        for i in range(1, n):
            d_min = math.sqrt(max(0.0, 2.0 - 2.0 * float(best_sim[i])))
            dists[i - 1] = d_min
            if d_min > threshold:
                gs_n, gs_sum, gs_sumsq = gs_n + 1, gs_sum + d_min, gs_sumsq + d_min * d_min
                mean = gs_sum / gs_n
                std = math.sqrt(max(0.0, gs_sumsq / gs_n - mean * mean))
                threshold = max(threshold, mean - std)
                if i + 1 < n:
                    np.maximum(best_sim[i + 1 :], x[i + 1 :] @ x[i], out=best_sim[i + 1 :])
            if i % self.check_every == 0 and i >= self.min_queries:
                w = shapiro_w(dists[:i], self.outlier_sigma)
                if w is None:
                    continue
                tests += 1
                min_w = w if min_w is None else min(min_w, w)
                if w < self.delta and flag is None:
                    flag = (i, w)
                    if stop_on_flag:
                        return StreamResult(i + 1, gs_n, tests, min_w, i, w, i)
        if flag is not None:
            return StreamResult(n, gs_n, tests, min_w, flag[0], flag[1], flag[0])
        return StreamResult(n, gs_n, tests, min_w, None, None, None)

    def run(
        self, con: duckdb.DuckDBPyConnection, embed: Embedder | None = None, stop_on_flag: bool = True
    ) -> tuple[dict[str, Flag], dict[str, StreamResult]]:
        """Flags for every account of ``events`` and the per-account stream results."""
        embed = embed or wordllama_embedder()
        # only each account's first max_queries queries are examined, so only their prompts are embedded
        con.execute(
            """CREATE OR REPLACE TEMP TABLE _hw_queries AS
               SELECT account_id, ts, coalesce(prompt, '') AS prompt, line, source FROM (
                 SELECT account_id, ts, prompt, line, source,
                        row_number() OVER (PARTITION BY account_id ORDER BY ts, line, source) AS k
                 FROM events WHERE ts IS NOT NULL)
               WHERE k <= $max""",
            {"max": self.max_queries},
        )
        con.execute(
            """CREATE OR REPLACE TEMP TABLE _hw_prompts AS
               SELECT prompt, (row_number() OVER (ORDER BY prompt) - 1)::BIGINT AS pid
               FROM (SELECT DISTINCT prompt FROM _hw_queries)"""
        )
        prompts = [str(r[0]) for r in con.execute("SELECT prompt FROM _hw_prompts ORDER BY pid").fetchall()]
        vecs = embed(prompts) if prompts else np.zeros((0, 1), np.float32)
        cols = con.execute(
            """SELECT q.account_id, q.ts, p.pid FROM _hw_queries q JOIN _hw_prompts p USING (prompt)
               ORDER BY q.account_id, q.ts, q.line, q.source"""
        ).fetchnumpy()
        con.execute("DROP TABLE _hw_prompts")
        con.execute("DROP TABLE _hw_queries")
        accounts = np.asarray(cols["account_id"], dtype=object)
        ts = np.asarray(cols["ts"], dtype=np.float64)
        pids = np.asarray(cols["pid"], dtype=np.int64)
        flags: dict[str, Flag] = {}
        results: dict[str, StreamResult] = {}
        if len(accounts) == 0:
            return flags, results
        starts = np.flatnonzero(np.r_[True, accounts[1:] != accounts[:-1]])
        ends = np.r_[starts[1:], len(accounts)]
        for lo, hi in zip(starts.tolist(), ends.tolist(), strict=True):
            aid = str(accounts[lo])
            res = self.stream(vecs[pids[lo:hi]], stop_on_flag=stop_on_flag)
            results[aid] = res
            flag_ts = None if res.flagged_at is None else float(ts[lo + res.flagged_at])
            flags[aid] = self._flag(aid, res, flag_ts)
        return flags, results

    def _flag(self, aid: str, res: StreamResult, flag_ts: float | None) -> Flag:
        if res.flagged_at is None or flag_ts is None:
            risk = (
                0.0 if res.min_w is None else min(1.0, max(0.0, (1 - res.min_w) / max(1e-9, 1 - self.delta)))
            )
            return Flag(aid, min(risk, 0.99), False)
        reasons = [
            f"Shapiro-Wilk W = {res.w_at_flag:.3f} < delta = {self.delta:.3f} over {res.distances_at_flag:,} "
            f"minimum query distances (at the account's query {res.flagged_at + 1:,}, {iso(flag_ts)})",
            f"growing set holds {res.growing_set:,} of the first {res.queries:,} queries",
        ]
        return Flag(aid, 1.0, True, reasons, flag_ts)


def calibrate_delta(min_ws: list[float | None], max_fpr: float) -> float:
    """The largest delta that flags at most ``max_fpr`` of the (benign) calibration accounts.

    An account is flagged when its lowest W over the stream is below delta; accounts never tested
    (too few queries) count in the denominator and are never flagged.
    """
    tested = sorted(w for w in min_ws if w is not None)
    allowed = math.floor(max_fpr * len(min_ws))
    if not tested:
        return 1.0
    if allowed >= len(tested):
        return 1.0
    return tested[allowed]  # exactly `allowed` accounts have min W strictly below (ties flag fewer)
