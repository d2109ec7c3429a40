"""The gateway's reservation estimate is conservative: input from
``hydrawatch.quota.estimate_tokens`` (per message, plus framing) x (1 + the default
``input_estimate_margin``), output = the cap x OpenAI ``n``."""

from __future__ import annotations

import math
from collections.abc import Iterator

import httpx
import pytest
from hypothesis import given
from hypothesis import strategies as st

from hydrawatch.events.schema import Exchange, Message
from hydrawatch.gateway.requests import MESSAGE_OVERHEAD_TOKENS, estimate_input_tokens, output_choices
from hydrawatch.quota import estimate_tokens, load_limits
from hydrawatch.quota.estimate import _is_cjk
from hydrawatch.quota.limits import DEFAULT_INPUT_MARGIN
from test_gateway_support import GatewayServer, gateway_config, run_servers

SVC = {"x-hydrawatch-token": "decide-secret"}


def _reference(text: str) -> int:
    """The estimate as first written: one Python step per character."""
    if not text:
        return 0
    letters = other_ascii = cjk = rest = 0
    for ch in text:
        o = ord(ch)
        if o < 128:
            if ch.isalpha() or ch.isspace():
                letters += 1
            else:
                other_ascii += 1
        elif _is_cjk(o):
            cjk += 1
        else:
            rest += 1
    return max(1, math.ceil(letters / 4 + other_ascii / 2 + cjk + rest / 2))


@given(st.text(max_size=200))
def test_fast_estimate_equals_the_reference(text: str) -> None:
    assert estimate_tokens(text) == _reference(text)


@given(st.text(alphabet=st.characters(min_codepoint=0x3000, max_codepoint=0xFB00), max_size=100))
def test_fast_estimate_equals_the_reference_on_cjk_ranges(text: str) -> None:
    assert estimate_tokens(text) == _reference(text)


def test_input_estimate_counts_every_message_and_the_system_text() -> None:
    ex = Exchange(
        ts=0.0,
        account_id="a",
        messages=[Message("user", "hello world"), Message("assistant", "3.14159"), Message("user", "你好")],
        system="be brief",
    )
    text = estimate_tokens("hello world") + estimate_tokens("3.14159") + estimate_tokens("你好")
    want = text + estimate_tokens("be brief") + 4 * MESSAGE_OVERHEAD_TOKENS
    assert estimate_input_tokens(ex) == want
    assert estimate_input_tokens(ex) >= math.ceil((len("hello world3.14159你好be brief")) / 4)


def test_output_choices() -> None:
    ex = Exchange(ts=0.0, account_id="a")
    assert output_choices(ex) == 1
    ex.params.n = 3
    assert output_choices(ex) == 3
    ex.params.n = 0
    assert output_choices(ex) == 1


def test_default_margin_is_conservative() -> None:
    assert DEFAULT_INPUT_MARGIN == 0.2
    assert load_limits({}).input_margin == 0.2
    assert load_limits({"quotas": {"input_estimate_margin": 0}}).input_margin == 0.0


@pytest.fixture(scope="module")
def gateway(tmp_path_factory: pytest.TempPathFactory) -> Iterator[GatewayServer]:
    for up, _ in run_servers():
        with GatewayServer(gateway_config(tmp_path_factory.mktemp("est"), up.url)) as gw:
            yield gw


def test_reservation_multiplies_output_by_n(gateway: GatewayServer) -> None:
    key = gateway.new_key("acct-n")
    prompt = "count the words in this sentence please"
    body = {"model": "gpt-x", "messages": [{"role": "user", "content": prompt}], "max_tokens": 100, "n": 3}
    r = httpx.post(
        gateway.url + "/v1/decide",
        json={"key": key, "request": {"api": "openai", "body": body, "path": "/v1/chat/completions"}},
        headers=SVC,
    )
    assert r.status_code == 200, r.text
    remaining = r.json()["remaining"]
    est_in = math.ceil((estimate_tokens(prompt) + MESSAGE_OVERHEAD_TOKENS) * (1 + DEFAULT_INPUT_MARGIN))
    assert remaining["tokens-day"] == 10_000_000 - (est_in + 3 * 100)
