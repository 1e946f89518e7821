"""Relative paths work (they are made absolute once, at the edge) and a campaign in which no
run ended ok does not exit 0: issue 12, item 2."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from orchestrator.data import PreparedDataset
from tests.campaign.conftest import failing_venvs
from tests.campaign.helpers import TINY, cli, load, only_campaign, state_lines


@pytest.mark.frameworks
def test_the_default_relative_results_folder(
    torch_installed: None, tiny_dataset: PreparedDataset, tmp_path: Path
) -> None:
    work = tmp_path / "work"
    work.mkdir()
    shutil.copytree(tiny_dataset.path, work / "data")
    # As a user types it, from their own folder: relative --data, the default --results.
    r = cli(["campaign", "--runtime", "local", "--meter", "none", "--frameworks", "torch",
             "--iterations", "1", "--warmup", "0", "--idle", "0", "--data", "data", *TINY],
            tmp_path, cwd=work)  # fmt: skip
    assert r.returncode == 0, r.stderr
    folder = only_campaign(work / "results")
    assert [s["status"] for s in state_lines(folder)] == ["ok"]
    run_dir = folder / "runs" / "001-1-torch"
    assert load(run_dir / "result.json")["framework"] == "torch"
    assert not (run_dir / "results").exists()  # no nested copy


def test_a_campaign_whose_runs_all_failed_exits_1(
    tiny_dataset: PreparedDataset, tmp_path: Path
) -> None:
    venvs = failing_venvs(tmp_path / "venvs")
    results = tmp_path / "results"
    r = cli(["campaign", "--runtime", "local", "--meter", "none", "--frameworks", "torch,jax",
             "--iterations", "1", "--warmup", "0", "--idle", "0", "--max-failures", "10",
             "--data", str(tiny_dataset.path), "--results", str(results)],
            tmp_path, venvs=venvs)  # fmt: skip
    assert r.returncode == 1, r.stderr
    assert "no run ended ok" in r.stderr
    assert not any(ln.startswith("done:") for ln in r.stderr.splitlines())
    assert {s["status"] for s in state_lines(only_campaign(results))} == {"failed"}
