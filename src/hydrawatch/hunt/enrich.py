"""Per-distinct-value feature tables joined back to the events.

Text features are computed once per distinct prompt, network features once per
distinct IP, fingerprints once per distinct system prompt; each becomes a DuckDB
table keyed by DuckDB's ``hash()`` of the value (or the value itself).
"""

from __future__ import annotations

import duckdb
import numpy as np
import pyarrow as pa

from hydrawatch.features.hashing import system_fingerprint
from hydrawatch.features.intent import TOPIC_DIMS
from hydrawatch.features.request import describe_texts
from hydrawatch.netintel import lookup_asns, network_kinds, parse_ipv4

_CHUNK = 50_000
# SQL twin of ``features.request.canonical_text`` (grouping only: features come from the Python one).
CANON_SQL = (
    "CASE WHEN length(regexp_replace(p, '[0-9]+', '0', 'g')) <= 480 THEN regexp_replace(p, '[0-9]+', '0', 'g') "  # noqa: E501
    "ELSE left(regexp_replace(p, '[0-9]+', '0', 'g'), 320) || right(regexp_replace(p, '[0-9]+', '0', 'g'), 160) END"  # noqa: E501
)


def _features_table(ph: pa.Array, texts: list[str]) -> pa.Table:
    return _table_from(ph, _describe_chunk(texts))


# Column arrays of one chunk's text features (numpy: they cross process boundaries as buffers).
_Cols = tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray]


def _describe_chunk(texts: list[str]) -> _Cols:
    f = describe_texts(texts)
    return (f.intent_idx, f.intent_score, f.cue_mask, f.skeleton_hash, f.family, f.topic)


def build_prompt_features(con: duckdb.DuckDBPyConnection, events: str = "events", workers: int = 1) -> int:
    """Create ``prompt_feats(ph, intent_idx, intent_score, cue_mask, skel)``; returns distinct texts.

    Prompts are grouped by their canonical text (digits collapsed, head and tail of long prompts)
    and described once per group; ``workers`` > 1 describes chunks in parallel processes.
    """
    con.execute(f"CREATE OR REPLACE MACRO hw_canon(p) AS {CANON_SQL}")
    con.execute(
        f"CREATE OR REPLACE TABLE distinct_prompts AS "
        f"SELECT hash(hw_canon(coalesce(prompt, ''))) AS ph, any_value(coalesce(prompt, '')) AS prompt "
        f"FROM {events} GROUP BY 1"
    )
    con.execute(
        "CREATE OR REPLACE TABLE prompt_feats (ph UBIGINT, intent_idx TINYINT, intent_score FLOAT, "
        "cue_mask INTEGER, skel BIGINT, fam BIGINT, "
        + ", ".join(f"t{j} FLOAT" for j in range(TOPIC_DIMS))
        + ")"
    )
    total = con.execute("SELECT count(*) FROM distinct_prompts").fetchall()[0][0]
    reader = con.cursor().sql("SELECT ph, prompt FROM distinct_prompts").to_arrow_reader(_CHUNK)

    def insert(tbl: pa.Table) -> None:
        con.register("_pf_chunk", tbl)
        con.execute("INSERT INTO prompt_feats SELECT * FROM _pf_chunk")
        con.unregister("_pf_chunk")

    if workers <= 1 or total < 2 * _CHUNK:
        for batch in reader:
            insert(_features_table(batch.column("ph"), [t or "" for t in batch.column("prompt").to_pylist()]))
    else:
        import multiprocessing as mp
        from concurrent.futures import Future, ProcessPoolExecutor

        with ProcessPoolExecutor(workers, mp_context=mp.get_context("spawn")) as pool:
            pending: list[tuple[pa.Array, Future[_Cols]]] = []
            for batch in reader:
                texts = [t or "" for t in batch.column("prompt").to_pylist()]
                pending.append((batch.column("ph"), pool.submit(_describe_chunk, texts)))
                while len(pending) > 2 * workers:
                    ph, fut = pending.pop(0)
                    insert(_table_from(ph, fut.result()))
            for ph, fut in pending:
                insert(_table_from(ph, fut.result()))
    con.execute("DROP TABLE distinct_prompts")
    return int(total)


