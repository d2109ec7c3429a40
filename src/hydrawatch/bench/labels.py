"""Ground truth of a simulated run: ``labels.csv`` with ``account_id,campaign_id,population``."""

from __future__ import annotations

import csv
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

REQUIRED_COLUMNS = ("account_id", "campaign_id", "population")


class LabelsError(ValueError):
    """A labels file that cannot be used as ground truth."""


@dataclass(frozen=True, slots=True)
class Label:
    campaign_id: str | None  # None for a legitimate account
    population: str


@dataclass(slots=True)
class Labels:
    """Ground truth per account: its campaign (None when legitimate) and its population."""

    by_account: dict[str, Label]

    @property
    def campaign_accounts(self) -> list[str]:
        return [a for a, lab in self.by_account.items() if lab.campaign_id is not None]

    @property
    def legit_accounts(self) -> list[str]:
        return [a for a, lab in self.by_account.items() if lab.campaign_id is None]

    def restricted_to(self, accounts: Iterable[str]) -> Labels:
        """Only the labelled accounts among ``accounts`` (e.g. those with traffic)."""
        keep = set(accounts)
        return Labels({a: lab for a, lab in self.by_account.items() if a in keep})

    @classmethod
    def from_rows(cls, rows: Iterable[tuple[str, str | None, str]]) -> Labels:
        out: dict[str, Label] = {}
        for account_id, campaign_id, population in rows:
            if not account_id:
                raise LabelsError("empty account_id")
            if account_id in out:
                raise LabelsError(f"duplicate account_id {account_id!r}")
            out[account_id] = Label(campaign_id or None, population)
        return cls(out)


def read_labels(path: str | Path) -> Labels:
    """Read ``labels.csv``; an empty ``campaign_id`` means a legitimate account."""
    p = Path(path)
    try:
        with p.open(newline="", encoding="utf-8") as f:
            reader = csv.DictReader(f)
            missing = [c for c in REQUIRED_COLUMNS if c not in (reader.fieldnames or [])]
            if missing:
                raise LabelsError(f"{p}: missing column(s) {', '.join(missing)}")
            rows: list[tuple[str, str | None, str]] = []
            for i, r in enumerate(reader, start=2):
                aid = (r.get("account_id") or "").strip()
                if not aid:
                    raise LabelsError(f"{p}:{i}: empty account_id")
                rows.append(
                    (aid, (r.get("campaign_id") or "").strip() or None, (r.get("population") or "").strip())
                )
    except (OSError, UnicodeDecodeError, csv.Error) as e:
        raise LabelsError(f"{p}: {e}") from e
    try:
        return Labels.from_rows(rows)
    except LabelsError as e:
        raise LabelsError(f"{p}: {e}") from e
