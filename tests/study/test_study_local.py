"""A two-cell study end to end on the local runtime: the real CLI and real torch and JAX
workloads on synthetic data, killed (SIGKILL) mid-cell, resumed without losing or repeating
a run, then analysed into every cell's report and the study report across cells."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from orchestrator.data import PreparedDataset
from tests.campaign.helpers import cli, load, popen_cli, state_lines, wait_for
from tests.study.conftest import TWO_CELL_STUDY

WAIT_S = 240.0


def _study_dirs(results: Path) -> list[Path]:
    if not results.exists():
        return []
    return [p for p in results.iterdir() if p.is_dir() and not p.name.startswith(".")]


def _status(study: Path, tmp: Path) -> dict[str, Any]:
    r = cli(["study", "status", str(study), "--json"], tmp)
    assert r.returncode == 0, r.stderr
    return {c["cell_id"]: c for c in json.loads(r.stdout)["cells"]}


@pytest.mark.slow
@pytest.mark.frameworks
def test_study_killed_resumed_and_analysed(
    torch_installed: None, tiny_dataset: PreparedDataset, tmp_path: Path
) -> None:
    study_file = tmp_path / "sweep.toml"
    study_file.write_text(
        TWO_CELL_STUDY.format(name="batch-sweep", iterations=2, data=tiny_dataset.path)
    )
    results = tmp_path / "results"
    proc = popen_cli(["study", "run", str(study_file), "--results", str(results)], tmp_path)
    try:
        wait_for(lambda: bool(_study_dirs(results)), WAIT_S)
        (study,) = _study_dirs(results)
        doc = load(study / "study.json")
        first = study / "cells" / doc["order"][0]
        wait_for(lambda: len(state_lines(first)) >= 1, WAIT_S)
        planned = [f"{i:03d}-{p}-{fw}" for i, row in
                   enumerate(load(first / "campaign.json")["order"], 1)
                   for p, fw in enumerate(row, 1)]  # fmt: skip
        # One orchestrator per study and per cell: a second one is refused, touching nothing.
        second = cli(["study", "run-cell", str(study), doc["order"][0]], tmp_path)
        assert second.returncode == 2 and "in use by another orchestrator" in second.stderr
        # Kill mid-cell, while a later run of the first cell is in progress.
        done = len(state_lines(first))
        if done < len(planned):
            wait_for((first / "runs" / planned[done] / "events.jsonl").exists, WAIT_S)
        proc.kill()
    finally:
        proc.wait(timeout=60)

    assert doc["schema"] == "fwenergy.study" and doc["name"] == "batch-sweep"
    assert [c["factors"] for c in doc["cells"]] == [{"batch_size": 32}, {"batch_size": 64}]
    assert sorted(doc["order"]) == ["cell-01", "cell-02"]
    assert doc["file"]["text"] == study_file.read_text()
    assert doc["defaults"]["frameworks"] == ["torch", "jax"] and doc["executor"] == "local"
    assert doc["provenance"]["host"]["python"]

    before = {s["run_id"]: (first / "runs" / s["run_id"] / "run.json").read_bytes()
              for s in state_lines(first)}  # fmt: skip
    status = _status(study, tmp_path)
    assert status[doc["order"][0]]["state"] in ("partial", "done")
    assert status[doc["order"][0]]["done_runs"] == len(before)

    r = cli(["study", "run", "--resume", str(study)], tmp_path)
    assert r.returncode == 0, r.stderr
    for cell in ("cell-01", "cell-02"):
        folder = study / "cells" / cell
        ids = [s["run_id"] for s in state_lines(folder)]
        assert len(ids) == 4 and len(set(ids)) == 4, ids  # every planned run, once
        assert all(s["status"] == "ok" for s in state_lines(folder))
        campaign = load(folder / "campaign.json")
        assert campaign["study"]["cell_id"] == cell
        assert campaign["workload"]["batch_size"] == (32 if cell == "cell-01" else 64)
    for run_id, data in before.items():  # finished runs were not touched
        assert (first / "runs" / run_id / "run.json").read_bytes() == data
    assert {c["state"] for c in _status(study, tmp_path).values()} == {"done"}

    # A finished study resumes to nothing.
    again = cli(["study", "run", "--resume", str(study)], tmp_path)
    assert again.returncode == 0 and "2 cells already done" in again.stderr

    a = cli(["analyze", str(study)], tmp_path)
    assert a.returncode == 0, a.stderr
    for cell in ("cell-01", "cell-02"):
        assert (study / "cells" / cell / "report" / "report.md").exists()
    rows = (study / "report" / "study.csv").read_text().splitlines()
    assert rows[0] == ("cell_id,batch_size,metric,framework_a,framework_b,n_pairs,ratio,"
                       "ratio_ci_low,ratio_ci_high,precision,claim_ci_low,claim_ci_high,"
                       "claim_confidence,direction")  # fmt: skip
    assert [r.split(",")[:6] for r in rows[1:]] == [
        ["cell-01", "32", "time", "torch", "jax", "2"],
        ["cell-02", "64", "time", "torch", "jax", "2"],
    ]
    report = (study / "report" / "report.md").read_text()
    assert "## Ratios across cells" in report and "## Where the ranking flips" in report
    assert (study / "report" / "figures" / "ratio-time-batch_size.png").exists()
    assert (study / "report" / "report.html").exists()
