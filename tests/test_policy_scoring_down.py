"""``scoring_down``: the minimum action while live scoring is down (fail open or closed)."""

from __future__ import annotations

import pytest

from hydrawatch.policy import AccountInfo, Policy, PolicyError, Verdict
from hydrawatch.policy.policy import DEFAULT_POLICY_FILE


def _policy(value: str) -> Policy:
    text = DEFAULT_POLICY_FILE.read_text().replace("scoring_down: allow", f"scoring_down: {value}")
    return Policy.from_yaml(text, "p.yaml")


def test_default_fails_open() -> None:
    p = Policy.load(None)
    d = p.decide(AccountInfo("a"), Verdict(0.1), scoring_down=True)
    assert d.action == "allow" and not d.auditable


def test_fail_closed_raises_the_action_and_says_why() -> None:
    p = _policy("throttle")
    d = p.decide(AccountInfo("a"), Verdict(0.1), scoring_down=True)
    assert d.action == "throttle" and d.throttle_factor == 0.2
    assert any("live scoring is down" in r for r in d.reasons)
    assert p.decide(AccountInfo("a"), Verdict(0.1)).action == "allow"  # only while down
    assert p.decide(AccountInfo("a"), Verdict(0.99), scoring_down=True).action == "block"  # never lowers


def test_overrides_still_apply_while_down() -> None:
    text = DEFAULT_POLICY_FILE.read_text().replace("scoring_down: allow", "scoring_down: verify")
    text = text.replace("allowlist: []", "allowlist: [trusted]")
    p = Policy.from_yaml(text, "p.yaml")
    assert p.decide(AccountInfo("trusted"), Verdict(0.0), scoring_down=True).action == "allow"
    assert p.decide(AccountInfo("v", verified=True), Verdict(0.0), scoring_down=True).action == "verify"


def test_bad_value_names_the_key() -> None:
    with pytest.raises(PolicyError, match="scoring_down"):
        _policy("maybe")
