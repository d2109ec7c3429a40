"""Counts of what an ingest run read, and where its bad records are."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from typing import Any

BAD_KEPT = 1000  # bad records kept with their line numbers; all are counted


def reason_kind(reason: str) -> str:
    """The field or check a reason is about (the text before its first ':')."""
    head, sep, _ = reason.partition(":")
    return head if sep and len(head) <= 60 else reason[:60]


@dataclass(slots=True)
class IngestStats:
    """Records read and rejected; ``bad`` holds (source, line, reason) for the first ``BAD_KEPT``."""

    records_ok: int = 0
    records_bad: int = 0
    bytes: int = 0
    files: int = 0
    bad: list[tuple[str, int, str]] = field(default_factory=list)
    bad_kinds: Counter[str] = field(default_factory=Counter)
    warnings: list[str] = field(default_factory=list)

    def add_bad(self, source: str, line: int, reason: str) -> None:
        self.records_bad += 1
        self.bad_kinds[reason_kind(reason)] += 1
        if len(self.bad) < BAD_KEPT:
            self.bad.append((source, line, reason))

    def merge(self, other: IngestStats, line_offset: int = 0) -> None:
        """Add another run's counts; its line numbers are shifted by ``line_offset``."""
        self.records_ok += other.records_ok
        self.records_bad += other.records_bad
        self.bytes += other.bytes
        self.files += other.files
        self.bad_kinds.update(other.bad_kinds)
        room = BAD_KEPT - len(self.bad)
        if room > 0:
            self.bad.extend((s, ln + line_offset, r) for s, ln, r in other.bad[:room])
        self.warnings.extend(other.warnings)

    def summary(self, max_lines: int = 20) -> str:
        """A few lines for a person: totals, bad records by kind, the first bad lines."""
        mb = self.bytes / 1e6
        files = f"{self.files} file{'s' if self.files != 1 else ''}"
        lines = [
            f"ingested {self.records_ok:,} records from {files} ({mb:,.1f} MB); {self.records_bad:,} bad"
        ]
        if self.records_bad:
            kinds = ", ".join(f"{k}: {n:,}" for k, n in self.bad_kinds.most_common(8))
            lines.append(f"bad records by kind: {kinds}")
            shown = self.bad[:max_lines]
            lines.extend(f"  {s}:{ln}: {r}" for s, ln, r in shown)
            if self.records_bad > len(shown):
                lines.append(f"  ... and {self.records_bad - len(shown):,} more")
        lines.extend(f"warning: {w}" for w in self.warnings[:max_lines])
        return "\n".join(lines)

    def to_json(self) -> dict[str, Any]:
        return {
            "records_ok": self.records_ok,
            "records_bad": self.records_bad,
            "bytes": self.bytes,
            "files": self.files,
            "bad_kinds": dict(self.bad_kinds.most_common()),
            "bad": [{"source": s, "line": ln, "reason": r} for s, ln, r in self.bad],
            "warnings": list(self.warnings),
        }
