"""Detectors the bench runs: command templates with ``{events}``, ``{accounts}`` and ``{out}`` placeholders.

Any program that writes the report contract (docs/report.md) to ``{out}`` can be benchmarked.
"""

from __future__ import annotations

import shlex
import shutil
import sys
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

BUILTIN: dict[str, str] = {
    "hydrawatch": "hydrawatch hunt {events} --accounts {accounts} --json {out}",
    # the same hunt replayed on growing time prefixes, so its flags carry first_flagged_ts (time-to-detect)
    "hydrawatch-replay": "hydrawatch hunt {events} --accounts {accounts} --json {out} --replay-every 6h",
    "daily-volume": "hydrawatch baseline daily-volume {events} --accounts {accounts} --json {out}",
    "heavy-mean": "hydrawatch baseline heavy-mean {events} --accounts {accounts} --json {out}",
    "ip-burst": "hydrawatch baseline ip-burst {events} --accounts {accounts} --json {out}",
    "prada": "hydrawatch baseline prada {events} --accounts {accounts} --json {out}",
}
DEFAULT_DETECTORS: tuple[str, ...] = tuple(BUILTIN)
PLACEHOLDERS = ("{events}", "{accounts}", "{out}")


class DetectorSpecError(ValueError):
    """A ``--detector`` value that cannot be used."""


def hydrawatch_program() -> list[str]:
    """How to call this installation's ``hydrawatch`` (the venv's script, else ``python -m``)."""
    script = Path(sys.executable).parent / "hydrawatch"
    if script.exists():
        return [str(script)]
    found = shutil.which("hydrawatch")
    if found:
        return [found]
    return [sys.executable, "-c", "from hydrawatch.cli import main; main()"]


@dataclass(frozen=True, slots=True)
class Detector:
    name: str
    template: str

    def argv(self, events: str | Path, accounts: str | Path, out: str | Path) -> list[str]:
        values = {"{events}": str(events), "{accounts}": str(accounts), "{out}": str(out)}
        parts = shlex.split(self.template)
        argv: list[str] = []
        for part in parts:
            for key, val in values.items():
                part = part.replace(key, val)
            argv.append(part)
        if argv and argv[0] == "hydrawatch":
            argv = hydrawatch_program() + argv[1:]
        return argv


def parse_detectors(specs: Iterable[str]) -> list[Detector]:
    """``NAME`` picks a built-in; ``NAME=COMMAND`` defines one (COMMAND must contain ``{out}``).

    No specs: every built-in, hydrawatch first.
    """
    specs = list(specs)
    if not specs:
        return [Detector(n, BUILTIN[n]) for n in DEFAULT_DETECTORS]
    out: dict[str, Detector] = {}
    for spec in specs:
        name, sep, cmd = spec.partition("=")
        name = name.strip()
        if not name:
            raise DetectorSpecError(f"{spec!r}: empty detector name")
        if not sep:
            if name not in BUILTIN:
                raise DetectorSpecError(
                    f"unknown detector {name!r}; built-ins: {', '.join(BUILTIN)} (or give NAME=COMMAND)"
                )
            out[name] = Detector(name, BUILTIN[name])
            continue
        if "{out}" not in cmd:
            raise DetectorSpecError(f"{name}: the command must write the report to {{out}}")
        try:
            shlex.split(cmd)
        except ValueError as e:
            raise DetectorSpecError(f"{name}: cannot parse command: {e}") from e
        out[name] = Detector(name, cmd)
    return list(out.values())
