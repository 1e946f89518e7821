"""End to end on the local runtime: the real CLI, the real workloads, tiny settings."""

from __future__ import annotations

import json
import os
import signal
from pathlib import Path

import pytest

from orchestrator.campaign.plan import shuffled_order
from orchestrator.data import PreparedDataset
from tests.campaign.conftest import failing_venvs
from tests.campaign.helpers import (
    TINY,
    campaigns,
    cli,
    load,
    local_campaign,
    only_campaign,
    popen_cli,
    state_lines,
    wait_for,
)

FW = ("keras", "torch", "jax")
RUN_FILES = {"run.json", "events.jsonl", "result.json", "stdout.log"}


WAIT_S = 120.0


def _base(ds: PreparedDataset, results: Path, *extra: str) -> list[str]:
    return local_campaign(ds.path, results, *TINY, *extra)


def _processes_mentioning(text: str) -> list[int]:
    """Live processes whose command line contains `text` (leftover workloads)."""
    out = []
    for cmdline in Path("/proc").glob("[0-9]*/cmdline"):
        try:
            raw = cmdline.read_bytes()
        except OSError:
            continue
        if text.encode() in raw and b"orchestrator" not in raw:
            out.append(int(cmdline.parent.name))
    return out


@pytest.mark.slow
@pytest.mark.frameworks
def test_campaign_end_to_end(frameworks_installed: None, tiny_dataset: PreparedDataset,
                             tmp_path: Path) -> None:  # fmt: skip
    results = tmp_path / "results"
    r = cli([*_base(tiny_dataset, results, "--iterations", "2", "--warmup", "1", "--idle", "1",
                    "--seed", "11")], tmp_path)  # fmt: skip
    assert r.returncode == 0, r.stderr
    assert "runtime: local" in r.stderr
    folder = only_campaign(results)

    campaign = load(folder / "campaign.json")
    assert campaign["schema"] == "fwenergy.campaign" and campaign["schema_version"] == 1
    assert (folder / "campaign.json").stat().st_mode & 0o044 == 0o044  # readable by others
    assert campaign["order"] == [list(row) for row in shuffled_order(FW, 2, 11)]
    assert campaign["protocol"]["runtime"] == "local"
    assert campaign["protocol"]["meters"] == ["none"]
    assert (campaign["protocol"]["warmup_s"], campaign["protocol"]["idle_s"]) == (1.0, 1.0)
    assert campaign["workload"]["limit_train"] == 128 and campaign["workload"]["threads"] == 1
    assert campaign["dataset"]["sha256"] == tiny_dataset.sha256
    prov = campaign["provenance"]
    assert prov["cpu"]["logical_cpus"] == os.cpu_count() and prov["kernel"] == os.uname().release
    assert set(prov["packages"]) == set(FW) and prov["packages"]["torch"]["torch"]

    planned = [f"{i:03d}-{p}-{fw}" for i, row in enumerate(campaign["order"], 1)
               for p, fw in enumerate(row, 1)]  # fmt: skip
    states = state_lines(folder)
    assert [s["run_id"] for s in states] == planned
    assert all(s["status"] == "ok" for s in states)

    assert sorted(p.name for p in (folder / "runs").iterdir()) == sorted(planned)
    runs = [load(folder / "runs" / rid / "run.json") for rid in planned]
    for rid, run in zip(planned, runs, strict=True):
        files = {p.name for p in (folder / "runs" / rid).iterdir()}
        assert files >= RUN_FILES
        assert run["schema"] == "fwenergy.run" and run["run_id"] == rid
        assert (run["status"], run["exit_code"], run["error"]) == ("ok", 0, None)
        assert run["energy"] == {} and run["meters"] == [{"name": "none"}]
        assert run["runtime"]["kind"] == "local"
        phases = {p["name"] for p in run["phases"]}
        assert {"startup", "data_to_device", "compile", "epoch_1", "eval"} <= phases
        assert run["started_at"] < run["ended_at"]
        result = load(folder / "runs" / rid / "result.json")
        assert result["framework"] == run["framework"] == rid.split("-")[2]

    # The runs happened in the planned order, each one after an idle gap: the first after
    # the gap that follows the warm-up, every other after its predecessor's gap.
    assert sorted(p.name for p in (folder / "idle").iterdir()) == ["000-0-start", *planned]
    start = load(folder / "idle" / "000-0-start" / "idle.json")
    assert start["duration_s"] >= 1.0 and start["end"] <= runs[0]["started_at"]
    idle = [load(folder / "idle" / rid / "idle.json") for rid in planned]
    for k, (run, gap) in enumerate(zip(runs, idle, strict=True)):
        assert gap["schema"] == "fwenergy.idle" and gap["duration_s"] >= 1.0
        assert run["ended_at"] <= gap["start"]
        if k + 1 < len(runs):
            assert gap["end"] <= runs[k + 1]["started_at"]


