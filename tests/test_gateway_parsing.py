"""Pure parts of the gateway: SSE framing, usage counting, client IP, redaction, config."""

from __future__ import annotations

from pathlib import Path

import orjson
import pytest
from hypothesis import given
from hypothesis import strategies as st

from hydrawatch.gateway.clientip import ClientIpResolver, parse_ip
from hydrawatch.gateway.config import ConfigError, load_config, parse_config
from hydrawatch.gateway.redact import apply_recording, redact_text
from hydrawatch.gateway.sse import SSESplitter, parse_event
from hydrawatch.gateway.state import early_throttle_args
from hydrawatch.gateway.usage import (
    AnthropicStreamCounter,
    OpenAIStreamCounter,
    count_anthropic_response,
    count_openai_response,
    loads_or_none,
)
from hydrawatch.policy.policy import DEFAULT_POLICY_FILE, Policy

# ------------------------------------------------------------------------ SSE
EVENT = st.builds(
    lambda name, data: (f"event: {name}\n" if name else "") + f"data: {data}\n\n",
    st.one_of(st.none(), st.sampled_from(["message_start", "ping", "content_block_delta"])),
    st.text(alphabet=st.characters(blacklist_characters="\r\n", blacklist_categories=["Cs"]), max_size=40),
)


@given(events=st.lists(EVENT, max_size=20), cuts=st.lists(st.integers(0, 2000), max_size=30))
def test_splitter_yields_the_same_events_however_the_bytes_are_cut(
    events: list[str], cuts: list[int]
) -> None:
    stream = "".join(events).encode()
    points = sorted({c for c in cuts if c < len(stream)})
    pieces = [stream[a:b] for a, b in zip([0, *points], [*points, len(stream)], strict=True)]
    splitter = SSESplitter()
    out: list[bytes] = []
    for p in pieces:
        out.extend(splitter.feed(p))
    assert splitter.rest() == b""
    assert out == [e.encode() for e in events]


@given(st.binary(max_size=500), st.integers(1, 50))
def test_splitter_never_loses_bytes(data: bytes, step: int) -> None:
    splitter = SSESplitter(max_event_bytes=64)
    out: list[bytes] = []
    for i in range(0, len(data), step):
        out.extend(splitter.feed(data[i : i + step]))
    assert b"".join(out) + splitter.rest() == data
    for raw in out:
        parse_event(raw)  # never raises on arbitrary bytes


def test_parse_event_fields() -> None:
    ev = parse_event(b'event: message_delta\ndata: {"a":\ndata: 1}\n: comment\n\n')
    assert ev.event == "message_delta" and ev.data == '{"a":\n1}'
    assert parse_event(b"data: [DONE]\n\n").data == "[DONE]"
    assert loads_or_none("[DONE]") is None and loads_or_none("{bad") is None


# ---------------------------------------------------------------------- usage
def test_anthropic_usage_is_merged_across_events() -> None:
    c = AnthropicStreamCounter()
    c.feed(
        "message_start",
        {
            "type": "message_start",
            "message": {"usage": {"input_tokens": 10, "output_tokens": 1, "cache_read_input_tokens": 5}},
        },
    )
    for t in ["ab", "cdef"]:
        c.feed(
            "content_block_delta", {"type": "content_block_delta", "delta": {"type": "text_delta", "text": t}}
        )
    assert not c.counted.exact and c.counted.billed_output() == 2  # 6 chars, not yet final
    c.feed("message_delta", {"type": "message_delta", "usage": {"output_tokens": 42}})
    assert (c.counted.input_tokens, c.counted.billed_output(), c.counted.exact) == (15, 42, True)
    assert c.counted.response_text == "abcdef"


def test_openai_usage_chunk_and_fallback() -> None:
    c = OpenAIStreamCounter()
    c.feed(None, {"choices": [{"delta": {"content": "x" * 40}}]})
    assert c.counted.billed_output() == 10 and c.counted.input_tokens is None
    usage_chunk = {
        "choices": [],
        "usage": {
            "prompt_tokens": 3,
            "completion_tokens": 9,
            "completion_tokens_details": {"reasoning_tokens": 4},
        },
    }
    assert OpenAIStreamCounter.is_usage_chunk(usage_chunk)
    assert not OpenAIStreamCounter.is_usage_chunk({"choices": [{}], "usage": None})
    c.feed(None, usage_chunk)
    assert (c.counted.input_tokens, c.counted.billed_output(), c.counted.reasoning_tokens) == (3, 9, 4)
    r = OpenAIStreamCounter()
    r.feed("response.output_text.delta", {"delta": "hello"})
    r.feed("response.completed", {"response": {"usage": {"input_tokens": 7, "output_tokens": 2}}})
    assert (r.counted.input_tokens, r.counted.billed_output()) == (7, 2)


