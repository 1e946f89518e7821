"""Net energy recomputed from idle/: the settled half of the gaps that bracket each run, on
hand-built folders (idle gaps written as orchestrator/campaign/idle.py writes them)."""

from __future__ import annotations

import json
import math
import shutil
from pathlib import Path

import pandas as pd
import pytest

from analysis.analyze import analyze
from analysis.baseline import Gap, Level, bracketing, read_gap
from analysis.load import load_campaign
from tests.analysis.conftest import QUIET
from tests.analysis.synth import BASELINE_W, TAIL, write_campaign, write_idle_gap


def _runs_in_time_order(root: Path) -> list[dict]:
    runs = [json.loads(p.read_text()) for p in root.glob("runs/*/run.json")]
    return sorted(runs, key=lambda r: r["started_at"])


def _gross(run: dict) -> float:
    return sum(e["gross_j"] for e in run["energy"].values() if e.get("summable"))


def test_settled_half_of_a_gap_is_its_level(tmp_path: Path) -> None:
    write_idle_gap(tmp_path, "g", 1000.0, "rapl", {"cpu-package-0": 8.0})
    gap = read_gap(tmp_path / "idle" / "g")
    assert gap is not None and gap.settled
    level = gap.levels[("rapl", "cpu-package-0")]
    # the first half carries the previous run's tail (x1.5): left out; the second half
    # alternates 8.08 / 7.92 W over 30 one-second readings
    assert level.mean_w == pytest.approx(8.0)
    assert level.n == 30 and level.sd_w == pytest.approx(0.08 * math.sqrt(30 / 29))
    whole = json.loads((tmp_path / "idle" / "g" / "idle.json").read_text())
    assert whole["energy"]["cpu-package-0"]["mean_power_w"] == pytest.approx(8.0 * (1 + TAIL) / 2)


def test_net_energy_equals_the_bracketing_gap_baseline(tmp_path: Path) -> None:
    root = write_campaign(tmp_path / "c", frameworks=("a", "b"), iterations=3, seed=4)
    runs = _runs_in_time_order(root)
    target = runs[2]  # the third run: gap of runs[1] before it, its own gap after it
    before, after = runs[1]["run_id"], target["run_id"]
    levels = {before: {"cpu-package-0": 7.0, "dram-0": 2.0}, after: {"cpu-package-0": 5.0,
                                                                     "dram-0": 1.0}}  # fmt: skip
    for name, baseline in levels.items():
        old = json.loads((root / "idle" / name / "idle.json").read_text())
        shutil.rmtree(root / "idle" / name)
        write_idle_gap(root, name, old["start"], "rapl", baseline)
    c = load_campaign(root)
    row = c.runs.set_index("run_id").loc[target["run_id"]]
    # (9 W before + 6 W after) / 2, over started_at..ended_at
    span = target["ended_at"] - target["started_at"]
    # (the CSV's times are rounded to milliseconds: the middle of the gap falls a hair
    # inside a tail reading)
    assert row["baseline_power_w"] == pytest.approx(7.5, rel=1e-4)
    assert (row["baseline_before_w"], row["baseline_after_w"]) == pytest.approx(
        (9.0, 6.0), rel=1e-4
    )
    assert row["baseline_gaps"] == "before+after"
    assert row["energy_net_j"] == pytest.approx(_gross(target) - row["baseline_power_w"] * span)
    assert row["energy_net_j"] == pytest.approx(_gross(target) - 7.5 * span, rel=1e-5)
    assert row["cpu-package-0_net_j"] == pytest.approx(
        target["energy"]["cpu-package-0"]["gross_j"] - 6.0 * span, rel=1e-5
    )
    # the spread: every settled reading of both gaps, per domain, variances added
    assert 0 < row["baseline_sd_w"] < 2
    # an untouched run: both gaps at the synthetic baseline, not the tail-inflated mean
    other = c.runs.set_index("run_id").loc[runs[4]["run_id"]]
    assert other["baseline_power_w"] == pytest.approx(sum(BASELINE_W.values()), rel=1e-4)


def test_a_missing_gap_uses_the_other_and_says_so(tmp_path: Path) -> None:
    root = write_campaign(tmp_path / "c", frameworks=("a", "b"), iterations=2, seed=5)
    runs = _runs_in_time_order(root)
    shutil.rmtree(root / "idle" / runs[1]["run_id"])  # after run 2, before run 3
    c = load_campaign(root).runs.set_index("run_id")
    assert c.loc[runs[1]["run_id"], "baseline_gaps"] == "before"
    assert c.loc[runs[2]["run_id"], "baseline_gaps"] == "after"
    assert math.isnan(c.loc[runs[2]["run_id"], "baseline_before_w"])
    assert c.loc[runs[2]["run_id"], "energy_net_j"] == pytest.approx(
        _gross(runs[2]) - 5.0 * (runs[2]["ended_at"] - runs[2]["started_at"]), rel=1e-5
    )


def test_a_run_without_any_gap_is_counted_and_named(tmp_path: Path) -> None:
    root = write_campaign(tmp_path / "c", frameworks=("a", "b"), iterations=4, seed=6)
    runs = _runs_in_time_order(root)
    lonely = runs[3]["run_id"]
    shutil.rmtree(root / "idle" / runs[2]["run_id"])
    shutil.rmtree(root / "idle" / lonely)
    analyze(root, console=QUIET)
    summary = pd.read_csv(root / "report" / "summary.csv").set_index("run_id")
    assert pd.isna(summary.loc[lonely, "energy_net_j"])
    assert pd.isna(summary.loc[lonely, "baseline_gaps"])
    assert summary["energy_net_j"].notna().sum() == len(summary) - 1
    md = (root / "report" / "report.md").read_text()
    assert f"1 run(s) have no bracketing idle gap and so no net energy: {lonely}" in md


def test_baselines_match_meter_and_domain() -> None:
    gap = Gap("g", 0.0, 60.0, {("nvml", "cpu-package-0"): Level(3.0, 0.1, 30)}, True)
    right = Gap("h", 200.0, 260.0, {("rapl", "cpu-package-0"): Level(4.0, 0.1, 30)}, True)
    b = bracketing(100.0, 190.0, [("rapl", "cpu-package-0")], [gap, right], [100.0])
    assert b.gaps == "after" and b.power_w == 4.0


def test_a_gap_behind_another_run_does_not_bracket() -> None:
    far = Gap("g", 0.0, 60.0, {("rapl", "d"): Level(3.0, 0.1, 30)}, True)
    # another run started at 70 s, between the gap and this run (at 200 s)
    b = bracketing(200.0, 250.0, [("rapl", "d")], [far], [70.0, 200.0])
    assert b.gaps == "" and math.isnan(b.power_w)


def test_negative_net_energy_is_flagged(tmp_path: Path) -> None:
    root = write_campaign(tmp_path / "c", frameworks=("a", "b"), iterations=2, seed=7)
    runs = _runs_in_time_order(root)
    name = runs[0]["run_id"]
    old = json.loads((root / "idle" / name / "idle.json").read_text())
    shutil.rmtree(root / "idle" / name)
    write_idle_gap(root, name, old["start"], "rapl", {"cpu-package-0": 400.0, "dram-0": 100.0})
    c = load_campaign(root).runs.set_index("run_id")
    assert bool(c.loc[name, "net_negative"]) and c.loc[name, "energy_net_j"] < 0
    analyze(root, console=QUIET)
    md = (root / "report" / "report.md").read_text()
    assert "Negative net energy (flagged): " in md and name in md
