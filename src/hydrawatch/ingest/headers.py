"""What ingest keeps of HTTP request headers: user agent, a key id, a client fingerprint.

Secrets never leave this module: an API key becomes ``key_`` + 16 hex digits of its
SHA-256. The client fingerprint is a JA4/JA3 value when a TLS-terminating proxy put one
in a header, else ``hdr_`` + a hash of the header names in the order the client sent
them (clients built on different HTTP stacks order headers differently).
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Mapping
from typing import Any, Final

_FINGERPRINT_HEADERS: Final = ("x-ja4", "x-ja4-fingerprint", "ja4", "x-ja3", "x-ja3-fingerprint", "ja3")
# Names that proxies add or that vary per request, left out of the header-order hash.
_VOLATILE: Final = frozenset(
    {
        "content-length",
        "x-forwarded-for",
        "x-forwarded-proto",
        "x-forwarded-host",
        "x-forwarded-port",
        "x-real-ip",
        "forwarded",
        "via",
        "x-request-id",
        "traceparent",
        "tracestate",
        "cookie",
        "host",
        *_FINGERPRINT_HEADERS,
    }
)


def key_id(secret: str) -> str:
    """A stable, non-reversible id for an API key."""
    return "key_" + hashlib.sha256(secret.encode("utf-8", "surrogatepass")).hexdigest()[:16]


def looks_like_secret(value: str) -> bool:
    """True for values shaped like raw API keys (``sk-...``), which must not be stored."""
    return value.startswith(("sk-", "sk_")) and len(value) > 20


def header_items(headers: Any) -> list[tuple[str, str]]:
    """Headers as ordered (lower-case name, value) pairs from a mapping or a list of pairs."""
    items: Iterable[Any]
    if isinstance(headers, Mapping):
        items = headers.items()
    elif isinstance(headers, list):
        items = headers
    else:
        return []
    out: list[tuple[str, str]] = []
    for item in items:
        if isinstance(item, (tuple, list)) and len(item) == 2:
            name, value = item
            if isinstance(name, str) and isinstance(value, (str, int, float)):
                out.append((name.lower(), str(value)))
    return out


def header_fields(headers: Any) -> dict[str, str]:
    """Contract fields found in headers: user_agent, api_key_id, client_fingerprint, ip."""
    items = header_items(headers)
    if not items:
        return {}
    h = dict(items)
    out: dict[str, str] = {}
    ua = h.get("user-agent")
    if ua:
        out["user_agent"] = ua
    secret = h.get("x-api-key") or h.get("api-key")
    auth = h.get("authorization", "")
    if not secret and auth[:7].lower() == "bearer ":
        secret = auth[7:].strip()
    if secret:
        out["api_key_id"] = key_id(secret)
    for name in _FINGERPRINT_HEADERS:
        if h.get(name):
            out["client_fingerprint"] = h[name]
            break
    else:
        names = ",".join(n for n, _ in items if n not in _VOLATILE)
        out["client_fingerprint"] = "hdr_" + hashlib.sha256(names.encode("utf-8", "replace")).hexdigest()[:16]
    forwarded = h.get("x-forwarded-for") or h.get("x-real-ip")
    if forwarded:
        out["ip"] = forwarded.split(",")[0].strip()
    return out
