"""Who is calling: the client's key from its headers, resolved to key and account.

OpenAI clients send ``Authorization: Bearer KEY``, Anthropic clients ``x-api-key: KEY``;
both are accepted on every route. Lookups are cached for ``keys.cache_seconds`` (so a
revocation or an account change takes effect within that time on every replica).
When the key store cannot be reached (Redis down), a key this process has seen before is
accepted as last seen (a revocation cannot propagate while the store is down anyway); an
unknown key gets 503 with ``Retry-After``, never a 500.
"""

from __future__ import annotations

import hashlib
import logging
import time
from collections.abc import Mapping

from hydrawatch.gateway.errors import GatewayError
from hydrawatch.gateway.keystore import AccountRecord, KeyRecord, KeyStore

log = logging.getLogger("hydrawatch.gateway")

MAX_KEY_CHARS = 512
_CACHE_MAX = 100_000


def key_from_headers(headers: Mapping[str, str]) -> str | None:
    auth = headers.get("authorization")
    if auth:
        scheme, _, value = auth.strip().partition(" ")
        if scheme.lower() == "bearer" and value.strip():
            return value.strip()
    key = headers.get("x-api-key")
    if key and key.strip():
        return key.strip()
    return None


class Authenticator:
    def __init__(self, store: KeyStore, cache_seconds: float = 1.0) -> None:
        self.store = store
        self._ttl = cache_seconds
        self._cache: dict[bytes, tuple[float, KeyRecord, AccountRecord]] = {}
        self.stale_hits = 0  # requests authenticated from an expired cache entry (store down)

    async def authenticate(self, key: str | None) -> tuple[KeyRecord, AccountRecord]:
        """The key and its account, or a 401 ``GatewayError``."""
        if key is None:
            raise GatewayError(
                401,
                "Missing API key: send 'Authorization: Bearer KEY' or 'x-api-key: KEY'.",
                code="missing_api_key",
            )
        if len(key) > MAX_KEY_CHARS:
            raise GatewayError(401, "Invalid API key.", code="invalid_api_key")
        now = time.monotonic()
        ck = hashlib.sha256(key.encode("utf-8", "surrogateescape")).digest()
        hit = self._cache.get(ck)
        if hit is not None and hit[0] > now:
            return hit[1], hit[2]
        try:
            rec = await self.store.authenticate(key)
            account = await self.store.get_account(rec.account_id) if rec is not None else None
        except Exception as e:  # the key store (Redis) is unreachable: last known answer, else 503
            if hit is not None:
                self.stale_hits += 1
                return hit[1], hit[2]
            log.warning("key store unavailable: %s: %s", type(e).__name__, e)
            raise GatewayError(
                503,
                "The key store is unavailable; retry shortly.",
                code="key_store_unavailable",
                headers={"retry-after": "1"},
            ) from None
        if rec is None or account is None:
            self._cache.pop(ck, None)
            raise GatewayError(401, "Invalid API key.", code="invalid_api_key")
        if len(self._cache) >= _CACHE_MAX:
            self._cache.clear()
        self._cache[ck] = (now + self._ttl, rec, account)
        return rec, account

    def forget(self) -> None:
        self._cache.clear()
