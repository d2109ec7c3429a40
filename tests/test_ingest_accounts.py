"""The accounts file: domains instead of emails, types, duplicates, the DuckDB table."""

from __future__ import annotations

from pathlib import Path

import duckdb
import orjson
import pytest

from hydrawatch.ingest import IngestError, IngestStats, iter_accounts, load_accounts


def test_jsonl_accounts_keep_domain_not_email(tmp_path: Path) -> None:
    rows = [
        {
            "account_id": "a1",
            "created_at": "2026-01-01T00:00:00Z",
            "email": "Jane.Doe@Uni.EDU",
            "verified": True,
        },
        {"account_id": "a2", "email_domain": "startup.io", "country": "de", "signup_path": "Startup"},
        {"account_id": "a3", "email": "not-an-email", "payment_fingerprint": "pm_1", "verified": "no"},
        {"account_id": "a4", "email_domain": "someone@mail.example", "created_at": 1_767_225_600_000},
        {"email": "orphan@x.com"},
        {"account_id": "a5", "verified": "perhaps"},
    ]
    p = tmp_path / "accounts.jsonl"
    p.write_bytes(b"\n".join(orjson.dumps(r) for r in rows))
    stats = IngestStats()
    got = {a.account_id: a for a in iter_accounts(p, stats=stats)}
    assert got["a1"].email_domain == "uni.edu" and got["a1"].verified is True
    assert got["a1"].created_at == 1_767_225_600.0
    assert (got["a2"].country, got["a2"].signup_path) == ("DE", "startup")
    assert got["a3"].email_domain is None and got["a3"].verified is False
    assert got["a4"].email_domain == "mail.example" and got["a4"].created_at == 1_767_225_600.0
    assert not any(hasattr(a, "email") for a in got.values())
    assert [(b[1], b[2].split(":")[0]) for b in stats.bad] == [(5, "account_id"), (6, "verified")]


def test_csv_accounts_into_duckdb_last_record_wins(tmp_path: Path) -> None:
    p = tmp_path / "accounts.csv"
    p.write_text(
        "account_id,created_at,email,payment_fingerprint,country,signup_path,verified,notes\n"
        "a1,1767225600,x@corp.com,pm_9,US,enterprise,true,secret note\n"
        "a2,,,,,,,\n"
        "a1,1767225601,x@corp.com,pm_9,US,enterprise,false,\n"
    )
    con = duckdb.connect()
    stats = load_accounts(con, p)
    assert stats.records_ok == 3 and stats.records_bad == 0
    rows = con.execute("SELECT * FROM accounts ORDER BY account_id").fetchall()
    assert rows == [
        ("a1", 1_767_225_601.0, "corp.com", "pm_9", "US", "enterprise", False),
        ("a2", None, None, None, None, None, None),
    ]
    types = dict(con.execute("SELECT column_name, column_type FROM (DESCRIBE accounts)").fetchall())
    assert types["created_at"] == "DOUBLE" and types["verified"] == "BOOLEAN"
    assert "email" not in types and "notes" not in types


def test_empty_and_missing_accounts_files(tmp_path: Path) -> None:
    p = tmp_path / "empty.csv"
    p.write_text("")
    con = duckdb.connect()
    stats = load_accounts(con, p)
    assert stats.records_ok == 0 and con.execute("SELECT count(*) FROM accounts").fetchall() == [(0,)]
    with pytest.raises(IngestError, match="no such file"):
        load_accounts(con, tmp_path / "missing.csv")


def test_strict_accounts(tmp_path: Path) -> None:
    p = tmp_path / "a.jsonl"
    p.write_text('{"account_id": "a"}\n{"created_at": 5}\n')
    with pytest.raises(IngestError, match=r"a\.jsonl:2: account_id: missing"):
        load_accounts(duckdb.connect(), p, strict=True)
