"""Admission: verdict -> policy decision -> quota reservation, for one request.

The proxy and the decision API (``/v1/decide``) share this step, so a request gets the
same answer whether hydrawatch proxies it or an existing gateway asks.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any

from hydrawatch.gateway.errors import GatewayError
from hydrawatch.gateway.keystore import AccountRecord
from hydrawatch.gateway.state import GatewayState
from hydrawatch.policy import AccountInfo, Decision
from hydrawatch.quota import Denied, Reservation, Usage, quota_headers


@dataclass(slots=True)
class Admission:
    account: AccountRecord
    decision: Decision
    estimate: Usage
    reservation: Reservation | None = None
    refusal: GatewayError | None = None

    @property
    def headers(self) -> dict[str, str]:
        return quota_headers(self.reservation) if self.reservation is not None else {}


def account_row_fields(row: dict[str, Any], account: AccountRecord | None) -> dict[str, Any]:
    """Add what the account record knows to an exchange's event row, in place: ``payment_fp``
    (the account's payment fingerprint, which the scorer links accounts by) when it has one.
    Not an ``EVENT_COLUMNS`` column: the scorer reads it, the DuckDB event table ignores it."""
    if account is not None and account.payment_fingerprint:
        row["payment_fp"] = account.payment_fingerprint
    return row


def _retry_after(seconds: float | None) -> dict[str, str]:
    if seconds is None or seconds != seconds or seconds <= 0:
        return {}
    return {"retry-after": str(max(1, int(seconds + 0.999)))}


async def admit(
    gw: GatewayState,
    account: AccountRecord,
    *,
    input_tokens: int,
    max_tokens: int,
    request_id: str,
    now: float | None = None,
    choices: int = 1,
) -> Admission:
    """Decide and reserve. A refusal (403 verify/block, 429 quota) is returned, not raised.

    The output estimate is the (capped) ``max_tokens`` times ``choices`` (OpenAI ``n``,
    itself capped by a degrade decision's ``max_choices``): each choice may use the cap."""
    ts = time.time() if now is None else now
    verdict = await gw.verdicts.get(account.account_id)
    decision = gw.policy.decide(
        AccountInfo(account.account_id, account.tier, account.verified),
        verdict,
        scoring_down=gw.scoring_down(),
    )
    gw.metrics.inc("hydrawatch_decisions_total", (("action", decision.action),))
    if decision.auditable:
        gw.spawn(
            gw.audit.record(ts=ts, account_id=account.account_id, decision=decision, request_id=request_id)
        )
    out_tokens = max(0, max_tokens)
    if decision.max_tokens_cap is not None:
        out_tokens = min(out_tokens, decision.max_tokens_cap)
    n = max(1, choices)
    if decision.max_choices is not None:
        n = max(1, min(n, decision.max_choices))
    out_tokens *= n
    estimate = Usage(input_tokens=max(0, input_tokens), output_tokens=out_tokens, requests=1)
    adm = Admission(account=account, decision=decision, estimate=estimate)
    reasons = "; ".join(decision.reasons)
    if decision.action == "block":
        adm.refusal = GatewayError(
            403,
            decision.message or f"Access to this API is suspended for this account. Reasons: {reasons}",
            code="account_blocked",
            headers=_retry_after(decision.retry_after),
        )
        return adm
    if decision.action == "verify":
        adm.refusal = GatewayError(
            403,
            decision.message
            or "Additional verification is required for this account before further requests. "
            f"Reasons: {reasons}",
            code="verification_required",
            headers=_retry_after(decision.retry_after),
        )
        return adm
    res = await gw.quota.reserve(
        account.account_id,
        decision.campaign_id,
        estimate,
        ts,
        tier=account.tier,
        factor=decision.throttle_factor,
    )
    if isinstance(res, Denied):
        gw.metrics.inc("hydrawatch_quota_denied_total", (("limit", res.limit),))
        hdrs = quota_headers(res)
        adm.refusal = GatewayError(
            429,
            f"Rate limit reached ({res.limit}). Retry after {hdrs.get('retry-after', '1')} s.",
            code="rate_limit_exceeded",
            headers=hdrs,
        )
        return adm
    adm.reservation = res
    return adm
