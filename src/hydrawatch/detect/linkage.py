"""The linkage graph: accounts joined through shared keys, never all pairs.

Input is a DuckDB table ``link_keys(ktype TINYINT, key BIGINT, acc INTEGER)``: one row
per account and key it holds (a payment fingerprint, a /24 on one day, a template,
a system prompt, a client fingerprint, a lockstep bucket, a model-pivot bucket).
For each key with ``d`` holders, holders are paired (all pairs when ``d`` is small,
otherwise each holder with ``RING`` neighbours in a hash order), each pair getting
``1 / log2(1 + d)``: a key shared by thousands (a popular SDK, a campus NAT)
says little. Content keys (``CONTENT_TYPES``: the template families of an
account's distillation-intent requests) are weighted by ``1 / sqrt(K_u K_v)``
instead, ``K`` being how many keys of that type each account holds, so a pair's
strength is the cosine similarity of the two key sets: a high-volume account
that touches thousands of families does not link to everyone. Per pair and key
type the contributions add up to a strength ``s_t``; the edge weight is
``sum_t W_t * (1 - exp(-s_t / SAT_t))``.
"""

from __future__ import annotations

from dataclasses import dataclass

import duckdb
import igraph as ig
import numpy as np
import numpy.typing as npt

KEY_TYPES: tuple[str, ...] = (
    "payment",
    "net24_day",
    "template",
    "system",
    "client",
    "lockstep",
    "pivot",
    "family",
    "intent_family",
)
# weight and saturation (in rarity-weighted shared keys) per key type
WEIGHT: dict[str, float] = {
    "payment": 2.0,
    "net24_day": 1.0,
    "template": 1.0,
    "system": 0.6,
    "client": 0.4,
    "lockstep": 2.0,
    "pivot": 0.5,
    "family": 1.0,
    "intent_family": 1.5,
}
SATURATION: dict[str, float] = {
    "payment": 0.3,
    "net24_day": 1.5,
    "template": 0.3,
    "system": 0.3,
    "client": 0.3,
    "lockstep": 3.0,
    "pivot": 0.5,
    "family": 0.3,
    "intent_family": 0.05,
}
# Keys that say "these accounts ask for the same thing in the same words", not "these accounts
# share infrastructure": linked in a second pass over the accounts no coordination campaign took.
CONTENT_TYPES: tuple[str, ...] = ("intent_family",)
# Keys that say "these accounts share infrastructure, payment, tooling or timing" (the rest,
# template and family, say "they send the same prompt template").
INFRA_TYPES: tuple[str, ...] = ("payment", "net24_day", "system", "client", "lockstep", "pivot")
FULL_PAIRS_MAX = 12
RING = 3
MAX_KEY_ROWS = 6_000_000  # per key type; more are sampled by key hash


@dataclass
class Pairs:
    """Account pairs (u < v, indices) with the strength of each key type."""

    u: npt.NDArray[np.int64]
    v: npt.NDArray[np.int64]
    strength: npt.NDArray[np.float32]  # shape (pairs, len(KEY_TYPES)); float32: there may be tens of millions

    def weights(self) -> npt.NDArray[np.float64]:
        return self.type_weights(KEY_TYPES)

    def type_weights(self, types: tuple[str, ...]) -> npt.NDArray[np.float64]:
        """Edge weights counting only the key types ``types`` (one column at a time: no
        pairs-by-types temporaries)."""
        out = np.zeros(len(self.u), np.float64)
        for j, k in enumerate(KEY_TYPES):
            if k in types and WEIGHT[k]:
                s = self.strength[:, j].astype(np.float64)
                out += WEIGHT[k] * (1.0 - np.exp(-s / SATURATION[k]))
        return out

    def subset(self, types: tuple[str, ...], rows: npt.NDArray[np.bool_] | None = None) -> Pairs:
        """The pairs (``rows`` of them, all when None) with only the key types ``types``, the
        pairs left without any strength dropped."""
        cols = np.array([k in types for k in KEY_TYPES])
        sel = (self.strength[:, cols] > 0).any(axis=1)
        if rows is not None:
            sel &= rows
        strength = self.strength[sel]
        strength[:, ~cols] = 0.0
        return Pairs(self.u[sel], self.v[sel], strength)


