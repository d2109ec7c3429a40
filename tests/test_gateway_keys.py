"""Keys and accounts: hashed storage, revocation, the CLI, the admin API, and
`hydrawatch keys create` + `hydrawatch serve` started from the same directory."""

from __future__ import annotations

import asyncio
import os
import secrets
import signal
import sqlite3
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from click.testing import CliRunner

from hydrawatch.gateway.cli import accounts, keys
from hydrawatch.gateway.keystore import KeyStoreError, RedisKeyStore, SqliteKeyStore
from test_gateway_support import GatewayServer, Seen, ServerThread, free_port, gateway_config, run_servers

REDIS_URL = "redis://127.0.0.1:6379/0"
BIN = Path(sys.executable).parent / "hydrawatch"


@pytest.fixture(scope="module")
def upstream() -> Iterator[tuple[ServerThread, Seen]]:
    yield from run_servers()


def test_sqlite_store_keeps_only_hashes(tmp_path: Path) -> None:
    async def go() -> None:
        store = SqliteKeyStore(tmp_path)
        key, rec = await store.create_key("acct-1", "laptop")
        assert key.startswith("hw-") and len(key) >= 40
        assert (await store.authenticate(key)) == rec
        assert await store.authenticate(key + "x") is None
        assert await store.authenticate("") is None
        assert [r.key_id for r in await store.list_keys("acct-1")] == [rec.key_id]
        assert await store.revoke(rec.key_id) is True
        assert await store.revoke(rec.key_id) is False
        assert await store.authenticate(key) is None
        acc = await store.set_account("acct-1", tier="free", verified=True)
        assert (acc.tier, acc.verified) == ("free", True)
        assert (await store.set_account("acct-1", verified=False)).tier == "free"
        with pytest.raises(KeyStoreError):
            await store.create_key("")
        await store.close()
        blob = (tmp_path / "keys.sqlite").read_bytes()
        assert key.encode() not in blob and key[3:].encode() not in blob
        assert (tmp_path / "key-secret").stat().st_mode & 0o077 == 0

    asyncio.run(go())


def test_a_different_server_secret_rejects_the_key(tmp_path: Path) -> None:
    async def go() -> None:
        store = SqliteKeyStore(tmp_path, secret="a" * 40)
        key, _ = await store.create_key("acct-1")
        await store.close()
        other = SqliteKeyStore(tmp_path, secret="b" * 40)
        assert await other.authenticate(key) is None
        await other.close()

    asyncio.run(go())


BAD_PAYMENT_FPS = ["", "   ", "x" * 129, "card\nnext", "tab\there", "\x00"]


def test_sqlite_store_keeps_the_payment_fingerprint(tmp_path: Path) -> None:
    async def go() -> None:
        store = SqliteKeyStore(tmp_path)
        await store.create_key("acct-p")
        assert (await store.get_account("acct-p")).payment_fingerprint is None
        acc = await store.set_account("acct-p", payment_fingerprint="pm_card_1")
        assert acc.payment_fingerprint == "pm_card_1" and acc.to_json()["payment_fingerprint"] == "pm_card_1"
        # None leaves it unchanged; other fields keep theirs
        acc = await store.set_account("acct-p", tier="free")
        assert (acc.tier, acc.payment_fingerprint) == ("free", "pm_card_1")
        acc = await store.set_account("acct-p", payment_fingerprint="pm_card_2")
        assert (acc.tier, acc.verified, acc.payment_fingerprint) == ("free", False, "pm_card_2")
        await store.set_account("acct-q", verified=True, payment_fingerprint="x" * 128)  # new account
        for bad in BAD_PAYMENT_FPS:
            with pytest.raises(KeyStoreError, match="payment_fingerprint"):
                await store.set_account("acct-p", payment_fingerprint=bad)
        await store.close()
        again = SqliteKeyStore(tmp_path)  # it is stored, not cached
        assert (await again.get_account("acct-p")).payment_fingerprint == "pm_card_2"
        listed = {a.account_id: a for a in await again.list_accounts()}
        assert listed["acct-p"].payment_fingerprint == "pm_card_2"
        assert (listed["acct-q"].verified, listed["acct-q"].payment_fingerprint) == (True, "x" * 128)
        await again.close()

    asyncio.run(go())


