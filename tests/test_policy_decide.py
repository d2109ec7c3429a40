from __future__ import annotations

from pathlib import Path

import pytest

from hydrawatch.policy import AccountInfo, Policy, PolicyError, Verdict

EXAMPLE = Path(__file__).resolve().parents[1] / "docs" / "policy.example.yaml"


def decide(policy: Policy, risk: float, *, account: str = "a", campaign: str | None = None, **kw: object):  # type: ignore[no-untyped-def]
    return policy.decide(
        AccountInfo(account, **kw), Verdict(risk, campaign, ("shares prompts with 40 accounts",))
    )  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("risk", "action"),
    [
        (0.0, "allow"),
        (0.49, "allow"),
        (0.5, "throttle"),
        (0.69, "throttle"),
        (0.7, "verify"),
        (0.84, "verify"),
        (0.85, "degrade"),
        (0.949, "degrade"),
        (0.95, "block"),
        (1.0, "block"),
        (7.0, "block"),
        (-3.0, "allow"),
    ],
)
def test_default_bands(risk: float, action: str) -> None:
    assert decide(Policy.load(None), risk).action == action


def test_example_file_is_the_default() -> None:
    assert Policy.load(EXAMPLE).bands == Policy.load(None).bands
    assert Policy.load(EXAMPLE).actions == Policy.load(None).actions


def test_decisions_carry_reasons_and_action_parameters() -> None:
    p = Policy.load(None)
    d = decide(p, 0.9, campaign="camp-7")
    assert d.action == "degrade" and d.campaign_id == "camp-7"
    assert d.reasons[0] == "risk 0.90 is in band [0.85, 0.95): degrade"
    assert "attributed to campaign camp-7" in d.reasons
    assert "shares prompts with 40 accounts" in d.reasons
    assert (d.max_tokens_cap, d.strip_reasoning, d.strip_logprobs) == (1024, True, True)
    t = decide(p, 0.6)
    assert t.action == "throttle" and t.throttle_factor == 0.2 and not t.degrades
    v = decide(p, 0.75)
    assert v.action == "verify" and v.message and "verification" in v.message and v.retry_after == 300
    a = decide(p, 0.1)
    assert a.action == "allow" and not a.auditable and a.throttle_factor == 1.0


def test_not_a_number_risk_is_treated_as_zero() -> None:
    d = decide(Policy.load(None), float("nan"))
    assert d.action == "allow" and "not a number" in d.reasons[0]


def test_verified_accounts_are_capped_unless_extreme_and_in_a_campaign() -> None:
    p = Policy.load(None)
    assert decide(p, 0.97, verified=True).action == "degrade"
    assert decide(p, 0.99, verified=True).action == "degrade"  # extreme, but no campaign
    assert decide(p, 0.97, verified=True, campaign="c").action == "degrade"  # campaign, not extreme
    d = decide(p, 0.99, verified=True, campaign="c")
    assert d.action == "block" and any("no cap" in r for r in d.reasons)
    capped = decide(p, 0.97, verified=True)
    assert "verified account caps actions at degrade (band said block)" in capped.reasons


ONE_BAND = "bands:\n  - {min: 0, max: 1, action: allow}\n"
POLICY = """
bands:
  - {min: 0.0, max: 0.6, action: allow}
  - {min: 0.6, max: 1.0, action: block}
accounts:
  allowlist: [friend]
  tiers: {enterprise: {max_action: throttle}}
  overrides:
    noisy: {max_action: verify}
    bad: {action: block}
"""


