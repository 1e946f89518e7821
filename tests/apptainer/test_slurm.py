"""A study cell with `runtime = "apptainer"` submitted to the real one-node Slurm cluster of
tools/slurm-local.sh: the job finds apptainer and the .sif files through the environment it
was submitted from, as on a cluster where both are on the shared filesystem."""

from __future__ import annotations

import socket
from pathlib import Path

import pytest

from orchestrator.data import PreparedDataset
from orchestrator.runtimes.apptainer import sif_name
from tests.apptainer.conftest import apptainer_env, build_sifs, exec_calls
from tests.campaign.helpers import cli, load, state_lines
from tests.study.conftest import TWO_CELL_STUDY
from tests.study.test_slurm import cluster  # noqa: F401 (fixture)

pytestmark = pytest.mark.slow


def _one_cell_study(data: str) -> str:
    """The local and Slurm tests' two-cell study, in apptainer and with one cell."""
    text = TWO_CELL_STUDY.format(name="apptainer-on-slurm", iterations=1, data=data)
    changed = text.replace('runtime = "local"', 'runtime = "apptainer"').replace(
        "batch_size = [32, 64]", "batch_size = [64]"
    )
    assert changed.count("apptainer") == 2 and "[64]" in changed
    return changed


def test_a_slurm_job_runs_its_cell_in_apptainer(
    cluster: str,  # noqa: F811
    jax_and_torch_installed: None,
    tiny_dataset: PreparedDataset,
    tmp_path: Path,
) -> None:
    sifs = tmp_path / "sifs"
    build_sifs(tmp_path, sifs, ["torch", "jax"])
    study_file = tmp_path / "study.toml"
    study_file.write_text(_one_cell_study(tiny_dataset.path))
    results = tmp_path / "results"
    r = cli(["study", "run", str(study_file), "--results", str(results), "--executor", "slurm",
             "--partition", cluster, "--wait"], tmp_path, extra_env=apptainer_env(tmp_path, sifs),
            timeout_s=900)  # fmt: skip
    assert r.returncode == 0, r.stderr
    (study,) = [p for p in results.iterdir() if not p.name.startswith(".")]
    (cell,) = (study / "cells").iterdir()
    assert [s["status"] for s in state_lines(cell)] == ["ok", "ok"]
    campaign = load(cell / "campaign.json")
    assert campaign["provenance"]["runtime"] == "apptainer"
    assert campaign["provenance"]["host"]["hostname"] == socket.gethostname()
    for run in (cell / "runs").iterdir():
        fw = run.name.rsplit("-", 1)[1]
        runtime = load(run / "run.json")["runtime"]
        assert runtime["kind"] == "apptainer" and runtime["image"] == str(sifs / sif_name(fw))
    assert len(exec_calls(tmp_path)) == 2  # both runs went through apptainer exec, in the job
