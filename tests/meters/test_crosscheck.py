"""Cross-checks: two readings of one scope in one window, both recorded with their
agreement, judged against their uncertainty budgets."""

from __future__ import annotations

import time
from pathlib import Path

import numpy as np
import pytest

from orchestrator.campaign.idle import idle_record
from orchestrator.campaign.plan import PlannedRun, WorkloadSettings
from orchestrator.campaign.protocol import run_record
from orchestrator.meters.base import DomainSeries, Recording
from orchestrator.meters.crosscheck import cross_checks
from orchestrator.meters.energy import energy_block
from orchestrator.meters.measure import measure
from orchestrator.meters.nvml import NvmlMeter
from orchestrator.runtimes.base import ExitState
from tests.fakes.powercap import FakePowercap, amd_single_socket, two_socket_intel
from tests.fakes.pynvml_fake import FakeGpu, make_fake_pynvml


def _series(power_w: float, method: str = "counter") -> DomainSeries:
    t = np.arange(0.0, 60.01, 0.1)
    return DomainSeries(t, power_w * t, method)  # type: ignore[arg-type]


def test_psys_below_its_packages_and_dram_is_flagged_impossible() -> None:
    parts = {"cpu-package-0": _series(50.0), "dram-0": _series(10.0)}
    ok = Recording("rapl", 0.0, 60.0, {"psys": _series(80.0), **parts,
                                       "cpu-core-0": _series(40.0)})  # fmt: skip
    (check,) = cross_checks([ok], (5.0, 55.0))
    assert check["check"] == "psys >= packages + dram" and check["agree"] is True
    assert check["ratio"] == pytest.approx(60.0 / 80.0)  # the core, nested, is not added
    bad = Recording("rapl", 0.0, 60.0, {"psys": _series(50.0), "cpu-package-0": _series(50.0),
                                        "dram-0": _series(10.0)})  # fmt: skip
    (check,) = cross_checks([bad], (5.0, 55.0))
    assert check["agree"] is False and check["b_j"] == pytest.approx(3000.0)


def test_an_nvml_gpu_run_records_counter_against_polled_power_in_run_json(
    tmp_path: Path,
) -> None:
    nv = make_fake_pynvml([FakeGpu(power_w=250.0, counter_period_s=0.02)])
    meter = NvmlMeter(50, nvml_module=nv)
    meter.start(tmp_path)
    time.sleep(0.6)
    rec = meter.stop()
    span = (float(rec.series["gpu-0"].time_s[1]), float(rec.series["gpu-0"].time_s[-2]))
    record = run_record(
        PlannedRun(1, 1, "torch"), status="ok", exit_state=ExitState(0), error=None,
        started_at=span[0], ended_at=span[1], runtime_block={"kind": "local"}, meters=[meter],
        recordings=[rec], events=[], gaps=[], workload=WorkloadSettings(device="gpu"),
    )  # fmt: skip
    assert record.cross_checks is not None
    (check,) = record.cross_checks
    assert check["check"] == "gpu-0: counter vs polled power"
    assert (check["a"], check["b"]) == ("nvml:counter", "nvml:power-integration")
    # The counter moves in 20 ms steps; polled power is exact here: they agree within
    # the budget (the counter's 100 ms update period at both edges, polled power's 5%).
    assert check["ratio"] == pytest.approx(1.0, abs=0.1) and check["agree"] is True
    assert "cross_checks" in record.to_json()
    # The polled series is a check, not a second gpu-0.
    assert list(record.energy) == ["gpu-0"] and record.energy["gpu-0"]["method"] == "counter"


def test_measure_with_rapl_and_energibridge_checks_one_against_the_other(
    sysfs_dir: Path, fake_energibridge: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The fake EnergiBridge draws what the fake powercap package draws: 45 W, AMD.
    monkeypatch.setenv("FAKE_EB_VENDOR", "amd")
    monkeypatch.setenv("FAKE_EB_POWER_W", "45")
    with FakePowercap(sysfs_dir, amd_single_socket()):
        m = measure(["sleep", "1.0"], "rapl,energibridge", 50, powercap_root=sysfs_dir,
                    energibridge=fake_energibridge)  # fmt: skip
    assert m.meters == ("rapl", "energibridge")
    assert m.domains["cpu-package-0"].meter == "rapl"  # the value is rapl's
    (check,) = [c for c in m.cross_checks if c["check"].startswith("cpu-package-0")]
    assert check["check"] == "cpu-package-0: rapl vs energibridge"
    assert check["ratio"] == pytest.approx(1.0, abs=0.03)
    assert not any("cross-check failed" in n for n in m.notes if "cpu-package-0" in n)


def test_two_socket_psys_check_runs_in_measure(sysfs_dir: Path) -> None:
    with FakePowercap(sysfs_dir, two_socket_intel()):
        m = measure(["sleep", "0.5"], "rapl", 50, powercap_root=sysfs_dir)
    (check,) = m.cross_checks
    assert check["agree"] is True and check["ratio"] == pytest.approx(66.0 / 80.0, rel=0.02)


def test_a_checking_meter_never_takes_the_idle_gap_or_the_run_from_the_meter_it_checks() -> None:
    rapl = Recording("rapl", 0.0, 60.0, {"cpu-package-0": _series(30.0)})
    eb = Recording("energibridge", 0.0, 60.0, {"cpu-package-0": _series(31.0)}, checks="rapl")
    gap = idle_record([rapl, eb], 0.0, 60.0)
    assert gap["energy"]["cpu-package-0"]["meter"] == "rapl"
    assert gap["energy"]["cpu-package-0"]["mean_power_w"] == pytest.approx(30.0)
    block = energy_block([rapl, eb], span=(5.0, 55.0)).block
    assert block["cpu-package-0"]["meter"] == "rapl"
    assert block["cpu-package-0"]["gross_j"] == pytest.approx(1500.0)