def test_sqlite_store_adds_the_payment_column_to_an_older_database(tmp_path: Path) -> None:
    # keys.sqlite as versions before payment fingerprints wrote it
    db = sqlite3.connect(tmp_path / "keys.sqlite")
    db.executescript(
        """
        CREATE TABLE api_keys (
            key_id TEXT PRIMARY KEY, key_hash TEXT NOT NULL UNIQUE, account_id TEXT NOT NULL,
            name TEXT NOT NULL DEFAULT '', prefix TEXT NOT NULL, created_at REAL NOT NULL,
            revoked_at REAL
        );
        CREATE INDEX api_keys_account ON api_keys(account_id);
        CREATE TABLE accounts (
            account_id TEXT PRIMARY KEY, tier TEXT NOT NULL DEFAULT 'standard',
            verified INTEGER NOT NULL DEFAULT 0, updated_at REAL NOT NULL
        );
        INSERT INTO accounts VALUES ('acct-old', 'free', 1, 1.0);
        """
    )
    db.commit()
    db.close()

    def columns() -> list[str]:
        con = sqlite3.connect(tmp_path / "keys.sqlite")
        try:
            return [r[1] for r in con.execute("PRAGMA table_info(accounts)")]
        finally:
            con.close()

    assert "payment_fingerprint" not in columns()

    async def go() -> None:
        store = SqliteKeyStore(tmp_path, secret="s" * 40)
        old = await store.get_account("acct-old")
        assert (old.tier, old.verified, old.payment_fingerprint) == ("free", True, None)
        assert [a.account_id for a in await store.list_accounts()] == ["acct-old"]
        acc = await store.set_account("acct-old", payment_fingerprint="pm_old")
        assert (acc.tier, acc.verified, acc.payment_fingerprint) == ("free", True, "pm_old")
        await store.close()
        assert columns().count("payment_fingerprint") == 1
        again = SqliteKeyStore(tmp_path, secret="s" * 40)  # opening a migrated file again is fine
        assert (await again.get_account("acct-old")).payment_fingerprint == "pm_old"
        await again.close()

    asyncio.run(go())
    assert columns().count("payment_fingerprint") == 1


@pytest.mark.services
def test_redis_store() -> None:
    import redis.asyncio as aioredis

    prefix = f"hwtest:{secrets.token_hex(6)}:"

    async def go() -> None:
        r = aioredis.Redis.from_url(REDIS_URL)
        store = RedisKeyStore(r, prefix)
        try:
            key, rec = await store.create_key("acct-r", "ci")
            assert await store.authenticate(key) == rec
            assert await store.authenticate(key[:-1]) is None
            assert [k.key_id for k in await store.list_keys()] == [rec.key_id]
            acc = await store.set_account("acct-r", tier="enterprise", verified=True)
            assert (acc.tier, acc.verified, acc.payment_fingerprint) == ("enterprise", True, None)
            acc = await store.set_account("acct-r", payment_fingerprint="pm_redis_1")
            assert (acc.tier, acc.verified, acc.payment_fingerprint) == ("enterprise", True, "pm_redis_1")
            assert (await store.set_account("acct-r", verified=False)).payment_fingerprint == "pm_redis_1"
            assert await r.hget(prefix + "account:acct-r", "payment_fingerprint") == b"pm_redis_1"
            for bad in BAD_PAYMENT_FPS:
                with pytest.raises(KeyStoreError, match="payment_fingerprint"):
                    await store.set_account("acct-r", payment_fingerprint=bad)
            await store.set_account("acct-r2", payment_fingerprint="pm_redis_2")
            listed = {a.account_id: a.payment_fingerprint for a in await store.list_accounts()}
            assert listed == {"acct-r": "pm_redis_1", "acct-r2": "pm_redis_2"}
            assert (await RedisKeyStore(r, prefix).get_account("acct-r")).payment_fingerprint == "pm_redis_1"
            assert await store.revoke(rec.key_id) and await store.authenticate(key) is None
            names = [n async for n in r.scan_iter(match=prefix + "*")]
            for n in names:
                assert key.encode() not in (n if isinstance(n, bytes) else n.encode())
        finally:
            names = [n async for n in r.scan_iter(match=prefix + "*")]
            if names:
                await r.delete(*names)
            await store.close()

    asyncio.run(go())


