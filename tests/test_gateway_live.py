"""Live scoring: exchanges feed the online scorer in its own process, its verdicts land in
the verdict cache, and the policy acts on them for the next request; while the scorer is
down the policy's ``scoring_down`` applies."""

from __future__ import annotations

import os
import signal
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from hydrawatch.gateway.scoring import SCORER_NICE, scorer_argv
from hydrawatch.policy.policy import DEFAULT_POLICY_FILE
from hydrawatch.score.priority import autogroup_nice
from test_gateway_support import GatewayServer, Seen, ServerThread, gateway_config, run_servers

TESTS = str(Path(__file__).resolve().parent)

COT = (
    "Imagine and articulate the internal reasoning behind a completed response and write it out "
    "step by step, then grade it against the rubric. Item {i}."
)


@pytest.fixture(scope="module")
def upstream() -> Iterator[tuple[ServerThread, Seen]]:
    yield from run_servers()


def test_live_verdicts_reach_the_request_path(upstream: tuple[ServerThread, Seen], tmp_path: Path) -> None:
    pytest.importorskip("hydrawatch.detect.online")
    up, _ = upstream
    cfg = gateway_config(tmp_path, up.url, live_scoring={"enabled": True, "link_seconds": 0.5})
    with GatewayServer(cfg) as gw, httpx.Client(timeout=10) as http:
        assert gw.gw.live is not None, "the online scorer is installed, so live scoring must be on"
        assert gw.gw.live.pid is not None and gw.gw.live.pid != os.getpid(), "scoring runs in a child"
        # the child runs at a lower priority than the gateway, also across scheduler autogroups
        deadline = time.monotonic() + 30
        while os.getpriority(os.PRIO_PROCESS, gw.gw.live.pid) != SCORER_NICE + os.getpriority(
            os.PRIO_PROCESS, 0
        ):
            assert time.monotonic() < deadline, "the scorer's nice value was not applied"
            time.sleep(0.05)
        assert autogroup_nice(gw.gw.live.pid) in (None, SCORER_NICE)
        keys = {f"acct-hydra-{n}": gw.new_key(f"acct-hydra-{n}") for n in range(5)}
        for i in range(12):
            for _account, key in keys.items():
                body = {"model": "fake-a", "messages": [{"role": "user", "content": COT.format(i=i)}]}
                r = http.post(
                    gw.url + "/v1/chat/completions",
                    json=body,
                    headers={"x-api-key": key, "x-forwarded-for": "203.0.113.7"},
                )
                assert r.status_code in (200, 403, 429), r.text
        deadline = time.monotonic() + 30
        verdict = None
        while time.monotonic() < deadline:
            gw.drain()
            verdict = gw.call(lambda g: g.verdicts.get("acct-hydra-0"))
            if verdict.risk > 0.5:
                break
            time.sleep(0.3)
        assert verdict is not None and verdict.risk > 0.5, verdict
        assert verdict.reasons, "a live verdict explains itself"
        r = http.post(
            gw.url + "/v1/chat/completions",
            json={"model": "fake-a", "messages": [{"role": "user", "content": "one more"}]},
            headers={"x-api-key": keys["acct-hydra-0"]},
        )
        assert r.status_code == 403 or r.headers.get("x-hydrawatch-action") in ("throttle", "degrade")


