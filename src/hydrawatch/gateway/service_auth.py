"""Tokens for the operator-facing APIs (admin, decision), compared in constant time."""

from __future__ import annotations

import hmac
from collections.abc import Mapping

from hydrawatch.gateway.errors import GatewayError


def bearer(headers: Mapping[str, str]) -> str | None:
    auth = headers.get("authorization", "")
    scheme, _, value = auth.strip().partition(" ")
    return value.strip() if scheme.lower() == "bearer" and value.strip() else None


def token_matches(given: str | None, expected: str | None) -> bool:
    if not given or not expected:
        return False
    return hmac.compare_digest(given.encode("utf-8", "surrogateescape"), expected.encode())


def require_token(given: str | None, accepted: tuple[str | None, ...], what: str) -> None:
    """401 without a token, 403 with a wrong one; 403 when no token is configured at all."""
    configured = [t for t in accepted if t]
    if not configured:
        raise GatewayError(403, f"The {what} API is disabled: no token is configured.", code="api_disabled")
    if not given:
        raise GatewayError(401, f"The {what} API needs a token.", code="missing_token")
    # compare against every configured token so timing does not reveal which one matched
    ok = False
    for t in configured:
        ok |= token_matches(given, t)
    if not ok:
        raise GatewayError(403, f"Wrong {what} token.", code="invalid_token")