def test_cli_create_list_revoke_accounts(tmp_path: Path) -> None:
    runner = CliRunner()
    state = str(tmp_path / "st")
    res = runner.invoke(keys, ["create", "acct-cli", "--name", "ci", "--state", state])
    assert res.exit_code == 0, res.output
    key = res.output.strip().splitlines()[-1]
    assert key.startswith("hw-")
    listing = runner.invoke(keys, ["list", "--state", state])
    assert "acct-cli" in listing.output and key not in listing.output and "active" in listing.output
    key_id = listing.output.splitlines()[1].split()[0]
    assert runner.invoke(keys, ["revoke", key_id, "--state", state]).exit_code == 0
    again = runner.invoke(keys, ["revoke", key_id, "--state", state])
    assert again.exit_code == 1 and "no such active key" in again.output
    res = runner.invoke(accounts, ["set", "acct-cli", "--tier", "free", "--verified", "--state", state])
    assert res.exit_code == 0 and "tier=free verified=yes" in res.output
    bad = runner.invoke(accounts, ["set", "acct-cli", "--tier", "platinum", "--state", state])
    assert bad.exit_code == 1 and "unknown tier" in bad.output
    assert runner.invoke(accounts, ["set", "acct-cli", "--state", state]).exit_code == 2


def test_cli_sets_and_lists_the_payment_fingerprint(tmp_path: Path) -> None:
    runner = CliRunner()
    state = str(tmp_path / "st")
    res = runner.invoke(accounts, ["set", "acct-pay", "--payment-fingerprint", "pm_cli_1", "--state", state])
    assert res.exit_code == 0, res.output
    assert "payment_fingerprint=pm_cli_1" in res.output and "tier=standard" in res.output
    res = runner.invoke(accounts, ["set", "acct-pay", "--tier", "free", "--state", state])
    assert res.exit_code == 0 and "tier=free" in res.output and "payment_fingerprint=pm_cli_1" in res.output
    assert runner.invoke(accounts, ["set", "acct-none", "--verified", "--state", state]).exit_code == 0
    for bad in ("", "x" * 129, "a\nb"):
        res = runner.invoke(accounts, ["set", "acct-pay", "--payment-fingerprint", bad, "--state", state])
        assert res.exit_code == 2 and "payment_fingerprint" in res.output, res.output
    listing = runner.invoke(accounts, ["list", "--state", state])
    assert listing.exit_code == 0
    lines = dict(line.split("\t", 1) for line in listing.output.splitlines())
    assert lines == {
        "acct-none": "tier=standard\tverified=yes\tpayment_fingerprint=-",
        "acct-pay": "tier=free\tverified=no\tpayment_fingerprint=pm_cli_1",
    }
    store = SqliteKeyStore(tmp_path / "st")
    assert asyncio.run(store.get_account("acct-pay")).payment_fingerprint == "pm_cli_1"
    asyncio.run(store.close())


def test_cli_reports_config_errors(tmp_path: Path) -> None:
    cfg = tmp_path / "gw.yaml"
    cfg.write_text("upstreams: [{base_url: ftp://x}]\n")
    res = CliRunner().invoke(keys, ["list", "--config", str(cfg)])
    assert res.exit_code == 1 and "upstreams[0].base_url" in res.output and "Traceback" not in res.output


