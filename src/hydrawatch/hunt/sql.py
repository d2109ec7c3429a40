"""DuckDB SQL: per-account aggregates and linkage keys from the enriched table ``ev``."""

from __future__ import annotations

import duckdb

from hydrawatch.detect.aggregates import AccountAggregates
from hydrawatch.detect.evidence import intent_sql
from hydrawatch.features.cues import CUE_NAMES
from hydrawatch.features.intent import TOPIC_DIMS

STEP_CUE_BIT = 1 << CUE_NAMES.index("asks to reason step by step")
TOPIC_SQ = " + ".join(f"avg(t{j}) * avg(t{j})" for j in range(TOPIC_DIMS))
TOPIC_MEAN = ", ".join(f"avg(t{j})" for j in range(TOPIC_DIMS))
PIVOT_WINDOW_S = 48 * 3600.0
INTENT = intent_sql()  # a request that shows a distillation intent (detect.evidence)


def _scaled(count: str) -> str:
    """A count over the account's text-sampled events, scaled to all its events
    (:mod:`hydrawatch.hunt.sampling`; exact when every event is described)."""
    return f"coalesce(round({count} * b.n / nullif(b.n_txt, 0))::BIGINT, 0)"


def cutoff_view(con: duckdb.DuckDBPyConnection, cutoff: float | None) -> None:
    """``evc``: the enriched events up to ``cutoff`` (all of them when None)."""
    where = "" if cutoff is None else f"WHERE ts <= {float(cutoff)!r}"
    con.execute(f"CREATE OR REPLACE TEMP VIEW evc AS SELECT * FROM ev {where}")


