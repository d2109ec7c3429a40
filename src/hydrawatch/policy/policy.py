"""The policy: a readable YAML file mapping risk bands to graded actions, with overrides.

``Policy.load(path)`` validates everything up front and reports problems as
``file:key: problem``; ``Policy.decide(account, verdict)`` is pure and fast (a band lookup
and a few dict reads), so the gateway calls it on every request."""

from __future__ import annotations

import bisect
import itertools
import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, cast

import yaml

from hydrawatch.policy.decision import (
    ACTIONS,
    AccountInfo,
    Action,
    Decision,
    Verdict,
    less_severe,
    more_severe,
)

DEFAULT_POLICY_FILE = Path(__file__).with_name("default_policy.yaml")

_ACTION_KEYS = {
    "throttle_factor",
    "max_tokens_cap",
    "max_choices",
    "strip_reasoning",
    "strip_logprobs",
    "retry_after",
    "message",
}


MEMO_SIZE = 20_000  # decisions kept (cleared when full)


class PolicyError(ValueError):
    """A policy file that cannot be used; the message is ``file:key: problem``."""


@dataclass(frozen=True, slots=True)
class Band:
    lo: float
    hi: float
    action: Action


@dataclass(frozen=True, slots=True)
class ActionSpec:
    throttle_factor: float = 1.0
    max_tokens_cap: int | None = None
    max_choices: int | None = None
    strip_reasoning: bool = False
    strip_logprobs: bool = False
    retry_after: float | None = None
    message: str | None = None


@dataclass(frozen=True, slots=True)
class AccountRule:
    action: Action | None = None  # forced action
    max_action: Action | None = None  # cap


class _Reader:
    """Validation helpers that know where they are (``file:key``)."""

    def __init__(self, source: str) -> None:
        self.source = source

    def fail(self, key: str, problem: str) -> PolicyError:
        return PolicyError(f"{self.source}:{key}: {problem}")

    def mapping(self, value: Any, key: str) -> Mapping[str, Any]:
        if value is None:
            return {}
        if not isinstance(value, Mapping):
            raise self.fail(key, f"expected a mapping, got {type(value).__name__}")
        return cast(Mapping[str, Any], value)

    def only(self, m: Mapping[str, Any], allowed: set[str], key: str) -> None:
        for k in m:
            if k not in allowed:
                raise self.fail(
                    f"{key}.{k}" if key else str(k),
                    f"unknown key (expected one of {', '.join(sorted(allowed))})",
                )

    def action(self, value: Any, key: str) -> Action:
        if value not in ACTIONS:
            raise self.fail(key, f"unknown action {value!r} (expected one of {', '.join(ACTIONS)})")
        return cast(Action, value)

    def number(self, value: Any, key: str, lo: float = 0.0, hi: float = math.inf) -> float:
        if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
            raise self.fail(key, f"expected a number, got {value!r}")
        if not lo <= value <= hi:
            raise self.fail(key, f"expected a number in [{lo:g}, {hi:g}], got {value!r}")
        return float(value)

    def boolean(self, value: Any, key: str) -> bool:
        if not isinstance(value, bool):
            raise self.fail(key, f"expected true or false, got {value!r}")
        return value


