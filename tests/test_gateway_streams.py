"""Streams: client disconnects are billed for what was sent; degrade and throttle decisions
are carried out on both APIs, streamed and not."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from typing import Any

import anthropic
import httpx
import openai
import pytest

from hydrawatch.policy import Verdict
from test_gateway_support import (
    IN_TOKENS,
    TEXT,
    GatewayServer,
    Seen,
    ServerThread,
    gateway_config,
    run_servers,
)


@pytest.fixture(scope="module")
def upstream() -> Iterator[tuple[ServerThread, Seen]]:
    yield from run_servers()


@pytest.fixture(scope="module")
def gateway(
    upstream: tuple[ServerThread, Seen], tmp_path_factory: pytest.TempPathFactory
) -> Iterator[GatewayServer]:
    up, _ = upstream
    with GatewayServer(gateway_config(tmp_path_factory.mktemp("state"), up.url)) as gw:
        yield gw


def wait_until(cond: Callable[[], bool], timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while not cond():
        if time.monotonic() > deadline:
            raise AssertionError("condition not reached")
        time.sleep(0.02)


@pytest.mark.parametrize("api", ["openai", "anthropic"])
def test_client_disconnect_bills_what_was_sent(
    gateway: GatewayServer, upstream: tuple[ServerThread, Seen], api: str
) -> None:
    account = f"acct-disc-{api}"
    key = gateway.new_key(account)
    _, seen = upstream
    before_disc = seen.disconnected
    if api == "openai":
        path, body, headers = (
            "/v1/chat/completions",
            {"model": "fake-slowstream", "stream": True, "messages": [{"role": "user", "content": "go"}]},
            {"authorization": f"Bearer {key}"},
        )
    else:
        path, body, headers = (
            "/v1/messages",
            {
                "model": "fake-slowstream",
                "stream": True,
                "max_tokens": 4000,
                "messages": [{"role": "user", "content": "go"}],
            },
            {"x-api-key": key},
        )
    deltas = 0
    with httpx.Client(timeout=10) as c, c.stream("POST", gateway.url + path, json=body, headers=headers) as r:
        assert r.status_code == 200
        for line in r.iter_lines():
            if "tok " in line:
                deltas += 1
            if deltas >= 5:
                break  # the client goes away mid-stream
    # the gateway notices, closes the upstream stream, settles and records what was sent
    wait_until(lambda: seen.disconnected > before_disc)

    def recorded() -> list[dict[str, Any]]:
        return [e for e in gateway.events() if e["account_id"] == account]

    wait_until(lambda: len(recorded()) == 1)
    ev = recorded()[0]
    assert ev["status"] == 499
    assert 5 <= ev["output_tokens"] < 200  # "tok " = 4 chars = 1 token per delta seen, not the full 200
    if api == "anthropic":
        assert ev["input_tokens"] == IN_TOKENS  # from message_start, before the cut
    remaining = gateway.call(lambda gw: gw.quota.remaining(account, None))
    full = gateway.call(lambda gw: gw.quota.remaining("acct-never-used", None))
    used = full["tokens-day"] - remaining["tokens-day"]
    assert ev["output_tokens"] <= used <= ev["output_tokens"] + IN_TOKENS + 10


def test_degrade_openai_caps_and_strips(gateway: GatewayServer, upstream: tuple[ServerThread, Seen]) -> None:
    key = gateway.new_key("acct-degrade-oai")
    gateway.call(lambda gw: gw.verdicts.put("acct-degrade-oai", Verdict(0.9, "camp-7", ("cot elicitation",))))
    client = openai.OpenAI(base_url=gateway.url + "/v1", api_key=key, max_retries=0)
    raw = client.chat.completions.with_raw_response.create(
        model="fake-reasoning",
        messages=[{"role": "user", "content": "explain your reasoning"}],
        max_completion_tokens=50_000,
        logprobs=True,
        top_logprobs=5,
        reasoning_effort="high",
    )
    assert raw.headers["x-hydrawatch-action"] == "degrade"
    sent = upstream[1].bodies[-1]
    assert sent["max_completion_tokens"] <= 1024
    assert "logprobs" not in sent and "top_logprobs" not in sent and "reasoning_effort" not in sent
    r = raw.parse()
    assert r.choices[0].message.content == TEXT
    dumped = r.model_dump()
    assert "reasoning_content" not in dumped["choices"][0]["message"] and r.choices[0].logprobs is None
    chunks = list(
        client.chat.completions.create(
            model="fake-reasoning", messages=[{"role": "user", "content": "again"}], stream=True
        )
    )
    assert "".join(c.choices[0].delta.content or "" for c in chunks if c.choices) == TEXT
    for c in chunks:
        for ch in c.choices:
            d = ch.delta.model_dump()
            assert not d.get("reasoning_content") and ch.logprobs is None


def test_degrade_anthropic_drops_thinking_blocks(
    gateway: GatewayServer, upstream: tuple[ServerThread, Seen]
) -> None:
    key = gateway.new_key("acct-degrade-ant")
    gateway.call(lambda gw: gw.verdicts.put("acct-degrade-ant", Verdict(0.9, None, ("rubric grading",))))
    client = anthropic.Anthropic(base_url=gateway.url, api_key=key, max_retries=0)
    msg = client.messages.create(
        model="fake-reasoning",
        max_tokens=20_000,
        thinking={"type": "enabled", "budget_tokens": 10_000},
        messages=[{"role": "user", "content": "think hard"}],
    )
    assert [b.type for b in msg.content] == ["text"]
    sent = upstream[1].bodies[-1]
    assert sent["max_tokens"] <= 1024 and "thinking" not in sent
    with client.messages.stream(
        model="fake-reasoning", max_tokens=2000, messages=[{"role": "user", "content": "stream thoughts"}]
    ) as s:
        text = "".join(s.text_stream)
        final = s.get_final_message()
    assert text == TEXT
    assert [b.type for b in final.content] == ["text"]


def test_not_degraded_when_allowed(gateway: GatewayServer) -> None:
    key = gateway.new_key("acct-plain")
    client = anthropic.Anthropic(base_url=gateway.url, api_key=key, max_retries=0)
    with client.messages.stream(
        model="fake-reasoning", max_tokens=2000, messages=[{"role": "user", "content": "stream thoughts"}]
    ) as s:
        final = s.get_final_message()
    assert [b.type for b in final.content] == ["thinking", "text"]


def test_throttle_shrinks_the_budget(gateway: GatewayServer) -> None:
    key = gateway.new_key("acct-throttled")
    plain = gateway.new_key("acct-unthrottled")
    gateway.call(lambda gw: gw.verdicts.put("acct-throttled", Verdict(0.6)))
    body = {"model": "fake-a", "messages": [{"role": "user", "content": "hi"}]}
    r1 = httpx.post(gateway.url + "/v1/chat/completions", json=body, headers={"x-api-key": plain})
    r2 = httpx.post(gateway.url + "/v1/chat/completions", json=body, headers={"x-api-key": key})
    assert r1.status_code == r2.status_code == 200
    assert r2.headers["x-hydrawatch-action"] == "throttle"
    full = int(r1.headers["x-ratelimit-remaining-requests-minute"]) + 1
    assert int(r2.headers["x-ratelimit-remaining-requests-minute"]) + 1 == int(full * 0.2)
