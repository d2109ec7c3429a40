"""The exchange-log contract: one API call per record, normalised."""

from hydrawatch.events.schema import EVENT_COLUMNS, Exchange, Message, Params

__all__ = ["EVENT_COLUMNS", "Exchange", "Message", "Params"]
