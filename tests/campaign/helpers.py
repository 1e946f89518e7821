"""Running the real CLI in a subprocess, and reading a campaign folder back."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from tests import inprocess
from tests.conftest import REPO, VENVS

# The smallest real workload: a few batches, one epoch, one thread.
TINY = ["--epochs", "1", "--batch-size", "64", "--limit-train", "128", "--limit-test", "64",
        "--threads", "1"]  # fmt: skip


def local_campaign(data: Path, results: Path, *extra: str) -> list[str]:
    """`orchestrator campaign` arguments for the local runtime without a meter."""
    return ["campaign", "--data", str(data), "--results", str(results), "--meter", "none",
            "--runtime", "local", *extra]  # fmt: skip


def wait_for(condition: Callable[[], object], timeout_s: float) -> None:
    """Poll `condition` until it holds; fail the test after `timeout_s`."""
    end = time.monotonic() + timeout_s
    while not condition():
        assert time.monotonic() < end, "timed out waiting"
        time.sleep(0.2)


def cli_env(tmp: Path, venvs: Path = VENVS) -> dict[str, str]:
    env = dict(os.environ)
    env.update(PYTHONPATH=str(REPO), FWENERGY_VENVS=str(venvs), FWENERGY_CACHE=str(tmp / "cache"))
    return env


def cli(args: list[str], tmp: Path, *, venvs: Path = VENVS, timeout_s: float = 300,
        cwd: Path = REPO, extra_env: dict[str, str] | None = None,
        process: bool = False) -> subprocess.CompletedProcess[str]:  # fmt: skip
    """`orchestrator ARGS` as a user runs it (from `cwd`, the repository by default): in this
    process (tests/inprocess.py), or with `process=True` in a real `python -m orchestrator`
    that is killed after `timeout_s` (in-process, pytest's timeout stops a hang)."""
    env = {**cli_env(tmp, venvs), **(extra_env or {})}
    if not process:
        return inprocess.run(args, env=env, cwd=cwd)
    return subprocess.run(
        [sys.executable, "-m", "orchestrator", *args],
        cwd=cwd, env=env, capture_output=True, text=True, timeout=timeout_s, check=False,
    )  # fmt: skip


def popen_cli(args: list[str], tmp: Path, *, venvs: Path = VENVS) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-m", "orchestrator", *args],
        cwd=REPO, env=cli_env(tmp, venvs), stdout=subprocess.PIPE, stderr=subprocess.PIPE,
        text=True,
    )  # fmt: skip


def campaigns(results: Path) -> list[Path]:
    """Campaign folders, not the hidden one a campaign is assembled in before its rename."""
    if not results.exists():
        return []
    return [p for p in results.iterdir() if p.is_dir() and not p.name.startswith(".")]


def only_campaign(results: Path) -> Path:
    folders = campaigns(results)
    assert len(folders) == 1, folders
    return folders[0]


def state_lines(folder: Path) -> list[dict[str, Any]]:
    path = folder / "state.jsonl"
    if not path.exists():
        return []
    return [json.loads(line) for line in path.read_text().splitlines()]


def load(path: Path) -> dict[str, Any]:
    return json.loads(path.read_text())


def phase_energy(phase: dict[str, Any], domain: str) -> float:
    """A phase's energy of `domain`: measured, or kept apart as below its meter's resolution
    (docs/meters.md, "Window guard"); never in both."""
    below = phase.get("below_resolution") or {}
    assert (domain in phase["energy_j"]) != (domain in below), phase
    return float(
        phase["energy_j"][domain] if domain in phase["energy_j"] else below[domain]["energy_j"]
    )
