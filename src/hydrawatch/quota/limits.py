"""Quota limits: what the ``quotas:`` config section says, with sane defaults.

A limit is (scope, metric, window, value): e.g. account ``output-tokens`` per ``minute``
<= 20000. Account limits come from the account's tier; campaign limits apply to every
account attributed to a campaign, all of them drawing from one shared budget.

Windows are aligned to the epoch (UTC minutes and UTC days), one counter per window.
``window: fixed`` (the default) checks the current window's counter alone: exact, but up
to twice a limit can pass around a boundary. ``window: sliding`` also counts the previous
window's counter, weighted by how much of it still overlaps the last window-length of time
(the "sliding window counter" approximation, which assumes the previous window's traffic
was spread evenly); it removes the boundary burst.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Literal, cast

from hydrawatch.quota.usage import Metric

Scope = Literal["account", "campaign"]
Window = Literal["minute", "day"]
OnStateError = Literal["open", "closed"]
WindowMode = Literal["fixed", "sliding"]

METRICS: tuple[Metric, ...] = ("tokens", "input-tokens", "output-tokens", "requests")
WINDOWS: dict[Window, int] = {"minute": 60, "day": 86_400}
LIMIT_NAMES: tuple[str, ...] = tuple(f"{m}-{w}" for m in METRICS for w in WINDOWS)


class QuotaConfigError(ValueError):
    """A bad ``quotas:`` section; the message names the key (``quotas.tiers.free.tokens-day: ...``)."""


@dataclass(frozen=True, slots=True)
class Limit:
    scope: Scope
    metric: Metric
    window: Window
    value: int

    @property
    def name(self) -> str:
        """Key in ``remaining`` dicts and headers: ``tokens-minute``, ``campaign-tokens-day``."""
        base = f"{self.metric}-{self.window}"
        return base if self.scope == "account" else f"campaign-{base}"

    @property
    def description(self) -> str:
        """Human text, e.g. ``account output-tokens per minute``."""
        return f"{self.scope} {self.metric} per {self.window}"

    @property
    def seconds(self) -> int:
        return WINDOWS[self.window]


DEFAULT_TIERS: dict[str, dict[str, int]] = {
    "free": {"tokens-minute": 40_000, "tokens-day": 1_000_000, "requests-minute": 60, "requests-day": 5_000},
    "standard": {
        "tokens-minute": 200_000,
        "tokens-day": 10_000_000,
        "requests-minute": 300,
        "requests-day": 50_000,
    },
    "enterprise": {
        "tokens-minute": 2_000_000,
        "tokens-day": 200_000_000,
        "requests-minute": 3_000,
        "requests-day": 1_000_000,
    },
}
# input tokens are reserved x (1 + margin) while in flight: estimates from text are rough
DEFAULT_INPUT_MARGIN = 0.2
DEFAULT_CAMPAIGN: dict[str, int] = {"tokens-minute": 100_000, "tokens-day": 2_000_000, "requests-minute": 200}


@dataclass(frozen=True, slots=True)
class QuotaLimits:
    """All limits plus the store's behaviour settings."""

    tiers: Mapping[str, tuple[Limit, ...]]
    campaign: tuple[Limit, ...] = ()
    default_tier: str = "standard"
    on_state_error: OnStateError = "open"
    key_prefix: str = "hydrawatch:quota:"
    timeout: float = 0.5  # seconds per Redis call before the on_state_error rule applies
    breaker_seconds: float = 0.5  # after a Redis failure, skip Redis this long
    max_connections: int = 64  # Redis connections per process (callers queue for one)
    window: WindowMode = "fixed"
    input_margin: float = DEFAULT_INPUT_MARGIN  # input reserved x (1 + margin) in flight; settle is exact

    def account_limits(self, tier: str | None) -> tuple[Limit, ...]:
        """Limits of ``tier``; an unknown or missing tier gets the default tier's limits."""
        if tier is not None and tier in self.tiers:
            return self.tiers[tier]
        return self.tiers.get(self.default_tier, ())


