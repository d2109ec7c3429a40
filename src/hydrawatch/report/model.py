"""Report contract: accounts with risk and reasons, campaigns with evidence.

``first_flagged_ts`` (per account) is an optional extension: detectors that can
replay traffic in time order set it so the benchmark can measure time-to-detect.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import orjson


class ReportError(ValueError):
    """A report file that does not follow the contract."""


@dataclass(slots=True)
class AccountVerdict:
    account_id: str
    risk: float
    flagged: bool
    campaign_id: str | None = None
    reasons: list[str] = field(default_factory=list)
    first_flagged_ts: float | None = None

    def to_json(self) -> dict[str, Any]:
        d: dict[str, Any] = {
            "account_id": self.account_id,
            "risk": round(float(self.risk), 6),
            "flagged": bool(self.flagged),
            "campaign_id": self.campaign_id,
            "reasons": list(self.reasons),
        }
        if self.first_flagged_ts is not None:
            d["first_flagged_ts"] = self.first_flagged_ts
        return d


@dataclass(slots=True)
class Campaign:
    campaign_id: str
    accounts: list[str]
    exchanges: int
    output_tokens: int
    first_seen: str | None
    last_seen: str | None
    risk: float
    evidence: list[str] = field(default_factory=list)

    def to_json(self) -> dict[str, Any]:
        return {
            "campaign_id": self.campaign_id,
            "accounts": list(self.accounts),
            "exchanges": int(self.exchanges),
            "output_tokens": int(self.output_tokens),
            "first_seen": self.first_seen,
            "last_seen": self.last_seen,
            "risk": round(float(self.risk), 6),
            "evidence": list(self.evidence),
        }


@dataclass(slots=True)
class Report:
    accounts: list[AccountVerdict]
    campaigns: list[Campaign] = field(default_factory=list)
    meta: dict[str, Any] = field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        d: dict[str, Any] = {
            "accounts": [a.to_json() for a in self.accounts],
            "campaigns": [c.to_json() for c in self.campaigns],
        }
        if self.meta:
            d["meta"] = self.meta
        return d

    def write(self, path: str | Path) -> None:
        Path(path).write_bytes(orjson.dumps(self.to_json(), option=orjson.OPT_INDENT_2))

    @classmethod
    def from_json(cls, data: Any) -> Report:
        """Parse and validate a report; raises ``ReportError`` naming the first problem."""
        if not isinstance(data, dict) or not isinstance(data.get("accounts"), list):
            raise ReportError("report must be an object with an 'accounts' list")
        accounts: list[AccountVerdict] = []
        seen: set[str] = set()
        for i, a in enumerate(data["accounts"]):
            where = f"accounts[{i}]"
            if not isinstance(a, dict):
                raise ReportError(f"{where}: not an object")
            aid = a.get("account_id")
            if not isinstance(aid, str) or not aid:
                raise ReportError(f"{where}: account_id must be a non-empty string")
            if aid in seen:
                raise ReportError(f"{where}: duplicate account_id {aid!r}")
            seen.add(aid)
            risk = a.get("risk")
            if (
                isinstance(risk, bool)
                or not isinstance(risk, (int, float))
                or math.isnan(risk)
                or not 0 <= risk <= 1
            ):
                raise ReportError(f"{where}: risk must be a number in [0, 1]")
            if not isinstance(a.get("flagged"), bool):
                raise ReportError(f"{where}: flagged must be a boolean")
            cid = a.get("campaign_id")
            if cid is not None and not isinstance(cid, str):
                raise ReportError(f"{where}: campaign_id must be a string or null")
            reasons = a.get("reasons", [])
            if not isinstance(reasons, list) or not all(isinstance(r, str) for r in reasons):
                raise ReportError(f"{where}: reasons must be a list of strings")
            fft = a.get("first_flagged_ts")
            if fft is not None and (isinstance(fft, bool) or not isinstance(fft, (int, float))):
                raise ReportError(f"{where}: first_flagged_ts must be a number or null")
            accounts.append(AccountVerdict(aid, float(risk), a["flagged"], cid, list(reasons), fft))
        campaigns: list[Campaign] = []
        raw_campaigns = data.get("campaigns", [])
        if not isinstance(raw_campaigns, list):
            raise ReportError("'campaigns' must be a list")
        for i, c in enumerate(raw_campaigns):
            where = f"campaigns[{i}]"
            if not isinstance(c, dict) or not isinstance(c.get("campaign_id"), str):
                raise ReportError(f"{where}: must be an object with a string campaign_id")
            accs = c.get("accounts", [])
            if not isinstance(accs, list) or not all(isinstance(x, str) for x in accs):
                raise ReportError(f"{where}: accounts must be a list of strings")
            ev = c.get("evidence", [])
            if not isinstance(ev, list) or not all(isinstance(x, str) for x in ev):
                raise ReportError(f"{where}: evidence must be a list of strings")
            try:
                campaigns.append(
                    Campaign(
                        c["campaign_id"],
                        list(accs),
                        int(c.get("exchanges", 0)),
                        int(c.get("output_tokens", 0)),
                        c.get("first_seen"),
                        c.get("last_seen"),
                        float(c.get("risk", 0.0)),
                        list(ev),
                    )
                )
            except (TypeError, ValueError) as e:
                raise ReportError(f"{where}: {e}") from e
        meta = data.get("meta", {})
        return cls(accounts, campaigns, meta if isinstance(meta, dict) else {})

    @classmethod
    def read(cls, path: str | Path) -> Report:
        try:
            data = orjson.loads(Path(path).read_bytes())
        except orjson.JSONDecodeError as e:
            raise ReportError(f"{path}: not valid JSON: {e}") from e
        return cls.from_json(data)
