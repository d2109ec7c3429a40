"""The official openai and anthropic SDKs, through the gateway, against a fake upstream."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import anthropic
import httpx
import pytest

from test_gateway_support import (
    IN_TOKENS,
    OUT_TOKENS,
    TEXT,
    GatewayServer,
    Seen,
    ServerThread,
    ant,
    gateway_config,
    oai,
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


@pytest.fixture(scope="module")
def key(gateway: GatewayServer) -> str:
    return gateway.new_key("acct-sdk")


def test_openai_chat_non_streaming(
    gateway: GatewayServer, key: str, upstream: tuple[ServerThread, Seen]
) -> None:
    client = oai(gateway, key)
    raw = client.chat.completions.with_raw_response.create(
        model="fake-a", messages=[{"role": "user", "content": "hi there"}], max_tokens=50
    )
    r = raw.parse()
    assert r.choices[0].message.content == TEXT
    assert r.usage is not None and r.usage.completion_tokens == OUT_TOKENS
    assert int(raw.headers["x-ratelimit-remaining-requests"]) > 0
    assert "x-ratelimit-remaining-tokens" in raw.headers
    # the client's gateway key never reaches the upstream
    _, seen = upstream
    assert key not in str(seen.headers[-1])


def test_openai_chat_streaming_strips_the_usage_chunk_it_added(
    gateway: GatewayServer, key: str, upstream: tuple[ServerThread, Seen]
) -> None:
    client = oai(gateway, key)
    chunks = list(
        client.chat.completions.create(
            model="fake-a", messages=[{"role": "user", "content": "stream please"}], stream=True
        )
    )
    text = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
    assert text == TEXT
    assert all(c.choices for c in chunks), "the usage-only chunk must not reach a client that did not ask"
    _, seen = upstream
    assert seen.bodies[-1]["stream_options"] == {"include_usage": True}


def test_openai_chat_streaming_keeps_usage_when_asked(gateway: GatewayServer, key: str) -> None:
    client = oai(gateway, key)
    chunks = list(
        client.chat.completions.create(
            model="fake-a",
            messages=[{"role": "user", "content": "with usage"}],
            stream=True,
            stream_options={"include_usage": True},
        )
    )
    usage = [c.usage for c in chunks if c.usage is not None]
    assert len(usage) == 1 and usage[0].prompt_tokens == IN_TOKENS


def test_openai_legacy_completions(gateway: GatewayServer, key: str) -> None:
    client = oai(gateway, key)
    r = client.completions.create(model="fake-a", prompt="Say hello", max_tokens=20)
    assert r.choices[0].text == TEXT
    s = list(client.completions.create(model="fake-a", prompt="Say hello", max_tokens=20, stream=True))
    assert "".join(c.choices[0].text for c in s if c.choices) == TEXT


def test_openai_responses_api(gateway: GatewayServer, key: str) -> None:
    client = oai(gateway, key)
    r = client.responses.create(model="fake-a", input="hello", max_output_tokens=64)
    assert r.output_text == TEXT
    events = list(client.responses.create(model="fake-a", input="hello", stream=True))
    deltas = "".join(e.delta for e in events if e.type == "response.output_text.delta")
    assert deltas == TEXT
    assert events[-1].type == "response.completed"


def test_openai_models_list(gateway: GatewayServer, key: str) -> None:
    ids = [m.id for m in oai(gateway, key).models.list()]
    assert ids == ["fake-a", "fake-b", "other-c"]


def test_anthropic_messages_non_streaming(gateway: GatewayServer, key: str) -> None:
    client = ant(gateway, key)
    msg = client.messages.create(
        model="fake-a", max_tokens=100, messages=[{"role": "user", "content": "hello"}]
    )
    assert msg.content[0].type == "text" and msg.content[0].text == TEXT
    assert msg.usage.input_tokens == IN_TOKENS and msg.usage.output_tokens == OUT_TOKENS


def test_anthropic_messages_streaming(gateway: GatewayServer, key: str) -> None:
    client = ant(gateway, key)
    with client.messages.stream(
        model="fake-a", max_tokens=100, messages=[{"role": "user", "content": "stream it"}]
    ) as stream:
        text = "".join(stream.text_stream)
        final = stream.get_final_message()
    assert text == TEXT
    assert final.usage.input_tokens == IN_TOKENS and final.usage.output_tokens == OUT_TOKENS


def test_anthropic_count_tokens_is_forwarded(gateway: GatewayServer, key: str) -> None:
    n = ant(gateway, key).messages.count_tokens(model="fake-a", messages=[{"role": "user", "content": "hi"}])
    assert n.input_tokens == IN_TOKENS
    with pytest.raises(anthropic.AuthenticationError):
        ant(gateway, "hw-wrong").messages.count_tokens(
            model="fake-a", messages=[{"role": "user", "content": "x"}]
        )


def test_anthropic_models_list(gateway: GatewayServer, key: str) -> None:
    ids = [m.id for m in ant(gateway, key).models.list()]
    assert ids == ["fake-a", "fake-b", "other-c"]


def test_both_header_styles_accepted_on_both_apis(gateway: GatewayServer, key: str) -> None:
    body = {"model": "fake-a", "max_tokens": 10, "messages": [{"role": "user", "content": "x"}]}
    for path in ("/v1/chat/completions", "/v1/messages"):
        for headers in ({"authorization": f"Bearer {key}"}, {"x-api-key": key}):
            r = httpx.post(gateway.url + path, json=body, headers=headers)
            assert r.status_code == 200, (path, headers, r.text)


def test_usage_is_recorded_exactly(gateway: GatewayServer, key: str) -> None:
    client = ant(gateway, key)
    with client.messages.stream(
        model="fake-a", max_tokens=100, messages=[{"role": "user", "content": "recorded stream"}]
    ) as stream:
        stream.until_done()
    oai(gateway, key).chat.completions.create(
        model="fake-b", messages=[{"role": "user", "content": "recorded chat"}], stream=False
    )
    events = gateway.events()
    by_prompt = {e["prompt"]: e for e in events}
    s = by_prompt["recorded stream"]
    assert (s["input_tokens"], s["output_tokens"], s["status"], s["stream"]) == (
        IN_TOKENS,
        OUT_TOKENS,
        200,
        True,
    )
    assert s["account_id"] == "acct-sdk" and s["source"] == "gateway" and s["latency_ms"] > 0
    assert s["response_chars"] == len(TEXT) and s["max_tokens"] == 100
    c = by_prompt["recorded chat"]
    assert (c["input_tokens"], c["output_tokens"], c["model"]) == (IN_TOKENS, OUT_TOKENS, "fake-b")
    assert c["api_key_id"].startswith("key_") and c["ip"] == "127.0.0.1"


def test_settled_quota_equals_real_usage(gateway: GatewayServer) -> None:
    key = gateway.new_key("acct-quota-exact")

    def remaining() -> dict[str, int]:
        return dict(gateway.call(lambda gw: gw.quota.remaining("acct-quota-exact", None)))

    before = remaining()
    client = ant(gateway, key)
    with client.messages.stream(
        model="fake-a", max_tokens=3000, messages=[{"role": "user", "content": "q"}]
    ) as stream:
        stream.until_done()
    for _ in oai(gateway, key).chat.completions.create(
        model="fake-a", messages=[{"role": "user", "content": "q"}], stream=True, max_tokens=3000
    ):
        pass
    gateway.drain()
    after = remaining()
    assert before["tokens-day"] - after["tokens-day"] == 2 * (IN_TOKENS + OUT_TOKENS)
    assert before["requests-day"] - after["requests-day"] == 2


def test_health_and_metrics(gateway: GatewayServer) -> None:
    assert httpx.get(gateway.url + "/healthz").json()["status"] == "ok"
    text = httpx.get(gateway.url + "/metrics").text
    assert "# TYPE hydrawatch_requests_total counter" in text
    assert 'hydrawatch_requests_total{route="/v1/chat/completions",status="200"}' in text


def test_state_dir_is_where_asked(gateway: GatewayServer) -> None:
    assert (Path(gateway.config.state_dir) / "keys.sqlite").exists()