def _parse_limits(section: Any, scope: Scope, where: str) -> tuple[Limit, ...]:
    if section is None:
        return ()
    if not isinstance(section, Mapping):
        raise QuotaConfigError(
            f"{where}: expected a mapping of limit name to number, got {type(section).__name__}"
        )
    out: list[Limit] = []
    for key, raw in section.items():
        if key not in LIMIT_NAMES:
            raise QuotaConfigError(f"{where}.{key}: unknown limit (expected one of {', '.join(LIMIT_NAMES)})")
        if raw is None:  # explicitly unlimited
            continue
        if isinstance(raw, bool) or not isinstance(raw, int | float) or not math.isfinite(raw) or raw < 0:
            raise QuotaConfigError(f"{where}.{key}: expected a non-negative number or null, got {raw!r}")
        metric, _, window = str(key).rpartition("-")
        out.append(Limit(scope, cast(Metric, metric), cast(Window, window), int(raw)))
    return tuple(out)


def _number(cfg: Mapping[str, Any], key: str, default: float) -> float:
    raw = cfg.get(key, default)
    if isinstance(raw, bool) or not isinstance(raw, int | float) or not math.isfinite(raw) or raw < 0:
        raise QuotaConfigError(f"quotas.{key}: expected a non-negative number, got {raw!r}")
    return float(raw)


_KNOWN_KEYS = {
    "tiers",
    "campaign",
    "default_tier",
    "on_state_error",
    "key_prefix",
    "timeout_ms",
    "breaker_ms",
    "max_connections",
    "input_estimate_margin",
    "window",
}


def load_limits(cfg: Mapping[str, Any] | None) -> QuotaLimits:
    """Limits from the YAML config's ``quotas:`` section (or the whole config holding it).

    Missing keys take defaults: tiers free/standard/enterprise, campaign limits, fail-open.
    A tier given in the config replaces that default tier entirely."""
    if cfg is None:
        cfg = {}
    if not isinstance(cfg, Mapping):
        raise QuotaConfigError(f"quotas: expected a mapping, got {type(cfg).__name__}")
    if "quotas" in cfg:
        cfg = cfg["quotas"] or {}
        if not isinstance(cfg, Mapping):
            raise QuotaConfigError(f"quotas: expected a mapping, got {type(cfg).__name__}")
    unknown = sorted(str(k) for k in cfg if k not in _KNOWN_KEYS)
    if unknown:
        raise QuotaConfigError(
            f"quotas.{unknown[0]}: unknown key (expected one of {', '.join(sorted(_KNOWN_KEYS))})"
        )

    tiers_cfg: dict[str, Any] = dict(DEFAULT_TIERS)
    raw_tiers = cfg.get("tiers")
    if raw_tiers is not None:
        if not isinstance(raw_tiers, Mapping):
            raise QuotaConfigError("quotas.tiers: expected a mapping of tier name to limits")
        tiers_cfg.update({str(k): v for k, v in raw_tiers.items()})
    tiers = {name: _parse_limits(sec, "account", f"quotas.tiers.{name}") for name, sec in tiers_cfg.items()}

    campaign = _parse_limits(cfg.get("campaign", DEFAULT_CAMPAIGN), "campaign", "quotas.campaign")

    default_tier = cfg.get("default_tier", "standard")
    if not isinstance(default_tier, str) or default_tier not in tiers:
        raise QuotaConfigError(
            f"quotas.default_tier: {default_tier!r} is not a configured tier ({', '.join(tiers)})"
        )
    on_err = cfg.get("on_state_error", "open")
    if on_err not in ("open", "closed"):
        raise QuotaConfigError(f"quotas.on_state_error: expected 'open' or 'closed', got {on_err!r}")
    window = cfg.get("window", "fixed")
    if window not in ("fixed", "sliding"):
        raise QuotaConfigError(f"quotas.window: expected 'fixed' or 'sliding', got {window!r}")
    prefix = cfg.get("key_prefix", "hydrawatch:quota:")
    if not isinstance(prefix, str):
        raise QuotaConfigError(f"quotas.key_prefix: expected a string, got {prefix!r}")
    return QuotaLimits(
        tiers=tiers,
        campaign=campaign,
        default_tier=default_tier,
        on_state_error=cast(OnStateError, on_err),
        key_prefix=prefix,
        timeout=_number(cfg, "timeout_ms", 500) / 1000.0,
        breaker_seconds=_number(cfg, "breaker_ms", 500) / 1000.0,
        max_connections=max(1, int(_number(cfg, "max_connections", 64))),
        input_margin=_number(cfg, "input_estimate_margin", DEFAULT_INPUT_MARGIN),
        window=cast(WindowMode, window),
    )
