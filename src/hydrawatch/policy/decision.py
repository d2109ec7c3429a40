"""What the policy reads (a verdict on an account) and what it answers (a graded decision)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal, get_args

Action = Literal["allow", "throttle", "verify", "degrade", "block"]
ACTIONS: tuple[Action, ...] = get_args(Action)
SEVERITY: dict[Action, int] = {a: i for i, a in enumerate(ACTIONS)}  # allow < throttle < ... < block


@dataclass(frozen=True, slots=True)
class Verdict:
    """The latest analysis of an account: risk in [0, 1], its campaign if attributed, why."""

    risk: float
    campaign_id: str | None = None
    reasons: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class AccountInfo:
    account_id: str
    tier: str = "standard"
    verified: bool = False


@dataclass(frozen=True, slots=True)
class Decision:
    """The action for one request and everything the gateway needs to carry it out.

    ``band_action`` is what the risk band alone chose, before account overrides (so an
    allowlisted account that would have been blocked is still audited); ``message`` is the
    text the client sees for verify / block."""

    action: Action
    reasons: tuple[str, ...]
    risk: float
    campaign_id: str | None
    max_tokens_cap: int | None = None
    strip_reasoning: bool = False
    strip_logprobs: bool = False
    throttle_factor: float = 1.0
    retry_after: float | None = None
    band_action: Action | None = None
    message: str | None = None
    max_choices: int | None = None  # cap on OpenAI ``n`` (samples per request)
    shadow_action: Action | None = None  # in shadow mode: the action that was not enforced

    @property
    def auditable(self) -> bool:
        """True for every action above allow, for overrides that lowered one, and for
        actions shadow mode did not enforce."""
        return (
            self.action != "allow"
            or (self.band_action is not None and self.band_action != "allow")
            or (self.shadow_action is not None and self.shadow_action != "allow")
        )

    @property
    def degrades(self) -> bool:
        """True when requests or responses must be rewritten."""
        return (
            self.max_tokens_cap is not None
            or self.max_choices is not None
            or self.strip_reasoning
            or self.strip_logprobs
        )


def more_severe(a: Action, b: Action) -> Action:
    return a if SEVERITY[a] >= SEVERITY[b] else b


def less_severe(a: Action, b: Action) -> Action:
    return a if SEVERITY[a] <= SEVERITY[b] else b
