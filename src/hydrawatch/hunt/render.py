"""The report a person reads: terminal text and a standalone HTML page."""

from __future__ import annotations

from pathlib import Path

from jinja2 import Environment, FileSystemLoader, select_autoescape

from hydrawatch.report.model import Report

TEMPLATES = Path(__file__).parent / "templates"
MAX_ACCOUNTS_SHOWN = 5


def render_text(report: Report, max_campaigns: int = 20) -> str:
    flagged = [a for a in report.accounts if a.flagged]
    lines = [
        f"hydrawatch hunt: {len(report.accounts):,} accounts, {len(flagged):,} flagged, "
        f"{len(report.campaigns):,} campaigns",
        "",
    ]
    by_id = {a.account_id: a for a in report.accounts}
    for c in report.campaigns[:max_campaigns]:
        lines.append(
            f"{c.campaign_id}  risk {c.risk:.2f}  {len(c.accounts):,} accounts  {c.exchanges:,} exchanges  "
            f"{c.output_tokens:,} output tokens  {c.first_seen} .. {c.last_seen}"
        )
        lines.extend(f"    - {e}" for e in c.evidence)
        for aid in c.accounts[:MAX_ACCOUNTS_SHOWN]:
            a = by_id[aid]
            why = "; ".join(r for r in a.reasons if not r.startswith("member of campaign"))[:200]
            lines.append(f"      {aid} (risk {a.risk:.2f}): {why}")
        if len(c.accounts) > MAX_ACCOUNTS_SHOWN:
            lines.append(f"      ... and {len(c.accounts) - MAX_ACCOUNTS_SHOWN:,} more accounts")
        lines.append("")
    if len(report.campaigns) > max_campaigns:
        lines.append(
            f"... and {len(report.campaigns) - max_campaigns:,} more campaigns (see the JSON/HTML report)"
        )
    return "\n".join(lines)


def render_html(report: Report) -> str:
    env = Environment(loader=FileSystemLoader(TEMPLATES), autoescape=select_autoescape(["html"]))
    tpl = env.get_template("report.html")
    accounts = sorted((a for a in report.accounts if a.flagged or a.risk >= 0.2), key=lambda a: -a.risk)
    return tpl.render(
        report=report,
        n_accounts=len(report.accounts),
        n_flagged=sum(1 for a in report.accounts if a.flagged),
        accounts=accounts,
        meta=report.meta,
    )