def test_overrides() -> None:
    p = Policy.from_yaml(POLICY, "p.yaml")
    f = decide(p, 0.99, account="friend")
    assert f.action == "allow" and f.band_action == "block" and f.auditable
    assert "account is on the allowlist: allow (band said block)" in f.reasons
    assert decide(p, 0.0, account="bad").action == "block"
    assert decide(p, 0.9, account="noisy").action == "verify"
    assert decide(p, 0.9, account="x", tier="enterprise").action == "throttle"
    assert decide(p, 0.9, account="x", tier="standard").action == "block"


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("bands: [", "p.yaml:1:9: YAML syntax error"),
        ("bands:\n  - {min: 0, max: 1, action: blok}\n", "p.yaml:bands[0].action: unknown action 'blok'"),
        (
            "bands:\n  - {min: 0, max: 0.6, action: allow}\n  - {min: 0.5, max: 1, action: block}\n",
            "p.yaml:bands[1]: overlaps bands[0]",
        ),
        (
            "bands:\n  - {min: 0, max: 0.4, action: allow}\n  - {min: 0.5, max: 1, action: block}\n",
            "p.yaml:bands[1]: gap after bands[0]",
        ),
        ("bands:\n  - {min: 0.1, max: 1, action: allow}\n", "p.yaml:bands[0]: the lowest band starts at 0.1"),
        ("bands:\n  - {min: 0, max: 0.9, action: allow}\n", "p.yaml:bands[0]: the highest band ends at 0.9"),
        ("bands:\n  - {min: 0, max: 2, action: allow}\n", "p.yaml:bands[0].max: expected a number in [0, 1]"),
        ("bands:\n  - {min: 0, action: allow}\n", "p.yaml:bands[0].max: missing"),
        ("bands: {}\n", "p.yaml:bands: expected a non-empty list"),
        ("- 1\n", "p.yaml:(top level): expected a mapping"),
        ("colour: red\nbands: []\n", "p.yaml:colour: unknown key"),
        (
            "accounts: {verified: {max_action: nap}}\nbands:\n  - {min: 0, max: 1, action: allow}\n",
            "p.yaml:accounts.verified.max_action: unknown action",
        ),
        (
            "bands:\n  - {min: 0, max: 1, action: allow}\nactions: {throttle: {throttle_factor: 3}}\n",
            "p.yaml:actions.throttle.throttle_factor: expected a number in [0, 1]",
        ),
        (
            ONE_BAND + "actions: {degrade: {strip_reasoning: yes please}}\n",
            "p.yaml:actions.degrade.strip_reasoning: expected true or false",
        ),
        (
            ONE_BAND + "accounts: {allowlist: [a], overrides: {a: {action: block}}}\n",
            "p.yaml:accounts.overrides.a: account is also on accounts.allowlist",
        ),
        (
            "bands:\n  - {min: 0, max: 1, action: allow}\nactions: {allow: {message: hi}}\n",
            "p.yaml:actions.allow.message: unknown key",
        ),
    ],
)
def test_bad_policy_files_get_clear_errors(text: str, message: str) -> None:
    with pytest.raises(PolicyError) as e:
        Policy.from_yaml(text, "p.yaml")
    assert str(e.value).startswith(message), str(e.value)


def test_load_names_the_file(tmp_path: Path) -> None:
    bad = tmp_path / "policy.yaml"
    bad.write_text("bands:\n  - {min: 0, max: 1, action: nope}\n")
    with pytest.raises(PolicyError, match=r"policy\.yaml:bands\[0\]\.action: unknown action 'nope'"):
        Policy.load(bad)
    with pytest.raises(PolicyError, match="cannot read"):
        Policy.load(tmp_path / "missing.yaml")


def test_shadow_mode_allows_but_audits_what_it_would_have_done() -> None:
    text = (
        ONE_BAND.replace("action: allow", "action: block")
        + "mode: shadow\naccounts: {overrides: {x: {action: verify}}}\n"
    )
    p = Policy.from_yaml(text, "p.yaml")
    d = decide(p, 0.3)
    assert d.action == "allow" and d.shadow_action == "block" and d.auditable and not d.degrades
    assert d.reasons[-1] == "shadow mode: allow (would have been block)"
    assert decide(p, 0.3, account="x").shadow_action == "verify"
    with pytest.raises(PolicyError, match=r"p\.yaml:mode: expected 'enforce' or 'shadow'"):
        Policy.from_yaml(ONE_BAND + "mode: dry\n", "p.yaml")


def test_decisions_are_remembered_per_account_and_verdict() -> None:
    p = Policy.load(None)
    acct = AccountInfo("acct-memo")
    first = p.decide(acct, Verdict(0.8, "camp-1", ("linked",)))
    assert p.decide(acct, Verdict(0.8, "camp-1", ("linked",))) is first  # the same answer, not recomputed
    other = p.decide(acct, Verdict(0.1))
    assert other.action != first.action and other is not first
    high = Verdict(0.95, None, ("linked",))
    assert p.decide(AccountInfo("acct-memo", verified=True), high) != p.decide(acct, high)  # verified caps
    assert p.decide(acct, Verdict(0.8, "camp-1", ("linked",)), scoring_down=True).reasons == first.reasons


def test_a_verdict_that_cannot_be_hashed_is_still_decided() -> None:
    p = Policy.load(None)
    d = p.decide(AccountInfo("a"), Verdict(0.8, None, ["a list", "of reasons"]))  # type: ignore[arg-type]
    assert d.action == p.band_for(0.8).action and "a list" in d.reasons
