"""The uncertainty budget of a domain over a window, and the window guard, on series with
known power (the model: docs/meters.md, "Uncertainty budget")."""

from __future__ import annotations

import math

import numpy as np
import pytest

from orchestrator.meters.base import DomainSeries, Recording
from orchestrator.meters.energy import Phase, energy_block, phase_block
from orchestrator.meters.uncertainty import budget, plan_warnings


def _series(power_w: np.ndarray, step: float = 0.1, method: str = "counter",
            bridged: int = 0) -> DomainSeries:  # fmt: skip
    t = np.arange(len(power_w) + 1) * step
    e = np.concatenate(([0.0], np.cumsum(power_w * step)))
    return DomainSeries(t, e, method, bridged=bridged)  # type: ignore[arg-type]


def test_steady_rapl_power_leaves_the_update_period_and_the_quantum() -> None:
    s = _series(np.full(120, 50.0))
    b = budget("rapl", s, (0.35, 10.35), 500.0)
    assert b is not None and b.below_resolution is None
    # 1 ms of 50 W lag at each edge, rectangular: 1e-3 x hypot(50, 50) / sqrt(12).
    assert b.components["update"] == pytest.approx(1e-3 * math.hypot(50, 50) / math.sqrt(12))
    assert b.components["resolution"] == pytest.approx(2**-14 / math.sqrt(6))
    assert b.components["edges"] == pytest.approx(0.0)  # constant power: exact
    assert "accuracy" not in b.components
    assert b.u_j == pytest.approx(math.sqrt(sum(c * c for c in b.components.values())))


def test_a_power_change_at_an_edge_widens_its_interpolation() -> None:
    # 20 W, then 80 W from 5.0 s on; the window opens at 5.05, inside the first 80 W gap.
    s = _series(np.where(np.arange(120) < 50, 20.0, 80.0))
    b = budget("rapl", s, (5.05, 11.0), 476.0)
    assert b is not None
    # Half-width 0.1 s x 60 W / 2 = 3 J, rectangular; the far edge sits in steady power.
    assert b.components["edges"] == pytest.approx(3.0 / math.sqrt(3))


def test_polled_power_carries_its_accuracy_which_cancels_in_a_ratio() -> None:
    s = _series(np.full(300, 200.0), method="power-integration", bridged=2)
    b = budget("nvml", s, (0.0, 30.0), 6000.0)
    assert b is not None
    assert b.components["accuracy"] == pytest.approx(0.05 * 6000.0 / math.sqrt(3))
    assert b.components["bridged"] == pytest.approx(0.0)  # flat power: nothing to miss
    assert b.to_json()["cancels_in_ratio"] == ["accuracy"]


def test_the_window_guard_per_meter() -> None:
    steady = _series(np.full(100, 100.0))
    # RAPL needs 0.2 s for a 1% edge error, the NVML counter 20 s.
    assert budget("rapl", steady, (1.0, 1.15), 15.0).below_resolution  # type: ignore[union-attr]
    assert budget("rapl", steady, (1.0, 1.3), 30.0).below_resolution is None  # type: ignore[union-attr]
    nvml = budget("nvml", steady, (0.0, 9.0), 900.0)
    assert nvml is not None and "20.000 s" in (nvml.below_resolution or "")
    # EnergiBridge: twice its sampling interval (here 0.1 s).
    assert budget("energibridge", steady, (1.0, 1.15), 15.0).below_resolution  # type: ignore[union-attr]
    assert budget("energibridge", steady, (1.0, 1.25), 25.0).below_resolution is None  # type: ignore[union-attr]


def test_run_json_carries_the_budget_and_the_phase_guard_withholds_the_figure() -> None:
    # A 15 s run measured by RAPL and the NVML counter; a 2 s compile phase inside it.
    cpu = _series(np.full(200, 40.0))
    gpu = _series(np.full(200, 250.0))
    recs = [Recording("rapl", 0.0, 20.0, {"cpu-package-0": cpu}),
            Recording("nvml", 0.0, 20.0, {"gpu-0": gpu})]  # fmt: skip
    block = energy_block(recs, span=(2.0, 17.0)).block
    assert block["cpu-package-0"]["uncertainty"]["u_j"] > 0
    assert "below_resolution" not in block["cpu-package-0"]
    assert "20.000 s" in block["gpu-0"]["below_resolution"]  # 15 s under the counter's 20 s
    phases = phase_block(recs, [Phase("compile", 3.0, 5.0)], (2.0, 17.0))
    compile_ = phases[0]
    assert compile_["energy_j"] == {"cpu-package-0": pytest.approx(80.0)}
    assert compile_["below_resolution"]["gpu-0"]["energy_j"] == pytest.approx(500.0)
    assert "nvml" in compile_["below_resolution"]["gpu-0"]["why"]


def test_the_plan_warns_of_windows_its_meters_cannot_resolve() -> None:
    # A GPU campaign with 30 s idle gaps: the NVML counter's 20 s guard exceeds the 15 s
    # settled half, and its short phases will get no figure; RAPL's 0.2 s is no concern.
    warnings = plan_warnings(["rapl", "nvml"], 100, 30.0)
    assert len(warnings) == 2
    assert (
        warnings[0].startswith("--idle 30: its settled half (15 s)") and "--idle 40" in warnings[0]
    )
    assert warnings[1].startswith("nvml: a run or phase shorter than 20 s")
    assert plan_warnings(["rapl", "nvml"], 100, 60.0) == [warnings[1]]
    assert plan_warnings(["rapl"], 100, 60.0) == []
    # EnergiBridge: twice its interval.
    assert "0.4 s energibridge" in plan_warnings(["energibridge"], 200, 0.6)[0]
