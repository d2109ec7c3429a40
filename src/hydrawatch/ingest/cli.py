"""``hydrawatch ingest``: validate and normalise exchange logs, report bad records."""

from __future__ import annotations

import sys
import tempfile
from pathlib import Path

import click
import orjson

from hydrawatch.ingest.adapters import ADAPTER_NAMES
from hydrawatch.ingest.errors import IngestError
from hydrawatch.ingest.mapping import MappingError, parse_mapping
from hydrawatch.ingest.readers import FORMATS
from hydrawatch.ingest.stats import IngestStats


def _progress(n: int) -> None:
    click.echo(f"\r{n:,} records read", nl=False, err=True)


@click.command(name="ingest")
@click.argument("events", nargs=-1, required=True, type=click.Path(dir_okay=False, path_type=Path))
@click.option(
    "--accounts",
    type=click.Path(dir_okay=False, path_type=Path),
    help="Accounts file (JSONL, CSV or Parquet).",
)
@click.option(
    "--strict", is_flag=True, help="Stop at the first bad record (exit code 2) instead of skipping it."
)
@click.option(
    "--adapter",
    type=click.Choice(ADAPTER_NAMES),
    default="auto",
    show_default=True,
    help="Log shape; auto picks per record (contract, request/response log, LiteLLM row).",
)
@click.option(
    "--format", "fmt", type=click.Choice(FORMATS), help="Input format (default: from the file name)."
)
@click.option(
    "--map", "maps", multiple=True, metavar="FIELD=PATH", help="Take a contract field from a dotted path."
)
@click.option(
    "--out", type=click.Path(dir_okay=False, path_type=Path), help="Write normalised events as Parquet."
)
@click.option(
    "--accounts-out", type=click.Path(dir_okay=False, path_type=Path), help="Write accounts as Parquet."
)
@click.option("--workers", type=int, default=0, show_default=True, help="Parser processes (0: automatic).")
@click.option("--max-line-bytes", type=int, default=8 << 20, show_default=True, help="Longer lines are bad.")
@click.option(
    "--stats-json", type=click.Path(dir_okay=False, path_type=Path), help="Write the counts as JSON."
)
def ingest(
    events: tuple[Path, ...],
    accounts: Path | None,
    strict: bool,
    adapter: str,
    fmt: str | None,
    maps: tuple[str, ...],
    out: Path | None,
    accounts_out: Path | None,
    workers: int,
    max_line_bytes: int,
    stats_json: Path | None,
) -> None:
    """Read exchange logs (JSONL, JSONL.gz, CSV, Parquet), check them against the contract
    (docs/exchange-log.md) and print a summary with the line numbers of bad records.

    \b
    Examples:
      hydrawatch ingest logs/*.jsonl.gz --accounts accounts.csv --out events.parquet
      hydrawatch ingest gateway.jsonl --adapter openai --strict
      hydrawatch ingest app.jsonl --map account_id=user.id --map ts=@timestamp --map prompt=req.text
    """
    import duckdb

    from hydrawatch.ingest.accounts import load_accounts
    from hydrawatch.ingest.load import load_events

    try:
        mapping = parse_mapping(maps)
    except MappingError as e:
        raise click.UsageError(str(e)) from None
    if max_line_bytes < 1:
        raise click.UsageError("--max-line-bytes must be positive")
    show_progress = sys.stderr.isatty()
    with tempfile.TemporaryDirectory(prefix="hydrawatch-ingest-") as tmp:
        con = duckdb.connect(str(Path(tmp) / "ingest.duckdb"))
        try:
            stats = load_events(
                con,
                list(events),
                fmt=fmt,
                adapter=adapter,
                mapping=mapping or None,
                strict=strict,
                workers=workers,
                max_line_bytes=max_line_bytes,
                progress=_progress if show_progress else None,
            )
            if show_progress:
                click.echo("", err=True)
            account_stats: IngestStats | None = None
            if accounts is not None:
                account_stats = load_accounts(con, accounts, strict=strict)
        except IngestError as e:
            if show_progress:
                click.echo("", err=True)
            click.echo(f"error: {e}", err=True)
            sys.exit(2)
        click.echo(stats.summary())
        if account_stats is not None:
            click.echo("accounts: " + account_stats.summary().replace(" records ", " accounts "))
        if out is not None:
            con.execute("COPY events TO ? (FORMAT parquet, COMPRESSION zstd)", [str(out)])
            click.echo(f"wrote {stats.records_ok:,} events to {out}")
        if accounts_out is not None and account_stats is not None:
            con.execute("COPY accounts TO ? (FORMAT parquet)", [str(accounts_out)])
            click.echo(f"wrote {account_stats.records_ok:,} accounts to {accounts_out}")
        con.close()
    if stats_json is not None:
        doc = {"events": stats.to_json(), "accounts": account_stats.to_json() if account_stats else None}
        stats_json.write_bytes(orjson.dumps(doc, option=orjson.OPT_INDENT_2))
