"""The loader: campaign folder -> tidy table, per docs/formats.md."""

from __future__ import annotations

import json
import math
from pathlib import Path

import pytest

from analysis.errors import AnalysisInputError
from analysis.load import load_campaign, phase_names, tidy_row
from tests.analysis.synth import write_campaign, write_imported


def _run(energy: dict, **extra: object) -> dict:
    return {"run_id": "001-1-torch", "framework": "torch", "status": "ok", "iteration": 1,
            "position": 1, "duration_s": 10.0, "energy": energy, **extra}  # fmt: skip


def test_total_adds_only_packages_dram_and_gpus() -> None:
    energy = {
        "psys": {"gross_j": 900.0},  # contains the packages: never added
        "cpu-package-0": {"gross_j": 500.0, "net_j": 400.0},
        "cpu-core-0": {"gross_j": 300.0},  # inside the package
        "cpu-uncore-0": {"gross_j": 50.0},
        "dram-0": {"gross_j": 100.0, "net_j": 90.0},
        "gpu-0": {"gross_j": 200.0, "net_j": 150.0},
    }
    row = tidy_row(_run(energy), None)
    assert row["energy_domains"] == "cpu-package-0+dram-0+gpu-0"
    assert row["energy_gross_j"] == 800.0
    assert math.isnan(row["energy_net_j"])  # net comes from idle/ (apply_baseline), not run.json
    assert row["mean_power_w"] == 80.0
    assert row["edp_j_s"] == 8000.0
    assert row["psys_gross_j"] == 900.0 and row["cpu-core-0_gross_j"] == 300.0


def test_the_summable_flag_decides_what_the_total_adds() -> None:
    # a folder with the flag: a new domain kind is added or not as run.json says, whatever
    # its name; the naming rule is only for folders written before the flag existed
    energy = {
        "cpu-package-0": {"gross_j": 500.0, "summable": True},
        "accel-0": {"gross_j": 70.0, "summable": True},
        "gpu-0": {"gross_j": 200.0, "summable": False},
        "psys": {"gross_j": 900.0, "summable": False},
    }
    row = tidy_row(_run(energy), None)
    assert row["energy_domains"] == "accel-0+cpu-package-0" and row["energy_gross_j"] == 570.0


def test_steady_state_energy_per_epoch_and_step() -> None:
    phases = [
        {"name": n, "duration_s": d, "energy_j": {"cpu-package-0": e}}
        for n, d, e in (("compile", 1.0, 30.0), ("epoch_1", 12.0, 300.0),
                        ("epoch_2", 10.0, 200.0), ("epoch_3", 11.0, 220.0))
    ]  # fmt: skip
    result = {"config": {"batch_size": 64}, "dataset": {"train_count": 6400}}
    row = tidy_row(_run({"cpu-package-0": {"gross_j": 800.0}}, phases=phases), result)
    # epochs 2 and 3 only: epoch 1 holds compilation
    assert row["steady_epoch_energy_j"] == 210.0 and row["steady_epoch_duration_s"] == 10.5
    assert row["steady_step_energy_j"] == pytest.approx(2.1)  # 100 steps of 64
    one = tidy_row(_run({"cpu-package-0": {"gross_j": 800.0}}, phases=phases[:2]), result)
    assert one["steady_epoch_energy_j"] == 270.0  # epoch 1 without its compile step


def test_no_summable_domain_means_no_total() -> None:
    row = tidy_row(_run({"psys": {"gross_j": 9.0}}), None)
    assert math.isnan(row["energy_gross_j"]) and row["energy_domains"] == ""
    none_meter = tidy_row(_run({}), None)
    assert math.isnan(none_meter["energy_gross_j"]) and none_meter["energy_estimated"] is None


def test_phase_energy_sums_the_same_domains() -> None:
    phases = [{"name": "eval", "start": 0, "end": 1, "duration_s": 1.0,
               "energy_j": {"cpu-package-0": 3.0, "dram-0": 1.0, "psys": 7.0}}]  # fmt: skip
    row = tidy_row(_run({"cpu-package-0": {"gross_j": 5.0}, "dram-0": {"gross_j": 1.0}},
                        phases=phases), None)  # fmt: skip
    assert row["phase_eval_energy_j"] == 4.0 and row["phase_eval_duration_s"] == 1.0


