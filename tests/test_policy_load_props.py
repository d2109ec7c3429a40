"""Loaders of operator-written config: any input gives a Policy/limits or a clear error, never a crash."""

from __future__ import annotations

from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from hydrawatch.policy import AccountInfo, Policy, PolicyError, Verdict
from hydrawatch.quota import QuotaConfigError, load_limits

KEYS = st.sampled_from(
    [
        "bands",
        "mode",
        "shadow",
        "actions",
        "accounts",
        "min",
        "max",
        "action",
        "allowlist",
        "verified",
        "tiers",
        "overrides",
        "max_action",
        "extreme_risk",
        "throttle_factor",
        "max_tokens_cap",
        "strip_reasoning",
        "message",
        "retry_after",
        "allow",
        "throttle",
        "verify",
        "degrade",
        "block",
        "quotas",
        "campaign",
        "standard",
        "tokens-minute",
        "requests-day",
        "on_state_error",
        "default_tier",
        "timeout_ms",
        "key_prefix",
    ]
) | st.text(max_size=4)
SCALARS = (
    st.none()
    | st.booleans()
    | st.integers(-5, 10**6)
    | st.floats(allow_nan=True)
    | st.text(max_size=6)
    | st.sampled_from(["allow", "block", "open", "closed", "standard"])
)
JSON = st.recursive(
    SCALARS,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(KEYS, inner, max_size=5),
    max_leaves=25,
)


@settings(max_examples=100, deadline=None)
@given(JSON)
def test_policy_from_any_mapping_is_a_policy_or_a_policy_error(data: Any) -> None:
    try:
        p = Policy.from_mapping(data, "p.yaml")
    except PolicyError as e:
        assert str(e).startswith("p.yaml:")
        return
    d = p.decide(AccountInfo("a", verified=True), Verdict(0.97, "c"))
    assert d.action in ("allow", "throttle", "verify", "degrade", "block")


@settings(max_examples=100, deadline=None)
@given(st.text(max_size=200))
def test_policy_from_any_text_is_a_policy_or_a_policy_error(text: str) -> None:
    try:
        Policy.from_yaml(text, "p.yaml")
    except PolicyError as e:
        assert str(e).startswith("p.yaml")


@settings(max_examples=100, deadline=None)
@given(JSON)
def test_quota_limits_from_anything_are_limits_or_a_config_error(data: Any) -> None:
    try:
        limits = load_limits(data)
    except QuotaConfigError as e:
        assert str(e).startswith("quotas")
        return
    assert limits.default_tier in limits.tiers
