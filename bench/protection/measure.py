"""The protection figures of one replay, from what the clients got and the audit log.

Inputs, per replayed exchange (in time order): account, recorded status (what the real
upstream answered when the scenario was generated), recorded output tokens, and what the
client got through the gateway (status, output tokens the upstream produced for it). Per
account: the first time an action at or above throttle was applied to it (audit log), and
whether it ever saw an action above throttle (verify, degrade, block). The labels
(``labels.csv``: campaign_id, population) are read here only, never by the gateway.

Per campaign:
- ``unprotected``: the exchanges (and output tokens) it would have got with no gateway in
  the way: its exchanges that the upstream answered with 200 when recorded;
- ``before_action``: what its accounts got before each account's first throttle or
  stronger action, as a fraction of ``unprotected`` (the tracker's bar: < 5%);
- ``served``: everything it got over the whole replay (throttled accounts still get some
  answers, degraded ones shorter ones), as a fraction of ``unprotected``.

Legitimate accounts: the share that saw any action above throttle (bar: <= 0.2%), the share
that saw a throttle, and requests refused, per population.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

ABOVE_THROTTLE = frozenset({"verify", "degrade", "block"})
ACTIONS = frozenset({"throttle", *ABOVE_THROTTLE})


@dataclass(frozen=True, slots=True)
class Outcome:
    account_id: str
    ts: float
    recorded_status: int
    recorded_output: int
    status: int  # what the client got through the gateway (-1: no answer)
    output: int  # output tokens the upstream produced for it (0 unless served)


@dataclass(frozen=True, slots=True)
class Label:
    campaign_id: str | None
    population: str


def first_actions(audit: Iterable[Mapping[str, Any]]) -> tuple[dict[str, float], set[str]]:
    """Per account, the ts of its first action at or above throttle; and the accounts that
    saw an action above throttle."""
    first: dict[str, float] = {}
    above: set[str] = set()
    for rec in audit:
        action = rec.get("action")
        account = rec.get("account_id")
        ts = rec.get("ts")
        if not isinstance(account, str) or action not in ACTIONS or not isinstance(ts, int | float):
            continue
        if account not in first or ts < first[account]:
            first[account] = float(ts)
        if action in ABOVE_THROTTLE:
            above.add(account)
    return first, above


def _quantiles(xs: list[float] | list[int]) -> dict[str, float] | None:
    """min, median, p90, max of a sorted list (nearest rank); None when empty."""
    if not xs:
        return None
    n = len(xs)
    return {"min": xs[0], "p50": xs[(n - 1) // 2], "p90": xs[min(n - 1, (9 * n) // 10)], "max": xs[-1]}


def _frac(a: float, b: float) -> float | None:
    return a / b if b else None


def measure(
    outcomes: Iterable[Outcome],
    labels: Mapping[str, Label],
    first_action: Mapping[str, float],
    above: set[str],
) -> dict[str, Any]:
    camp: dict[str, dict[str, float]] = defaultdict(lambda: defaultdict(float))
    pop: dict[str, dict[str, float]] = defaultdict(lambda: defaultdict(float))
    accounts_of: dict[str, set[str]] = defaultdict(set)
    first_seen: dict[str, float] = {}
    before_n: dict[str, int] = defaultdict(
        int
    )  # campaign account -> exchanges served before its first action
    for o in outcomes:
        first_seen.setdefault(o.account_id, o.ts)
        lab = labels.get(o.account_id)
        if lab is None:
            continue
        served = o.status == 200
        if lab.campaign_id:
            c = camp[lab.campaign_id]
            accounts_of["c:" + lab.campaign_id].add(o.account_id)
            c["exchanges"] += 1
            if o.recorded_status == 200:
                c["unprotected_exchanges"] += 1
                c["unprotected_tokens"] += o.recorded_output
            if served:
                c["served_exchanges"] += 1
                c["served_tokens"] += o.output
                fa = first_action.get(o.account_id)
                if fa is None or o.ts < fa:
                    before_n[o.account_id] += 1
                    c["before_action_exchanges"] += 1
                    c["before_action_tokens"] += o.output
        else:
            p = pop[lab.population]
            accounts_of["p:" + lab.population].add(o.account_id)
            p["exchanges"] += 1
            p["served"] += served
            # refused by the gateway (the recorded upstream answered it): verify / block, quota
            gw = o.recorded_status == 200
            p["refused_403"] += gw and o.status == 403
            p["refused_429"] += gw and o.status == 429
    campaigns: dict[str, Any] = {}
    for cid, c in sorted(camp.items()):
        accs = accounts_of["c:" + cid]
        per_acc = sorted(before_n.get(a, 0) for a in accs)
        delays = sorted((first_action[a] - first_seen[a]) / 3600.0 for a in accs if a in first_action)
        campaigns[cid] = {
            "accounts": len(accs),
            "served_before_action_per_account": _quantiles(per_acc),
            "hours_first_exchange_to_action": _quantiles(delays),
            "accounts_actioned": sum(1 for a in accs if a in first_action),
            "accounts_above_throttle": sum(1 for a in accs if a in above),
            **{k: int(v) for k, v in c.items()},
            "before_action_exchange_share": _frac(c["before_action_exchanges"], c["unprotected_exchanges"]),
            "before_action_token_share": _frac(c["before_action_tokens"], c["unprotected_tokens"]),
            "served_exchange_share": _frac(c["served_exchanges"], c["unprotected_exchanges"]),
            "served_token_share": _frac(c["served_tokens"], c["unprotected_tokens"]),
        }
    populations: dict[str, Any] = {}
    legit_accounts = 0
    legit_above = 0
    legit_throttled = 0
    for name, p in sorted(pop.items()):
        accs = accounts_of["p:" + name]
        n_above = sum(1 for a in accs if a in above)
        n_any = sum(1 for a in accs if a in first_action)
        legit_accounts += len(accs)
        legit_above += n_above
        legit_throttled += n_any
        populations[name] = {
            "accounts": len(accs),
            "accounts_above_throttle": n_above,
            "accounts_any_action": n_any,
            **{k: int(v) for k, v in p.items()},
        }
    all_c = {k: sum(c[k] for c in camp.values()) for k in ("unprotected_exchanges", "unprotected_tokens")}
    for k in ("before_action_exchanges", "before_action_tokens", "served_exchanges", "served_tokens"):
        all_c[k] = sum(c[k] for c in camp.values())
    return {
        "campaigns": campaigns,
        "all_campaigns": {
            **{k: int(v) for k, v in all_c.items()},
            "before_action_exchange_share": _frac(
                all_c["before_action_exchanges"], all_c["unprotected_exchanges"]
            ),
            "served_exchange_share": _frac(all_c["served_exchanges"], all_c["unprotected_exchanges"]),
            "before_action_token_share": _frac(all_c["before_action_tokens"], all_c["unprotected_tokens"]),
            "served_token_share": _frac(all_c["served_tokens"], all_c["unprotected_tokens"]),
        },
        "legitimate": {
            "accounts": legit_accounts,
            "accounts_above_throttle": legit_above,
            "share_above_throttle": _frac(legit_above, legit_accounts),
            "accounts_any_action": legit_throttled,
            "share_any_action": _frac(legit_throttled, legit_accounts),
            "populations": populations,
        },
    }
