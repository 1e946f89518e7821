"""The warm-up keeps every core busy, then stops, and never outlives its orchestrator."""

from __future__ import annotations

import os
import resource
import time
from pathlib import Path

from orchestrator.campaign.warmup import warm_up
from orchestrator.data import PreparedDataset
from tests.campaign.conftest import failing_venvs
from tests.campaign.helpers import popen_cli


def _spinners(parent: int | None = None) -> list[int]:
    out = []
    for proc in Path("/proc").glob("[0-9]*"):
        try:
            cmdline = (proc / "cmdline").read_bytes()
            ppid = int((proc / "stat").read_text().rsplit(")", 1)[1].split()[1])
        except (OSError, IndexError, ValueError):
            continue
        if b"while True: pass" in cmdline and (parent is None or ppid == parent):
            out.append(int(proc.name))
    return out


def test_warm_up_keeps_every_cpu_busy_then_stops() -> None:
    seen: list[int] = []
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    warm_up(2.0, on_tick=lambda left_s: seen.append(len(_spinners(os.getpid()))))
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    busy_s = (after.ru_utime + after.ru_stime) - (before.ru_utime + before.ru_stime)
    cpus = len(os.sched_getaffinity(0))
    assert seen and seen[-1] == cpus  # one spinner per usable CPU (the first tick may be
    # earlier than their exec)
    # They did spin (a floor only: the test machine may be busy with other work).
    assert busy_s > 0.25 * 2.0 * cpus
    assert _spinners(os.getpid()) == []


def test_spinners_die_with_a_killed_orchestrator(
    tiny_dataset: PreparedDataset, tmp_path: Path
) -> None:
    results = tmp_path / "results"
    proc = popen_cli(["campaign", "--data", str(tiny_dataset.path), "--results", str(results),
                      "--runtime", "local", "--meter", "none", "--warmup", "120",
                      "--frameworks", "torch", "--iterations", "1"], tmp_path,
                     venvs=failing_venvs(tmp_path / "venvs"))  # fmt: skip
    try:
        deadline = time.monotonic() + 60
        while not (spinners := _spinners(proc.pid)):
            assert time.monotonic() < deadline and proc.poll() is None
            time.sleep(0.2)
        proc.kill()
    finally:
        proc.wait(timeout=30)
    deadline = time.monotonic() + 10
    while any(Path(f"/proc/{pid}").exists() for pid in spinners):
        assert time.monotonic() < deadline, "a warm-up process outlived its orchestrator"
        time.sleep(0.2)
