"""API keys and accounts.

A key is ``hw-`` + 43 url-safe characters (256 bits from ``secrets``), shown once.
Only ``HMAC-SHA256(server secret, key)`` is stored; lookup is by that digest and the
final comparison uses ``hmac.compare_digest``. Embedded mode keeps keys in SQLite (WAL,
so ``hydrawatch keys ...`` works while ``serve`` runs); redis mode keeps them in Redis
so every replica sees the same keys.

An account carries its quota tier, whether it is verified, and optionally the
fingerprint of its payment method (an opaque id from the billing system, never card
data): the gateway puts it on the account's event rows, and the scorer links accounts
that share one.
"""

from __future__ import annotations

import hashlib
import hmac
import os
import secrets
import sqlite3
import time
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

if TYPE_CHECKING:
    from hydrawatch.gateway.config import GatewayConfig

KEY_PREFIX = "hw-"


@dataclass(frozen=True, slots=True)
class KeyRecord:
    key_id: str
    account_id: str
    name: str
    prefix: str  # first characters of the key, to recognise it in listings
    created_at: float
    revoked_at: float | None = None

    @property
    def active(self) -> bool:
        return self.revoked_at is None

    def to_json(self) -> dict[str, Any]:
        return {
            "key_id": self.key_id,
            "account_id": self.account_id,
            "name": self.name,
            "prefix": self.prefix,
            "created_at": self.created_at,
            "revoked_at": self.revoked_at,
            "active": self.active,
        }


@dataclass(frozen=True, slots=True)
class AccountRecord:
    account_id: str
    tier: str = "standard"
    verified: bool = False
    payment_fingerprint: str | None = None

    def to_json(self) -> dict[str, Any]:
        return {
            "account_id": self.account_id,
            "tier": self.tier,
            "verified": self.verified,
            "payment_fingerprint": self.payment_fingerprint,
        }


class KeyStoreError(ValueError):
    pass


def new_key() -> str:
    return KEY_PREFIX + secrets.token_urlsafe(32)


def new_key_id() -> str:
    return "key_" + secrets.token_hex(8)


def hash_key(secret: bytes, key: str) -> str:
    return hmac.new(secret, key.encode("utf-8", errors="surrogateescape"), hashlib.sha256).hexdigest()


def valid_account_id(account_id: str) -> str:
    if not isinstance(account_id, str) or not account_id.strip() or len(account_id) > 256:
        raise KeyStoreError("account_id must be a non-empty string of at most 256 characters")
    if any(ord(ch) < 32 for ch in account_id):
        raise KeyStoreError("account_id must not contain control characters")
    return account_id


MAX_PAYMENT_FINGERPRINT = 128


def valid_tier(tier: str | None) -> str | None:
    if tier is not None and (not isinstance(tier, str) or not tier.strip() or len(tier) > 64):
        raise KeyStoreError("tier must be a non-empty name of at most 64 characters")
    return tier


def valid_payment_fingerprint(fp: str | None) -> str | None:
    """``fp`` when it is a usable payment fingerprint (None passes: "leave unchanged")."""
    if fp is None:
        return None
    if not isinstance(fp, str) or not fp.strip() or len(fp) > MAX_PAYMENT_FINGERPRINT:
        raise KeyStoreError(
            f"payment_fingerprint must be a non-empty string of at most {MAX_PAYMENT_FINGERPRINT} characters"
        )
    if not fp.isprintable():
        raise KeyStoreError("payment_fingerprint must contain only printable characters")
    return fp


class KeyStore(Protocol):
    async def create_key(self, account_id: str, name: str = "") -> tuple[str, KeyRecord]: ...
    async def authenticate(self, key: str) -> KeyRecord | None: ...
    async def list_keys(self, account_id: str | None = None) -> list[KeyRecord]: ...
    async def revoke(self, key_id: str) -> bool: ...
    async def get_account(self, account_id: str) -> AccountRecord: ...
    async def set_account(
        self,
        account_id: str,
        *,
        tier: str | None = None,
        verified: bool | None = None,
        payment_fingerprint: str | None = None,
    ) -> AccountRecord: ...
    async def list_accounts(self) -> list[AccountRecord]: ...
    async def close(self) -> None: ...


