from __future__ import annotations

import pytest

from hydrawatch.quota import Denied, QuotaConfigError, Reservation, Usage, load_limits, quota_headers


def test_defaults_are_sane() -> None:
    limits = load_limits(None)
    assert set(limits.tiers) >= {"free", "standard", "enterprise"}
    assert limits.on_state_error == "open"
    names = {lim.name for lim in limits.account_limits("standard")}
    assert {"tokens-minute", "tokens-day", "requests-minute", "requests-day"} <= names
    assert limits.account_limits("unknown") == limits.account_limits("standard")
    assert all(lim.scope == "campaign" for lim in limits.campaign)


def test_a_configured_tier_replaces_the_default_and_null_means_unlimited() -> None:
    limits = load_limits({"quotas": {"tiers": {"free": {"tokens-day": 10, "requests-day": None}}}})
    assert [(lim.name, lim.value) for lim in limits.account_limits("free")] == [("tokens-day", 10)]


@pytest.mark.parametrize(
    ("cfg", "message"),
    [
        ({"tiers": {"free": {"tokns-day": 1}}}, "quotas.tiers.free.tokns-day: unknown limit"),
        ({"tiers": {"free": {"tokens-day": -1}}}, "quotas.tiers.free.tokens-day: expected a non-negative"),
        ({"tiers": {"free": {"tokens-day": "lots"}}}, "quotas.tiers.free.tokens-day: expected"),
        ({"tiers": ["free"]}, "quotas.tiers: expected a mapping"),
        ({"on_state_error": "maybe"}, "quotas.on_state_error: expected 'open' or 'closed'"),
        ({"default_tier": "gold"}, "quotas.default_tier: 'gold' is not a configured tier"),
        ({"campaign": {"requests-hour": 5}}, "quotas.campaign.requests-hour: unknown limit"),
        ({"timeout_ms": "fast"}, "quotas.timeout_ms: expected a non-negative number"),
        ({"colour": 1}, "quotas.colour: unknown key"),
    ],
)
def test_bad_config_names_the_key(cfg: dict[str, object], message: str) -> None:
    with pytest.raises(QuotaConfigError) as e:
        load_limits({"quotas": cfg})
    assert message in str(e.value)


def test_headers_for_a_reservation() -> None:
    r = Reservation(
        "rsv_1",
        "a",
        "c",
        Usage(1, 1),
        {
            "tokens-minute": 900,
            "tokens-day": 50,
            "campaign-tokens-minute": 70,
            "requests-minute": 9,
            "output-tokens-minute": -5,
        },
    )
    h = quota_headers(r)
    assert h["x-ratelimit-remaining-tokens"] == "50"
    assert h["x-ratelimit-remaining-requests"] == "9"
    assert h["x-ratelimit-remaining-output-tokens"] == "0"
    assert h["x-ratelimit-remaining-campaign-tokens-minute"] == "70"
    assert "retry-after" not in h


def test_headers_for_a_denial() -> None:
    h = quota_headers(Denied("account tokens per minute", 12.2, {"tokens-minute": 3}))
    assert h["retry-after"] == "13"
    assert h["x-ratelimit-limited-by"] == "account tokens per minute"
    assert h["x-ratelimit-remaining-tokens"] == "3"
    assert quota_headers(Denied("x", 0.0))["retry-after"] == "1"