@dataclass(frozen=True, slots=True)
class Policy:
    bands: tuple[Band, ...]
    actions: Mapping[Action, ActionSpec]
    allowlist: frozenset[str] = frozenset()
    verified_max_action: Action = "degrade"
    verified_extreme_risk: float = 0.98
    tier_max_action: Mapping[str, Action] = field(default_factory=dict)
    overrides: Mapping[str, AccountRule] = field(default_factory=dict)
    source: str = "<built-in>"
    shadow: bool = False  # mode: shadow -> decide, audit, but always allow
    scoring_down: Action = "allow"  # minimum action while live scoring is down (allow = fail open)
    _band_starts: tuple[float, ...] = field(default=(), init=False, repr=False, compare=False)
    # decide()'s answers by (account, verdict, scoring_down): the gateway asks once per request,
    # and an account's verdict changes far less often than that
    _memo: dict[tuple[AccountInfo, Verdict, bool], Decision] = field(
        default_factory=dict, init=False, repr=False, compare=False
    )

    def __post_init__(self) -> None:
        object.__setattr__(self, "_band_starts", tuple(b.lo for b in self.bands))

    # ---------------------------------------------------------------- loading
    @classmethod
    def load(cls, path: str | Path | None) -> Policy:
        """The policy in ``path`` (YAML); ``None`` gives the built-in defaults."""
        file = DEFAULT_POLICY_FILE if path is None else Path(path)
        source = "<built-in>" if path is None else str(path)
        try:
            text = file.read_text(encoding="utf-8")
        except OSError as e:
            raise PolicyError(f"{source}: cannot read: {e.strerror or e}") from e
        except UnicodeDecodeError as e:
            raise PolicyError(f"{source}: not UTF-8 text: {e}") from e
        return cls.from_yaml(text, source)

    @classmethod
    def from_yaml(cls, text: str, source: str = "<string>") -> Policy:
        try:
            data = yaml.safe_load(text)
        except yaml.MarkedYAMLError as e:
            mark = e.problem_mark
            where = f"{source}:{mark.line + 1}:{mark.column + 1}" if mark is not None else source
            raise PolicyError(f"{where}: YAML syntax error: {e.problem or e}") from e
        except yaml.YAMLError as e:
            raise PolicyError(f"{source}: YAML error: {e}") from e
        return cls.from_mapping(data, source)

    @classmethod
    def from_mapping(cls, data: Any, source: str = "<mapping>") -> Policy:
        r = _Reader(source)
        top = r.mapping(data, "(top level)")
        r.only(top, {"mode", "bands", "actions", "accounts", "scoring_down"}, "")
        mode = top.get("mode", "enforce")
        if mode not in ("enforce", "shadow"):
            raise r.fail("mode", f"expected 'enforce' or 'shadow', got {mode!r}")
        scoring_down = r.action(top.get("scoring_down", "allow"), "scoring_down")
        bands = _read_bands(r, top.get("bands"))
        actions = _read_actions(r, r.mapping(top.get("actions"), "actions"))
        acc = r.mapping(top.get("accounts"), "accounts")
        r.only(acc, {"allowlist", "verified", "tiers", "overrides"}, "accounts")

        allow_raw = acc.get("allowlist") or []
        if not isinstance(allow_raw, list) or not all(isinstance(a, str | int) for a in allow_raw):
            raise r.fail("accounts.allowlist", "expected a list of account ids")
        allowlist = frozenset(str(a) for a in allow_raw)

        ver = r.mapping(acc.get("verified"), "accounts.verified")
        r.only(ver, {"max_action", "extreme_risk"}, "accounts.verified")
        vmax = r.action(ver.get("max_action", "degrade"), "accounts.verified.max_action")
        vext = r.number(ver.get("extreme_risk", 0.98), "accounts.verified.extreme_risk", 0.0, 1.0)

        tiers: dict[str, Action] = {}
        for tier, rule in r.mapping(acc.get("tiers"), "accounts.tiers").items():
            key = f"accounts.tiers.{tier}"
            m = r.mapping(rule, key)
            r.only(m, {"max_action"}, key)
            if "max_action" in m:
                tiers[str(tier)] = r.action(m["max_action"], f"{key}.max_action")

        overrides: dict[str, AccountRule] = {}
        for acct, rule in r.mapping(acc.get("overrides"), "accounts.overrides").items():
            key = f"accounts.overrides.{acct}"
            m = r.mapping(rule, key)
            r.only(m, {"action", "max_action"}, key)
            forced = r.action(m["action"], f"{key}.action") if "action" in m else None
            cap = r.action(m["max_action"], f"{key}.max_action") if "max_action" in m else None
            if forced is not None and cap is not None:
                raise r.fail(key, "give either action or max_action, not both")
            if forced is not None and str(acct) in allowlist:
                raise r.fail(key, "account is also on accounts.allowlist; keep one of the two")
            overrides[str(acct)] = AccountRule(forced, cap)

        return cls(
            bands=bands,
            actions=actions,
            allowlist=allowlist,
            verified_max_action=vmax,
            verified_extreme_risk=vext,
            tier_max_action=tiers,
            overrides=overrides,
            source=source,
            shadow=mode == "shadow",
            scoring_down=scoring_down,
        )

    def throttle_floor(self) -> float | None:
        """Where the lowest band whose action is throttle starts (None: no band throttles)."""
        return next((b.lo for b in self.bands if b.action == "throttle"), None)

    # --------------------------------------------------------------- deciding
    def band_for(self, risk: float) -> Band:
        i = bisect.bisect_right(self._band_starts, risk) - 1
        return self.bands[max(0, min(i, len(self.bands) - 1))]

    def decide(self, account: AccountInfo, verdict: Verdict, *, scoring_down: bool = False) -> Decision:
        """The decision for one request. ``scoring_down``: live scoring is not running, so the
        verdict may be stale; the action is then at least the policy's ``scoring_down``."""
        key = (account, verdict, scoring_down)
        try:
            hit = self._memo.get(key)
        except TypeError:  # a field that cannot be hashed: decide without the memo
            return self._decide(account, verdict, scoring_down)
        if hit is None:
            hit = self._decide(account, verdict, scoring_down)
            if len(self._memo) >= MEMO_SIZE:
                self._memo.clear()
            self._memo[key] = hit
        return hit

    def _decide(self, account: AccountInfo, verdict: Verdict, scoring_down: bool) -> Decision:
        reasons: list[str] = []
        risk = verdict.risk
        if isinstance(risk, bool) or not isinstance(risk, int | float) or math.isnan(risk):
            reasons.append(f"risk {risk!r} is not a number; treated as 0")
            risk = 0.0
        risk = min(1.0, max(0.0, float(risk)))
        band = self.band_for(risk)
        close = "]" if band.hi >= 1.0 else ")"
        reasons.append(f"risk {risk:.2f} is in band [{band.lo:g}, {band.hi:g}{close}: {band.action}")
        campaign = verdict.campaign_id or None
        if campaign:
            reasons.append(f"attributed to campaign {campaign}")
        reasons.extend(str(x) for x in verdict.reasons)

        action = band.action
        if scoring_down and more_severe(action, self.scoring_down) != action:
            action = self.scoring_down
            reasons.append(f"live scoring is down: at least {action} (policy scoring_down)")
        action = self._override(account, risk, campaign, action, reasons)
        shadowed: Action | None = None
        if self.shadow and action != "allow":
            reasons.append(f"shadow mode: allow (would have been {action})")
            shadowed, action = action, "allow"
        spec = self.actions.get(action, ActionSpec())
        return Decision(
            action=action,
            reasons=tuple(reasons),
            risk=risk,
            campaign_id=campaign,
            max_tokens_cap=spec.max_tokens_cap,
            max_choices=spec.max_choices,
            strip_reasoning=spec.strip_reasoning,
            strip_logprobs=spec.strip_logprobs,
            throttle_factor=spec.throttle_factor,
            retry_after=spec.retry_after,
            band_action=band.action,
            message=spec.message,
            shadow_action=shadowed,
        )

    def _override(
        self, account: AccountInfo, risk: float, campaign: str | None, action: Action, reasons: list[str]
    ) -> Action:
        rule = self.overrides.get(account.account_id)
        if rule is not None and rule.action is not None:
            if rule.action != action:
                reasons.append(f"account override sets {rule.action} (band said {action})")
            return rule.action
        if account.account_id in self.allowlist:
            if action != "allow":
                reasons.append(f"account is on the allowlist: allow (band said {action})")
            return "allow"
        caps: list[tuple[Action, str]] = []
        if rule is not None and rule.max_action is not None:
            caps.append((rule.max_action, "account override caps actions at"))
        tier_cap = self.tier_max_action.get(account.tier)
        if tier_cap is not None:
            caps.append((tier_cap, f"tier {account.tier} caps actions at"))
        if account.verified:
            if campaign and risk >= self.verified_extreme_risk:
                reasons.append(
                    f"verified account, but risk {risk:.2f} >= {self.verified_extreme_risk:g} "
                    f"within campaign {campaign}: no cap"
                )
            else:
                caps.append((self.verified_max_action, "verified account caps actions at"))
        for cap, why in caps:
            lowered = less_severe(action, cap)
            if lowered != action:
                reasons.append(f"{why} {cap} (band said {action})")
                action = lowered
        return action


