"""Turn a baseline's flags into the report contract (every account of the input appears)."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import duckdb

from hydrawatch.ingest.inventory import all_accounts
from hydrawatch.report.model import AccountVerdict, Campaign, Report


@dataclass(slots=True)
class Flag:
    """A baseline's finding on one account. Unflagged accounts may carry a risk below 1."""

    account_id: str
    risk: float
    flagged: bool
    reasons: list[str] = field(default_factory=list)
    first_flagged_ts: float | None = None
    campaign_id: str | None = None


def iso(ts: float | None) -> str | None:
    return None if ts is None else datetime.fromtimestamp(ts, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _campaigns(con: duckdb.DuckDBPyConnection, flags: dict[str, Flag]) -> list[Campaign]:
    groups: dict[str, list[str]] = {}
    for f in flags.values():
        if f.flagged and f.campaign_id is not None:
            groups.setdefault(f.campaign_id, []).append(f.account_id)
    if not groups:
        return []
    pairs = [(a, cid) for cid, accs in groups.items() for a in accs]
    con.execute("CREATE OR REPLACE TEMP TABLE _hw_members (account_id VARCHAR, campaign_id VARCHAR)")
    con.executemany("INSERT INTO _hw_members VALUES (?, ?)", pairs)
    rows = con.execute(
        """SELECT m.campaign_id, count(e.account_id), coalesce(sum(e.output_tokens), 0), min(e.ts), max(e.ts)
           FROM _hw_members m LEFT JOIN events e USING (account_id) GROUP BY m.campaign_id"""
    ).fetchall()
    con.execute("DROP TABLE _hw_members")
    out: list[Campaign] = []
    for cid, n, tok, first, last in rows:
        accs = sorted(groups[cid])
        evidence = sorted({r for a in accs for r in flags[a].reasons})[:10]
        out.append(Campaign(cid, accs, int(n), int(tok), iso(first), iso(last), 1.0, evidence))
    return sorted(out, key=lambda c: (-len(c.accounts), c.campaign_id))


def build_report(
    con: duckdb.DuckDBPyConnection, flags: dict[str, Flag], meta: dict[str, Any] | None = None
) -> Report:
    """The report over every account of the input; accounts without a flag get risk 0."""
    verdicts: list[AccountVerdict] = []
    for aid in all_accounts(con):
        f = flags.get(aid)
        if f is None:
            verdicts.append(AccountVerdict(aid, 0.0, False))
            continue
        risk = 1.0 if f.flagged else min(max(f.risk, 0.0), 1.0)
        verdicts.append(
            AccountVerdict(
                aid,
                risk,
                f.flagged,
                f.campaign_id if f.flagged else None,
                list(f.reasons) if f.flagged else [],
                f.first_flagged_ts if f.flagged else None,
            )
        )
    return Report(verdicts, _campaigns(con, flags), dict(meta or {}))
