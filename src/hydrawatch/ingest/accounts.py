"""The optional accounts file: who each account is, without the PII.

Only the email's domain is kept (derived here when the file has full emails); unknown
columns are dropped, since an accounts export often carries more personal data than
detection needs. A later record for the same account replaces an earlier one.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import astuple, dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pyarrow as pa

from hydrawatch.ingest.errors import BadRecord, IngestError
from hydrawatch.ingest.load import quote_table
from hydrawatch.ingest.readers import Bad, iter_records
from hydrawatch.ingest.stats import IngestStats
from hydrawatch.ingest.values import opt_bool, opt_str, opt_ts

if TYPE_CHECKING:
    import duckdb

ACCOUNT_COLUMNS: pa.Schema = pa.schema(
    [
        ("account_id", pa.string()),
        ("created_at", pa.float64()),
        ("email_domain", pa.string()),
        ("payment_fingerprint", pa.string()),
        ("country", pa.string()),
        ("signup_path", pa.string()),
        ("verified", pa.bool_()),
    ]
)


@dataclass(slots=True)
class AccountRecord:
    """One account; ``created_at`` is epoch seconds (UTC)."""

    account_id: str
    created_at: float | None = None
    email_domain: str | None = None
    payment_fingerprint: str | None = None
    country: str | None = None
    signup_path: str | None = None
    verified: bool | None = None


def _domain(value: str | None) -> str | None:
    if not value:
        return None
    _, at, domain = value.rpartition("@")
    domain = domain.strip().lower().rstrip(".")
    if not domain or (not at and "." not in domain):
        return None
    return domain


def parse_account(obj: Any) -> AccountRecord:
    """One accounts-file record; raises :class:`BadRecord` with the reason."""
    if not isinstance(obj, dict):
        raise BadRecord(f"record: expected an object, got {type(obj).__name__}")
    account_id = opt_str(obj.get("account_id"), "account_id")
    if not account_id or account_id.isspace():
        raise BadRecord("account_id: missing")
    email = opt_str(obj.get("email"), "email")
    domain = _domain(opt_str(obj.get("email_domain"), "email_domain")) or (
        _domain(email) if email and "@" in email else None
    )
    country = opt_str(obj.get("country"), "country")
    signup = opt_str(obj.get("signup_path"), "signup_path")
    return AccountRecord(
        account_id=account_id,
        created_at=opt_ts(obj.get("created_at"), "created_at"),
        email_domain=domain,
        payment_fingerprint=opt_str(obj.get("payment_fingerprint"), "payment_fingerprint"),
        country=country.strip().upper() if country else None,
        signup_path=signup.strip().lower() if signup else None,
        verified=opt_bool(obj.get("verified"), "verified"),
    )


def iter_accounts(
    path: str | Path, *, strict: bool = False, stats: IngestStats | None = None, max_line_bytes: int = 8 << 20
) -> Iterator[AccountRecord]:
    """Every good record of an accounts file (JSONL, CSV or Parquet; gzip accepted)."""
    stats = stats if stats is not None else IngestStats()
    source = str(path)
    if not Path(path).is_file():
        raise IngestError(f"{source}: no such file")
    stats.files += 1
    seen = 0
    for line, obj in iter_records(path, max_line_bytes=max_line_bytes, stats=stats):
        seen += 1
        if type(obj) is Bad:
            reason = obj.reason
        else:
            try:
                rec = parse_account(obj)
            except BadRecord as e:
                reason = str(e)
            else:
                stats.records_ok += 1
                yield rec
                continue
        stats.add_bad(source, line, reason)
        if strict:
            raise IngestError(f"{source}:{line}: {reason}")
    if seen == 0:
        stats.warnings.append(f"{source}: no records (empty file)")


def load_accounts(
    con: duckdb.DuckDBPyConnection, path: str | Path, *, table: str = "accounts", strict: bool = False
) -> IngestStats:
    """Create (or replace) DuckDB table ``table`` (``ACCOUNT_COLUMNS``), one row per account."""
    q = quote_table(table)
    stats = IngestStats()
    latest: dict[str, AccountRecord] = {}
    for rec in iter_accounts(path, strict=strict, stats=stats):
        latest[rec.account_id] = rec
    rows = [astuple(r) for r in latest.values()]
    cols = list(zip(*rows, strict=True)) if rows else [() for _ in ACCOUNT_COLUMNS]
    data = pa.Table.from_arrays(
        [pa.array(c, type=f.type) for c, f in zip(cols, ACCOUNT_COLUMNS, strict=True)], schema=ACCOUNT_COLUMNS
    )
    con.register("__hw_accounts", data)
    try:
        con.execute(f"CREATE OR REPLACE TABLE {q} AS SELECT * FROM __hw_accounts")
    finally:
        con.unregister("__hw_accounts")
    return stats