def test_synthetic_campaign_loads_one_row_per_run(tmp_path: Path) -> None:
    # keras runs at one of the three positions of iteration 2: exactly one of these ids exists
    failed = [f"002-{p}-keras" for p in (1, 2, 3)]
    write_campaign(tmp_path / "c", iterations=3, failed=failed)
    c = load_campaign(tmp_path / "c")
    assert len(c.runs) == 9
    assert sorted(c.runs["framework"].unique()) == ["jax", "keras", "torch"]
    assert (c.runs["status"] == "failed").sum() == 1
    ok = c.runs[c.runs["status"] == "ok"]
    assert ok["test_accuracy"].notna().all() and ok["parameter_count"].eq(268298).all()
    assert phase_names(c.runs) == [
        "startup",
        "data_to_device",
        "compile",
        "epoch_1",
        "epoch_2",
        "epoch_3",
        "eval",
    ]
    assert c.domains == ["cpu-package-0", "dram-0"]
    # gross = package + dram exactly as run.json has them
    for r in ok.itertuples():
        record = c.run_records[r.run_id]["energy"]
        expected = record["cpu-package-0"]["gross_j"] + record["dram-0"]["gross_j"]
        assert r.energy_gross_j == pytest.approx(expected)


def test_imported_campaign_has_empty_columns_not_errors(tmp_path: Path) -> None:
    c = load_campaign(write_imported(tmp_path / "imp"))
    assert c.imported
    assert c.runs["position"].isna().all()
    assert c.runs["test_accuracy"].isna().all()
    assert c.runs["energy_net_j"].isna().all()
    assert c.runs["energy_gross_j"].notna().all()
    assert phase_names(c.runs) == []


def test_run_without_run_json_is_noted(tmp_path: Path) -> None:
    write_campaign(tmp_path / "c", iterations=2)
    (tmp_path / "c" / "runs" / "003-1-torch").mkdir()
    c = load_campaign(tmp_path / "c")
    assert any("003-1-torch" in n for n in c.notes)


def test_missing_campaign_json_is_a_user_error(tmp_path: Path) -> None:
    with pytest.raises(AnalysisInputError, match=r"no campaign\.json"):
        load_campaign(tmp_path)


def test_malformed_run_json_names_the_file(tmp_path: Path) -> None:
    write_campaign(tmp_path / "c", iterations=1)
    bad = next((tmp_path / "c" / "runs").iterdir()) / "run.json"
    bad.write_text('{"schema": "fwenergy.run",\n  oops')
    with pytest.raises(AnalysisInputError, match=rf"{bad}: not valid JSON \(line 2"):
        load_campaign(tmp_path / "c")


def test_unknown_schema_version_is_refused(tmp_path: Path) -> None:
    write_campaign(tmp_path / "c", iterations=1)
    meta = tmp_path / "c" / "campaign.json"
    meta.write_text(json.dumps(json.loads(meta.read_text()) | {"schema_version": 2}))
    with pytest.raises(AnalysisInputError, match="version 2"):
        load_campaign(tmp_path / "c")


def test_campaign_without_runs_is_a_user_error(tmp_path: Path) -> None:
    write_campaign(tmp_path / "c", iterations=1)
    for run in (tmp_path / "c" / "runs").iterdir():
        for f in run.iterdir():
            f.unlink()
        run.rmdir()
    (tmp_path / "c" / "state.jsonl").unlink()
    with pytest.raises(AnalysisInputError, match="no runs"):
        load_campaign(tmp_path / "c")


def test_synthetic_phases_agree_with_the_orchestrators_derivation(tmp_path: Path) -> None:
    """The generator's run.json phases are what orchestrator derives from its events.jsonl,
    so the synthetic folders follow the contract the real campaign writes."""
    from orchestrator.meters.energy import phases_from_events

    write_campaign(tmp_path / "c", iterations=1)
    for run_dir in (tmp_path / "c" / "runs").iterdir():
        events = [json.loads(line) for line in (run_dir / "events.jsonl").read_text().splitlines()]
        derived = {p.name: (p.start_s, p.end_s) for p in phases_from_events(events)}
        written = json.loads((run_dir / "run.json").read_text())["phases"]
        assert derived == {p["name"]: (pytest.approx(p["start"]), pytest.approx(p["end"]))
                           for p in written}  # fmt: skip
