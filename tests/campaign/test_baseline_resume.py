"""The baseline brackets each run, from the settled halves of the idle gaps around it;
resume reuses the recorded meters and domains, and follows its warm-up with a fresh gap.
On a fake powercap tree at a known power, with a stand-in workload (tests/campaign/conftest)."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from orchestrator.data import PreparedDataset
from tests.campaign.conftest import quick_venvs
from tests.campaign.helpers import cli, load, only_campaign, state_lines
from tests.fakes.powercap import FakePowercap, two_socket_intel
from tests.meters.conftest import sysfs_dir  # noqa: F401 (the fixture, shared)

DOMAIN = "cpu-package-0"


def test_bracketing_baseline_and_resume_with_the_recorded_meters(
    tiny_dataset: PreparedDataset,
    sysfs_dir: Path,  # noqa: F811 (the imported fixture)
    tmp_path: Path,
) -> None:
    venvs = quick_venvs(tmp_path / "venvs")
    results = tmp_path / "results"
    args = ["--powercap-root", str(sysfs_dir)]
    with FakePowercap(sysfs_dir, two_socket_intel()):
        r = cli(["campaign", "--data", str(tiny_dataset.path), "--results", str(results),
                 "--runtime", "local", "--meter", "auto", "--interval-ms", "50",
                 "--frameworks", "torch", "--iterations", "2", "--warmup", "0",
                 "--idle", "0.6", *args], tmp_path, venvs=venvs)  # fmt: skip
        assert r.returncode == 0, r.stderr
        folder = only_campaign(results)
        protocol = load(folder / "campaign.json")["protocol"]
        assert protocol["meters"] == ["rapl"]
        assert DOMAIN in protocol["domains"]["rapl"] and protocol["gpu"] == 0
        first_id, second_id = (s["run_id"] for s in state_lines(folder))

        first = load(folder / "runs" / first_id / "run.json")
        pkg = first["energy"][DOMAIN]
        # run.json was rewritten after the following gap: both gaps bracket the run.
        assert pkg["baseline_gaps"] == ["000-0-start", first_id]
        assert pkg["baseline_power_w"] == pytest.approx(30.0, rel=0.05)
        assert pkg["baseline_spread_w"] >= 0 and "baseline_note" not in pkg
        assert pkg["summable"] is True and first["energy"]["psys"]["summable"] is False
        gap = load(folder / "idle" / first_id / "idle.json")["energy"][DOMAIN]
        assert gap["settled_duration_s"] == pytest.approx(0.3, abs=0.1)
        assert gap["settled_energy_j"] / gap["settled_duration_s"] == pytest.approx(30, rel=0.1)
        # The phases add up to the run: the stand-in has none, so all is remainder.
        assert first["phases"][-1]["name"] == "remainder"

        # Resume redoes the last run after a fresh gap that follows the warm-up.
        lines = (folder / "state.jsonl").read_text().splitlines()
        (folder / "state.jsonl").write_text(lines[0] + "\n")
        shutil.rmtree(folder / "runs" / second_id)
        shutil.rmtree(folder / "idle" / second_id)
        r = cli(["campaign", "--resume", str(folder), *args], tmp_path, venvs=venvs)
        assert r.returncode == 0, r.stderr
        resume_gap = load(folder / "idle" / "000-0-resume-1" / "idle.json")
        second = load(folder / "runs" / second_id / "run.json")
        assert resume_gap["end"] <= second["started_at"]
        assert second["energy"][DOMAIN]["baseline_gaps"] == ["000-0-resume-1", second_id]

    # After a reboot the counters are root-only again, or a zone is gone: `auto` would
    # quietly resume without RAPL. Resume refuses, in one line.
    # (dram: measured on every CPU vendor; `core` is left out on AMD, as on this machine.)
    (sysfs_dir / "_devices/intel-rapl/intel-rapl:0/intel-rapl:0:2/energy_uj").unlink()
    shutil.rmtree(sysfs_dir / "_devices/intel-rapl/intel-rapl:0/intel-rapl:0:2")
    (sysfs_dir / "intel-rapl:0:2").unlink()
    r = cli(["campaign", "--resume", str(folder), *args], tmp_path, venvs=venvs)
    assert r.returncode == 2, r.stderr
    assert "no longer reads dram-0" in r.stderr
    (sysfs_dir / "_devices/intel-rapl/intel-rapl:0/energy_uj").unlink()
    r = cli(["campaign", "--resume", str(folder), *args], tmp_path, venvs=venvs)
    assert r.returncode == 2 and "recorded meters rapl" in r.stderr, r.stderr
