"""`orchestrator measure` end to end: the real CLI (in this process), fake hardware only."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests import inprocess
from tests.conftest import REPO
from tests.fakes.powercap import FakePowercap, two_socket_intel


def _cli(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    """`orchestrator measure ARGS` in this process (tests/inprocess.py)."""
    environment = {**os.environ, "PYTHONPATH": str(REPO), **(env or {})}
    return inprocess.run(["measure", *args], env=environment, cwd=REPO)


def test_measure_json_with_rapl_on_a_fake_tree(sysfs_dir: Path, tmp_path: Path) -> None:
    out = tmp_path / "out"
    with FakePowercap(sysfs_dir, two_socket_intel(max_range_uj=120_000_000)):
        proc = _cli(
            "--meter", "rapl", "--interval-ms", "50", "--powercap-root", str(sysfs_dir),
            "--output", str(out), "--json", "--",
            sys.executable, "-c", "import time, sys; time.sleep(1.0); sys.exit(5)",
        )  # fmt: skip
    assert proc.returncode == 5, proc.stderr
    result = json.loads(proc.stdout)  # stdout holds the JSON object and nothing else
    assert result["exit_code"] == 5 and result["meters"] == ["rapl"]
    duration_s = result["duration_s"]
    assert 1.0 <= duration_s < 3.0
    pkg = result["domains"]["cpu-package-0"]
    assert pkg["energy_j"] == pytest.approx(30.0 * duration_s, rel=0.01)
    assert pkg["mean_power_w"] == pytest.approx(30.0, rel=0.01)
    assert pkg["method"] == "counter" and pkg["estimated"] is False
    # Its budget: steady power; the edges' share is the sampling jitter of the apparent power.
    assert 0 < pkg["uncertainty_j"] < 0.01 * pkg["energy_j"]
    assert set(pkg["uncertainty"]["components"]) == {"resolution", "update", "edges"}
    assert pkg["below_resolution"] is None and result["dropped"] == {}
    assert result["domains"]["psys"]["mean_power_w"] == pytest.approx(80.0, rel=0.01)
    assert (out / "samples-rapl.csv").exists() and (out / "power-rapl.csv").exists()
    assert "cpu-package-0" in proc.stderr  # the human summary went to stderr
    assert not any("few samples" in n for n in result["notes"])


def test_a_command_shorter_than_a_few_samples_is_flagged(tmp_path: Path) -> None:
    with FakePowercap(tmp_path / "pc", two_socket_intel()):
        proc = _cli(
            "--meter", "rapl", "--interval-ms", "200", "--powercap-root", str(tmp_path / "pc"),
            "--json", "--", "sleep", "0.1",
        )  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    result = json.loads(proc.stdout)
    assert any("few samples" in n for n in result["notes"])
    # 0.1 s is under the 0.2 s RAPL needs for a 1% edge error: labelled, not passed off.
    assert "0.200 s" in result["domains"]["cpu-package-0"]["below_resolution"]
    assert "below resolution" in proc.stderr


def test_measure_with_energibridge_binary(tmp_path: Path, fake_energibridge: Path) -> None:
    proc = _cli(
        "--meter", "energibridge", "--energibridge", str(fake_energibridge), "--json",
        "--", "sleep", "0.5",
        env={"FAKE_EB_VENDOR": "amd", "FAKE_EB_POWER_W": "40"},
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    result = json.loads(proc.stdout)
    assert result["domains"]["cpu-package-0"]["mean_power_w"] == pytest.approx(40.0, rel=0.02)


def test_measure_none_says_so_everywhere() -> None:
    proc = _cli("--meter", "none", "--json", "--", "true")
    assert proc.returncode == 0
    result = json.loads(proc.stdout)
    assert result["domains"] == {} and "NO ENERGY WAS MEASURED" in result["notes"][0]
    assert "NO ENERGY WAS MEASURED" in proc.stderr


def test_bad_meter_and_missing_command_exit_2_with_one_line(tmp_path: Path) -> None:
    proc = _cli("--meter", "rapl", "--powercap-root", str(tmp_path / "x"), "--", "true")
    assert proc.returncode == 2 and proc.stdout == ""
    assert proc.stderr.strip().startswith("error:") and "--powercap-root" in proc.stderr
    proc = _cli("--meter", "none", "--", "no-such-command-fwenergy")
    assert proc.returncode == 2 and "command not found" in proc.stderr
