"""One exit-code convention for every runtime (issue 12): a workload killed by signal N is
128 + N, as Docker and shells report it; a run the orchestrator stopped has none (null)."""

from __future__ import annotations

from pathlib import Path

from orchestrator.data import PreparedDataset
from tests.campaign.conftest import failing_venvs
from tests.campaign.helpers import cli, load, only_campaign, state_lines


def _venvs(root: Path, body: str) -> Path:
    venvs = failing_venvs(root)
    (venvs / "torch" / "bin" / "python").write_text(
        f'#!/bin/sh\ncase "$*" in *"-m workload"*) {body};; esac\nexit 1\n'
    )
    return venvs


def _run(tmp: Path, data: Path, venvs: Path, *extra: str) -> Path:
    results = tmp / "results"
    r = cli(["campaign", "--runtime", "local", "--meter", "none", "--frameworks", "torch",
             "--iterations", "1", "--warmup", "0", "--idle", "0", "--data", str(data),
             "--results", str(results), *extra], tmp, venvs=venvs)  # fmt: skip
    assert r.returncode == 1, r.stderr
    return only_campaign(results)


def test_a_workload_killed_by_sigkill_is_137_locally_too(
    tiny_dataset: PreparedDataset, tmp_path: Path
) -> None:
    folder = _run(tmp_path, tiny_dataset.path, _venvs(tmp_path / "venvs", "kill -9 $$"))
    run = load(folder / "runs" / "001-1-torch" / "run.json")
    assert (run["status"], run["exit_code"]) == ("failed", 137)
    assert state_lines(folder)[0]["exit_code"] == 137


def test_a_timed_out_run_records_no_exit_code(
    tiny_dataset: PreparedDataset, tmp_path: Path
) -> None:
    venvs = _venvs(tmp_path / "venvs", "exec sleep 60")
    folder = _run(tmp_path, tiny_dataset.path, venvs, "--run-timeout", "1")
    run = load(folder / "runs" / "001-1-torch" / "run.json")
    assert (run["status"], run["exit_code"]) == ("timeout", None)
    assert state_lines(folder)[0]["exit_code"] is None
