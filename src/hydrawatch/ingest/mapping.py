"""The field-mapping option: contract fields taken from dotted paths of any JSON log.

``--map account_id=user.id --map ts=@timestamp --map params.max_tokens=req.max_tokens``:
the left side is a contract field (dots reach into ``params``), the right side a path
into the source record. A key that itself contains dots is matched whole first;
list elements are addressed by index (``messages.0.content``).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from hydrawatch.ingest.contract import CONTRACT_FIELDS
from hydrawatch.ingest.params import PARAM_KEYS

_MISSING = object()


class MappingError(ValueError):
    """A --map option that cannot work (unknown target field, empty path)."""


def get_path(obj: Any, path: str) -> Any:
    """The value at a dotted path, or ``None`` when any step is missing."""
    cur = obj
    rest = path
    while rest:
        if isinstance(cur, dict):
            if rest in cur:
                return cur[rest]
            head, _, rest = rest.partition(".")
            cur = cur.get(head, _MISSING)
        elif isinstance(cur, list):
            head, _, rest = rest.partition(".")
            if not head.isdigit() or int(head) >= len(cur):
                return None
            cur = cur[int(head)]
        else:
            return None
        if cur is _MISSING:
            return None
    return cur


def parse_mapping(options: Iterable[str]) -> dict[str, str]:
    """``["field=path", ...]`` to ``{field: path}``, checking the fields exist."""
    out: dict[str, str] = {}
    for opt in options:
        target, sep, path = opt.partition("=")
        target, path = target.strip(), path.strip()
        if not sep or not target or not path:
            raise MappingError(f"--map {opt!r}: expected FIELD=PATH")
        out[target] = path
    check_mapping(out)
    return out


def check_mapping(mapping: Mapping[str, str]) -> None:
    for target, path in mapping.items():
        head, _, sub = target.partition(".")
        if head not in CONTRACT_FIELDS or (sub and (head != "params" or sub not in PARAM_KEYS)):
            raise MappingError(f"--map {target}={path}: {target!r} is not a contract field")
        if not path:
            raise MappingError(f"--map {target}=: empty path")


def apply_mapping(record: dict[str, Any], source: Any, mapping: Mapping[str, str]) -> dict[str, Any]:
    """``record`` with each mapped field set from ``source`` (mapped values win when present)."""
    out = dict(record)
    for target, path in mapping.items():
        value = get_path(source, path)
        if value is None:
            continue
        head, _, sub = target.partition(".")
        if sub:
            params = out.get("params")
            params = dict(params) if isinstance(params, dict) else {}
            params[sub] = value
            out["params"] = params
        else:
            out[head] = value
    return out
