"""Each command once as a real `python -m orchestrator` process: the exit code the shell sees
and what goes to which stream. Every other CLI test calls the same `main(argv)` in the test
process (tests/inprocess.py); these keep the process boundary honest."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import REPO


def _process(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PYTHONPATH": str(REPO), "FWENERGY_CACHE": str(cwd / "cache"),
           "FWENERGY_DATA_MIRROR": "http://127.0.0.1:9/"}  # fmt: skip
    return subprocess.run(
        [sys.executable, "-m", "orchestrator", *args],
        cwd=cwd, env=env, capture_output=True, text=True, timeout=120, check=False,
    )  # fmt: skip


# One refusal per command: (arguments, what the one error line names).
REFUSALS = {
    "data prepare": (["data", "prepare", "--dataset", "nosuch", "--out", "d"], "nosuch"),
    "measure": (["measure", "--meter", "nosuch", "--", "true"], "nosuch"),
    "analyze": (["analyze", "empty"], "no campaign.json"),
    "campaign": (["campaign", "--iterations", "0"], "--iterations"),
    "run": (["run", "--framework", "nosuch"], "nosuch"),
    "build": (["build", "--framework", "nosuch"], "nosuch"),
    "doctor": (["doctor", "--no-such-option"], "--no-such-option"),
    "study run": (["study", "run", "missing.toml"], "missing.toml"),
    "study run-cell": (["study", "run-cell", "missing", "cell-01"], "missing"),
    "study cancel": (["study", "cancel", "missing"], "missing"),
    "study status": (["study", "status", "missing"], "missing"),
}


@pytest.mark.parametrize("command", list(REFUSALS))
def test_a_refusal_is_exit_2_and_one_line_on_stderr_only(command: str, tmp_path: Path) -> None:
    args, needle = REFUSALS[command]
    (tmp_path / "empty").mkdir()
    proc = _process(*args, cwd=tmp_path)
    assert proc.returncode == 2, (proc.returncode, proc.stderr)
    assert proc.stdout == ""
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: "), proc.stderr
    assert needle in lines[0]
    assert "Traceback" not in proc.stderr


def test_data_prepare_json_is_stdout_alone(tmp_path: Path) -> None:
    args = ["--dataset", "synthetic", "--train-count", "10", "--test-count", "10"]
    proc = _process("data", "prepare", *args, "--out", "d", "--json", cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    assert json.loads(proc.stdout)["name"] == "synthetic"  # one object, nothing else


def test_measure_passes_the_commands_exit_code_and_keeps_json_on_stdout(tmp_path: Path) -> None:
    command = [sys.executable, "-c", "import sys; print('to stderr', file=sys.stderr); sys.exit(3)"]
    proc = _process("measure", "--meter", "none", "--json", "--", *command, cwd=tmp_path)
    assert proc.returncode == 3, proc.stderr
    assert json.loads(proc.stdout)["exit_code"] == 3
    assert "to stderr" in proc.stderr


def test_no_arguments_shows_the_help_and_exits_2(tmp_path: Path) -> None:
    proc = _process(cwd=tmp_path)
    assert proc.returncode == 2
    assert "campaign" in proc.stdout + proc.stderr