def test_admin_api(upstream: tuple[ServerThread, Seen], tmp_path: Path) -> None:
    up, _ = upstream
    with GatewayServer(gateway_config(tmp_path, up.url)) as gw:
        admin = {"authorization": "Bearer admin-secret"}
        assert httpx.post(gw.url + "/admin/keys", json={"account_id": "a"}).status_code == 401
        wrong = httpx.post(
            gw.url + "/admin/keys", json={"account_id": "a"}, headers={"authorization": "Bearer no"}
        )
        assert wrong.status_code == 403
        r = httpx.post(gw.url + "/admin/keys", json={"account_id": "acct-adm", "name": "x"}, headers=admin)
        assert r.status_code == 201
        key, key_id = r.json()["key"], r.json()["key_id"]
        body = {"model": "fake-a", "messages": [{"role": "user", "content": "hi"}]}
        assert (
            httpx.post(gw.url + "/v1/chat/completions", json=body, headers={"x-api-key": key}).status_code
            == 200
        )
        listed = httpx.get(gw.url + "/admin/keys?account_id=acct-adm", headers=admin).json()["keys"]
        assert [k["key_id"] for k in listed] == [key_id] and "key" not in listed[0]
        acc = httpx.post(
            gw.url + "/admin/accounts/acct-adm", json={"tier": "free", "verified": True}, headers=admin
        )
        assert acc.json() == {
            "account_id": "acct-adm",
            "tier": "free",
            "verified": True,
            "payment_fingerprint": None,
        }
        v = httpx.put(
            gw.url + "/admin/verdicts/acct-adm", json={"risk": 0.99, "reasons": ["r1"]}, headers=admin
        )
        assert v.status_code == 200
        info = httpx.get(gw.url + "/admin/accounts/acct-adm", headers=admin).json()
        assert info["verdict"]["risk"] == 0.99 and info["remaining"]["requests-day"] > 0
        bad = httpx.put(gw.url + "/admin/verdicts/acct-adm", json={"risk": "high"}, headers=admin)
        assert bad.status_code == 400
        assert httpx.delete(gw.url + f"/admin/keys/{key_id}", headers=admin).json()["revoked"] is True
        assert (
            httpx.post(gw.url + "/v1/chat/completions", json=body, headers={"x-api-key": key}).status_code
            == 401
        )


def test_admin_api_payment_fingerprint(upstream: tuple[ServerThread, Seen], tmp_path: Path) -> None:
    up, _ = upstream
    with GatewayServer(gateway_config(tmp_path, up.url)) as gw:
        admin = {"authorization": "Bearer admin-secret"}
        url = gw.url + "/admin/accounts/acct-pay"
        r = httpx.post(url, json={"payment_fingerprint": "pm_adm_1", "verified": True}, headers=admin)
        assert r.status_code == 200, r.text
        assert r.json() == {
            "account_id": "acct-pay",
            "tier": "standard",
            "verified": True,
            "payment_fingerprint": "pm_adm_1",
        }
        r = httpx.post(url, json={"tier": "free"}, headers=admin)  # left unchanged when omitted
        assert r.json()["payment_fingerprint"] == "pm_adm_1" and r.json()["tier"] == "free"
        for bad in (123, True, ["pm"], "", "   ", "x" * 129, "pm\n2"):
            r = httpx.post(url, json={"payment_fingerprint": bad, "tier": "standard"}, headers=admin)
            assert r.status_code == 400, (bad, r.text)
            err = r.json()["error"]
            assert err["param"] == "payment_fingerprint" and "payment_fingerprint" in err["message"]
        info = httpx.get(url, headers=admin).json()  # a rejected update changed nothing
        assert (info["tier"], info["payment_fingerprint"]) == ("free", "pm_adm_1")
        listed = httpx.get(gw.url + "/admin/accounts", headers=admin).json()["accounts"]
        assert [a["payment_fingerprint"] for a in listed if a["account_id"] == "acct-pay"] == ["pm_adm_1"]


def test_admin_api_disabled_without_token(upstream: tuple[ServerThread, Seen], tmp_path: Path) -> None:
    up, _ = upstream
    cfg = gateway_config(tmp_path, up.url).with_overrides()
    from dataclasses import replace

    with GatewayServer(replace(cfg, admin_token=None)) as gw:
        r = httpx.get(gw.url + "/admin/keys", headers={"authorization": "Bearer anything"})
        assert r.status_code == 403 and "disabled" in r.json()["error"]["message"]


