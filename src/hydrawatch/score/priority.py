"""Lowering the scorer's CPU priority so that, on a shared core, requests go first.

A nice value only ranks processes inside one scheduling autogroup. With autogroups on (the
default of many Linux distributions: ``/proc/sys/kernel/sched_autogroup_enabled``), every
session is its own group and groups share the CPU equally whatever their members' nice
values. ``hydrawatch serve`` starts its scorer in a session of its own (so a terminal's
Ctrl-C reaches the gateway only), which made ``os.nice`` alone a no-op against the gateway:
measured, the scorer took as much of the core as the gateway. A session leader therefore
also lowers its own autogroup (its group holds nothing else); a process inside someone
else's session (a scorer run by hand from a shell) leaves that session's group alone.
"""

from __future__ import annotations

import os
from pathlib import Path

AUTOGROUP = Path("/proc/self/autogroup")


def lower_priority(nice: int) -> list[str]:
    """Raise this process's nice value by ``nice`` and, as a session leader, its autogroup's
    nice to the same value; what could not be done, as messages (nothing raises)."""
    problems: list[str] = []
    if nice <= 0:
        return problems
    try:
        os.nice(nice)
    except OSError as e:  # not permitted here: run at the normal priority
        problems.append(f"nice {nice} not applied: {e}")
    if os.getsid(0) == os.getpid() and AUTOGROUP.exists():
        try:
            AUTOGROUP.write_text(f"{nice}\n")
        except OSError as e:
            problems.append(f"autogroup nice {nice} not applied: {e}")
    return problems


def autogroup_nice(pid: int) -> int | None:
    """The nice value of ``pid``'s autogroup (``/autogroup-N nice V``); None without autogroups."""
    try:
        text = Path(f"/proc/{pid}/autogroup").read_text()
    except OSError:
        return None
    _, _, value = text.strip().rpartition(" ")
    return int(value) if value.lstrip("-").isdigit() else None
