"""`--executor slurm` against a real Slurm: the single-node cluster of tools/slurm-local.sh
(slurmctld, slurmd and munged on this machine, one exclusive partition). No mock of Slurm:
jobs are submitted with sbatch, run by slurmd, cancelled with scancel."""

from __future__ import annotations

import json
import shutil
import socket
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest

from orchestrator.data import PreparedDataset
from tests.campaign.helpers import cli, cli_env, state_lines
from tests.conftest import REPO, require
from tests.study.conftest import TWO_CELL_STUDY, simulated_venvs

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def cluster() -> str:
    """The partition of a running Slurm cluster; tools/slurm-local.sh starts one here."""
    up = shutil.which("sinfo") is not None and subprocess.run(
        ["sinfo", "-h", "-o", "%P %T"], capture_output=True, text=True, check=False, timeout=30
    ).stdout.strip() != ""  # fmt: skip
    require(up, "no Slurm cluster: run `bash tools/slurm-local.sh` as root")
    partition = subprocess.run(["sinfo", "-h", "-o", "%P"], capture_output=True, text=True,
                               check=True, timeout=30).stdout.split()[0]  # fmt: skip
    return partition.rstrip("*")


def _study(tmp: Path, data: str, iterations: int) -> Path:
    path = tmp / "study.toml"
    path.write_text(TWO_CELL_STUDY.format(name="on-slurm", iterations=iterations, data=data))
    return path


def _only_study(results: Path) -> Path:
    (study,) = [p for p in results.iterdir() if not p.name.startswith(".")]
    return study


def _status(study: Path, tmp: Path) -> dict[str, Any]:
    r = cli(["study", "status", str(study), "--json"], tmp)
    assert r.returncode == 0, r.stderr
    return {c["cell_id"]: c for c in json.loads(r.stdout)["cells"]}


def _jobs(study: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in (study / "slurm" / "jobs.jsonl").read_text().splitlines()]


def _ok_runs(cell: Path) -> list[str]:
    return [s["run_id"] for s in state_lines(cell) if s["status"] == "ok"]


def test_each_cell_runs_as_a_slurm_job_on_a_whole_node(
    cluster: str, torch_installed: None, tiny_dataset: PreparedDataset, tmp_path: Path
) -> None:
    results = tmp_path / "results"
    r = cli(["study", "run", str(_study(tmp_path, tiny_dataset.path, 2)), "--results",
             str(results), "--executor", "slurm", "--partition", cluster, "--wait"],
            tmp_path, timeout_s=900)  # fmt: skip
    assert r.returncode == 0, r.stderr
    study = _only_study(results)
    status = _status(study, tmp_path)
    node = socket.gethostname().split(".")[0]
    for cell_id, cell in status.items():
        assert cell["state"] == "done", cell
        assert cell["job_state"] == "COMPLETED" and cell["node"] == node
        folder = study / "cells" / cell_id
        # the same campaign folder a local study writes
        assert (folder / "campaign.json").exists() and (folder / "runs").is_dir()
        ok = _ok_runs(folder)
        assert len(ok) == len(set(ok)) == 4  # 2 iterations x torch, jax: each once
        script = (study / "slurm" / f"{cell_id}.sbatch").read_text()
        assert "#SBATCH --exclusive" in script and "#SBATCH --nodes=1" in script
        assert f"#SBATCH --partition={cluster}" in script
        assert "--gres" not in script  # a CPU cell asks for no GPU
    events = [(j["event"], j["cell"]) for j in _jobs(study)]
    assert sorted(events) == sorted([(e, c) for c in status for e in ("submitted", "started")])