@given(
    st.recursive(
        st.none() | st.integers() | st.floats() | st.text() | st.booleans(),
        lambda ch: st.lists(ch, max_size=3) | st.dictionaries(st.text(max_size=8), ch, max_size=4),
    )
)
def test_counters_never_raise(obj: object) -> None:
    count_openai_response(obj)
    count_anthropic_response(obj)
    for ev in (None, "message_start", "message_delta", "content_block_delta", "response.completed"):
        OpenAIStreamCounter().feed(ev, obj)
        AnthropicStreamCounter().feed(ev, obj)
    for key in ("usage", "message", "delta", "choices", "response"):
        OpenAIStreamCounter().feed(None, {key: obj, "type": "message_start"})
        AnthropicStreamCounter().feed(None, {key: obj, "type": "message_delta"})


def test_nonstream_counts() -> None:
    c = count_openai_response(
        {"choices": [{"message": {"content": "hey"}}], "usage": {"prompt_tokens": 1, "completion_tokens": 2}}
    )
    assert (c.input_tokens, c.billed_output(), c.response_chars) == (1, 2, 3)
    a = count_anthropic_response(
        {"content": [{"type": "text", "text": "hi"}], "usage": {"input_tokens": 4, "output_tokens": 5}}
    )
    assert (a.input_tokens, a.billed_output(), a.response_chars) == (4, 5, 2)


# ------------------------------------------------------------------ client IP
def test_client_ip_trusts_only_configured_proxies() -> None:
    r = ClientIpResolver(["10.0.0.0/8", "::1/128"])
    # untrusted peer: headers are ignored (spoofable)
    assert r.resolve("203.0.113.9", [], ["1.1.1.1"]) == "203.0.113.9"
    # trusted peer: the right-most untrusted hop is the client
    assert r.resolve("10.0.0.2", [], ["6.6.6.6, 198.51.100.7, 10.0.0.5"]) == "198.51.100.7"
    assert r.resolve("10.0.0.2", [], ["198.51.100.7", "10.1.1.1"]) == "198.51.100.7"
    # Forwarded (RFC 7239) wins over X-Forwarded-For, with ports and IPv6 brackets
    assert r.resolve("10.0.0.2", ['for="[2001:db8::1]:4711";proto=https'], ["9.9.9.9"]) == "2001:db8::1"
    assert r.resolve("10.0.0.2", ["for=192.0.2.60:80, for=10.0.0.9"], []) == "192.0.2.60"
    # a malformed hop stops the walk at the last trusted address
    assert r.resolve("10.0.0.2", [], ["garbage"]) == "10.0.0.2"
    assert r.resolve("10.0.0.2", [], ["1.2.3.4, unknown"]) == "10.0.0.2"
    assert r.resolve("::1", [], ["192.0.2.1"]) == "192.0.2.1"
    assert r.resolve("::ffff:10.0.0.3", [], ["192.0.2.2"]) == "192.0.2.2"
    # no trusted proxies configured: the peer, always
    assert ClientIpResolver().resolve("10.0.0.2", [], ["1.2.3.4"]) == "10.0.0.2"
    assert parse_ip("[::1]:80") is not None and parse_ip("1.2.3.4:5") is not None and parse_ip("x") is None


@given(st.text(max_size=60), st.text(max_size=60))
def test_client_ip_never_raises(fwd: str, xff: str) -> None:
    r = ClientIpResolver(["0.0.0.0/0", "::/0"])
    out = r.resolve("10.0.0.1", [fwd] if fwd else [], [xff])
    assert out is None or parse_ip(out) is not None


# ------------------------------------------------------------------ redaction
def test_redaction_masks_identifiers_keeps_text() -> None:
    t = (
        "Mail bob@example.com, call +1 (415) 555-0100, key sk-abcdefghijklmnopqrstu, ip 192.168.1.20. "
        "Explain X."
    )
    out = redact_text(t)
    for secret in ("bob@example.com", "555-0100", "sk-abcdefghijklmnopqrstu", "192.168.1.20"):
        assert secret not in out
    assert out.endswith("Explain X.")
    row = {"prompt": t, "system": "You are helpful"}
    assert apply_recording(dict(row), "none") == {"prompt": None, "system": None}
    assert apply_recording(dict(row), "full") == row