def _table_from(ph: pa.Array, cols: _Cols) -> pa.Table:
    idx, score, cue, skel, fam, topic = cols
    return pa.table(
        {
            "ph": ph,
            "intent_idx": pa.array(idx, pa.int8()),
            "intent_score": pa.array(score, pa.float32()),
            "cue_mask": pa.array(cue, pa.int32()),
            "skel": pa.array(skel, pa.int64()),
            "fam": pa.array(fam, pa.int64()),
            **{f"t{j}": pa.array(np.ascontiguousarray(topic[:, j]), pa.float32()) for j in range(TOPIC_DIMS)},
        }
    )


def build_ip_features(con: duckdb.DuckDBPyConnection, events: str = "events") -> int:
    """Create ``ip_feats(ip, net24, asn, kind)`` for every distinct IP."""
    ips = [r[0] for r in con.execute(f"SELECT DISTINCT ip FROM {events} WHERE ip IS NOT NULL").fetchall()]
    ints = parse_ipv4(ips)
    asns = lookup_asns(ints)
    net24 = np.where(ints >= 0, ints >> 8, -1)
    net_str = [
        f"{(n >> 16) & 255}.{(n >> 8) & 255}.{n & 255}.0/24"
        if n >= 0
        else (ip.rsplit(":", 4)[0] if ":" in ip else "?")
        for n, ip in zip(net24.tolist(), ips, strict=True)
    ]
    tbl = pa.table(
        {
            "ip": pa.array(ips, pa.string()),
            "net24": pa.array(net_str, pa.string()),
            "asn": pa.array(asns, pa.int64()),
            "kind": pa.array(network_kinds(ips), pa.string()),
        }
    )
    con.register("_ip_tbl", tbl)
    con.execute("CREATE OR REPLACE TABLE ip_feats AS SELECT * FROM _ip_tbl")
    con.unregister("_ip_tbl")
    return len(ips)


def build_system_features(con: duckdb.DuckDBPyConnection, events: str = "events") -> int:
    """Create ``system_feats(system, sys_fp)`` for every distinct system prompt."""
    systems = [
        r[0] for r in con.execute(f"SELECT DISTINCT system FROM {events} WHERE system IS NOT NULL").fetchall()
    ]
    fps = [system_fingerprint(s) for s in systems]
    tbl = pa.table({"system": pa.array(systems, pa.string()), "sys_fp": pa.array(fps, pa.int64())})
    con.register("_sys_tbl", tbl)
    con.execute("CREATE OR REPLACE TABLE system_feats AS SELECT * FROM _sys_tbl")
    con.unregister("_sys_tbl")
    return len(systems)


TOPIC_COLS = ", ".join(f"p.t{j}" for j in range(TOPIC_DIMS)) + ","


def build_enriched(con: duckdb.DuckDBPyConnection, events: str = "events") -> None:
    """Create the table ``ev``: the events with their per-request features, sorted by time.

    ``events`` must carry ``txt`` (the event is in the text sample, :mod:`hydrawatch.hunt.sampling`);
    text features are NULL on the other events, whose prompts are not even canonicalised (the join
    key is NULL for them: the regexps run on the sample only)."""
    con.execute(
        f"""
        CREATE OR REPLACE TABLE ev AS
        SELECT e.ts, e.account_id, coalesce(e.model, '?') AS model,
               coalesce(e.user_turns, 1) AS user_turns, coalesce(e.n_messages, 1) AS n_messages,
               e.ip, e.user_agent, e.client_fingerprint,
               coalesce(e.input_tokens, 0) AS in_tok, coalesce(e.output_tokens, 0) AS out_tok,
               coalesce(e.reasoning_tokens, 0) AS rs_tok,
               e.max_tokens, e.temperature, e.logprobs, e.n_tools, e.reasoning_effort,
               length(coalesce(e.prompt, '')) AS prompt_chars,
               p.intent_idx, p.intent_score, p.cue_mask, p.skel, p.fam, {TOPIC_COLS}
               s.sys_fp, i.net24, i.asn, coalesce(i.kind, 'unknown') AS kind, e.txt
        FROM {events} e
        LEFT JOIN prompt_feats p
          ON p.ph = CASE WHEN e.txt THEN hash(hw_canon(coalesce(e.prompt, ''))) END
        LEFT JOIN system_feats s ON s.system = e.system
        LEFT JOIN ip_feats i ON i.ip = e.ip
        WHERE e.account_id IS NOT NULL AND e.ts IS NOT NULL AND isfinite(e.ts)
        ORDER BY e.ts
        """
    )
