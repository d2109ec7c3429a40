"""The batch hunt: load, enrich, aggregate, link, detect, (replay), report."""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import duckdb
import numpy as np
import pyarrow as pa

from hydrawatch.detect.campaign import DetectConfig
from hydrawatch.detect.detector import Detection, detect_keys
from hydrawatch.detect.evidence import intent_sql
from hydrawatch.hunt.enrich import (
    build_enriched,
    build_ip_features,
    build_prompt_features,
    build_system_features,
)
from hydrawatch.hunt.sampling import (
    DEFAULT_TEXT_BUDGET,
    TextSample,
    account_sizes,
    choose_sample,
    mark_sample,
)
from hydrawatch.hunt.sql import account_aggregates, cutoff_view, link_keys
from hydrawatch.hunt.storage import hunt_database, input_bytes
from hydrawatch.ingest.inventory import all_accounts
from hydrawatch.report.model import AccountVerdict, Campaign, Report

MAX_REPLAY_STEPS = 24


@dataclass
class HuntOutcome:
    report: Report
    detection: Detection
    timings: dict[str, float] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)


def _iso(ts: float | None) -> str | None:
    if ts is None or not math.isfinite(ts):
        return None
    return datetime.fromtimestamp(ts, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def detect_at(
    con: duckdb.DuckDBPyConnection, cutoff: float | None, with_accounts: bool, cfg: DetectConfig
) -> Detection:
    """Run the detector on the enriched events up to ``cutoff``."""
    cutoff_view(con, cutoff)
    agg = account_aggregates(con, with_accounts)
    link_keys(con, agg, with_accounts)
    return detect_keys(con, agg, cfg)


def describe_content_campaigns(con: duckdb.DuckDBPyConnection, det: Detection) -> None:
    """Numbers behind campaigns linked by wording alone: how many distillation-intent requests, in how
    many template families, how many of those families several members use; per member, how much of
    its own distillation traffic uses the campaign's shared wordings. Needs ``evc`` and ``acc_idx``
    of the pass that produced ``det``."""
    cids: list[int] = []
    accs: list[int] = []
    for ci, f in enumerate(det.campaigns):
        if f.kind == "content":
            cids += [ci] * len(f.flagged_members)
            accs += f.flagged_members
    if not cids:
        return
    con.register("_cm", pa.table({"cid": pa.array(cids, pa.int32()), "acc": pa.array(accs, pa.int32())}))
    con.execute(
        """
        CREATE OR REPLACE TEMP TABLE _cf AS
        SELECT m.cid, m.acc, e.fam, count(*) AS c
        FROM evc e JOIN acc_idx a USING (account_id) JOIN _cm m ON m.acc = a.acc
        WHERE {INTENT} AND e.prompt_chars >= 40 AND e.fam IS NOT NULL GROUP BY ALL
        """.replace("{INTENT}", intent_sql("e.intent_idx", "e.intent_score", "e.cue_mask"))
    )
    con.unregister("_cm")
    con.execute(
        "CREATE OR REPLACE TEMP TABLE _cu AS "
        "SELECT cid, fam, count(*) AS users, sum(c) AS c FROM _cf GROUP BY ALL"
    )
    for cid, fams, n, fams3, n3, top in con.execute(
        "SELECT cid, count(*), sum(c), count(*) FILTER (WHERE users >= 3), "
        "coalesce(sum(c) FILTER (WHERE users >= 3), 0), max(users) FROM _cu GROUP BY cid"
    ).fetchall():
        f = det.campaigns[cid]
        f.evidence.append(
            f"their {int(n):,} distillation-intent requests come in {int(fams):,} wordings (template "
            f"families); {int(fams3):,} wordings are each used by 3 or more members and carry "
            f"{n3 / max(n, 1):.0%} of those requests; the most widely used appears in {int(top):,} of "
            f"{len(f.flagged_members):,} accounts"
        )
    for cid, acc, n, fams, n2, fams2 in con.execute(
        "SELECT f.cid, f.acc, sum(f.c), count(*), coalesce(sum(f.c) FILTER (WHERE u.users >= 2), 0), "
        "count(*) FILTER (WHERE u.users >= 2) FROM _cf f JOIN _cu u USING (cid, fam) GROUP BY ALL"
    ).fetchall():
        det.notes.setdefault(int(acc), []).append(
            f"{int(n2):,} of its {int(n):,} distillation-intent requests use wordings other members of "
            f"C{int(cid) + 1:03d} also use ({int(fams2):,} of its {int(fams):,} template families)"
        )


def _quiet(_: str) -> None:
    pass


def prepare(
    con: duckdb.DuckDBPyConnection,
    timings: dict[str, float],
    workers: int = 1,
    text_budget: int = DEFAULT_TEXT_BUDGET,
    say: Callable[[str], None] = _quiet,
) -> tuple[dict[str, int], TextSample]:
    """Per-distinct-value features and the enriched table ``ev`` (text features of the events in
    the text sample, see :mod:`hydrawatch.hunt.sampling`)."""
    t = time.perf_counter()
    n_events = int(con.execute("SELECT count(*) FROM events").fetchall()[0][0])
    sizes = account_sizes(con) if 0 < text_budget < n_events else []
    sample = choose_sample(n_events, text_budget, sizes)
    source = mark_sample(con, sample)
    say(f"describing prompts ({'every event' if sample.complete else sample.describe()})")
    n_prompts = build_prompt_features(con, events=f"(SELECT prompt FROM {source} WHERE txt)", workers=workers)
    timings["prompt_features_s"] = time.perf_counter() - t
    say(f"{n_prompts:,} distinct prompts described in {timings['prompt_features_s']:.0f} s; enriching events")
    t = time.perf_counter()
    n_ips = build_ip_features(con)
    n_sys = build_system_features(con)
    build_enriched(con, events=source)
    timings["enrich_s"] = time.perf_counter() - t
    counts = {"distinct_prompts": n_prompts, "distinct_ips": n_ips, "distinct_system_prompts": n_sys}
    return counts, sample


def hunt_loaded(
    con: duckdb.DuckDBPyConnection,
    *,
    with_accounts: bool,
    cfg: DetectConfig | None = None,
    replay_every: float | None = None,
    workers: int = 1,
    text_budget: int = DEFAULT_TEXT_BUDGET,
    say: Callable[[str], None] = _quiet,
) -> HuntOutcome:
    """Hunt the events already loaded in table ``events`` (and ``accounts`` when ``with_accounts``)."""
    cfg = cfg or DetectConfig()
    timings: dict[str, float] = {}
    notes: list[str] = []
    counts, sample = prepare(con, timings, workers=workers, text_budget=text_budget, say=say)
    if not sample.complete:
        notes.append(sample.describe())
    say(f"events enriched in {timings['enrich_s']:.0f} s; linking accounts and scoring campaigns")
    t = time.perf_counter()
    det = detect_at(con, None, with_accounts, cfg)
    describe_content_campaigns(con, det)
    timings["detect_s"] = time.perf_counter() - t
    first_flagged: dict[str, float] = {}
    lo, hi = con.execute("SELECT min(ts), max(ts) FROM ev").fetchall()[0]
    if replay_every and lo is not None and hi is not None and hi > lo:
        t = time.perf_counter()
        step = float(replay_every)
        steps = math.ceil((hi - lo) / step)
        if steps > MAX_REPLAY_STEPS:
            step = (hi - lo) / MAX_REPLAY_STEPS
            notes.append(
                f"replay step widened to {step / 3600:.1f} h to keep at most {MAX_REPLAY_STEPS} passes"
            )
        cut = lo + step
        while cut < hi:
            d = detect_at(con, cut, with_accounts, cfg)
            for i in np.nonzero(d.flagged)[0].tolist():
                first_flagged.setdefault(d.agg.account_id[i], cut)
            cut += step
        for i in np.nonzero(det.flagged)[0].tolist():
            first_flagged.setdefault(det.agg.account_id[i], float(hi))
        timings["replay_s"] = time.perf_counter() - t
    report = build_report(det, first_flagged if replay_every else None)
    add_idle_accounts(con, report)
    report.meta.update(
        {"detector": "hydrawatch-hunt", **counts, "timings_s": {k: round(v, 2) for k, v in timings.items()}}
    )
    if notes:
        report.meta["notes"] = notes
    return HuntOutcome(report, det, timings, notes)


def add_idle_accounts(con: duckdb.DuckDBPyConnection, report: Report) -> None:
    """Accounts of the input absent from the log (listed only in the accounts file) appear
    unflagged, with the reason why there is nothing to judge."""
    seen = {a.account_id for a in report.accounts}
    for aid in all_accounts(con):
        if aid not in seen:
            report.accounts.append(
                AccountVerdict(account_id=aid, risk=0.0, flagged=False, reasons=["no exchanges in the log"])
            )


def build_report(det: Detection, first_flagged: dict[str, float] | None) -> Report:
    agg = det.agg
    accounts: list[AccountVerdict] = []
    for i, aid in enumerate(agg.account_id):
        c = int(det.campaign_of[i])
        flagged = bool(det.flagged[i])
        accounts.append(
            AccountVerdict(
                account_id=aid,
                risk=float(det.risk[i]),
                flagged=flagged,
                campaign_id=f"C{c + 1:03d}" if c >= 0 else None,
                reasons=det.reasons(i) if (flagged or det.risk[i] >= 0.2) else [],
                first_flagged_ts=(first_flagged.get(aid) if first_flagged is not None and flagged else None),
            )
        )
    campaigns: list[Campaign] = []
    for ci, f in enumerate(det.campaigns):
        mem = f.flagged_members
        campaigns.append(
            Campaign(
                campaign_id=f"C{ci + 1:03d}",
                accounts=[agg.account_id[i] for i in mem],
                exchanges=int(agg.n[mem].sum()),
                output_tokens=int(agg.out_tok[mem].sum()),
                first_seen=_iso(float(agg.first_ts[mem].min())),
                last_seen=_iso(float(agg.last_ts[mem].max())),
                risk=float(np.clip(f.risk, 0, 1)),
                evidence=list(f.evidence),
            )
        )
    return Report(accounts, campaigns, {})


def hunt_files(
    events: list[Path],
    accounts: Path | None,
    *,
    workers: int = 0,
    cfg: DetectConfig | None = None,
    replay_every: float | None = None,
    db_path: str | None = None,
    tmp_dir: str | Path | None = None,
    memory_limit: str | None = None,
    text_budget: int = DEFAULT_TEXT_BUDGET,
    say: Callable[[str], None] = _quiet,
) -> tuple[HuntOutcome, Any, Any]:
    """Load files with ``hydrawatch.ingest`` and hunt them; returns (outcome, event stats, account stats).

    Large inputs are hunted in a temporary database file (:mod:`hydrawatch.hunt.storage`)."""
    import os

    from hydrawatch.ingest import load_accounts, load_events

    paths = [str(p) for p in events]
    total = input_bytes(paths)
    last = [0.0]

    def loading(records: int) -> None:
        now = time.perf_counter()
        if now - last[0] >= 10.0:
            last[0] = now
            say(f"loading: {records:,} records read ({total / 1e9:.1f} GB of input)")

    say(f"loading {len(paths)} file(s), {total / 1e9:.2f} GB")
    with hunt_database(paths, db_path=db_path, tmp_dir=tmp_dir, memory_limit=memory_limit) as con:
        t = time.perf_counter()
        ev_stats = load_events(con, paths, table="events", workers=workers, tmp_dir=tmp_dir, progress=loading)
        took = time.perf_counter() - t
        say(f"loaded {ev_stats.records_ok:,} records ({ev_stats.records_bad:,} bad) in {took:.0f} s")
        acc_stats = load_accounts(con, accounts, table="accounts") if accounts is not None else None
        load_s = time.perf_counter() - t
        feature_workers = workers if workers > 0 else min(2, os.cpu_count() or 1)
        out = hunt_loaded(
            con,
            with_accounts=accounts is not None,
            cfg=cfg,
            replay_every=replay_every,
            workers=feature_workers,
            text_budget=text_budget,
            say=say,
        )
    out.timings["load_s"] = load_s
    out.report.meta["timings_s"]["load_s"] = round(load_s, 2)
    out.report.meta["ingest"] = ev_stats.to_json()
    return out, ev_stats, acc_stats
