"""`orchestrator run` (one measured run) and `orchestrator doctor`, through the real CLI."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from orchestrator.data import PreparedDataset
from tests.campaign.conftest import failing_venvs
from tests.campaign.helpers import TINY, cli, load, only_campaign, state_lines


@pytest.mark.frameworks
def test_run_is_one_measured_run(
    torch_installed: None, tiny_dataset: PreparedDataset, tmp_path: Path
) -> None:
    results = tmp_path / "results"
    r = cli(["run", "--framework", "torch", "--runtime", "local", "--meter", "none", "--data",
             str(tiny_dataset.path), "--results", str(results), *TINY], tmp_path)  # fmt: skip
    assert r.returncode == 0, r.stderr
    folder = only_campaign(results)
    campaign = load(folder / "campaign.json")
    assert campaign["order"] == [["torch"]]
    assert campaign["protocol"]["warmup_s"] == 0 and campaign["protocol"]["idle_s"] == 0
    assert [s["status"] for s in state_lines(folder)] == ["ok"]
    assert load(folder / "runs" / "001-1-torch" / "run.json")["status"] == "ok"
    assert not any((folder / "idle").iterdir())


def test_doctor_json_is_one_object_with_a_fix_for_each_warning(tmp_path: Path) -> None:
    r = cli(["doctor", "--json"], tmp_path, timeout_s=120)
    assert r.returncode == 0, r.stderr
    report = json.loads(r.stdout)  # stdout holds the JSON object and nothing else
    assert report["schema"] == "fwenergy.doctor"
    checks = {f["check"]: f for f in report["findings"]}
    assert {"docker engine", "meters", "cpu governor", "turbo/boost", "smt", "swap",
            "load average", "busy processes", "time sync", "thermal"} <= set(checks)  # fmt: skip
    for f in report["findings"]:
        assert f["level"] in {"ok", "warn", "fail", "info"}
        if f["level"] in {"warn", "fail"}:
            assert f["fix"], f
    # Only the none meter exists where no RAPL, NVML or EnergiBridge is readable.
    if checks["meters"]["level"] == "fail":
        assert report["ok"] is False


def test_doctor_table_goes_to_stderr(tmp_path: Path) -> None:
    r = cli(["doctor"], tmp_path, timeout_s=120)
    assert r.returncode == 0 and r.stdout == ""
    assert "cpu governor" in r.stderr and "swap" in r.stderr


def test_a_failed_single_run_exits_1(tiny_dataset: PreparedDataset, tmp_path: Path) -> None:
    results = tmp_path / "results"
    r = cli(["run", "--framework", "jax", "--runtime", "local", "--meter", "none", "--data",
             str(tiny_dataset.path), "--results", str(results)], tmp_path,
            venvs=failing_venvs(tmp_path / "venvs"))  # fmt: skip
    assert r.returncode == 1
    assert "run 001-1-jax failed: exit code 1: ImportError: jax is broken here" in r.stderr
    assert [s["status"] for s in state_lines(only_campaign(results))] == ["failed"]
