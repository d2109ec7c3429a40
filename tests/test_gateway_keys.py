"""Keys and accounts: hashed storage, revocation, the CLI, the admin API, and
`hydrawatch keys create` + `hydrawatch serve` started from the same directory."""

from __future__ import annotations

import asyncio
import os
import secrets
import signal
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
            assert (acc.tier, acc.verified) == ("enterprise", True)
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
        assert acc.json() == {"account_id": "acct-adm", "tier": "free", "verified": True}
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