def _file_secret(state_dir: Path) -> bytes:
    """The server secret in ``state_dir/key-secret`` (created 0600 on first use)."""
    state_dir.mkdir(parents=True, exist_ok=True)
    path = state_dir / "key-secret"
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        data = path.read_bytes().strip()
        if len(data) < 32:
            raise KeyStoreError(f"{path}: key secret is too short or empty") from None
        return data
    data = secrets.token_hex(32).encode()
    with os.fdopen(fd, "wb") as f:
        f.write(data)
    return data


_SCHEMA = """
CREATE TABLE IF NOT EXISTS api_keys (
    key_id TEXT PRIMARY KEY,
    key_hash TEXT NOT NULL UNIQUE,
    account_id TEXT NOT NULL,
    name TEXT NOT NULL DEFAULT '',
    prefix TEXT NOT NULL,
    created_at REAL NOT NULL,
    revoked_at REAL
);
CREATE INDEX IF NOT EXISTS api_keys_account ON api_keys(account_id);
CREATE TABLE IF NOT EXISTS accounts (
    account_id TEXT PRIMARY KEY,
    tier TEXT NOT NULL DEFAULT 'standard',
    verified INTEGER NOT NULL DEFAULT 0,
    updated_at REAL NOT NULL,
    payment_fingerprint TEXT
);
"""

_ACCOUNT_COLS = "account_id, tier, verified, payment_fingerprint"

_KEY_COLS = "key_id, account_id, name, prefix, created_at, revoked_at, key_hash"


def _key_from_row(row: tuple[Any, ...]) -> KeyRecord:
    return KeyRecord(
        key_id=row[0], account_id=row[1], name=row[2], prefix=row[3], created_at=row[4], revoked_at=row[5]
    )


def _account_from_row(row: tuple[Any, ...]) -> AccountRecord:
    return AccountRecord(row[0], row[1], bool(row[2]), row[3] or None)


def _migrate(db: sqlite3.Connection) -> None:
    """Bring a ``keys.sqlite`` written by an older version up to date (idempotent)."""
    cols = {r[1] for r in db.execute("PRAGMA table_info(accounts)").fetchall()}
    if "payment_fingerprint" not in cols:
        try:
            db.execute("ALTER TABLE accounts ADD COLUMN payment_fingerprint TEXT")
        except sqlite3.OperationalError:  # another process (serve / the CLI) added it meanwhile
            cols = {r[1] for r in db.execute("PRAGMA table_info(accounts)").fetchall()}
            if "payment_fingerprint" not in cols:
                raise


