"""Errors in each API's own format: 401, 403, 429 + Retry-After, 400, 404, 413, 502, 504,
a broken upstream stream; and bad input never gets a 500."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import anthropic
import httpx
import openai
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from hydrawatch.policy import Verdict
from test_gateway_support import (
    GatewayServer,
    Seen,
    ServerThread,
    ant,
    free_port,
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
    cfg = gateway_config(
        tmp_path_factory.mktemp("state"),
        up.url,
        timeouts={"read": 0.5},
        max_body_bytes=64 * 1024,
        quotas={"tiers": {"tiny": {"requests-day": 2}}},
    )
    with GatewayServer(cfg) as gw:
        yield gw


@pytest.fixture(scope="module")
def http() -> Iterator[httpx.Client]:
    with httpx.Client(timeout=10) as c:
        yield c


@pytest.fixture(scope="module")
def key(gateway: GatewayServer) -> str:
    return gateway.new_key("acct-errors")


CHAT = {"messages": [{"role": "user", "content": "hi"}]}
MSG = {"max_tokens": 10, "messages": [{"role": "user", "content": "hi"}]}


def assert_openai_error(r: httpx.Response, status: int) -> dict[str, Any]:
    assert r.status_code == status, r.text
    err = r.json()["error"]
    assert isinstance(err["message"], str) and err["message"] and "type" in err
    return dict(err)


def assert_anthropic_error(r: httpx.Response, status: int) -> dict[str, Any]:
    assert r.status_code == status, r.text
    doc = r.json()
    assert doc["type"] == "error" and doc["error"]["message"]
    return dict(doc["error"])


def test_401_missing_and_invalid_key(gateway: GatewayServer) -> None:
    with pytest.raises(openai.AuthenticationError):
        oai(gateway, "hw-not-a-real-key").chat.completions.create(model="fake-a", **CHAT)  # type: ignore[call-overload]
    with pytest.raises(anthropic.AuthenticationError):
        ant(gateway, "hw-not-a-real-key").messages.create(model="fake-a", **MSG)  # type: ignore[call-overload]
    r = httpx.post(gateway.url + "/v1/messages", json={"model": "fake-a", **MSG})
    assert assert_anthropic_error(r, 401)["type"] == "authentication_error"
    r = httpx.post(gateway.url + "/v1/chat/completions", json={"model": "fake-a", **CHAT})
    assert assert_openai_error(r, 401)["code"] == "missing_api_key"


def test_403_block_and_verify_with_reasons(gateway: GatewayServer) -> None:
    k_block = gateway.new_key("acct-bad")
    k_verify = gateway.new_key("acct-verify")
    gateway.call(lambda gw: gw.verdicts.put("acct-bad", Verdict(0.99, "camp-1", ("lockstep timing",))))
    gateway.call(lambda gw: gw.verdicts.put("acct-verify", Verdict(0.75, None, ("template reuse",))))
    with pytest.raises(openai.PermissionDeniedError) as e1:
        oai(gateway, k_block).chat.completions.create(model="fake-a", **CHAT)  # type: ignore[call-overload]
    assert e1.value.response.headers["retry-after"] == "3600"
    assert e1.value.body["code"] == "account_blocked"  # type: ignore[index]
    with pytest.raises(anthropic.PermissionDeniedError) as e2:
        ant(gateway, k_verify).messages.create(model="fake-a", **MSG)  # type: ignore[call-overload]
    assert "verification" in str(e2.value).lower()
    gateway.drain()
    audit = (gateway.config.state_dir / "audit.jsonl").read_text()
    assert "lockstep timing" in audit and "acct-verify" in audit


def test_429_with_retry_after(gateway: GatewayServer) -> None:
    k = gateway.new_key("acct-tiny")
    gateway.call(lambda gw: gw.keys.set_account("acct-tiny", tier="tiny"))
    client = oai(gateway, k)
    for _ in range(2):
        client.chat.completions.create(model="fake-a", **CHAT)  # type: ignore[call-overload]
    with pytest.raises(openai.RateLimitError) as e:
        client.chat.completions.create(model="fake-a", **CHAT)  # type: ignore[call-overload]
    h = e.value.response.headers
    assert int(h["retry-after"]) >= 1
    assert h["x-ratelimit-remaining-requests"] == "0"
    with pytest.raises(anthropic.RateLimitError):
        ant(gateway, k).messages.create(model="fake-a", **MSG)  # type: ignore[call-overload]


def test_400_bad_requests(gateway: GatewayServer, key: str) -> None:
    h = {"authorization": f"Bearer {key}", "content-type": "application/json"}
    r = httpx.post(gateway.url + "/v1/chat/completions", content=b"{not json", headers=h)
    assert assert_openai_error(r, 400)["code"] == "invalid_json"
    r = httpx.post(gateway.url + "/v1/chat/completions", json=[1, 2], headers=h)
    assert_openai_error(r, 400)
    r = httpx.post(gateway.url + "/v1/chat/completions", json={"model": 5, **CHAT}, headers=h)
    assert assert_openai_error(r, 400)["param"] == "model"
    r = httpx.post(
        gateway.url + "/v1/messages", json={"model": "fake-a", "max_tokens": "ten", "messages": []}, headers=h
    )
    assert assert_anthropic_error(r, 400)["type"] == "invalid_request_error"
    r = httpx.post(
        gateway.url + "/v1/chat/completions", json={"model": "fake-a", **CHAT, "stream": "yes"}, headers=h
    )
    assert_openai_error(r, 400)
    with pytest.raises(openai.BadRequestError):
        oai(gateway, key).chat.completions.create(model="fake-a", messages="hello")  # type: ignore[arg-type]


def test_unknown_fields_pass_through(
    gateway: GatewayServer, key: str, upstream: tuple[ServerThread, Seen]
) -> None:
    h = {"authorization": f"Bearer {key}"}
    r = httpx.post(
        gateway.url + "/v1/chat/completions",
        json={"model": "fake-a", **CHAT, "x_custom": {"a": 1}},
        headers=h,
    )
    assert r.status_code == 200
    assert upstream[1].bodies[-1]["x_custom"] == {"a": 1}


def test_413_oversized_body(gateway: GatewayServer, key: str) -> None:
    big = {"model": "fake-a", "messages": [{"role": "user", "content": "x" * 100_000}]}
    r = httpx.post(gateway.url + "/v1/chat/completions", json=big, headers={"authorization": f"Bearer {key}"})
    assert_openai_error(r, 413)

    def chunks() -> Iterator[bytes]:  # no content-length: the limit applies while reading
        yield b'{"model": "fake-a", "messages": [{"role": "user", "content": "'
        for _ in range(100):
            yield b"y" * 1024
        yield b'"}]}'

    r = httpx.post(gateway.url + "/v1/messages", content=chunks(), headers={"x-api-key": key})
    assert assert_anthropic_error(r, 413)["type"] == "request_too_large"


def test_404_unknown_path_and_405(gateway: GatewayServer, key: str) -> None:
    assert_openai_error(httpx.post(gateway.url + "/v1/nope", json={}), 404)
    assert_openai_error(httpx.get(gateway.url + "/v1/chat/completions"), 405)


def test_upstream_errors(gateway: GatewayServer, key: str) -> None:
    client = oai(gateway, key)
    with pytest.raises(openai.InternalServerError) as e5:  # upstream 500 -> 502
        client.chat.completions.create(model="fake-500", **CHAT)  # type: ignore[call-overload]
    assert e5.value.status_code == 502
    with pytest.raises(openai.RateLimitError) as e4:  # upstream 429 passes through with its Retry-After
        client.chat.completions.create(model="fake-429", **CHAT)  # type: ignore[call-overload]
    assert e4.value.response.headers["retry-after"] == "7"
    with pytest.raises(anthropic.BadRequestError):  # upstream 400 passes through
        ant(gateway, key).messages.create(model="fake-400", **MSG)  # type: ignore[call-overload]
    with pytest.raises(anthropic.InternalServerError) as e6:  # upstream too slow -> 504
        ant(gateway, key).messages.create(model="fake-slow", **MSG)  # type: ignore[call-overload]
    assert e6.value.status_code == 504


def test_upstream_unreachable_is_502(tmp_path: Any) -> None:
    cfg = gateway_config(tmp_path, f"http://127.0.0.1:{free_port()}")
    with GatewayServer(cfg) as gw:
        k = gw.new_key("a")
        r = httpx.post(gw.url + "/v1/messages", json={"model": "m", **MSG}, headers={"x-api-key": k})
        assert assert_anthropic_error(r, 502)["type"] == "api_error"
        events = gw.events()
        assert [e["status"] for e in events] == [502]


def test_dropped_stream_ends_with_an_error_event(gateway: GatewayServer, key: str) -> None:
    with pytest.raises(openai.APIError):
        for _ in oai(gateway, key).chat.completions.create(model="fake-drop", stream=True, **CHAT):  # type: ignore[call-overload]
            pass
    with (
        pytest.raises(anthropic.APIStatusError),
        ant(gateway, key).messages.stream(model="fake-drop", **MSG) as s,  # type: ignore[arg-type]
    ):
        for _ in s:
            pass
    r = httpx.post(
        gateway.url + "/v1/messages",
        json={"model": "fake-drop", "stream": True, **MSG},
        headers={"x-api-key": key},
    )
    assert r.text.rstrip().endswith("}") and "event: error" in r.text


def test_unrouted_model_is_404() -> None:
    from hydrawatch.gateway.config import UpstreamConfig
    from hydrawatch.gateway.errors import GatewayError
    from hydrawatch.gateway.upstream import Router

    router = Router(
        [
            UpstreamConfig("http://a/v1", "openai", ("gpt-*",)),
            UpstreamConfig("http://b", "anthropic", ("claude-*",)),
        ]
    )
    assert router.route("openai", "gpt-4o", "/v1/chat/completions").url == "http://a/v1/chat/completions"
    assert router.route("anthropic", "claude-x", "/v1/messages").url == "http://b/v1/messages"
    with pytest.raises(GatewayError) as e:
        router.route("openai", "llama", "/v1/chat/completions")
    assert e.value.status == 404
    with pytest.raises(GatewayError) as e:
        router.route("openai", "claude-x", "/v1/chat/completions")
    assert e.value.status == 400


JSONISH = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(-(2**63), 2**63)
    | st.floats(allow_nan=False)
    | st.text(max_size=20),
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=10), children, max_size=4)
    ),
    max_leaves=20,
)
FIELDS = st.fixed_dictionaries(
    {},
    optional={
        "model": JSONISH | st.sampled_from(["fake-a", "fake-b"]),
        "messages": JSONISH
        | st.lists(
            st.fixed_dictionaries(
                {"role": st.sampled_from(["user", "system", "assistant", 3]), "content": JSONISH}
            ),
            max_size=3,
        ),
        "prompt": JSONISH,
        "input": JSONISH,
        "max_tokens": JSONISH,
        "max_completion_tokens": JSONISH,
        "stream": JSONISH,
        "stream_options": JSONISH,
        "temperature": JSONISH,
        "thinking": JSONISH,
        "system": JSONISH,
        "tools": JSONISH,
    },
)


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    path=st.sampled_from(["/v1/chat/completions", "/v1/completions", "/v1/responses", "/v1/messages"]),
    body=FIELDS | JSONISH,
)
def test_bad_input_never_500(
    gateway: GatewayServer, key: str, http: httpx.Client, path: str, body: Any
) -> None:
    import orjson

    try:
        content = orjson.dumps(body)
    except TypeError:
        return
    r = http.post(
        gateway.url + path, content=content, headers={"x-api-key": key, "content-type": "application/json"}
    )
    assert r.status_code < 500, r.text
    if r.status_code >= 400:
        doc = r.json()
        assert ("error" in doc) if path != "/v1/messages" else (doc.get("type") == "error")


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(raw=st.binary(max_size=200), auth=st.text(max_size=40))
def test_garbage_bytes_and_headers_never_500(
    gateway: GatewayServer, key: str, http: httpx.Client, raw: bytes, auth: str
) -> None:
    headers = {"x-api-key": key}
    if auth.isascii() and auth.isprintable() and auth == auth.strip():  # what an HTTP client can send
        headers["authorization"] = auth
    r = http.post(gateway.url + "/v1/chat/completions", content=raw, headers=headers)
    assert r.status_code < 500, r.text


def test_unexpected_error_is_a_500_in_the_apis_own_format(
    gateway: GatewayServer, key: str, http: httpx.Client, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A bug on the proxy path (here: routing raises) is logged and answered with the API's own
    500, like every other route; the gateway keeps serving."""

    def broken(*args: Any, **kw: Any) -> Any:
        raise RuntimeError("bug")

    monkeypatch.setattr(gateway.gw.router, "route", broken)
    body = {"model": "gpt-test", "max_tokens": 5, "messages": [{"role": "user", "content": "hi"}]}
    r = http.post(gateway.url + "/v1/chat/completions", json=body, headers={"authorization": f"Bearer {key}"})
    assert r.status_code == 500 and r.json()["error"]["message"] == "Internal gateway error."
    r = http.post(gateway.url + "/v1/messages", json=body, headers={"x-api-key": key})
    assert r.status_code == 500 and r.json()["type"] == "error"
    monkeypatch.undo()
    r = http.post(gateway.url + "/v1/chat/completions", json=body, headers={"authorization": f"Bearer {key}"})
    assert r.status_code == 200, r.text


def test_other_methods_on_proxy_paths_go_through_the_router(
    gateway: GatewayServer, http: httpx.Client
) -> None:
    r = http.get(gateway.url + "/v1/chat/completions")
    assert r.status_code == 405 and "error" in r.json()
    r = http.post(gateway.url + "/v1/chat/completions/", json={})  # Starlette's slash redirect
    assert r.status_code == 307 and r.headers["location"].endswith("/v1/chat/completions")
