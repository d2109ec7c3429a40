"""Request bodies (the gateway's path) to Exchanges."""

from __future__ import annotations

import pytest

from hydrawatch.ingest import BadRecord, exchange_from_anthropic_request, exchange_from_openai_request

TS = 1_772_366_400.0


def test_openai_chat_body_with_parts_and_params() -> None:
    body = {
        "model": "gpt-x",
        "messages": [
            {"role": "developer", "content": "be brief"},
            {
                "role": "user",
                "content": [{"type": "text", "text": "what is"}, {"type": "image_url", "image_url": {}}],
            },
            {"role": "assistant", "content": None, "tool_calls": [{"id": "1"}, {"id": "2"}]},
            {"role": "tool", "content": "42"},
            {"role": "user", "content": "and why?"},
        ],
        "max_completion_tokens": 300,
        "temperature": 0.2,
        "n": 2,
        "logprobs": True,
        "top_logprobs": 5,
        "stream": True,
        "tools": [{"type": "function"}] * 3,
        "reasoning_effort": "high",
        "user": "end-user-7",
    }
    ex = exchange_from_openai_request(body, account_id="acct", ts=TS, ip="203.0.113.9")
    assert ex.account_id == "acct" and ex.ts == TS and ex.ip == "203.0.113.9"
    assert ex.system == "be brief"
    assert [m.role for m in ex.messages] == ["user", "assistant", "tool", "user"]
    assert ex.messages[0].content == "what is\n[image]"
    assert ex.messages[1].content == "[tool_call]\n[tool_call]"
    assert ex.prompt == "and why?"
    p = ex.params
    assert (p.max_tokens, p.temperature, p.n, p.logprobs, p.top_logprobs, p.stream) == (
        300,
        0.2,
        2,
        True,
        5,
        True,
    )
    assert p.n_tools == 3 and p.reasoning_effort == "high" and p.thinking_budget is None


def test_openai_responses_api_body() -> None:
    body = {
        "model": "gpt-y",
        "instructions": "system text",
        "input": [
            {"role": "user", "content": [{"type": "input_text", "text": "hello"}]},
            {"type": "function_call", "name": "f"},
            {"type": "function_call_output", "output": "result text"},
        ],
        "max_output_tokens": 1000,
        "reasoning": {"effort": "medium"},
    }
    ex = exchange_from_openai_request(body, account_id="a", ts=TS)
    assert ex.system == "system text"
    assert [(m.role, m.content) for m in ex.messages] == [
        ("user", "hello"),
        ("assistant", "[tool_call]"),
        ("tool", "result text"),
    ]
    assert ex.params.max_tokens == 1000 and ex.params.reasoning_effort == "medium"


def test_openai_string_input_and_legacy_prompt() -> None:
    assert exchange_from_openai_request({"input": "hi"}, account_id="a", ts=TS).prompt == "hi"
    legacy = exchange_from_openai_request({"prompt": ["a", "b"], "logprobs": 3}, account_id="a", ts=TS)
    assert legacy.prompt == "a\nb"
    assert legacy.params.logprobs is True and legacy.params.top_logprobs == 3


def test_anthropic_body_with_thinking_tools_and_system_blocks() -> None:
    body = {
        "model": "claude-x",
        "system": [{"type": "text", "text": "You are terse."}],
        "messages": [
            {"role": "user", "content": "q1"},
            {
                "role": "assistant",
                "content": [
                    {"type": "thinking", "thinking": "secret chain"},
                    {"type": "text", "text": "a1"},
                    {"type": "tool_use", "id": "t", "name": "calc", "input": {}},
                ],
            },
            {"role": "user", "content": [{"type": "tool_result", "tool_use_id": "t", "content": "7"}]},
        ],
        "max_tokens": 2048,
        "thinking": {"type": "enabled", "budget_tokens": 1024},
        "tools": [{"name": "calc"}],
        "metadata": {"user_id": "u-1"},
    }
    ex = exchange_from_anthropic_request(body, account_id="acct", ts=TS)
    assert ex.system == "You are terse."
    assert ex.messages[1].content == "[thinking]\na1\n[tool_use]"
    assert ex.prompt == "7"
    assert ex.params.thinking_budget == 1024 and ex.params.max_tokens == 2048 and ex.params.n_tools == 1
    assert ex.user_turns == 2 and ex.assistant_turns == 1


def test_thinking_disabled_has_no_budget() -> None:
    body = {"messages": [{"role": "user", "content": "x"}], "thinking": {"type": "disabled"}}
    assert exchange_from_anthropic_request(body, account_id="a", ts=TS).params.thinking_budget is None


def test_headers_give_user_agent_key_id_and_fingerprint_without_secrets() -> None:
    secret = "sk-live-0123456789abcdefghij"
    headers = {"user-agent": "OpenAI/Python 1.0", "authorization": f"Bearer {secret}", "accept": "*/*"}
    ex = exchange_from_openai_request({"messages": []}, account_id="a", ts=TS, headers=headers)
    assert ex.user_agent == "OpenAI/Python 1.0"
    assert ex.api_key_id is not None and ex.api_key_id.startswith("key_") and secret not in ex.api_key_id
    assert ex.client_fingerprint is not None and ex.client_fingerprint.startswith("hdr_")
    reordered = {"accept": "*/*", "user-agent": "x", "authorization": "Bearer other"}
    ex2 = exchange_from_openai_request({"messages": []}, account_id="a", ts=TS, headers=reordered)
    assert ex2.client_fingerprint != ex.client_fingerprint
    same_order = {"user-agent": "y", "authorization": "Bearer z", "accept": "text/plain"}
    ex3 = exchange_from_openai_request({"messages": []}, account_id="a", ts=TS, headers=same_order)
    assert ex3.client_fingerprint == ex.client_fingerprint


def test_ja4_header_is_the_fingerprint() -> None:
    headers = {"x-ja4": "t13d1516h2_8daaf6152771_e5627efa2ab1"}
    ex = exchange_from_anthropic_request({"messages": []}, account_id="a", ts=TS, headers=headers)
    assert ex.client_fingerprint == "t13d1516h2_8daaf6152771_e5627efa2ab1"


@pytest.mark.parametrize(
    "body",
    [
        {"messages": "not a list"},
        {"messages": [{"content": "no role"}]},
        {"messages": [{"role": "user", "content": 5}]},
        {"messages": [], "max_tokens": "lots"},
        {"messages": [], "temperature": [1]},
        {"input": 3},
    ],
)
def test_bad_bodies_raise_bad_record(body: dict[str, object]) -> None:
    with pytest.raises(BadRecord):
        exchange_from_openai_request(body, account_id="a", ts=TS)