class SqliteKeyStore:
    """Keys and accounts in ``state_dir/keys.sqlite`` (WAL; safe across processes)."""

    def __init__(self, state_dir: Path, secret: str | None = None) -> None:
        state_dir.mkdir(parents=True, exist_ok=True)
        self._secret = secret.encode() if secret else _file_secret(state_dir)
        self.path = state_dir / "keys.sqlite"
        self._db = sqlite3.connect(self.path, timeout=5.0, isolation_level=None, check_same_thread=False)
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("PRAGMA synchronous=NORMAL")
        self._db.executescript(_SCHEMA)
        _migrate(self._db)

    async def create_key(self, account_id: str, name: str = "") -> tuple[str, KeyRecord]:
        valid_account_id(account_id)
        key = new_key()
        rec = KeyRecord(new_key_id(), account_id, name, key[:10], time.time())
        self._db.execute(
            "INSERT INTO api_keys (key_id, key_hash, account_id, name, prefix, created_at) "
            "VALUES (?,?,?,?,?,?)",
            (rec.key_id, hash_key(self._secret, key), account_id, name, rec.prefix, rec.created_at),
        )
        self._db.execute(
            "INSERT OR IGNORE INTO accounts (account_id, updated_at) VALUES (?, ?)",
            (account_id, rec.created_at),
        )
        return key, rec

    async def authenticate(self, key: str) -> KeyRecord | None:
        digest = hash_key(self._secret, key)
        row = self._db.execute(f"SELECT {_KEY_COLS} FROM api_keys WHERE key_hash = ?", (digest,)).fetchone()
        if row is None or not hmac.compare_digest(row[6], digest) or row[5] is not None:
            return None
        return _key_from_row(row)

    async def list_keys(self, account_id: str | None = None) -> list[KeyRecord]:
        if account_id is None:
            rows = self._db.execute(f"SELECT {_KEY_COLS} FROM api_keys ORDER BY created_at").fetchall()
        else:
            rows = self._db.execute(
                f"SELECT {_KEY_COLS} FROM api_keys WHERE account_id = ? ORDER BY created_at", (account_id,)
            ).fetchall()
        return [_key_from_row(r) for r in rows]

    async def revoke(self, key_id: str) -> bool:
        cur = self._db.execute(
            "UPDATE api_keys SET revoked_at = ? WHERE key_id = ? AND revoked_at IS NULL",
            (time.time(), key_id),
        )
        return cur.rowcount > 0

    async def get_account(self, account_id: str) -> AccountRecord:
        row = self._db.execute(
            f"SELECT {_ACCOUNT_COLS} FROM accounts WHERE account_id = ?", (account_id,)
        ).fetchone()
        if row is None:
            return AccountRecord(account_id)
        return _account_from_row(row)

    async def set_account(
        self,
        account_id: str,
        *,
        tier: str | None = None,
        verified: bool | None = None,
        payment_fingerprint: str | None = None,
    ) -> AccountRecord:
        valid_account_id(account_id)
        valid_tier(tier)
        valid_payment_fingerprint(payment_fingerprint)
        cur = await self.get_account(account_id)
        new = AccountRecord(
            account_id,
            tier if tier is not None else cur.tier,
            verified if verified is not None else cur.verified,
            payment_fingerprint if payment_fingerprint is not None else cur.payment_fingerprint,
        )
        self._db.execute(
            "INSERT INTO accounts (account_id, tier, verified, payment_fingerprint, updated_at) "
            "VALUES (?,?,?,?,?) "
            "ON CONFLICT(account_id) DO UPDATE SET tier=excluded.tier, verified=excluded.verified, "
            "payment_fingerprint=excluded.payment_fingerprint, updated_at=excluded.updated_at",
            (account_id, new.tier, int(new.verified), new.payment_fingerprint, time.time()),
        )
        return new

    async def list_accounts(self) -> list[AccountRecord]:
        rows = self._db.execute(f"SELECT {_ACCOUNT_COLS} FROM accounts ORDER BY account_id").fetchall()
        return [_account_from_row(r) for r in rows]

    async def close(self) -> None:
        self._db.close()


