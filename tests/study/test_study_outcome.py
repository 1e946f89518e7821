"""How a study ends when its runs fail (issue 24, major 3): exit 1, naming every cell with no
ok run and, with `--executor slurm --wait`, every job that did not complete with its log.
Real CLI, real Slurm (tools/slurm-local.sh), environments whose interpreter fails."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from orchestrator.data import PreparedDataset
from tests.campaign.conftest import failing_venvs
from tests.campaign.helpers import cli
from tests.study.conftest import TWO_CELL_STUDY
from tests.study.test_slurm import cluster  # noqa: F401 (the fixture)


def _study(tmp: Path, data: str) -> Path:
    path = tmp / "study.toml"
    path.write_text(TWO_CELL_STUDY.format(name="fails", iterations=1, data=data))
    return path


def test_a_local_study_whose_every_run_failed_exits_1_naming_the_cells(
    tiny_dataset: PreparedDataset, tmp_path: Path
) -> None:
    r = cli(["study", "run", str(_study(tmp_path, tiny_dataset.path)), "--results",
             str(tmp_path / "results")], tmp_path,
            venvs=failing_venvs(tmp_path / "venvs"))  # fmt: skip
    assert r.returncode == 1, r.stderr
    named = re.search(r"no run ended ok in (cell-0\d), (cell-0\d) \(see ", r.stderr)
    assert named is not None and sorted(named.groups()) == ["cell-01", "cell-02"], r.stderr
    assert not r.stderr.strip().splitlines()[-1].startswith("done:")


@pytest.mark.slow
def test_a_slurm_study_whose_jobs_failed_exits_1_naming_each_job_and_its_log(
    cluster: str,  # noqa: F811 (the imported fixture)
    tiny_dataset: PreparedDataset,
    tmp_path: Path,
) -> None:
    results = tmp_path / "100%-results"  # --output is a Slurm pattern: the % is escaped
    r = cli(["study", "run", str(_study(tmp_path, tiny_dataset.path)), "--results",
             str(results), "--executor", "slurm", "--partition", cluster, "--wait"],
            tmp_path, venvs=failing_venvs(tmp_path / "venvs"), timeout_s=600)  # fmt: skip
    assert r.returncode == 1, r.stderr
    (study,) = [p for p in results.iterdir() if not p.name.startswith(".")]
    jobs = re.findall(r"job (\d+) of (cell-0[12]) ended failed, not completed: see (\S+)", r.stderr)
    assert sorted(cell for _, cell, _ in jobs) == ["cell-01", "cell-02"], r.stderr
    for job, cell, log in jobs:
        assert Path(log) == study / "slurm" / f"{cell}-{job}.log"
        assert "no run ended ok" in Path(log).read_text()  # the job's own run-cell said why
