"""Admin API: keys, accounts, verdicts, quota budgets.

Authenticated by ``admin_token`` (config or ``HYDRAWATCH_ADMIN_TOKEN``) sent as
``Authorization: Bearer TOKEN``. Disabled (403) when no admin token is configured.

    POST   /admin/keys                  {"account_id", "name"?}  -> 201 {"key", ...record}
    GET    /admin/keys[?account_id=A]                            -> {"keys": [...]}
    DELETE /admin/keys/{key_id}                                  -> {"revoked": bool}
    GET    /admin/accounts                                       -> {"accounts": [...]}
    GET    /admin/accounts/{id}                                  -> account + verdict + remaining
    POST   /admin/accounts/{id}         {"tier"?, "verified"?, "payment_fingerprint"?} -> account
    PUT    /admin/verdicts/{id}         {"risk", "campaign_id"?, "reasons"?} -> verdict
"""

from __future__ import annotations

import math
from typing import Any

import orjson
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from hydrawatch.gateway.errors import GatewayError, error_response
from hydrawatch.gateway.keystore import KeyStoreError, valid_payment_fingerprint
from hydrawatch.gateway.service_auth import bearer, require_token
from hydrawatch.gateway.state import GatewayState
from hydrawatch.policy import Verdict


def _json(obj: Any, status: int = 200) -> Response:
    return Response(orjson.dumps(obj), status_code=status, media_type="application/json")


async def _body(request: Request, limit: int = 1 << 20) -> dict[str, Any]:
    raw = await request.body()
    if len(raw) > limit:
        raise GatewayError(413, "Request body too large.", code="request_too_large")
    if not raw.strip():
        return {}
    try:
        obj = orjson.loads(raw)
    except orjson.JSONDecodeError as e:
        raise GatewayError(400, f"Invalid JSON: {e}", code="invalid_json") from None
    if not isinstance(obj, dict):
        raise GatewayError(400, "Body must be a JSON object.", code="invalid_json")
    return obj


def _gw(request: Request) -> GatewayState:
    gw: GatewayState = request.app.state.gw
    require_token(bearer(request.headers), (gw.config.admin_token,), "admin")
    return gw


def _str(body: dict[str, Any], key: str, required: bool = True) -> str | None:
    v = body.get(key)
    if v is None and not required:
        return None
    if not isinstance(v, str) or not v:
        raise GatewayError(400, f"'{key}' must be a non-empty string.", param=key)
    return v


async def _handle(request: Request) -> Response:
    try:
        gw = _gw(request)
        return await _dispatch(gw, request)
    except GatewayError as e:
        return error_response(e, "openai")
    except KeyStoreError as e:
        return error_response(GatewayError(400, str(e)), "openai")


async def _dispatch(gw: GatewayState, request: Request) -> Response:
    m = request.method
    kind = request.path_params.get("kind")
    ident = request.path_params.get("ident")
    if kind == "keys":
        if ident is None and m == "POST":
            body = await _body(request)
            account_id = _str(body, "account_id")
            assert account_id is not None
            key, rec = await gw.keys.create_key(account_id, _str(body, "name", False) or "")
            return _json({"key": key, **rec.to_json()}, 201)
        if ident is None and m == "GET":
            recs = await gw.keys.list_keys(request.query_params.get("account_id"))
            return _json({"keys": [r.to_json() for r in recs]})
        if ident is not None and m == "DELETE":
            revoked = await gw.keys.revoke(ident)
            gw.auth.forget()
            return _json({"key_id": ident, "revoked": revoked}, 200 if revoked else 404)
    elif kind == "accounts":
        if ident is None and m == "GET":
            return _json({"accounts": [a.to_json() for a in await gw.keys.list_accounts()]})
        if ident is not None and m == "GET":
            acc = await gw.keys.get_account(ident)
            v = await gw.verdicts.get(ident)
            remaining = await gw.quota.remaining(ident, v.campaign_id, tier=acc.tier)
            return _json(
                {
                    **acc.to_json(),
                    "verdict": {"risk": v.risk, "campaign_id": v.campaign_id, "reasons": list(v.reasons)},
                    "remaining": remaining,
                }
            )
        if ident is not None and m in ("POST", "PATCH", "PUT"):
            body = await _body(request)
            tier = _str(body, "tier", False)
            verified = body.get("verified")
            if verified is not None and not isinstance(verified, bool):
                raise GatewayError(400, "'verified' must be true or false.", param="verified")
            payment = _str(body, "payment_fingerprint", False)
            try:
                valid_payment_fingerprint(payment)
            except KeyStoreError as e:
                raise GatewayError(400, str(e), param="payment_fingerprint") from None
            acc = await gw.keys.set_account(ident, tier=tier, verified=verified, payment_fingerprint=payment)
            gw.auth.forget()
            return _json(acc.to_json())
    elif kind == "verdicts" and ident is not None:
        if m == "GET":
            v = await gw.verdicts.get(ident)
            return _json(
                {
                    "account_id": ident,
                    "risk": v.risk,
                    "campaign_id": v.campaign_id,
                    "reasons": list(v.reasons),
                }
            )
        if m in ("PUT", "POST"):
            body = await _body(request)
            risk = body.get("risk")
            if isinstance(risk, bool) or not isinstance(risk, int | float) or not math.isfinite(risk):
                raise GatewayError(400, "'risk' must be a number in [0, 1].", param="risk")
            if not 0.0 <= float(risk) <= 1.0:
                raise GatewayError(400, "'risk' must be a number in [0, 1].", param="risk")
            reasons = body.get("reasons", [])
            if not isinstance(reasons, list) or not all(isinstance(r, str) for r in reasons):
                raise GatewayError(400, "'reasons' must be a list of strings.", param="reasons")
            v = Verdict(float(risk), _str(body, "campaign_id", False), tuple(reasons))
            await gw.verdicts.put(ident, v)
            return _json(
                {"account_id": ident, "risk": v.risk, "campaign_id": v.campaign_id, "reasons": reasons}
            )
    raise GatewayError(
        404 if kind not in ("keys", "accounts", "verdicts") else 405, "No such admin endpoint."
    )


ROUTES = [
    Route("/admin/{kind}", _handle, methods=["GET", "POST"]),
    Route("/admin/{kind}/{ident}", _handle, methods=["GET", "POST", "PUT", "PATCH", "DELETE"]),
]
