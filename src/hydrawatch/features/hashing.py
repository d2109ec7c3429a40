"""Stable 63-bit text hashes (the same in every process, unlike ``hash()``)."""

from __future__ import annotations

import hashlib


def stable_hash(text: str) -> int:
    """A non-negative 63-bit hash of ``text`` (fits a DuckDB BIGINT)."""
    d = hashlib.blake2b(text.encode("utf-8", "surrogatepass"), digest_size=8).digest()
    return int.from_bytes(d, "little") & 0x7FFF_FFFF_FFFF_FFFF


def normalise_ws(text: str) -> str:
    return " ".join(text.split()).lower()


def system_fingerprint(system: str | None) -> int | None:
    """Fingerprint of a system prompt, insensitive to case and whitespace; None when absent."""
    if system is None or not system.strip():
        return None
    return stable_hash(normalise_ws(system))
