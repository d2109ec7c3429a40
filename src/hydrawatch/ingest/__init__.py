"""Readers of the exchange-log contract (docs/exchange-log.md) and of the logs people already have."""

from hydrawatch.ingest.accounts import ACCOUNT_COLUMNS, AccountRecord, iter_accounts, load_accounts
from hydrawatch.ingest.errors import BadRecord, IngestError
from hydrawatch.ingest.exchanges import iter_exchanges
from hydrawatch.ingest.load import load_events
from hydrawatch.ingest.record import parse_record
from hydrawatch.ingest.requests import exchange_from_anthropic_request, exchange_from_openai_request
from hydrawatch.ingest.stats import IngestStats

__all__ = [
    "ACCOUNT_COLUMNS",
    "AccountRecord",
    "BadRecord",
    "IngestError",
    "IngestStats",
    "exchange_from_anthropic_request",
    "exchange_from_openai_request",
    "iter_accounts",
    "iter_exchanges",
    "load_accounts",
    "load_events",
    "parse_record",
]