def _read_bands(r: _Reader, raw: Any) -> tuple[Band, ...]:
    if raw is None:
        raise r.fail("bands", "missing (a list of {min, max, action} covering 0..1)")
    if not isinstance(raw, list) or not raw:
        raise r.fail("bands", "expected a non-empty list of {min, max, action}")
    bands: list[tuple[Band, str]] = []
    for i, item in enumerate(raw):
        key = f"bands[{i}]"
        m = r.mapping(item, key)
        r.only(m, {"min", "max", "action"}, key)
        for need in ("min", "max", "action"):
            if need not in m:
                raise r.fail(f"{key}.{need}", "missing")
        lo = r.number(m["min"], f"{key}.min", 0.0, 1.0)
        hi = r.number(m["max"], f"{key}.max", 0.0, 1.0)
        if not lo < hi:
            raise r.fail(key, f"min {lo:g} must be below max {hi:g}")
        bands.append((Band(lo, hi, r.action(m["action"], f"{key}.action")), key))
    bands.sort(key=lambda b: b[0].lo)
    if bands[0][0].lo != 0.0:
        raise r.fail(
            bands[0][1], f"the lowest band starts at {bands[0][0].lo:g}; risks below it have no action"
        )
    if bands[-1][0].hi != 1.0:
        raise r.fail(
            bands[-1][1], f"the highest band ends at {bands[-1][0].hi:g}; risks above it have no action"
        )
    for (a, ka), (b, kb) in itertools.pairwise(bands):
        if b.lo < a.hi:
            raise r.fail(kb, f"overlaps {ka}: [{b.lo:g}, {b.hi:g}) and [{a.lo:g}, {a.hi:g}) share risks")
        if b.lo > a.hi:
            raise r.fail(kb, f"gap after {ka}: risks in [{a.hi:g}, {b.lo:g}) have no action")
    return tuple(b for b, _ in bands)