AGG_SQL = f"""
WITH base AS (
  SELECT account_id, count(*) AS n, count(*) FILTER (WHERE txt) AS n_txt,
         min(ts) AS first_ts, max(ts) AS last_ts,
         sum(in_tok)::BIGINT AS in_tok, sum(out_tok)::BIGINT AS out_tok,
         count(*) FILTER (WHERE {INTENT}) AS intent_n,
         count(DISTINCT fam) FILTER (WHERE {INTENT} AND prompt_chars >= 40) AS intent_fams,
         count(*) FILTER (WHERE (cue_mask & {STEP_CUE_BIT}) != 0) AS step_cue_n,
         count(DISTINCT skel) AS n_skel,
         count(*) FILTER (WHERE user_turns > 1) AS multi_turn_n,
         count(DISTINCT hour(to_timestamp(ts))) AS active_hours,
         count(DISTINCT ip) AS n_ips, count(DISTINCT net24) AS n_net24, count(DISTINCT asn) AS n_asn,
         count(*) FILTER (WHERE kind = 'residential') AS residential_n,
         count(*) FILTER (WHERE kind = 'hosting') AS hosting_n,
         count(*) FILTER (WHERE kind = 'vpn') AS vpn_n,
         count(*) FILTER (WHERE kind = 'tor') AS tor_n,
         count(DISTINCT model) AS n_models
  FROM evc GROUP BY account_id
),
gaps AS (
  SELECT account_id, stddev_pop(g) / nullif(avg(g), 0) AS gap_cv FROM (
    SELECT account_id, ts - lag(ts) OVER (PARTITION BY account_id ORDER BY ts) AS g FROM evc
  ) WHERE g IS NOT NULL GROUP BY account_id HAVING count(*) >= 2
),
hours AS (
  SELECT account_id, -sum(p * log2(p)) AS hour_entropy FROM (
    SELECT account_id, count(*) / sum(count(*)) OVER (PARTITION BY account_id) AS p
    FROM evc GROUP BY account_id, hour(to_timestamp(ts))
  ) GROUP BY account_id
),
skels AS (
  SELECT account_id, skel, c, row_number() OVER (PARTITION BY account_id ORDER BY c DESC, skel) AS r
  FROM (SELECT account_id, skel, count(*) AS c FROM evc WHERE txt GROUP BY ALL)
),
skel_top AS (
  SELECT account_id, max(skel) FILTER (WHERE r = 1) AS top_skel, max(c) FILTER (WHERE r = 1) AS top_skel_n,
         sum(c) FILTER (WHERE r <= 3) AS top3_skel_n
  FROM skels GROUP BY account_id
),
intents AS (
  SELECT account_id, arg_max(intent_idx, c) AS top_intent, max(c) AS top_intent_n
  FROM (SELECT account_id, intent_idx, count(*) AS c FROM evc WHERE {INTENT} GROUP BY ALL)
  GROUP BY account_id
),
topics AS (
  SELECT account_id, sqrt({TOPIC_SQ}) AS topic_conc, count(*) AS topic_n, [{TOPIC_MEAN}] AS topic_mean
  FROM evc WHERE prompt_chars >= 40 AND txt GROUP BY account_id
),
fams AS (
  SELECT account_id, max(c) AS top_fam_n
  FROM (SELECT account_id, fam, count(*) AS c FROM evc WHERE prompt_chars >= 40 AND txt GROUP BY ALL)
  GROUP BY account_id
),
sys AS (
  SELECT account_id, max(c) AS top_sys_n
  FROM (SELECT account_id, sys_fp, count(*) AS c FROM evc WHERE sys_fp IS NOT NULL GROUP BY ALL)
  GROUP BY account_id
),
models AS (
  SELECT account_id, max(c) AS top_model_n
  FROM (SELECT account_id, model, count(*) AS c FROM evc GROUP BY ALL) GROUP BY account_id
),
releases AS (
  SELECT model, min(ts) AS rel FROM evc GROUP BY model
  HAVING min(ts) > (SELECT min(ts) FROM evc) + 86400
),
pivots AS (
  SELECT account_id, arg_max(model, share) AS pivot_model, max(share) AS pivot_share,
         arg_max(delay_h, share) AS pivot_delay_h
  FROM (
    SELECT e.account_id, r.model,
           count(*) FILTER (WHERE e.model = r.model) / count(*) AS share,
           (min(e.ts) FILTER (WHERE e.model = r.model) - r.rel) / 3600.0 AS delay_h
    FROM evc e JOIN releases r ON e.ts >= r.rel AND e.ts < r.rel + {PIVOT_WINDOW_S}
    GROUP BY e.account_id, r.model, r.rel HAVING count(*) >= 3
  ) GROUP BY account_id
)
SELECT b.* REPLACE ({_scaled("b.intent_n")} AS intent_n, {_scaled("b.step_cue_n")} AS step_cue_n),
       g.gap_cv, h.hour_entropy, s.top_skel, {_scaled("s.top_skel_n")} AS top_skel_n,
       {_scaled("s.top3_skel_n")} AS top3_skel_n,
       coalesce(i.top_intent, 0) AS top_intent, {_scaled("i.top_intent_n")} AS top_intent_n,
       coalesce(y.top_sys_n, 0) AS top_sys_n,
       {_scaled("f.top_fam_n")} AS top_fam_n, coalesce(tp.topic_conc, 0.0) AS topic_conc,
       coalesce(tp.topic_n, 0) AS topic_n, tp.topic_mean, m.top_model_n / b.n AS top_model_share,
       p.pivot_model, coalesce(p.pivot_share, 0.0) AS pivot_share, p.pivot_delay_h
FROM base b
LEFT JOIN gaps g USING (account_id) LEFT JOIN hours h USING (account_id)
LEFT JOIN skel_top s USING (account_id) LEFT JOIN intents i USING (account_id)
LEFT JOIN sys y USING (account_id) LEFT JOIN models m USING (account_id)
LEFT JOIN pivots p USING (account_id) LEFT JOIN fams f USING (account_id)
LEFT JOIN topics tp USING (account_id)
ORDER BY b.account_id
"""


def account_aggregates(con: duckdb.DuckDBPyConnection, with_accounts: bool) -> AccountAggregates:
    tbl = con.sql(AGG_SQL).to_arrow_table()
    cols = {name: tbl.column(name).to_pylist() for name in tbl.column_names}
    if with_accounts:
        pay = dict(
            con.execute(
                "SELECT account_id, any_value(payment_fingerprint) FROM accounts "
                "WHERE payment_fingerprint IS NOT NULL GROUP BY 1"
            ).fetchall()
        )
        cols["payment_fp"] = [pay.get(a) for a in cols["account_id"]]
    return AccountAggregates.from_columns(cols)