def test_a_cancelled_job_leaves_a_resumable_cell_and_resume_finishes_it_once(
    cluster: str, tiny_dataset: PreparedDataset, tmp_path: Path
) -> None:
    venvs = simulated_venvs(tmp_path / "venvs", {"torch": "1.0", "jax": "1.0"})
    results = tmp_path / "results"
    study_file = _study(tmp_path, tiny_dataset.path, 6)
    r = cli(["study", "run", str(study_file), "--results", str(results), "--executor", "slurm"],
            tmp_path, venvs=venvs)  # fmt: skip
    assert r.returncode == 0, r.stderr
    assert r.stderr.count("submitted as job") == 2
    study = _only_study(results)
    end = time.monotonic() + 180
    while not any(len(state_lines(c)) >= 2 for c in (study / "cells").glob("cell-*")):
        assert time.monotonic() < end, "the first job never ran"
        time.sleep(0.5)
    r = cli(["study", "cancel", str(study)], tmp_path)
    assert r.returncode == 0 and "cancelled 2 jobs" in r.stderr, r.stderr
    end = time.monotonic() + 120
    while any(c["job_state"] not in ("CANCELLED", "COMPLETED", "FAILED")
              for c in _status(study, tmp_path).values()):  # fmt: skip
        assert time.monotonic() < end, _status(study, tmp_path)
        time.sleep(1)
    assert {c["state"] for c in _status(study, tmp_path).values()} <= {"partial", "pending"}

    r = cli(["study", "run", "--resume", str(study), "--executor", "slurm", "--wait"], tmp_path,
            venvs=venvs, timeout_s=600)  # fmt: skip
    assert r.returncode == 0, r.stderr
    for cell_id, cell in _status(study, tmp_path).items():
        assert cell["state"] == "done" and cell["job_state"] == "COMPLETED", cell
        ok = _ok_runs(study / "cells" / cell_id)
        assert len(ok) == len(set(ok)) == 12, ok  # every planned run exactly once
    assert sum(1 for j in _jobs(study) if j["event"] == "submitted") == 4


def test_a_cell_with_a_live_job_is_not_submitted_twice(
    cluster: str, tiny_dataset: PreparedDataset, tmp_path: Path
) -> None:
    venvs = simulated_venvs(tmp_path / "venvs", {"torch": "1.0", "jax": "1.0"})
    results = tmp_path / "results"
    r = cli(["study", "run", str(_study(tmp_path, tiny_dataset.path, 3)), "--results",
             str(results), "--executor", "slurm"], tmp_path, venvs=venvs)  # fmt: skip
    assert r.returncode == 0, r.stderr
    study = _only_study(results)
    try:
        again = cli(["study", "run", "--resume", str(study), "--executor", "slurm"], tmp_path,
                    venvs=venvs)  # fmt: skip
        assert again.returncode == 0, again.stderr
        assert again.stderr.count("not submitted again") == 2
        assert sum(1 for j in _jobs(study) if j["event"] == "submitted") == 2
    finally:
        cli(["study", "cancel", str(study)], tmp_path)


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        (["--partition", "no-such-partition"], "no such partition here"),
        (["--time", "tomorrow"], "is not a Slurm time limit"),
        (["--sbatch-arg", "-N2"], "one long sbatch option per --sbatch-arg"),
    ],
)
def test_bad_slurm_options_submit_nothing(
    cluster: str, tiny_dataset: PreparedDataset, tmp_path: Path, extra: list[str], message: str
) -> None:
    results = tmp_path / "results"
    r = cli(["study", "run", str(_study(tmp_path, tiny_dataset.path, 2)), "--results",
             str(results), "--executor", "slurm", *extra], tmp_path)  # fmt: skip
    assert r.returncode == 2, r.stderr
    (line,) = r.stderr.strip().splitlines()
    assert message in line
    assert not results.exists() or not any(results.iterdir())


def test_without_sbatch_nothing_is_created(tiny_dataset: PreparedDataset, tmp_path: Path) -> None:
    results = tmp_path / "results"
    env = cli_env(tmp_path)
    bin_dir = tmp_path / "bin"  # a PATH with python but no Slurm
    bin_dir.mkdir()
    env["PATH"] = f"{bin_dir}:/usr/bin/nonexistent"
    r = subprocess.run(
        [sys.executable, "-m", "orchestrator", "study", "run",
         str(_study(tmp_path, tiny_dataset.path, 2)), "--results", str(results),
         "--executor", "slurm"],
        cwd=REPO, env=env, capture_output=True, text=True, timeout=120, check=False,
    )  # fmt: skip
    assert r.returncode == 2, r.stderr
    (line,) = r.stderr.strip().splitlines()
    assert "sbatch is not on PATH" in line
    assert not results.exists()


def test_the_slurm_options_need_the_slurm_executor(tmp_path: Path) -> None:
    r = cli(["study", "run", "x.toml", "--partition", "p"], tmp_path)
    assert r.returncode == 2 and "go with --executor slurm" in r.stderr


def test_the_job_log_survives_a_torn_last_line(tmp_path: Path) -> None:
    # the job log tolerates a torn last line (a job killed while writing)
    from orchestrator.study.slurm import JobLog

    log = JobLog(tmp_path)
    log.append({"event": "submitted", "cell": "cell-01", "job_id": "7", "at": 1.0})
    log.append({"event": "started", "cell": "cell-01", "job_id": "7", "node": "n1", "at": 2.0})
    with log.path.open("a") as f:
        f.write('{"event": "subm')
    assert log.last_job()["cell-01"]["node"] == "n1"