# --------------------------------------------------------------------- config
def test_config_defaults_and_errors(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HYDRAWATCH_ADMIN_TOKEN", "from-env")
    cfg = load_config(None)
    assert (
        cfg.admin_token == "from-env" and cfg.state_dir == Path("hydrawatch-state") and cfg.redis_url is None
    )
    f = tmp_path / "gw.yaml"
    f.write_text(
        "port: 9000\nupstreams:\n"
        "  - {base_url: 'https://api.openai.com/v1', api: openai, models: ['gpt-*']}\n"
        "record: {prompts: redacted, retention_days: 30}\ntrusted_proxies: ['10.0.0.0/8']\npolicy: pol.yaml\n"
    )
    cfg = load_config(f)
    assert cfg.port == 9000 and cfg.upstreams[0].models == ("gpt-*",) and cfg.record.prompts == "redacted"
    assert cfg.policy_file == str(tmp_path / "pol.yaml")
    bad = {
        "port: 99999\n": "port",
        "upstreams: [{base_url: x}]\n": "upstreams[0].base_url",
        "upstreams: [{base_url: 'http://x', api: grpc}]\n": "upstreams[0].api",
        "record: {prompts: some}\n": "record.prompts",
        "trusted_proxies: [nope]\n": "trusted_proxies[0]",
        "colour: blue\n": "colour",
        "timeouts: {read: -1}\n": "timeouts.read",
        "port: [1\n": "invalid YAML",
        "upstreams: [{base_url: 'http://x', api_key_env: HW_TEST_UNSET_VAR}]\n": "api_key_env",
        "live_scoring: {early_throttle: {min_share: 1.5}}\n": "live_scoring.early_throttle.min_share",
        "live_scoring: {early_throttle: {min_share: .nan}}\n": "live_scoring.early_throttle.min_share",
        "live_scoring: {early_throttle: {min_intents: 0}}\n": "live_scoring.early_throttle.min_intents",
        "live_scoring: {early_throttle: {min_intents: 2.5}}\n": "live_scoring.early_throttle.min_intents",
        "live_scoring: {early_throttle: {share: 0.3}}\n": "live_scoring.early_throttle",
        "live_scoring: {early_throttle: often}\n": "live_scoring.early_throttle",
    }
    for text, where in bad.items():
        f.write_text(text)
        with pytest.raises(ConfigError) as e:
            load_config(f)
        assert str(f) in str(e.value) and where in str(e.value), str(e.value)
    with pytest.raises(ConfigError):
        load_config(tmp_path / "missing.yaml")
    assert parse_config({"live_scoring": {"enabled": False}}).live_scoring is False


def test_early_throttle_settings_reach_the_scorer_at_the_policys_throttle_band(tmp_path: Path) -> None:
    default = parse_config({})
    assert default.early_throttle == (2, 0.2)
    assert parse_config({"live_scoring": {"early_throttle": False}}).early_throttle is None
    assert parse_config({"live_scoring": {"early_throttle": True}}).early_throttle == (2, 0.2)
    tuned = parse_config({"live_scoring": {"early_throttle": {"min_share": 0.35}}})
    assert tuned.early_throttle == (2, 0.35)
    policy = Policy.load(None)
    assert early_throttle_args(tuned, policy) == (
        "--early-risk", "0.5", "--early-min-intents", "2", "--early-min-share", "0.35",
    )  # fmt: skip
    off = parse_config({"live_scoring": {"early_throttle": False}})
    assert early_throttle_args(off, policy) == ("--early-risk", "0")
    shifted = tmp_path / "policy.yaml"
    base = DEFAULT_POLICY_FILE.read_text()
    shifted.write_text(
        base.replace("max: 0.5,  action: allow", "max: 0.6,  action: allow").replace(
            "{min: 0.5,  max: 0.7,  action: throttle}", "{min: 0.6,  max: 0.7,  action: throttle}"
        )
    )
    assert early_throttle_args(default, Policy.load(shifted))[:2] == ("--early-risk", "0.6")
    no_throttle = tmp_path / "nothrottle.yaml"
    no_throttle.write_text(base.replace("action: throttle}", "action: allow}"))
    assert early_throttle_args(default, Policy.load(no_throttle)) == ("--early-risk", "0")


def test_config_accepts_json_roundtrip() -> None:
    doc = orjson.loads(
        b'{"upstreams": [{"base_url": "http://a/", "models": "claude-*", "api": "anthropic"}]}'
    )
    cfg = parse_config(doc)
    assert cfg.upstreams[0].base_url == "http://a" and cfg.upstreams[0].models == ("claude-*",)


def test_the_scorer_process_reads_its_early_throttle_from_options_then_config() -> None:
    from hydrawatch.score.cli import _early

    assert _early(None, None, None, None) == (0.5, 2, 0.2)  # the built-in policy's throttle band
    assert _early(0.0, None, None, None) is None
    assert _early(0.6, 3, 0.5, None) == (0.6, 3, 0.5)
    assert _early(None, None, None, parse_config({"live_scoring": {"early_throttle": False}})) is None
    tuned = parse_config({"live_scoring": {"early_throttle": {"min_intents": 4}}})
    assert _early(None, None, None, tuned) == (0.5, 4, 0.2)
    assert _early(None, None, 0.3, tuned) == (0.5, 4, 0.3)