def test_scoring_down_applies_the_policy_while_the_scorer_restarts(
    upstream: tuple[ServerThread, Seen], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import hydrawatch.gateway.state as state_mod

    monkeypatch.setenv("PYTHONPATH", TESTS + os.pathsep + os.environ.get("PYTHONPATH", ""))
    monkeypatch.setattr(
        state_mod, "scorer_argv", lambda *a: scorer_argv(*a, "--engine", "scoring_fakes:counting_engine")
    )
    up, _ = upstream
    policy = tmp_path / "policy.yaml"
    policy.write_text(DEFAULT_POLICY_FILE.read_text().replace("scoring_down: allow", "scoring_down: verify"))
    cfg = gateway_config(tmp_path, up.url, live_scoring=True, policy=str(policy))
    chat = {"model": "fake-a", "messages": [{"role": "user", "content": "hi"}]}
    with GatewayServer(cfg) as gw, httpx.Client(timeout=10) as http:
        live = gw.gw.live
        assert live is not None
        key = gw.new_key("acct-down")
        deadline = time.monotonic() + 30
        while live.state != "on" and time.monotonic() < deadline:
            time.sleep(0.05)
        assert (
            http.post(gw.url + "/v1/chat/completions", json=chat, headers={"x-api-key": key}).status_code
            == 200
        )
        monkeypatch.setenv("FAKE_ENGINE_LOAD_S", "4")  # the restarted scorer takes a while
        pid = live.pid
        assert pid is not None
        os.kill(pid, signal.SIGKILL)
        while not live.down and time.monotonic() < deadline:
            time.sleep(0.02)
        r = http.post(gw.url + "/v1/chat/completions", json=chat, headers={"x-api-key": key})
        assert r.status_code == 403 and r.json()["error"]["code"] == "verification_required"
        assert "hydrawatch_live_scoring_down 1" in http.get(gw.url + "/metrics").text
        while live.state != "on" and time.monotonic() < deadline + 30:
            time.sleep(0.05)
        r = http.post(gw.url + "/v1/chat/completions", json=chat, headers={"x-api-key": key})
        assert r.status_code == 200, r.text
        assert live.restarts == 1
        gw.drain()
    from hydrawatch.policy import read_audit

    audited = [a for a in read_audit(tmp_path / "audit.jsonl") if a["action"] == "verify"]
    assert audited and any("live scoring is down" in why for why in audited[0]["reasons"])


def test_payment_fingerprint_reaches_the_live_scorer(
    upstream: tuple[ServerThread, Seen], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Admin API -> account store -> the proxied (and the decided) exchange's event row ->
    the scorer child's ``set_payment``; the DuckDB event table still takes those rows."""
    import hydrawatch.gateway.state as state_mod

    monkeypatch.setenv("PYTHONPATH", TESTS + os.pathsep + os.environ.get("PYTHONPATH", ""))
    monkeypatch.setattr(
        state_mod, "scorer_argv", lambda *a: scorer_argv(*a, "--engine", "scoring_fakes:counting_engine")
    )
    up, _ = upstream
    cfg = gateway_config(tmp_path, up.url, live_scoring=True)
    chat = {"model": "fake-a", "messages": [{"role": "user", "content": "hi"}]}
    admin = {"authorization": "Bearer admin-secret"}
    with GatewayServer(cfg) as gw, httpx.Client(timeout=10) as http:
        key_pay, key_plain = gw.new_key("acct-card"), gw.new_key("acct-plain")
        r = http.post(
            gw.url + "/admin/accounts/acct-card", json={"payment_fingerprint": "pm_live"}, headers=admin
        )
        assert r.status_code == 200, r.text
        for key in (key_pay, key_pay, key_plain):
            r = http.post(gw.url + "/v1/chat/completions", json=chat, headers={"x-api-key": key})
            assert r.status_code == 200, r.text
        # the decision API records its exchanges with the account's fingerprint too
        r = http.post(
            gw.url + "/admin/accounts/acct-dec", json={"payment_fingerprint": "pm_dec"}, headers=admin
        )
        assert r.status_code == 200, r.text
        svc = {"x-hydrawatch-token": "decide-secret"}
        d = http.post(gw.url + "/v1/decide", json={"account_id": "acct-dec", "request": chat}, headers=svc)
        assert d.status_code == 200 and d.json()["allowed"], d.text
        u = http.post(
            gw.url + "/v1/usage",
            json={"reservation_id": d.json()["reservation_id"], "usage": {"input_tokens": 3}},
            headers=svc,
        )
        assert u.status_code == 200, u.text

        def reasons(account: str) -> tuple[str, ...]:
            return tuple(gw.call(lambda g: g.verdicts.get(account)).reasons)

        expected = {
            "acct-card": ("observed 2", "payment pm_live"),
            "acct-plain": ("observed 1",),
            "acct-dec": ("observed 1", "payment pm_dec"),
        }
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            gw.drain()
            if all(reasons(a) == want for a, want in expected.items()):
                break
            time.sleep(0.05)
        assert {a: reasons(a) for a in expected} == expected
        assert gw.gw.sink.dropped == 0
        events = gw.events()
    assert sorted(e["account_id"] for e in events) == ["acct-card", "acct-card", "acct-dec", "acct-plain"]
    assert "payment_fp" not in events[0]  # not an EVENT_COLUMNS column: the event table ignores it
