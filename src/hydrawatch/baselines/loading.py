"""Get exchange logs into the DuckDB table ``events`` (EVENT_COLUMNS) that the baselines query."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

import duckdb
import pyarrow as pa

from hydrawatch.events.schema import EVENT_COLUMNS


def load_event_files(
    con: duckdb.DuckDBPyConnection, events: Sequence[str | Path], accounts: str | Path | None = None
) -> str:
    """Load logs with the ingest stage (bad records skipped and counted); returns its summary text."""
    from hydrawatch import ingest  # the ingest stage owns parsing of every log format

    stats = ingest.load_events(con, [str(p) for p in events], table="events")
    summary: str = stats.summary()
    if accounts is not None:
        acc_stats = ingest.load_accounts(con, str(accounts), table="accounts")
        summary += "\n" + str(acc_stats.summary())
    return summary


def events_table_from_rows(
    con: duckdb.DuckDBPyConnection, rows: Iterable[Mapping[str, Any]], table: str = "events"
) -> None:
    """Create ``table`` with the EVENT_COLUMNS schema from row dicts (missing columns are null)."""
    rows = list(rows)
    cols = {f.name: [r.get(f.name) for r in rows] for f in EVENT_COLUMNS}
    arrow = pa.table(cols, schema=EVENT_COLUMNS)
    con.register("_hw_rows", arrow)
    con.execute(f'CREATE OR REPLACE TABLE "{table}" AS SELECT * FROM _hw_rows')
    con.unregister("_hw_rows")