def _wait_healthy(url: str, proc: subprocess.Popen[bytes]) -> None:
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise AssertionError(f"serve exited: {proc.stderr.read().decode() if proc.stderr else ''}")
        try:
            if httpx.get(url + "/healthz", timeout=1).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.1)
    raise AssertionError("serve did not become healthy")


def test_keys_cli_and_serve_from_the_same_directory(
    upstream: tuple[ServerThread, Seen], tmp_path: Path
) -> None:
    up, _ = upstream
    env = {k: v for k, v in os.environ.items() if not k.startswith("HYDRAWATCH_")}
    created = subprocess.run(
        [str(BIN), "keys", "create", "acct-sub"],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        check=True,
    )
    key = created.stdout.strip().splitlines()[-1]
    port = free_port()
    proc = subprocess.Popen(
        [str(BIN), "serve", "--upstream", up.url + "/v1", "--port", str(port)],
        cwd=tmp_path,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        _wait_healthy(url, proc)
        body = {"model": "fake-a", "max_tokens": 10, "messages": [{"role": "user", "content": "hello"}]}
        r = httpx.post(url + "/v1/messages", json=body, headers={"x-api-key": key})
        assert r.status_code == 200, r.text
        # the CLI works while serve runs (SQLite WAL): a second key, then a revocation
        second = (
            subprocess.run(
                [str(BIN), "keys", "create", "acct-sub"],
                cwd=tmp_path,
                env=env,
                capture_output=True,
                text=True,
                check=True,
            )
            .stdout.strip()
            .splitlines()[-1]
        )
        assert httpx.post(url + "/v1/messages", json=body, headers={"x-api-key": second}).status_code == 200
        listing = subprocess.run(
            [str(BIN), "keys", "list", "--json"],
            cwd=tmp_path,
            env=env,
            capture_output=True,
            text=True,
            check=True,
        ).stdout
        first_id = next(line for line in listing.splitlines() if '"active":true' in line).split('"key_id":"')[
            1
        ][:20]
        subprocess.run(
            [str(BIN), "keys", "revoke", first_id], cwd=tmp_path, env=env, check=True, capture_output=True
        )
        deadline = time.monotonic() + 10
        while httpx.post(url + "/v1/messages", json=body, headers={"x-api-key": key}).status_code != 401:
            assert time.monotonic() < deadline, "revoked key still accepted"
            time.sleep(0.2)
        assert httpx.post(url + "/v1/messages", json=body, headers={"x-api-key": second}).status_code == 200
        assert (tmp_path / "hydrawatch-state" / "keys.sqlite").exists()
    finally:
        proc.send_signal(signal.SIGINT)
        try:
            proc.wait(15)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(5)
    # events were flushed into the state directory on shutdown
    import duckdb

    con = duckdb.connect(str(tmp_path / "hydrawatch-state" / "events.duckdb"), read_only=True)
    statuses = sorted(s for (s,) in con.execute("SELECT status FROM events").fetchall())
    con.close()
    assert statuses.count(200) >= 3 and 401 not in statuses  # unauthenticated calls have no account to record


def test_serve_without_upstream_is_a_clear_error(tmp_path: Path) -> None:
    res = subprocess.run([str(BIN), "serve"], cwd=tmp_path, capture_output=True, text=True)
    assert res.returncode == 1 and "no upstream" in res.stderr and "Traceback" not in res.stderr


def test_serve_reports_a_bad_policy_file(tmp_path: Path) -> None:
    (tmp_path / "policy.yaml").write_text("bands:\n  - {min: 0.0, max: 1.0, action: blok}\n")
    (tmp_path / "gw.yaml").write_text(
        "policy: policy.yaml\nupstreams: [{base_url: 'http://127.0.0.1:9/v1'}]\n"
    )
    res = subprocess.run(
        [str(BIN), "serve", "--config", str(tmp_path / "gw.yaml")], capture_output=True, text=True
    )
    assert res.returncode == 1 and "Traceback" not in res.stderr
    assert "policy.yaml" in res.stderr and "blok" in res.stderr
