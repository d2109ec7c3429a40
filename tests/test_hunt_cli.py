"""The ``hydrawatch hunt`` command on files, with garbage lines in the log."""

from __future__ import annotations

import random
from pathlib import Path

import orjson
from click.testing import CliRunner

from hydrawatch.events.schema import Exchange
from hydrawatch.hunt.cli import hunt, parse_duration
from hydrawatch.report.model import Report
from test_hunt_pipeline import make_log


def _record(e: Exchange) -> dict[str, object]:
    return {
        "ts": e.ts,
        "account_id": e.account_id,
        "model": e.model,
        "messages": [{"role": m.role, "content": m.content} for m in e.messages],
        "system": e.system,
        "ip": e.ip,
        "user_agent": e.user_agent,
        "params": {"max_tokens": e.params.max_tokens},
        "input_tokens": e.input_tokens,
        "output_tokens": e.output_tokens,
        "status": e.status,
    }


def test_hunt_survives_garbage_and_reports_it(tmp_path: Path) -> None:
    exs, accounts, campaign = make_log(seed=5)
    rng = random.Random(0)
    lines: list[bytes] = []
    for e in sorted(exs, key=lambda e: e.ts):
        lines.append(orjson.dumps(_record(e)))
        if rng.random() < 0.01:
            lines.append(
                rng.choice([b"{not json", b'{"ts": "yesterday", "account_id": 5}', b"[]", b"\xff\xfe"])
            )
    ev = tmp_path / "events.jsonl"
    ev.write_bytes(b"\n".join(lines) + b"\n")
    acc = tmp_path / "accounts.jsonl"
    acc.write_bytes(b"\n".join(orjson.dumps(a) for a in accounts) + b"\n")
    out_json, out_html = tmp_path / "r.json", tmp_path / "r.html"
    res = CliRunner().invoke(
        hunt,
        [str(ev), "--accounts", str(acc), "--json", str(out_json), "--html", str(out_html), "--workers", "1"],
    )
    assert res.exit_code == 0, res.output
    assert "bad" in res.output
    report = Report.read(out_json)
    flagged = {a.account_id for a in report.accounts if a.flagged}
    assert campaign <= flagged
    html = out_html.read_text()
    assert "<html" in html and "C001" in html and "http://" not in html.split("db-ip.com")[0]


def test_parse_duration() -> None:
    assert parse_duration("6h") == 21600
    assert parse_duration("30m") == 1800
    assert parse_duration("90") == 90