class RedisKeyStore:
    """Keys and accounts in Redis, shared by every replica.

    ``{p}key:{digest}`` hash per key, ``{p}keyid:{key_id}`` -> digest, ``{p}keyids`` set,
    ``{p}account:{id}`` hash (``tier``, ``verified``, ``payment_fingerprint``), ``{p}accounts``
    set. The HMAC secret comes from config / ``HYDRAWATCH_KEY_SECRET``, or else is created
    once in ``{p}key-secret``.
    """

    def __init__(self, redis: Any, prefix: str, secret: str | None = None) -> None:
        self._r = redis
        self._p = prefix
        self._secret: bytes | None = secret.encode() if secret else None

    async def _get_secret(self) -> bytes:
        if self._secret is None:
            name = self._p + "key-secret"
            await self._r.set(name, secrets.token_hex(32), nx=True)
            val = await self._r.get(name)
            self._secret = val if isinstance(val, bytes) else str(val).encode()
        return self._secret

    def _k(self, *parts: str) -> str:
        return self._p + ":".join(parts)

    @staticmethod
    def _dec(v: Any) -> str:
        return v.decode() if isinstance(v, bytes) else str(v)

    def _rec(self, h: dict[Any, Any]) -> KeyRecord:
        d = {self._dec(k): self._dec(v) for k, v in h.items()}
        rv = d.get("revoked_at", "")
        return KeyRecord(
            key_id=d["key_id"],
            account_id=d["account_id"],
            name=d.get("name", ""),
            prefix=d.get("prefix", ""),
            created_at=float(d.get("created_at", 0) or 0),
            revoked_at=float(rv) if rv else None,
        )

    async def create_key(self, account_id: str, name: str = "") -> tuple[str, KeyRecord]:
        valid_account_id(account_id)
        key = new_key()
        digest = hash_key(await self._get_secret(), key)
        rec = KeyRecord(new_key_id(), account_id, name, key[:10], time.time())
        pipe = self._r.pipeline(transaction=True)
        pipe.hset(
            self._k("key", digest),
            mapping={
                "key_id": rec.key_id,
                "account_id": account_id,
                "name": name,
                "prefix": rec.prefix,
                "created_at": repr(rec.created_at),
                "revoked_at": "",
                "digest": digest,
            },
        )
        pipe.set(self._k("keyid", rec.key_id), digest)
        pipe.sadd(self._k("keyids"), rec.key_id)
        pipe.hsetnx(self._k("account", account_id), "tier", "standard")
        pipe.hsetnx(self._k("account", account_id), "verified", "0")
        pipe.sadd(self._k("accounts"), account_id)
        await pipe.execute()
        return key, rec

    async def authenticate(self, key: str) -> KeyRecord | None:
        digest = hash_key(await self._get_secret(), key)
        h = await self._r.hgetall(self._k("key", digest))
        if not h:
            return None
        rec = self._rec(h)
        stored = self._dec(h.get(b"digest", h.get("digest", b"")))
        if not hmac.compare_digest(stored, digest) or not rec.active:
            return None
        return rec

    async def list_keys(self, account_id: str | None = None) -> list[KeyRecord]:
        ids = sorted(self._dec(i) for i in await self._r.smembers(self._k("keyids")))
        out: list[KeyRecord] = []
        for key_id in ids:
            digest = await self._r.get(self._k("keyid", key_id))
            if digest is None:
                continue
            h = await self._r.hgetall(self._k("key", self._dec(digest)))
            if h:
                rec = self._rec(h)
                if account_id is None or rec.account_id == account_id:
                    out.append(rec)
        out.sort(key=lambda r: r.created_at)
        return out

    async def revoke(self, key_id: str) -> bool:
        digest = await self._r.get(self._k("keyid", key_id))
        if digest is None:
            return False
        name = self._k("key", self._dec(digest))
        if self._dec(await self._r.hget(name, "revoked_at") or b""):
            return False
        await self._r.hset(name, "revoked_at", repr(time.time()))
        return True

    async def get_account(self, account_id: str) -> AccountRecord:
        h = await self._r.hgetall(self._k("account", account_id))
        if not h:
            return AccountRecord(account_id)
        d = {self._dec(k): self._dec(v) for k, v in h.items()}
        return AccountRecord(
            account_id,
            d.get("tier") or "standard",
            d.get("verified") == "1",
            d.get("payment_fingerprint") or None,
        )

    async def set_account(
        self,
        account_id: str,
        *,
        tier: str | None = None,
        verified: bool | None = None,
        payment_fingerprint: str | None = None,
    ) -> AccountRecord:
        valid_account_id(account_id)
        valid_tier(tier)
        valid_payment_fingerprint(payment_fingerprint)
        mapping: dict[str, str] = {}
        if tier is not None:
            mapping["tier"] = tier
        if verified is not None:
            mapping["verified"] = "1" if verified else "0"
        if payment_fingerprint is not None:
            mapping["payment_fingerprint"] = payment_fingerprint
        if mapping:
            await self._r.hset(self._k("account", account_id), mapping=mapping)
        await self._r.sadd(self._k("accounts"), account_id)
        return await self.get_account(account_id)

    async def list_accounts(self) -> list[AccountRecord]:
        ids = sorted(self._dec(i) for i in await self._r.smembers(self._k("accounts")))
        return [await self.get_account(a) for a in ids]

    async def close(self) -> None:
        await self._r.aclose()


def open_key_store(config: GatewayConfig) -> KeyStore:
    """The key store the CLI and ``serve`` share (SQLite in state_dir, or Redis)."""
    if config.redis_url:
        import redis.asyncio as aioredis

        client = aioredis.Redis.from_url(config.redis_url, socket_timeout=2.0, socket_connect_timeout=2.0)
        return RedisKeyStore(client, config.redis_prefix, config.key_secret)
    return SqliteKeyStore(config.state_dir, config.key_secret)
