"""A folder of EnergiBridge CSVs (one sub-folder per framework) becomes a campaign folder."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from orchestrator.errors import UserError
from orchestrator.meters.energibridge_csv import EnergiBridgeCsvError
from orchestrator.meters.import_energibridge import import_energibridge_folder


def eb_csv(start_ms: int, seconds: float, power_w: float, *, amd: bool, offset_j: float) -> str:
    """An EnergiBridge v0.0.7 CSV: 200 ms rows, a counter wrapping at 2^16 J (AMD) or
    2^18 J (Intel) from `offset_j`, DRAM on Intel only."""
    wrap = 65536.0 if amd else 262144.0
    keys = (
        ["CPU_ENERGY (J)", "CPU_USAGE_0", "CPU_USAGE_1", "CPU_USAGE_10"]
        if amd
        else ["CPU_USAGE_0", "DRAM_ENERGY (J)", "PACKAGE_ENERGY (J)", "PP0_ENERGY (J)"]
    )
    lines = ["Delta,Time," + ",".join(keys)]
    for i in range(int(seconds / 0.2) + 1):
        t = i * 0.2
        pkg = (offset_j + power_w * t) % wrap
        values = {
            "CPU_ENERGY (J)": pkg,
            "PACKAGE_ENERGY (J)": pkg,
            "DRAM_ENERGY (J)": 1000 + 5.0 * t,
            "PP0_ENERGY (J)": 10 + 0.5 * power_w * t,
            "CPU_USAGE_0": 50,
            "CPU_USAGE_1": 51,
            "CPU_USAGE_10": 52,
        }
        lines.append(
            f"{200 if i else 0},{start_ms + i * 200}," + ",".join(_rust(values[k]) for k in keys)
        )
    return "\n".join(lines) + "\n"


def _rust(x: float) -> str:
    # Rust's f64 Display: shortest round-trip digits, no ".0" on integral values.
    return str(int(x)) if float(x).is_integer() else repr(float(x))


@pytest.fixture
def study(tmp_path: Path) -> Path:
    src = tmp_path / "study"
    # Iteration order differs per iteration; run 10 checks natural sorting; torch_1 wraps.
    plan = {
        0: ["keras", "torch", "jax"],
        1: ["torch", "jax", "keras"],
        2: ["jax", "keras", "torch"],
        10: ["keras", "jax", "torch"],
    }
    power = {"keras": 30.0, "torch": 40.0, "jax": 50.0}
    t_ms = 1_700_000_000_000
    for number, order in plan.items():
        for group in order:
            (src / group).mkdir(parents=True, exist_ok=True)
            offset = 65530.0 if (group, number) == ("torch", 1) else 100.0
            text = eb_csv(t_ms, 4.0, power[group], amd=True, offset_j=offset)
            (src / group / f"{group}_{number}.csv").write_text(text)
            t_ms += 70_000
    return src


def test_import_writes_the_campaign_folder(study: Path, tmp_path: Path) -> None:
    out = import_energibridge_folder(study, tmp_path / "campaign")
    campaign = json.loads((out / "campaign.json").read_text())
    assert campaign["schema"] == "fwenergy.campaign" and campaign["schema_version"] == 1
    assert campaign["imported"]["tool"] == "energibridge"
    assert campaign["imported"]["source"] == str(study.resolve())
    assert campaign["frameworks"] == ["jax", "keras", "torch"]
    assert campaign["iterations"] == 4
    assert campaign["order"] == [
        ["keras", "torch", "jax"],
        ["torch", "jax", "keras"],
        ["jax", "keras", "torch"],
        ["keras", "jax", "torch"],
    ]
    assert campaign["protocol"]["interval_ms"] == 200
    run_dirs = sorted(p.name for p in (out / "runs").iterdir())
    assert len(run_dirs) == 12
    assert "011-0-keras" in run_dirs and "001-0-torch" in run_dirs  # keras_10 -> 11
    state = [json.loads(line) for line in (out / "state.jsonl").read_text().splitlines()]
    # A CSV cannot say whether its run succeeded: labelled for what it is, not `ok`.
    assert len(state) == 12 and all(s["status"] == "imported" for s in state)
    assert {s["run_id"] for s in state} == set(run_dirs)
    assert not list(tmp_path.glob(".campaign.importing"))


def test_run_json_energy_is_the_package_counter_with_wraps_corrected(
    study: Path, tmp_path: Path
) -> None:
    out = import_energibridge_folder(study, tmp_path / "campaign")
    run = json.loads((out / "runs/002-0-torch/run.json").read_text())
    assert run["schema"] == "fwenergy.run" and run["status"] == "imported"
    assert run["iteration"] == 2 and run["position"] is None and run["framework"] == "torch"
    assert run["duration_s"] == pytest.approx(4.0)
    pkg = run["energy"]["cpu-package-0"]
    assert pkg["gross_j"] == pytest.approx(160.0)  # 40 W x 4 s across the 65,536 J wrap
    assert pkg["method"] == "counter" and pkg["estimated"] is False
    assert "net_j" not in pkg  # no idle gaps were measured: no baseline invented
    assert set(run["energy"]) == {"cpu-package-0"}
    assert (out / "runs/002-0-torch/samples-energibridge.csv").read_bytes() == (
        study / "torch/torch_1.csv"
    ).read_bytes()
    power = (out / "runs/002-0-torch/power-energibridge.csv").read_text().splitlines()
    assert power[0] == "time_s,cpu-package-0_power_w"
    assert all(float(line.split(",")[1]) == pytest.approx(40.0) for line in power[1:])


def test_intel_layout_imports_package_and_dram(tmp_path: Path) -> None:
    src = tmp_path / "study"
    (src / "torch").mkdir(parents=True)
    (src / "torch/torch_1.csv").write_text(
        eb_csv(1_700_000_000_000, 2.0, 25.0, amd=False, offset_j=262_100.0)
    )
    out = import_energibridge_folder(src, tmp_path / "c")
    run = json.loads((out / "runs/001-0-torch/run.json").read_text())
    energy = run["energy"]
    # Every column through the domain table; the total adds only what it may.
    assert set(energy) == {"cpu-package-0", "cpu-core-0", "dram-0"}
    assert energy["cpu-package-0"]["gross_j"] == pytest.approx(50.0)
    assert energy["dram-0"]["gross_j"] == pytest.approx(10.0)
    assert energy["cpu-package-0"]["summable"] is True
    assert energy["cpu-core-0"]["summable"] is False  # nested in the package
    # EnergiBridge's DRAM unit is wrong on servers: out of the total unless told otherwise.
    assert energy["dram-0"]["summable"] is False and "15.3 uJ" in energy["dram-0"]["out_of_total"]
    assert any("dram-0" in n and "15.3 uJ" in n for n in run["notes"])
    client = import_energibridge_folder(src, tmp_path / "client", client_cpu=True)
    run = json.loads((client / "runs/001-0-torch/run.json").read_text())
    assert run["energy"]["dram-0"]["summable"] is True


def test_a_package_column_that_never_advances_is_refused(tmp_path: Path) -> None:
    src = tmp_path / "study"
    (src / "keras").mkdir(parents=True)
    (src / "keras/keras_0.csv").write_text(
        "Delta,Time,CPU_ENERGY (J)\n200,1000,0\n200,1200,0\n200,1400,0\n"
    )
    with pytest.raises(UserError, match=r"CPU_ENERGY \(J\) column never advances"):
        import_energibridge_folder(src, tmp_path / "c")


def test_a_csv_from_the_fake_binary_imports(tmp_path: Path, fake_energibridge: Path) -> None:
    src = tmp_path / "study"
    (src / "jax").mkdir(parents=True)
    subprocess.run(
        [str(fake_energibridge), "-o", str(src / "jax/jax_0.csv"), "-i", "50", "--",
         sys.executable, "-c", "import time; time.sleep(0.5)"],
        check=True, env={"FAKE_EB_VENDOR": "intel", "FAKE_EB_POWER_W": "35"},
    )  # fmt: skip
    out = import_energibridge_folder(src, tmp_path / "c")
    run = json.loads((out / "runs/001-0-jax/run.json").read_text())
    assert run["energy"]["cpu-package-0"]["mean_power_w"] == pytest.approx(35.0, rel=0.01)


def test_malformed_csv_names_file_and_line_and_leaves_nothing(study: Path, tmp_path: Path) -> None:
    bad = study / "jax/jax_2.csv"
    lines = bad.read_text().splitlines()
    lines[5] = lines[5].rsplit(",", 1)[0]  # a truncated row
    bad.write_text("\n".join(lines) + "\n")
    with pytest.raises(EnergiBridgeCsvError, match=rf"{bad}:6: 5 fields, the header has 6"):
        import_energibridge_folder(study, tmp_path / "campaign")
    assert not (tmp_path / "campaign").exists()
    assert not (tmp_path / ".campaign.importing").exists()


def test_refuses_an_existing_output_and_an_empty_source(study: Path, tmp_path: Path) -> None:
    (tmp_path / "taken").mkdir()
    with pytest.raises(UserError, match="already exists"):
        import_energibridge_folder(study, tmp_path / "taken")
    (tmp_path / "empty").mkdir()
    with pytest.raises(UserError, match="no sub-folder with CSVs"):
        import_energibridge_folder(tmp_path / "empty", tmp_path / "c")


def test_csv_without_a_package_counter_is_refused(tmp_path: Path) -> None:
    src = tmp_path / "study"
    (src / "keras").mkdir(parents=True)
    (src / "keras/keras_0.csv").write_text("Delta,Time,CPU_USAGE_0\n0,1000,5\n200,1200,6\n")
    with pytest.raises(UserError, match=r"keras_0.csv: no CPU_ENERGY \(J\) or PACKAGE_ENERGY"):
        import_energibridge_folder(src, tmp_path / "c")
