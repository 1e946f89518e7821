"""The NVML meter against a fake at the nvidia-ml-py boundary (no GPU on this machine)."""

from __future__ import annotations

import csv
import time
from pathlib import Path

import pytest

from orchestrator.errors import MeterError
from orchestrator.meters.nvml import FIELDS, NvmlMeter
from tests.fakes.pynvml_fake import (
    NVML_ERROR_LIBRARY_NOT_FOUND,
    FakeGpu,
    make_fake_pynvml,
)


def _record(meter: NvmlMeter, out: Path, seconds: float):  # type: ignore[no-untyped-def]
    meter.start(out)
    time.sleep(seconds)
    return meter.stop()


def test_energy_counter_is_used_and_compared_with_polled_power(tmp_path: Path) -> None:
    nv = make_fake_pynvml([FakeGpu(power_w=250.0, counter_period_s=0.02)])
    rec = _record(NvmlMeter(50, nvml_module=nv), tmp_path, 1.0)
    gpu = rec.series["gpu-0"]
    assert gpu.method == "counter" and not gpu.estimated
    # The counter moves in 20 ms steps: up to one step at each end of the window.
    assert rec.energy_j["gpu-0"] == pytest.approx(250.0 * rec.duration_s, abs=250.0 * 0.04)
    assert any("counter" in n and "polled power integrated" in n for n in rec.notes)


def test_gpu_without_counter_falls_back_to_power_integration(tmp_path: Path) -> None:
    nv = make_fake_pynvml([FakeGpu(power_w=120.0, has_counter=False, name="Tesla P100")])
    rec = _record(NvmlMeter(50, nvml_module=nv), tmp_path, 0.5)
    gpu = rec.series["gpu-0"]
    assert gpu.method == "power-integration" and gpu.estimated
    assert rec.energy_j["gpu-0"] == pytest.approx(120.0 * rec.duration_s, rel=1e-6)
    with (tmp_path / "samples-nvml.csv").open() as f:
        rows = list(csv.DictReader(f))
    assert all(r["gpu0_energy_mj"] == "" for r in rows)  # unread, not zero
    assert all(r["gpu0_power_mw"] == "120000" for r in rows)


def test_a_window_shorter_than_the_counter_period_takes_polled_power(tmp_path: Path) -> None:
    # Before: 0.0 J `counter`, the run ok.
    nv = make_fake_pynvml([FakeGpu(power_w=300.0, counter_period_s=5.0)])
    meter = NvmlMeter(20, nvml_module=nv)
    time.sleep(0.05)  # away from the counter's first step
    rec = _record(meter, tmp_path, 0.1)
    gpu = rec.series["gpu-0"]
    assert gpu.method == "power-integration" and gpu.estimated
    assert rec.energy_j["gpu-0"] == pytest.approx(300.0 * rec.duration_s, rel=1e-6)
    assert any("did not advance" in n and "polled" in n for n in rec.notes)


@pytest.mark.parametrize("reset_at_s", [0.15, 0.75])
def test_a_counter_reset_early_or_late_takes_polled_power(
    tmp_path: Path, reset_at_s: float
) -> None:
    # The driver reloads during the window: the counter starts again from 0. Before, a late
    # reset bridged the rest of the window as misreads (too little energy, `counter`) and
    # an early one fell back to polled power: two answers for one event.
    nv = make_fake_pynvml([FakeGpu(power_w=250.0, counter_period_s=0.02, reset_at_s=reset_at_s)])
    rec = _record(NvmlMeter(50, nvml_module=nv), tmp_path, 1.0)
    gpu = rec.series["gpu-0"]
    assert gpu.method == "power-integration" and gpu.estimated
    assert rec.energy_j["gpu-0"] == pytest.approx(250.0 * rec.duration_s, rel=1e-6)
    assert any("does not cover the window" in n and "restart" in n for n in rec.notes)
    assert rec.dropped == {}


