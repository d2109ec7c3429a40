"""The batch hunt: load, enrich, aggregate, link, detect, (replay), report."""

from __future__ import annotations

import math
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import duckdb
import numpy as np

from hydrawatch.detect.campaign import DetectConfig
from hydrawatch.detect.detector import Detection, detect
from hydrawatch.detect.linkage import pairs_from_keys
from hydrawatch.hunt.enrich import (
    build_enriched,
    build_ip_features,
    build_prompt_features,
    build_system_features,
)
from hydrawatch.hunt.sql import account_aggregates, cutoff_view, link_keys
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
    pairs = pairs_from_keys(con)
    return detect(agg, pairs, cfg)


def prepare(con: duckdb.DuckDBPyConnection, timings: dict[str, float], workers: int = 1) -> dict[str, int]:
    """Per-distinct-value features and the enriched table ``ev``."""
    t = time.perf_counter()
    n_prompts = build_prompt_features(con, workers=workers)
    timings["prompt_features_s"] = time.perf_counter() - t
    t = time.perf_counter()
    n_ips = build_ip_features(con)
    n_sys = build_system_features(con)
    build_enriched(con)
    timings["enrich_s"] = time.perf_counter() - t
    return {"distinct_prompts": n_prompts, "distinct_ips": n_ips, "distinct_system_prompts": n_sys}


def hunt_loaded(
    con: duckdb.DuckDBPyConnection,
    *,
    with_accounts: bool,
    cfg: DetectConfig | None = None,
    replay_every: float | None = None,
    workers: int = 1,
) -> HuntOutcome:
    """Hunt the events already loaded in table ``events`` (and ``accounts`` when ``with_accounts``)."""
    cfg = cfg or DetectConfig()
    timings: dict[str, float] = {}
    notes: list[str] = []
    counts = prepare(con, timings, workers=workers)
    t = time.perf_counter()
    det = detect_at(con, None, with_accounts, cfg)
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
    db_path: str = ":memory:",
) -> tuple[HuntOutcome, Any, Any]:
    """Load files with ``hydrawatch.ingest`` and hunt them; returns (outcome, event stats, account stats)."""
    from hydrawatch.ingest import load_accounts, load_events

    con = duckdb.connect(db_path)
    t = time.perf_counter()
    ev_stats = load_events(con, [str(p) for p in events], table="events", workers=workers)
    acc_stats = load_accounts(con, accounts, table="accounts") if accounts is not None else None
    load_s = time.perf_counter() - t
    import os

    feature_workers = workers if workers > 0 else min(2, os.cpu_count() or 1)
    out = hunt_loaded(
        con, with_accounts=accounts is not None, cfg=cfg, replay_every=replay_every, workers=feature_workers
    )
    out.timings["load_s"] = load_s
    out.report.meta["timings_s"]["load_s"] = round(load_s, 2)
    out.report.meta["ingest"] = ev_stats.to_json()
    con.close()
    return out, ev_stats, acc_stats
