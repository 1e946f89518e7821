"""Phase attribution and baseline subtraction with known inputs."""

from __future__ import annotations

import numpy as np
import pytest

from orchestrator.meters.base import DomainSeries, Recording
from orchestrator.meters.energy import (
    Gap,
    Phase,
    bracketing_baseline,
    energy_block,
    energy_per_phase,
    phase_block,
    phases_from_events,
    settled_half,
    with_baselines,
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


def _gap(name: str, power_w: float, start: float, end: float, tail_w: float = 0.0) -> Gap:
    """An idle gap whose first half still carries `tail_w` extra from the previous run."""
    t = np.arange(start, end + 1e-9, 0.5)
    power = np.where(t <= (start + end) / 2, power_w + tail_w, power_w)
    energy = np.concatenate(([0.0], np.cumsum(np.diff(t) * power[1:])))
    settled = settled_half(DomainSeries(t, energy), start, end)
    assert settled is not None
    return Gap(name, start, end, {("rapl", "cpu-package-0"): settled})


def test_baseline_is_the_settled_halves_of_the_bracketing_gaps() -> None:
    # The first half of each gap still carries 20 W of the previous run's tail: left out.
    gaps = [
        _gap("old", 1.0, 0.0, 60.0),  # stale: not next to the run
        _gap("before", 4.0, 100.0, 160.0, tail_w=20.0),
        _gap("after", 6.0, 200.0, 260.0, tail_w=20.0),
        _gap("later", 50.0, 300.0, 360.0),
    ]
    base = bracketing_baseline(gaps, "rapl", "cpu-package-0", 160.0, 200.0)
    assert base is not None
    assert base.power_w == pytest.approx(5.0)
    assert base.gaps == ("before", "after") and base.note is None
    assert base.spread_w == pytest.approx(1.0)  # each half flat, one watt from the mean
    # Matched by meter and domain: another meter's gaps do not count.
    assert bracketing_baseline(gaps, "energibridge", "cpu-package-0", 160.0, 200.0) is None


def test_with_one_gap_missing_the_nearest_alone_and_said() -> None:
    gaps = [_gap("before", 4.0, 100.0, 160.0)]
    base = bracketing_baseline(gaps, "rapl", "cpu-package-0", 160.0, 200.0)
    assert base is not None and base.power_w == pytest.approx(4.0)
    assert base.note == "baseline from the gap before the run only"


def test_run_energy_is_that_of_its_span_and_net_uses_the_same_span() -> None:
    # The meters run from 99 to 141; the run from 100 to 140.
    run = _rec(
        {"cpu-package-0": _linear(30.0, 99.0, 141.0), "gpu-0": _linear(200.0, 99.0, 141.0)},
        99.0,
        141.0,
    )
    energy = energy_block([run], span=(100.0, 140.0))
    base = bracketing_baseline([_gap("before", 4.0, 40.0, 99.0)], "rapl", "cpu-package-0",
                               100.0, 140.0)  # fmt: skip
    assert base is not None
    block = with_baselines(energy.block, {("rapl", "cpu-package-0"): base}, 40.0)
    pkg = block["cpu-package-0"]
    assert pkg["gross_j"] == pytest.approx(1200.0)
    assert pkg["baseline_power_w"] == pytest.approx(4.0)
    assert pkg["baseline_j"] == pytest.approx(160.0)
    assert pkg["net_j"] == pytest.approx(1040.0)
    assert pkg["mean_power_w"] == pytest.approx(30.0)
    assert pkg["baseline_gaps"] == ["before"]
    assert pkg["method"] == "counter" and pkg["estimated"] is False
    # No idle measurement for the GPU: gross only, net absent rather than invented.
    assert "net_j" not in block["gpu-0"] and "baseline_power_w" not in block["gpu-0"]


def test_a_domain_not_covering_the_run_is_dropped_not_shortened() -> None:
    run = _rec({"cpu-package-0": _linear(30.0, 105.0, 141.0)}, 105.0, 141.0)
    energy = energy_block([run], span=(100.0, 140.0))
    assert energy.block == {} and "cpu-package-0" in energy.dropped


def test_summable_comes_from_the_domain_table() -> None:
    run = _rec(
        {d: _linear(1.0, 0.0, 10.0) for d in ("cpu-package-0-die-1", "cpu-core-0", "psys",
                                               "dram-0", "gpu-0")},
        0.0, 10.0,
    )  # fmt: skip
    block = energy_block([run], out_of_total={"gpu-0": "a CPU run"}).block
    assert {d: e["summable"] for d, e in block.items()} == {
        "cpu-package-0-die-1": True, "cpu-core-0": False, "psys": False, "dram-0": True,
        "gpu-0": False,
    }  # fmt: skip
    assert block["gpu-0"]["out_of_total"] == "a CPU run"


def test_without_any_baseline_net_is_absent() -> None:
    run = _rec({"cpu-package-0": _linear(30.0, 0.0, 10.0)}, 0.0, 10.0)
    assert "net_j" not in energy_block([run]).block["cpu-package-0"]


def test_the_remainder_phase_makes_the_phases_add_up_to_the_run() -> None:
    rec = _rec({"cpu-package-0": _linear(10.0, 98.0, 112.0)}, 98.0, 112.0)
    span = (99.0, 111.0)  # container start 1 s before process_start, exit 2 s after eval
    phases = phase_block([rec], phases_from_events(EVENTS), span)
    assert phases[-1]["name"] == "remainder"
    # compile lies inside epoch_1: the union of the phases is 100..109.
    assert phases[-1]["duration_s"] == pytest.approx(3.0)
    assert phases[-1]["energy_j"]["cpu-package-0"] == pytest.approx(30.0)
    total = sum(p["energy_j"]["cpu-package-0"] for p in phases if p["name"] != "compile")
    assert total == pytest.approx(10.0 * 12.0)


def test_phase_duration() -> None:
    assert Phase("eval", 1.0, 3.5).duration_s == 2.5
