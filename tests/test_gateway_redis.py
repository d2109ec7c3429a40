"""Two gateway replicas sharing keys, quotas, verdicts and the event stream through the
real Redis at 127.0.0.1:6379 (random key prefix per test, deleted afterwards)."""

from __future__ import annotations

import secrets
from collections.abc import Iterator
from pathlib import Path

import httpx
import openai
import orjson
import pytest
import redis

from hydrawatch.policy import Verdict
from test_gateway_support import GatewayServer, Seen, ServerThread, gateway_config, run_servers

REDIS_URL = "redis://127.0.0.1:6379/0"
pytestmark = pytest.mark.services


@pytest.fixture
def prefix() -> Iterator[str]:
    p = f"hwtest:{secrets.token_hex(6)}:"
    yield p
    r = redis.Redis.from_url(REDIS_URL)
    names = list(r.scan_iter(match=p + "*"))
    if names:
        r.delete(*names)
    r.close()


@pytest.fixture(scope="module")
def upstream() -> Iterator[tuple[ServerThread, Seen]]:
    yield from run_servers()


def test_replicas_share_state(upstream: tuple[ServerThread, Seen], prefix: str, tmp_path: Path) -> None:
    up, _ = upstream
    raw = {"redis": REDIS_URL, "redis_prefix": prefix, "quotas": {"tiers": {"tiny": {"requests-day": 3}}}}
    cfg_a = gateway_config(tmp_path / "a", up.url, **raw)
    cfg_b = gateway_config(tmp_path / "b", up.url, **raw)
    with GatewayServer(cfg_a) as a, GatewayServer(cfg_b) as b:
        key = a.new_key("acct-shared")  # created on A ...
        chat = {"model": "fake-a", "messages": [{"role": "user", "content": "hi"}]}
        r = httpx.post(b.url + "/v1/chat/completions", json=chat, headers={"authorization": f"Bearer {key}"})
        assert r.status_code == 200, r.text  # ... accepted by B
        # one quota across replicas; the payment fingerprint set on A is on B's rows
        b.call(lambda gw: gw.keys.set_account("acct-shared", tier="tiny"))
        a.call(lambda gw: gw.keys.set_account("acct-shared", payment_fingerprint="pm_shared"))
        q_key = a.new_key("acct-q")
        a.call(lambda gw: gw.keys.set_account("acct-q", tier="tiny"))
        codes = []
        for gw in (a, b, a, b):
            resp = httpx.post(
                gw.url + "/v1/messages", json={**chat, "max_tokens": 5}, headers={"x-api-key": q_key}
            )
            codes.append(resp.status_code)
        assert codes == [200, 200, 200, 429]
        # a verdict written on one replica is enforced by the other
        a.call(lambda gw: gw.verdicts.put("acct-shared", Verdict(0.99, "camp-r", ("lockstep",))))
        with pytest.raises(openai.PermissionDeniedError):
            openai.OpenAI(base_url=b.url + "/v1", api_key=key, max_retries=0).chat.completions.create(
                model="fake-a", messages=[{"role": "user", "content": "x"}]
            )
        a.drain()
        b.drain()
    # every exchange from both replicas is on the shared stream
    r = redis.Redis.from_url(REDIS_URL)
    entries = r.xrange(prefix + "events")
    rows = [orjson.loads(fields[b"row"]) for _, fields in entries]
    r.close()
    assert len(rows) == 6
    assert sorted(row["status"] for row in rows) == [200, 200, 200, 200, 403, 429]
    assert {row["account_id"] for row in rows} == {"acct-shared", "acct-q"}
    # the stream row carries the account's payment fingerprint (for the Redis scorer) once set
    shared = sorted(
        (row["status"], row.get("payment_fp")) for row in rows if row["account_id"] == "acct-shared"
    )
    assert shared == [(200, None), (403, "pm_shared")]
    assert all("payment_fp" not in row for row in rows if row["account_id"] == "acct-q")
    assert not (tmp_path / "a" / "keys.sqlite").exists()  # redis mode keeps keys in Redis


def test_cli_in_redis_mode(prefix: str, tmp_path: Path) -> None:
    from click.testing import CliRunner

    from hydrawatch.gateway.cli import accounts, keys

    cfg = tmp_path / "gw.yaml"
    cfg.write_text(f"redis: '{REDIS_URL}'\nredis_prefix: '{prefix}'\n")
    runner = CliRunner()
    res = runner.invoke(keys, ["create", "acct-cli-r", "--config", str(cfg)])
    assert res.exit_code == 0, res.output
    assert res.output.strip().splitlines()[-1].startswith("hw-")
    listed = runner.invoke(keys, ["list", "--config", str(cfg), "--account", "acct-cli-r", "--json"])
    key_id = orjson.loads(listed.output.splitlines()[0])["key_id"]
    assert runner.invoke(keys, ["revoke", key_id, "--config", str(cfg)]).exit_code == 0
    res = runner.invoke(accounts, ["set", "acct-cli-r", "--tier", "free", "--config", str(cfg)])
    assert res.exit_code == 0 and "tier=free" in res.output
    r = redis.Redis.from_url(REDIS_URL)
    assert r.sismember(prefix + "accounts", "acct-cli-r")
    r.close()


def test_cli_reports_unreachable_redis(tmp_path: Path) -> None:
    from click.testing import CliRunner

    from hydrawatch.gateway.cli import keys

    res = CliRunner().invoke(keys, ["list", "--redis", "redis://127.0.0.1:1/0"])
    assert res.exit_code == 1 and "Redis" in res.output and "Traceback" not in res.output
