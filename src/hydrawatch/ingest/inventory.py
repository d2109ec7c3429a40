"""Which accounts the loaded input holds: the report contract lists every one of them."""

from __future__ import annotations

import duckdb


def has_table(con: duckdb.DuckDBPyConnection, name: str) -> bool:
    row = con.execute(
        "SELECT count(*) FROM information_schema.tables WHERE table_name = ?", [name]
    ).fetchone()
    return bool(row and row[0])


def all_accounts(con: duckdb.DuckDBPyConnection) -> list[str]:
    """Every account seen in the input: in ``events`` and, when loaded, in ``accounts``."""
    sql = "SELECT DISTINCT account_id FROM events"
    if has_table(con, "accounts"):
        sql += " UNION SELECT DISTINCT account_id FROM accounts"
    return sorted(str(r[0]) for r in con.execute(sql).fetchall() if r[0] is not None)