@pytest.mark.slow
@pytest.mark.frameworks
def test_resume_after_sigkill_runs_every_planned_run_once(
    torch_installed: None, tiny_dataset: PreparedDataset, tmp_path: Path
) -> None:
    results = tmp_path / "results"
    args = _base(tiny_dataset, results, "--frameworks", "torch", "--iterations", "3",
                 "--warmup", "0", "--idle", "0")  # fmt: skip
    proc = popen_cli(args, tmp_path)
    try:
        wait_for(lambda: bool(campaigns(results)), WAIT_S)
        folder = only_campaign(results)
        wait_for(lambda: len(state_lines(folder)) >= 1, WAIT_S)
        # Kill while the second run's workload is running.
        wait_for((folder / "runs" / "002-1-torch" / "events.jsonl").exists, WAIT_S)
        proc.kill()
    finally:
        proc.wait(timeout=60)
    assert [s["run_id"] for s in state_lines(folder)] == ["001-1-torch"]
    first = folder / "runs" / "001-1-torch" / "run.json"
    first_bytes = first.read_bytes()
    # The orphaned workload died with its orchestrator.
    wait_for(lambda: not _processes_mentioning(str(folder)), 10)

    r = cli(["campaign", "--resume", str(folder)], tmp_path)
    assert r.returncode == 0, r.stderr
    states = state_lines(folder)
    assert [s["run_id"] for s in states] == ["001-1-torch", "002-1-torch", "003-1-torch"]
    assert all(s["status"] == "ok" for s in states)
    assert first.read_bytes() == first_bytes  # the finished run was not touched
    for rid in ("002-1-torch", "003-1-torch"):
        assert load(folder / "runs" / rid / "run.json")["status"] == "ok"


@pytest.mark.slow
@pytest.mark.frameworks
def test_sigterm_stops_the_run_records_it_aborted_and_resume_redoes_it(
    torch_installed: None, tiny_dataset: PreparedDataset, tmp_path: Path
) -> None:
    results = tmp_path / "results"
    args = _base(tiny_dataset, results, "--frameworks", "torch", "--iterations", "1",
                 "--warmup", "0", "--idle", "0")  # fmt: skip
    proc = popen_cli(args, tmp_path)
    try:
        wait_for(lambda: bool(campaigns(results)), WAIT_S)
        folder = only_campaign(results)
        events = folder / "runs" / "001-1-torch" / "events.jsonl"
        wait_for(lambda: events.exists() and events.read_text().strip() != "", WAIT_S)
        proc.send_signal(signal.SIGTERM)
        _, stderr = proc.communicate(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == 128 + signal.SIGTERM
    assert f"--resume {folder}" in stderr
    assert [(s["run_id"], s["status"]) for s in state_lines(folder)] == [("001-1-torch", "aborted")]
    run = load(folder / "runs" / "001-1-torch" / "run.json")
    assert (run["status"], run["error"]) == ("aborted", "interrupted by SIGTERM")
    assert not (folder / "runs" / "001-1-torch" / "result.json").exists()
    assert not _processes_mentioning(str(folder))

    r = cli(["campaign", "--resume", str(folder)], tmp_path)
    assert r.returncode == 0, r.stderr
    assert [s["status"] for s in state_lines(folder)] == ["aborted", "ok"]
    assert load(folder / "runs" / "001-1-torch" / "run.json")["status"] == "ok"


def test_failing_workloads_are_recorded_and_the_campaign_finishes(
    tiny_dataset: PreparedDataset, tmp_path: Path
) -> None:
    venvs = failing_venvs(tmp_path / "venvs")
    results = tmp_path / "results"
    r = cli([*_base(tiny_dataset, results, "--frameworks", "torch,jax", "--iterations", "2",
                    "--warmup", "0", "--idle", "0")], tmp_path, venvs=venvs)  # fmt: skip
    assert r.returncode == 1, r.stderr  # every run failed: never exit 0
    assert "no run ended ok" in r.stderr
    folder = only_campaign(results)
    states = state_lines(folder)
    assert len(states) == 4 and {s["status"] for s in states} == {"failed"}
    for s in states:
        run_dir = folder / "runs" / s["run_id"]
        run = load(run_dir / "run.json")
        assert run["exit_code"] == 1 and run["status"] == "failed"
        assert run["error"] == f"exit code 1: ImportError: {s['framework']} is broken here"
        assert "is broken here" in (run_dir / "stdout.log").read_text()


def test_max_failures_stops_the_campaign(tiny_dataset: PreparedDataset, tmp_path: Path) -> None:
    venvs = failing_venvs(tmp_path / "venvs")
    results = tmp_path / "results"
    r = cli([*_base(tiny_dataset, results, "--frameworks", "torch,jax", "--iterations", "3",
                    "--warmup", "0", "--idle", "0", "--max-failures", "2")], tmp_path,
            venvs=venvs)  # fmt: skip
    assert r.returncode == 1
    assert "stopped after 2 failed runs" in r.stderr
    assert len(state_lines(only_campaign(results))) == 2


@pytest.mark.frameworks
def test_a_run_past_its_timeout_is_stopped_and_recorded(
    torch_installed: None, tiny_dataset: PreparedDataset, tmp_path: Path
) -> None:
    results = tmp_path / "results"
    r = cli([*_base(tiny_dataset, results, "--frameworks", "torch", "--iterations", "1",
                    "--warmup", "0", "--idle", "0", "--run-timeout", "1")], tmp_path)  # fmt: skip
    assert r.returncode == 1, r.stderr  # its only run did not end ok
    folder = only_campaign(results)
    run = load(folder / "runs" / "001-1-torch" / "run.json")
    assert run["status"] == "timeout" and "--run-timeout 1 s" in run["error"]
    assert 1.0 <= run["duration_s"] < 30
    assert not _processes_mentioning(str(folder))
    assert json.loads((folder / "state.jsonl").read_text())["status"] == "timeout"