def test_two_gpus_and_the_raw_time_series(tmp_path: Path) -> None:
    nv = make_fake_pynvml([FakeGpu(power_w=100.0), FakeGpu(power_w=200.0, has_counter=False)])
    meter = NvmlMeter(50, nvml_module=nv)
    assert meter.domains() == ["gpu-0", "gpu-1"]
    rec = _record(meter, tmp_path, 0.4)
    assert set(rec.energy_j) == {"gpu-0", "gpu-1"}
    header = (tmp_path / "samples-nvml.csv").read_text().splitlines()[0].split(",")
    assert header == ["time_s"] + [f"gpu{i}_{f}" for i in (0, 1) for f in FIELDS]
    with (tmp_path / "samples-nvml.csv").open() as f:
        row = next(csv.DictReader(f))
    assert row["gpu1_utilization_gpu_pct"] == "97"
    assert row["gpu1_memory_used_mib"] == "3072"
    assert row["gpu1_temperature_c"] == "55"
    assert row["gpu1_clock_sm_mhz"] == "1980" and row["gpu1_clock_mem_mhz"] == "2619"
    power = (tmp_path / "power-nvml.csv").read_text().splitlines()[0]
    assert power == "time_s,gpu-0_power_w,gpu-1_power_w"


def test_no_driver_is_a_clear_error() -> None:
    nv = make_fake_pynvml([], init_error=NVML_ERROR_LIBRARY_NOT_FOUND)
    with pytest.raises(MeterError, match=r"NVML cannot start \(NVML Shared Library Not Found\)"):
        NvmlMeter(100, nvml_module=nv)


def test_no_gpu_is_a_clear_error() -> None:
    with pytest.raises(MeterError, match="found no GPU"):
        NvmlMeter(100, nvml_module=make_fake_pynvml([]))


def test_a_transient_error_is_bridged_and_the_counter_kept(tmp_path: Path) -> None:
    # NVML fails for 0.12 s (two or three samples) in the middle of a 1 s window.
    nv = make_fake_pynvml([FakeGpu(power_w=250.0, counter_period_s=0.02, fail_s=(0.5, 0.12))])
    rec = _record(NvmlMeter(50, nvml_module=nv), tmp_path, 1.0)
    gpu = rec.series["gpu-0"]
    assert gpu.method == "counter"  # not downgraded to polled power
    assert rec.energy_j["gpu-0"] == pytest.approx(250.0 * rec.duration_s, abs=250.0 * 0.04)
    assert any("energy counter" in n and "bridged" in n for n in rec.notes)
    assert not any("no energy counter" in n for n in rec.notes)  # the note stays truthful
    assert rec.dropped == {}
    with (tmp_path / "samples-nvml.csv").open() as f:
        assert any(r["gpu0_energy_mj"] == "" for r in csv.DictReader(f))  # really missed


def test_a_gpu_unreadable_for_most_of_the_window_is_dropped_and_said(tmp_path: Path) -> None:
    # Readable at start-up, then failing from 0.2 s on: most of a 0.6 s window is lost.
    nv = make_fake_pynvml([FakeGpu(power_w=250.0, fail_s=(0.2, 10.0))])
    meter = NvmlMeter(50, nvml_module=nv)
    assert meter.domains() == ["gpu-0"]
    rec = _record(meter, tmp_path, 0.6)
    assert "gpu-0" not in rec.series and "gpu-0" in rec.dropped
    assert any("gpu-0 DROPPED" in n for n in rec.notes)


def test_only_the_chosen_gpu_is_metered(tmp_path: Path) -> None:
    nv = make_fake_pynvml([FakeGpu(power_w=100.0), FakeGpu(power_w=200.0)])
    assert NvmlMeter(50, nvml_module=nv, gpu_indices=[1]).domains() == ["gpu-1"]
    with pytest.raises(MeterError, match=r"--gpu 2: NVML sees 2 GPU\(s\)"):
        NvmlMeter(50, nvml_module=nv, gpu_indices=[2])
