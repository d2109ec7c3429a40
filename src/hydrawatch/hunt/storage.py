"""Where the hunt keeps its working tables: in memory for small logs, in a temporary DuckDB
file with a memory limit for large ones (DuckDB then spills and evicts to disk, so a log many
times the size of RAM is hunted in bounded memory)."""

from __future__ import annotations

import contextlib
import os
import shutil
import tempfile
from collections.abc import Iterator, Sequence
from pathlib import Path

import duckdb

SPILL_BYTES = 1 << 30  # inputs larger than this are hunted in a temporary database file
DEFAULT_MEMORY_LIMIT = "3GB"


def input_bytes(paths: Sequence[str | Path]) -> int:
    return sum(os.path.getsize(p) for p in paths if os.path.isfile(p))


@contextlib.contextmanager
def hunt_database(
    paths: Sequence[str | Path],
    *,
    db_path: str | None = None,
    tmp_dir: str | Path | None = None,
    memory_limit: str | None = None,
) -> Iterator[duckdb.DuckDBPyConnection]:
    """A DuckDB connection for one hunt. ``db_path`` keeps the working tables in that file
    (kept afterwards); otherwise large inputs get a temporary file under ``tmp_dir`` that is
    removed at the end. ``memory_limit`` (DuckDB syntax, e.g. ``4GB``) applies to file-backed
    hunts; in-memory hunts keep DuckDB's default."""
    work: str | None = None
    if db_path is None and input_bytes(paths) > SPILL_BYTES:
        work = tempfile.mkdtemp(prefix="hydrawatch-hunt-", dir=str(tmp_dir) if tmp_dir else None)
        db_path = os.path.join(work, "hunt.duckdb")
    con = duckdb.connect(db_path or ":memory:")
    try:
        if db_path is not None:
            con.execute("SET memory_limit = ?", [memory_limit or DEFAULT_MEMORY_LIMIT])
            con.execute("SET temp_directory = ?", [str(Path(db_path).parent / "spill")])
        elif memory_limit:
            con.execute("SET memory_limit = ?", [memory_limit])
        yield con
    finally:
        con.close()
        if work is not None:
            shutil.rmtree(work, ignore_errors=True)
