"""Process helpers every part that starts a child uses (the local runtime, the warm-up)."""

from __future__ import annotations

import ctypes
import signal
from typing import Any

_PR_SET_PDEATHSIG = 1
_prctl: Any
try:  # resolved here, not in the child: between fork and exec, do as little as possible
    _prctl = ctypes.CDLL(None, use_errno=True).prctl
except (OSError, AttributeError):
    _prctl = None


def parse_cpuset(cpuset: str) -> set[int]:
    """Docker's cpuset notation ("0-3,6") as a set of CPU numbers."""
    cpus: set[int] = set()
    for part in cpuset.split(","):
        lo, _, hi = part.strip().partition("-")
        cpus.update(range(int(lo), int(hi or lo) + 1))
    return cpus


def exit_status(returncode: int) -> int:
    """A child's exit as a shell and Docker report it: a death by signal N is 128 + N, so
    the same event has the same code in every runtime (137 for SIGKILL)."""
    return 128 - returncode if returncode < 0 else returncode


def die_with_parent() -> None:
    """For preexec_fn: the child gets SIGKILL when the orchestrator dies, even by kill -9."""
    if _prctl is not None:
        _prctl(_PR_SET_PDEATHSIG, int(signal.SIGKILL))
