"""A local campaign of implementations side by side (issue 13): `--frameworks
torch,torch:compile,jax,jax:scan` runs, survives a kill and resumes, carries the variant name
in the plan, run ids, folders, run.json, result.json and summary.csv, and the report sets the
spread between implementations next to the spread between frameworks."""

from __future__ import annotations

import csv
from pathlib import Path

import pytest

from orchestrator.data import PreparedDataset
from orchestrator.runtimes.variants import variant
from tests.campaign.helpers import (
    campaigns,
    cli,
    load,
    local_campaign,
    only_campaign,
    popen_cli,
    state_lines,
    wait_for,
)
from tests.conftest import framework_python, require

pytestmark = [pytest.mark.slow, pytest.mark.frameworks]

VARIANTS = ("torch", "torch:compile", "jax", "jax:scan")
# Two batches per run: jax:scan is slow per step on XLA:CPU (docs/workloads.md).
SMALL = ["--epochs", "1", "--batch-size", "32", "--limit-train", "64", "--limit-test", "32",
         "--threads", "1"]  # fmt: skip


WAIT_S = 600.0


def test_implementations_campaign_runs_resumes_and_reports_both_spreads(
    tiny_dataset: PreparedDataset, tmp_path: Path
) -> None:
    for name in VARIANTS:
        require(framework_python(name).exists(), f"no environment for {name}: run `make venvs`")
    results = tmp_path / "results"
    args = local_campaign(tiny_dataset.path, results, *SMALL,
                          "--frameworks", ",".join(VARIANTS), "--iterations", "2",
                          "--warmup", "0", "--idle", "0", "--seed", "3")  # fmt: skip
    proc = popen_cli(args, tmp_path)
    try:
        wait_for(lambda: bool(campaigns(results)), WAIT_S)
        folder = only_campaign(results)
        wait_for(lambda: len(state_lines(folder)) >= 2, WAIT_S)
        proc.kill()  # in the middle of the first iteration
    finally:
        proc.wait(timeout=60)
    done_before = [s["run_id"] for s in state_lines(folder)]
    assert 2 <= len(done_before) < 8

    r = cli(["campaign", "--resume", str(folder)], tmp_path, timeout_s=1500)
    assert r.returncode == 0, r.stderr
    campaign = load(folder / "campaign.json")
    assert campaign["frameworks"] == list(VARIANTS)
    planned = [f"{i:03d}-{p}-{name}" for i, row in enumerate(campaign["order"], 1)
               for p, name in enumerate(row, 1)]  # fmt: skip
    states = state_lines(folder)
    assert [s["run_id"] for s in states] == planned  # each run once, in the planned order
    assert all(s["status"] == "ok" for s in states)
    assert sorted(p.name for p in (folder / "runs").iterdir()) == sorted(planned)
    for rid in planned:
        name = rid.split("-", 2)[2]  # `001-2-torch:compile`: the variant name as it is
        run = load(folder / "runs" / rid / "run.json")
        result = load(folder / "runs" / rid / "result.json")
        assert run["framework"] == name and run["variant"] == variant(name).record()
        assert result["implementation"] == variant(name).implementation_name

    r = cli(["analyze", str(folder)], tmp_path, timeout_s=600)
    assert r.returncode == 0, r.stderr
    with (folder / "report" / "summary.csv").open() as f:
        rows = list(csv.DictReader(f))
    assert {(row["framework"], row["implementation"]) for row in rows} == {
        ("torch", "eager"),
        ("torch:compile", "compile"),
        ("jax", "step"),
        ("jax:scan", "scan"),
    }
    report = (folder / "report" / "report.md").read_text()
    section = report.split("## Frameworks or implementations?", 1)[1].split("\n## ", 1)[0]
    # within each framework: its slowest implementation over its fastest ...
    assert section.count("| implementation |") >= 2
    for pair in (("torch", "torch:compile"), ("jax", "jax:scan")):
        assert f"{pair[0]} / {pair[1]}" in section or f"{pair[1]} / {pair[0]}" in section
    # ... next to the frameworks at their best, and what each difference is put down to
    assert "| framework |" in section
    assert "implementation effect" in section and "framework effect" in section
