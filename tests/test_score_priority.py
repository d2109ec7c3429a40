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
from hydrawatch.score.priority import autogroup_nice, lower_priority
problems = lower_priority(7)
nice = os.getpriority(os.PRIO_PROCESS, 0)
print(json.dumps({"problems": problems, "nice": nice, "group_nice": autogroup_nice(os.getpid())}))
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
        assert got["group_nice"] == 7


@pytest.mark.skipif(not HAS_AUTOGROUP, reason="no scheduler autogroups on this kernel")
def test_a_process_in_another_session_leaves_that_sessions_group_alone() -> None:
    # ``before`` is None when this session is in the root group (its file reads empty: a
    # session started by init, as under some CI runners); the child shares it either way.
    before = autogroup_nice(os.getpid())
    got = _run(new_session=False)
    assert got["nice"] == os.getpriority(os.PRIO_PROCESS, 0) + 7
    assert autogroup_nice(os.getpid()) == before and got["group_nice"] == before


def test_a_process_in_the_root_group_has_no_autogroup_nice() -> None:
    try:
        root = Path("/proc/1/autogroup").read_text()
    except OSError:
        pytest.skip("no scheduler autogroups here")
    if root.strip():
        pytest.skip("process 1 is in an autogroup of its own here")
    assert autogroup_nice(1) is None


def test_autogroup_nice_of_a_missing_process_is_none() -> None:
    assert autogroup_nice(2**22 + 12345) is None