KEYS_SQL = """
CREATE OR REPLACE TEMP TABLE link_keys AS
WITH e AS (SELECT c.*, a.acc FROM evc c JOIN acc_idx a USING (account_id)),
tpl AS (
  SELECT acc, skel, count(*) AS c, avg(prompt_chars) AS pc FROM e WHERE skel IS NOT NULL GROUP BY ALL
),
n AS (SELECT acc, count(*) FILTER (WHERE txt) AS n FROM e GROUP BY acc)
SELECT 1::TINYINT AS ktype, (hash(net24, floor(ts / 86400)) >> 1)::BIGINT AS key, acc
  FROM e WHERE net24 IS NOT NULL AND kind != 'private' GROUP BY ALL
UNION ALL
SELECT 2::TINYINT, t.skel, t.acc FROM tpl t JOIN n USING (acc)
  WHERE t.c >= 3 AND t.c >= 0.05 * n.n AND t.pc >= 40
UNION ALL
SELECT 7::TINYINT, f.fam, f.acc FROM (
  SELECT acc, fam, count(*) AS c FROM e WHERE prompt_chars >= 40 AND fam IS NOT NULL GROUP BY ALL
) f JOIN n USING (acc) WHERE f.c >= 3 AND f.c >= 0.05 * n.n
UNION ALL
SELECT 8::TINYINT, fam, acc FROM e
  WHERE {INTENT} AND prompt_chars >= 40 AND fam IS NOT NULL GROUP BY ALL
UNION ALL
SELECT 3::TINYINT, sys_fp, acc FROM e WHERE sys_fp IS NOT NULL GROUP BY ALL HAVING count(*) >= 3
UNION ALL
SELECT 4::TINYINT, (hash(coalesce(client_fingerprint, ''), coalesce(user_agent, '')) >> 1)::BIGINT, acc
  FROM e WHERE client_fingerprint IS NOT NULL OR user_agent IS NOT NULL GROUP BY ALL HAVING count(*) >= 3
UNION ALL
SELECT 5::TINYINT, (hash(skel, model, floor(ts / 300)) >> 1)::BIGINT, acc
  FROM e WHERE prompt_chars >= 40 AND skel IS NOT NULL GROUP BY ALL
""".replace("{INTENT}", INTENT)


def link_keys(con: duckdb.DuckDBPyConnection, agg: AccountAggregates, with_accounts: bool) -> None:
    """Create ``link_keys(ktype, key, acc)`` for the accounts of ``agg`` (acc = index in ``agg``)."""
    import pyarrow as pa

    from hydrawatch.detect.linkage import KEY_TYPES
    from hydrawatch.features.hashing import stable_hash

    con.register(
        "_acc_idx", pa.table({"account_id": agg.account_id, "acc": pa.array(range(len(agg)), pa.int32())})
    )
    con.execute("CREATE OR REPLACE TEMP TABLE acc_idx AS SELECT * FROM _acc_idx")
    con.unregister("_acc_idx")
    con.execute(KEYS_SQL)
    extra_t: list[int] = []
    extra_k: list[int] = []
    extra_a: list[int] = []
    for i in range(len(agg)):
        fp = agg.payment_fp[i] if agg.payment_fp else None
        if fp:
            extra_t.append(KEY_TYPES.index("payment"))
            extra_k.append(stable_hash(f"pay:{fp}"))
            extra_a.append(i)
        pm = agg.pivot_model[i]
        if pm and agg.pivot_share[i] >= 0.3 and agg.pivot_delay_h[i] <= 24:
            extra_t.append(KEY_TYPES.index("pivot"))
            extra_k.append(stable_hash(f"pivot:{pm}:{int(agg.pivot_delay_h[i] // 3)}"))
            extra_a.append(i)
    if extra_t:
        con.register(
            "_extra_keys",
            pa.table(
                {
                    "ktype": pa.array(extra_t, pa.int8()),
                    "key": pa.array(extra_k, pa.int64()),
                    "acc": pa.array(extra_a, pa.int32()),
                }
            ),
        )
        con.execute("INSERT INTO link_keys SELECT * FROM _extra_keys")
        con.unregister("_extra_keys")
