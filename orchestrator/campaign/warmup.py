"""Warm-up: every usable core busy for a while before the first run, so the first framework
does not run on a cold CPU (frequency, temperature and fans settle first)."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Callable

from orchestrator.runtimes.process import die_with_parent

_SPIN = "while True: pass"


def warm_up(duration_s: float, on_tick: Callable[[float], None] | None = None) -> None:
    """One spinning process per usable CPU for `duration_s`; always stopped, even when
    interrupted (the caller sees the KeyboardInterrupt)."""
    if duration_s <= 0:
        return
    procs = [
        subprocess.Popen(
            [sys.executable, "-c", _SPIN],
            stdin=subprocess.DEVNULL,
            preexec_fn=die_with_parent,  # noqa: PLW1509 (no spinner outlives a kill -9)
        )
        for _ in os.sched_getaffinity(0)
    ]
    try:
        end = time.monotonic() + duration_s
        while (left := end - time.monotonic()) > 0:
            if on_tick:
                on_tick(left)
            time.sleep(min(left, 0.5))
    finally:
        for p in procs:
            p.kill()
        for p in procs:
            p.wait()