def sample_keys(con: duckdb.DuckDBPyConnection, table: str = "link_keys") -> None:
    """Keep at most ``MAX_KEY_ROWS`` rows per key type (whole keys, chosen by hash)."""
    sizes = con.execute(f"SELECT ktype, count(*) FROM {table} GROUP BY 1").fetchall()
    for ktype, rows in sizes:
        if rows > MAX_KEY_ROWS:
            keep = int(10_000 * MAX_KEY_ROWS / rows)
            con.execute(f"DELETE FROM {table} WHERE ktype = {int(ktype)} AND hash(key) % 10000 >= {keep}")


def pairs_from_keys(con: duckdb.DuckDBPyConnection, table: str = "link_keys") -> Pairs:
    sample_keys(con, table)
    ring = ", ".join(str(j) for j in range(1, RING + 1))
    cols = ", ".join(f"sum(w) FILTER (WHERE ktype = {i}) AS s{i}" for i in range(len(KEY_TYPES)))
    cosine = ", ".join(str(KEY_TYPES.index(k)) for k in CONTENT_TYPES)
    w_expr = f"CASE WHEN a.ktype IN ({cosine}) THEN 1.0 / sqrt(a.nk * b.nk) ELSE 1.0 / log2(1 + a.d) END"
    q = f"""
    WITH k AS (SELECT DISTINCT ktype, key, acc FROM {table}),
    m AS (
      SELECT ktype, key, acc,
             row_number() OVER (PARTITION BY ktype, key ORDER BY hash(acc, key)) - 1 AS r,
             count(*) OVER (PARTITION BY ktype, key) AS d,
             count(*) OVER (PARTITION BY ktype, acc) AS nk
      FROM k
    ),
    m2 AS (SELECT * FROM m WHERE d >= 2),
    small AS (
      SELECT a.ktype, a.acc AS x, b.acc AS y, {w_expr} AS w
      FROM m2 a JOIN m2 b ON a.ktype = b.ktype AND a.key = b.key AND a.r < b.r
      WHERE a.d <= {FULL_PAIRS_MAX}
    ),
    big AS (
      SELECT a.ktype, a.acc AS x, b.acc AS y, {w_expr} AS w
      FROM (SELECT *, unnest([{ring}]) AS j FROM m2 WHERE d > {FULL_PAIRS_MAX}) a
      JOIN m2 b ON a.ktype = b.ktype AND a.key = b.key AND b.r = (a.r + a.j) % a.d
    ),
    allp AS (SELECT * FROM small UNION ALL SELECT * FROM big)
    SELECT least(x, y) AS u, greatest(x, y) AS v, {cols}
    FROM allp WHERE x != y GROUP BY 1, 2
    """
    # Materialised, then read in batches into preallocated arrays: the pairs of a large log (tens
    # of millions) never sit in memory twice. Sorted, so the graph (and its communities) is the
    # same from run to run.
    con.execute(f"CREATE OR REPLACE TEMP TABLE _hw_pairs AS {q} ORDER BY 1, 2")
    try:
        n = int(con.execute("SELECT count(*) FROM _hw_pairs").fetchall()[0][0])
        u = np.empty(n, np.int64)
        v = np.empty(n, np.int64)
        strength = np.zeros((n, len(KEY_TYPES)), np.float32)
        pos = 0
        for batch in con.sql("SELECT * FROM _hw_pairs").to_arrow_reader(1 << 20):
            k = batch.num_rows
            u[pos : pos + k] = batch.column(0).to_numpy()
            v[pos : pos + k] = batch.column(1).to_numpy()
            for i in range(len(KEY_TYPES)):
                col = batch.column(2 + i).to_numpy(zero_copy_only=False)
                strength[pos : pos + k, i] = np.nan_to_num(col.astype(np.float32))
            pos += k
    finally:
        con.execute("DROP TABLE IF EXISTS _hw_pairs")
    return Pairs(u[:pos], v[:pos], strength[:pos])


def communities(
    n_accounts: int, pairs: Pairs, min_weight: float, resolution: float = 1.0, seed: int = 0
) -> tuple[npt.NDArray[np.int64], npt.NDArray[np.bool_]]:
    """Leiden communities over edges of weight >= ``min_weight``; returns (membership, kept-edge mask).

    Accounts without a kept edge are singletons (their own community).
    """
    w = pairs.weights()
    keep = w >= min_weight
    g = ig.Graph(n=n_accounts, edges=np.column_stack([pairs.u[keep], pairs.v[keep]]).tolist(), directed=False)
    g.es["weight"] = w[keep].tolist()
    import random

    random.seed(seed)
    ig.set_random_number_generator(random)
    part = g.community_leiden(
        objective_function="modularity", weights="weight", resolution=resolution, n_iterations=-1
    )
    return np.asarray(part.membership, dtype=np.int64), keep
