"""The scorer's lower CPU priority holds against the gateway even with scheduler autogroups."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from hydrawatch.score.priority import autogroup_nice

CHILD = """
import json, os
from pathlib import Path
from hydrawatch.score.priority import lower_priority
problems = lower_priority(7)
group = Path("/proc/self/autogroup")
text = group.read_text().strip() if group.exists() else None
print(json.dumps({"problems": problems, "nice": os.getpriority(os.PRIO_PROCESS, 0), "autogroup": text}))
"""

HAS_AUTOGROUP = Path("/proc/self/autogroup").exists()


def _run(new_session: bool) -> dict[str, object]:
    out = subprocess.run(
        [sys.executable, "-c", CHILD],
        capture_output=True,
        text=True,
        check=True,
        start_new_session=new_session,
    ).stdout
    doc: dict[str, object] = json.loads(out)
    return doc


def test_a_session_leader_lowers_its_process_and_its_autogroup() -> None:
    got = _run(new_session=True)
    assert got["problems"] == [] and got["nice"] == os.getpriority(os.PRIO_PROCESS, 0) + 7
    if HAS_AUTOGROUP:
        assert str(got["autogroup"]).endswith(" nice 7")


@pytest.mark.skipif(not HAS_AUTOGROUP, reason="no scheduler autogroups on this kernel")
def test_a_process_in_another_session_leaves_that_sessions_group_alone() -> None:
    before = autogroup_nice(os.getpid())
    got = _run(new_session=False)
    assert got["nice"] == os.getpriority(os.PRIO_PROCESS, 0) + 7
    assert autogroup_nice(os.getpid()) == before and str(got["autogroup"]).endswith(f" nice {before}")


def test_autogroup_nice_of_a_missing_process_is_none() -> None:
    assert autogroup_nice(2**22 + 12345) is None
