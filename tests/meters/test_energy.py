"""Phase attribution and baseline subtraction with known inputs."""

from __future__ import annotations

import numpy as np
import pytest

from orchestrator.meters.base import DomainSeries, Recording
from orchestrator.meters.energy import (
    Phase,
    energy_block,
    energy_per_phase,
    mean_power_w,
    phases_from_events,
)


def _linear(power_w: float, start: float, end: float, step: float = 0.5) -> DomainSeries:
    t = np.arange(start, end + 1e-9, step)
    return DomainSeries(t, power_w * (t - start))


def _rec(series: dict[str, DomainSeries], start: float, end: float) -> Recording:
    return Recording("rapl", start, end, series)


EVENTS = [
    {"event": "process_start", "t": 100.0},
    {"event": "imports_done", "t": 101.0},
    {"event": "data_loaded", "t": 101.5},
    {"event": "model_built", "t": 101.8},
    {"event": "data_on_device", "t": 102.0},
    {"event": "epoch_start", "epoch": 1, "t": 102.0},
    {"event": "first_step_end", "epoch": 1, "t": 102.5},
    {"event": "epoch_end", "epoch": 1, "t": 105.0},
    {"event": "epoch_start", "epoch": 2, "t": 105.0},
    {"event": "epoch_end", "epoch": 2, "t": 108.0},
    {"event": "eval_start", "t": 108.0},
    {"event": "eval_end", "t": 109.0},
    {"event": "done", "t": 109.1},
]


def test_phases_follow_the_formats_contract() -> None:
    phases = phases_from_events(EVENTS)
    assert [(p.name, p.start_s, p.end_s) for p in phases] == [
        ("startup", 100.0, 101.8),
        ("data_to_device", 101.8, 102.0),
        ("compile", 102.0, 102.5),
        ("epoch_1", 102.0, 105.0),
        ("epoch_2", 105.0, 108.0),
        ("eval", 108.0, 109.0),
    ]


def test_a_log_from_before_data_on_device_keeps_every_other_phase() -> None:
    older = [e for e in EVENTS if e["event"] != "data_on_device"]
    assert [p.name for p in phases_from_events(older)] == [
        "startup",
        "compile",
        "epoch_1",
        "epoch_2",
        "eval",
    ]


def test_a_crashed_run_loses_only_its_unfinished_phases() -> None:
    phases = phases_from_events(EVENTS[:9])  # died during epoch 2
    assert [p.name for p in phases] == ["startup", "data_to_device", "compile", "epoch_1"]


def test_energy_per_phase_interpolates_between_samples() -> None:
    # 20 W, then 50 W from t=104.25 on: a change between two samples (104.0, 104.5).
    t = np.arange(99.0, 110.01, 0.5)
    power = np.where(t <= 104.25, 20.0, 50.0)
    energy = np.concatenate(([0.0], np.cumsum(np.diff(t) * power[1:])))
    rec = _rec({"cpu-package-0": DomainSeries(t, energy)}, 99.0, 110.0)
    out = energy_per_phase([rec], phases_from_events(EVENTS))
    assert out["startup"]["cpu-package-0"] == pytest.approx(36.0)
    assert out["data_to_device"]["cpu-package-0"] == pytest.approx(4.0)
    assert out["epoch_2"]["cpu-package-0"] == pytest.approx(150.0)
    assert out["eval"]["cpu-package-0"] == pytest.approx(50.0)


def test_a_phase_outside_the_samples_is_absent_not_extrapolated() -> None:
    rec = _rec({"dram-0": _linear(5.0, 101.0, 110.0)}, 101.0, 110.0)
    out = energy_per_phase([rec], phases_from_events(EVENTS))
    assert "dram-0" not in out["startup"]  # starts at 100.0, before the first sample
    assert out["epoch_1"]["dram-0"] == pytest.approx(15.0)


def test_baseline_subtraction() -> None:
    idle = _rec({"cpu-package-0": _linear(4.0, 0.0, 60.0)}, 0.0, 60.0)
    baseline = mean_power_w([idle])
    assert baseline == {"cpu-package-0": pytest.approx(4.0)}
    run = _rec(
        {"cpu-package-0": _linear(30.0, 100.0, 140.0), "gpu-0": _linear(200.0, 100.0, 140.0)},
        100.0,
        140.0,
    )
    block = energy_block([run], baseline)
    pkg = block["cpu-package-0"]
    assert pkg["gross_j"] == pytest.approx(1200.0)
    assert pkg["baseline_power_w"] == pytest.approx(4.0)
    assert pkg["baseline_j"] == pytest.approx(160.0)
    assert pkg["net_j"] == pytest.approx(1040.0)
    assert pkg["mean_power_w"] == pytest.approx(30.0)
    assert pkg["method"] == "counter" and pkg["estimated"] is False
    # No idle measurement for the GPU: gross only, net absent rather than invented.
    assert "net_j" not in block["gpu-0"] and "baseline_power_w" not in block["gpu-0"]


def test_without_any_baseline_net_is_absent() -> None:
    run = _rec({"cpu-package-0": _linear(30.0, 0.0, 10.0)}, 0.0, 10.0)
    assert "net_j" not in energy_block([run], None)["cpu-package-0"]


def test_phase_duration() -> None:
    assert Phase("eval", 1.0, 3.5).duration_s == 2.5


def test_baseline_pools_several_idle_gaps_by_time() -> None:
    gaps = [
        _rec({"cpu-package-0": _linear(4.0, 0.0, 60.0)}, 0.0, 60.0),
        _rec({"cpu-package-0": _linear(10.0, 100.0, 120.0), "gpu-0": _linear(30.0, 100.0, 120.0)},
             100.0, 120.0),
    ]  # fmt: skip
    baseline = mean_power_w(gaps)
    assert baseline["cpu-package-0"] == pytest.approx((4.0 * 60 + 10.0 * 20) / 80)
    assert baseline["gpu-0"] == pytest.approx(30.0)  # only the gap that read it counts
