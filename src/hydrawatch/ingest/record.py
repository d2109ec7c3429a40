"""One source record to an Exchange: adapter, then mapping, then the contract check."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from hydrawatch.events.schema import Exchange
from hydrawatch.ingest.adapters import ADAPTER_NAMES, ADAPTERS, detect_adapter
from hydrawatch.ingest.contract import parse_contract
from hydrawatch.ingest.errors import BadRecord
from hydrawatch.ingest.mapping import apply_mapping, check_mapping

RecordParser = Callable[[Any], Exchange]


def make_parser(
    adapter: str = "contract", mapping: Mapping[str, str] | None = None, *, keep_extra: bool = True
) -> RecordParser:
    """A function from a decoded record to an Exchange (raises :class:`BadRecord`)."""
    if adapter not in ADAPTER_NAMES:
        raise ValueError(f"unknown adapter {adapter!r}; choose one of {', '.join(ADAPTER_NAMES)}")
    if mapping:
        check_mapping(mapping)
    fixed = ADAPTERS.get(adapter)
    if fixed is ADAPTERS["contract"] and not mapping:

        def contract_only(obj: Any) -> Exchange:
            return parse_contract(obj, keep_extra=keep_extra)

        return contract_only

    if adapter == "auto" and not mapping:

        def auto(obj: Any) -> Exchange:
            # the common case first: a contract record (what detect_adapter would choose)
            if type(obj) is dict and "request" not in obj and "request_id" not in obj:
                return parse_contract(obj, keep_extra=keep_extra)
            return parse(obj)

    def parse(obj: Any) -> Exchange:
        if not isinstance(obj, dict):
            raise BadRecord(f"record: expected a JSON object, got {type(obj).__name__}")
        translate = fixed if fixed is not None else detect_adapter(obj)
        rec = translate(obj)
        if mapping:
            rec = apply_mapping(rec, obj, mapping)
        return parse_contract(rec, keep_extra=keep_extra)

    return auto if adapter == "auto" and not mapping else parse


def parse_record(
    obj: Any, *, adapter: str = "contract", mapping: Mapping[str, str] | None = None
) -> Exchange:
    """One decoded record (a dict) to an Exchange; raises :class:`BadRecord` with the reason."""
    return make_parser(adapter, mapping)(obj)