def _read_actions(r: _Reader, raw: Mapping[str, Any]) -> dict[Action, ActionSpec]:
    specs: dict[Action, ActionSpec] = {a: ActionSpec() for a in ACTIONS}
    for name, body in raw.items():
        key = f"actions.{name}"
        action = r.action(name, key)
        m = r.mapping(body, key)
        r.only(m, set() if action == "allow" else _ACTION_KEYS, key)
        cap = m.get("max_tokens_cap")
        choices = m.get("max_choices")
        message = m.get("message")
        if message is not None and not isinstance(message, str):
            raise r.fail(f"{key}.message", f"expected text, got {message!r}")
        retry = m.get("retry_after")
        specs[action] = ActionSpec(
            throttle_factor=r.number(m.get("throttle_factor", 1.0), f"{key}.throttle_factor", 0.0, 1.0),
            max_tokens_cap=None if cap is None else int(r.number(cap, f"{key}.max_tokens_cap", 1, 10**9)),
            max_choices=None if choices is None else int(r.number(choices, f"{key}.max_choices", 1, 128)),
            strip_reasoning=r.boolean(m.get("strip_reasoning", False), f"{key}.strip_reasoning"),
            strip_logprobs=r.boolean(m.get("strip_logprobs", False), f"{key}.strip_logprobs"),
            retry_after=None if retry is None else r.number(retry, f"{key}.retry_after", 0.0, 10**7),
            message=message.strip() if message else None,
        )
    return specs
