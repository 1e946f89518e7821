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
from analysis.baseline import Gap, Level, bracketing, gpu_idle_warnings, read_gap
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
    assert level.duration_s == pytest.approx(30.0) and level.sd_w == pytest.approx(0.08)
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
    shutil.rmtree(root / "idle" / "000-0-start")  # no gap before the first run
    shutil.rmtree(root / "idle" / runs[-1]["run_id"])  # none after the last
    c = load_campaign(root).runs.set_index("run_id")
    first, last = runs[0], runs[-1]
    assert c.loc[first["run_id"], "baseline_gaps"] == "after"
    assert math.isnan(c.loc[first["run_id"], "baseline_before_w"])
    assert c.loc[last["run_id"], "baseline_gaps"] == "before"
    assert c.loc[runs[1]["run_id"], "baseline_gaps"] == "before+after"
    assert c.loc[first["run_id"], "energy_net_j"] == pytest.approx(
        _gross(first) - 5.0 * (first["ended_at"] - first["started_at"]), rel=1e-5
    )
    analyze(root, console=QUIET, figures=False)
    md = (root / "report" / "report.md").read_text()
    assert "2 run(s) use one gap only (the other is missing): " in md
    assert f"{first['run_id']} (after)" in md and f"{last['run_id']} (before)" in md


def test_a_run_without_any_gap_is_counted_and_named(tmp_path: Path) -> None:
    # baselines are matched by meter and domain: no idle gap was read with this run's meter
    root = write_campaign(tmp_path / "c", frameworks=("a", "b"), iterations=4, seed=6)
    lonely = _runs_in_time_order(root)[3]
    path = root / "runs" / lonely["run_id"] / "run.json"
    for e in lonely["energy"].values():
        e["meter"] = "energibridge"
    path.write_text(json.dumps(lonely))
    analyze(root, console=QUIET, figures=False)
    summary = pd.read_csv(root / "report" / "summary.csv").set_index("run_id")
    assert pd.isna(summary.loc[lonely["run_id"], "energy_net_j"])
    assert pd.isna(summary.loc[lonely["run_id"], "baseline_gaps"])
    assert summary["energy_net_j"].notna().sum() == len(summary) - 1
    md = (root / "report" / "report.md").read_text()
    text = f"1 run(s) have no bracketing idle gap and so no net energy: {lonely['run_id']}"
    assert text in md


def test_baselines_match_meter_and_domain() -> None:
    other = Gap("g", 0.0, 60.0, {("nvml", "cpu-package-0"): Level(3.0, 0.1, 30.0)}, True)
    right = Gap("h", 200.0, 260.0, {("rapl", "cpu-package-0"): Level(4.0, 0.1, 30.0)}, True)
    b = bracketing(100.0, 190.0, [("rapl", "cpu-package-0")], [other, right])
    assert b.gaps == "after" and b.power_w == 4.0


def test_two_gaps_are_pooled_over_their_settled_time() -> None:
    # 30 s at 4 W before, 10 s at 8 W after: 200 J over 40 s; the spread holds both the
    # readings' sd and the gaps' distance from the mean
    before = Gap("g", 0.0, 60.0, {("rapl", "d"): Level(4.0, 0.2, 30.0)}, True)
    after = Gap("h", 200.0, 220.0, {("rapl", "d"): Level(8.0, 0.4, 10.0)}, True)
    b = bracketing(100.0, 190.0, [("rapl", "d")], [before, after])
    assert b.power_w == pytest.approx(5.0) and b.gaps == "before+after"
    expected = math.sqrt((30 * (0.04 + 1.0) + 10 * (0.16 + 9.0)) / 40)
    assert b.sd_w == pytest.approx(expected)
    assert (b.before_w, b.after_w) == (4.0, 8.0)


def test_without_a_gap_before_or_after_the_nearest_is_used() -> None:
    # a gap that overlaps the run (clock skew between meters) is neither before nor after it
    overlapping = Gap("g", 150.0, 210.0, {("rapl", "d"): Level(3.0, 0.1, 30.0)}, True)
    b = bracketing(100.0, 200.0, [("rapl", "d")], [overlapping])
    assert b.gaps == "nearest" and b.power_w == 3.0
    assert bracketing(100.0, 200.0, [("rapl", "d")], []).gaps == ""


def test_idle_json_settled_fields_are_used_when_present(tmp_path: Path) -> None:
    # the campaign writes the settled half per domain into idle.json (from the counter)
    gap = tmp_path / "idle" / "g"
    gap.mkdir(parents=True)
    (gap / "idle.json").write_text(json.dumps({
        "schema": "fwenergy.idle", "schema_version": 1, "start": 0.0, "end": 60.0,
        "duration_s": 60.0, "notes": [],
        "energy": {"cpu-package-0": {"energy_j": 420.0, "mean_power_w": 7.0, "meter": "rapl",
                                     "settled_start": 30.0, "settled_energy_j": 150.0,
                                     "settled_duration_s": 30.0, "settled_power_sd_w": 0.3}},
    }))  # fmt: skip
    g = read_gap(gap)
    assert g is not None and g.levels[("rapl", "cpu-package-0")] == Level(5.0, 0.3, 30.0)


def test_negative_net_energy_is_flagged(tmp_path: Path) -> None:
    root = write_campaign(tmp_path / "c", frameworks=("a", "b"), iterations=2, seed=7)
    runs = _runs_in_time_order(root)
    name = runs[0]["run_id"]
    old = json.loads((root / "idle" / name / "idle.json").read_text())
    shutil.rmtree(root / "idle" / name)
    write_idle_gap(root, name, old["start"], "rapl", {"cpu-package-0": 400.0, "dram-0": 100.0})
    c = load_campaign(root).runs.set_index("run_id")
    assert bool(c.loc[name, "net_negative"]) and c.loc[name, "energy_net_j"] < 0
    analyze(root, console=QUIET, figures=False)
    md = (root / "report" / "report.md").read_text()
    assert "Negative net energy (flagged): " in md and name in md


def _gpu_gaps(levels_w: list[float]) -> list[Gap]:
    return [
        Gap(f"00{i}-1-torch", 100.0 * i, 100.0 * i + 60, {("nvml", "gpu-0"): Level(w, 1.0, 30.0),
            ("rapl", "cpu-package-0"): Level(20.0, 1.0, 30.0)}, True)
        for i, w in enumerate(levels_w)
    ]  # fmt: skip


def test_a_gpu_that_does_not_return_to_idle_is_flagged() -> None:
    (warning,) = gpu_idle_warnings(_gpu_gaps([62.0, 64.0, 118.0, 61.0, 125.0]))
    assert warning.startswith("gpu-0 did not return to idle in 2 of 5 idle gaps")
    assert "002-1-torch (118 W)" in warning and "004-1-torch (125 W)" in warning
    assert "61 W" in warning  # its lowest idle level


def test_a_gpu_that_settles_is_not_flagged() -> None:
    # a few watts of wobble on a 60 W idle, and a CPU domain far above are not GPU problems
    assert gpu_idle_warnings(_gpu_gaps([62.0, 64.0, 66.0, 61.0, 69.0])) == []
    assert gpu_idle_warnings(_gpu_gaps([62.0])) == []
