"""The measurement uncertainty of one domain's energy over one window, GUM-style: stated
components, each a standard uncertainty in joules, combined in quadrature (they are
independent), and the window guard that says when a window is too short for the meter.

Components (docs/meters.md, "Uncertainty budget", gives the model and its sources):

* resolution: the counter's quantum q, read at both window edges (rectangular, q/sqrt(12)
  each);
* update: the counter lags the truth by up to its update period tau at each edge, i.e. by
  up to tau x P_edge joules (rectangular, tau P / sqrt(12) each);
* edges: the window's edges fall between samples and are interpolated as if the power were
  constant inside that sample gap; the gaps either side say how far it was not (half-width
  dt x |dP| / 2, rectangular);
* bridged: a polled-power series integrated across a missing sample assumes a straight line
  through it: the power then could have been anywhere in the range the window saw
  (half-width dt x (P_max - P_min) / 2 per sample); a counter keeps the energy;
* accuracy: a polled estimate's specified accuracy (NVML power +-5%: rectangular, 5% /
  sqrt(3)). It is the one component that is a scale error of the meter: it cancels in a
  ratio of two energies measured by the same meter on the same device; every other
  component is per window and does not.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np

from orchestrator.meters.base import DomainSeries

SQRT3 = math.sqrt(3.0)
# The edge error a window must keep under, for the window guard.
EDGE_ERROR = 0.01


@dataclass(frozen=True)
class MeterSpec:
    resolution_j: float  # the counter's quantum
    update_s: float  # how often the counter (or the power reading) is refreshed
    accuracy: float | None  # relative, rectangular half-width; None: not stated
    # Minimum window: `update_s` x 2 / EDGE_ERROR (both edges), or None to use twice the
    # sampling interval (meters whose samples, not the counter, set the resolution).
    by_update: bool = True


# RAPL: 2^-14 J is the coarsest Intel energy unit (AMD: 2^-16 J); the hardware updates the
# counter about every millisecond. NVML: the counter is in mJ, updated about every 100 ms;
# polled power is specified to +-5% of the draw. EnergiBridge reads the same MSRs as RAPL,
# stamped in whole milliseconds, and its window is set by its sampling.
SPECS: dict[tuple[str, str], MeterSpec] = {
    ("rapl", "counter"): MeterSpec(2.0**-14, 1e-3, None),
    ("energibridge", "counter"): MeterSpec(2.0**-14, 2e-3, None, by_update=False),
    ("energibridge", "power-integration"): MeterSpec(1e-3, 0.1, 0.05, by_update=False),
    ("nvml", "counter"): MeterSpec(1e-3, 0.1, None),
    ("nvml", "power-integration"): MeterSpec(1e-3, 0.1, 0.05, by_update=False),
    # A BMC's reading refreshes about once a second; no accuracy is specified by DCMI or
    # Redfish (it is the PSU's or the board's sensor).
    ("redfish", "power-integration"): MeterSpec(0.0, 1.0, None, by_update=False),
    ("ipmi", "power-integration"): MeterSpec(0.0, 1.0, None, by_update=False),
}
# What a ratio of two energies by the same meter on the same device is free of.
CANCELS_IN_RATIO = ("accuracy",)


@dataclass(frozen=True)
class Budget:
    u_j: float  # combined standard uncertainty
    components: dict[str, float]  # standard uncertainties, joules
    min_window_s: float | None  # the window guard; None: unknown meter
    below_resolution: str | None  # why the window is too short, None when it is not

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "u_j": self.u_j,
            "components": self.components,
            "cancels_in_ratio": [c for c in CANCELS_IN_RATIO if c in self.components],
            "min_window_s": self.min_window_s,
        }
        if self.below_resolution:
            out["below_resolution"] = self.below_resolution
        return out


def _gap_power(t: np.ndarray, e: np.ndarray) -> np.ndarray:
    dt = np.diff(t)
    return np.where(dt > 0, np.diff(e) / np.where(dt > 0, dt, 1.0), 0.0)


def _edge(t: np.ndarray, p: np.ndarray, at: float) -> tuple[float, float]:
    """The mean power of the sample gap holding `at`, and the half-width of the error of
    interpolating inside it: dt x (the larger power change to a neighbouring gap) / 2."""
    g = int(np.clip(np.searchsorted(t, at, side="right") - 1, 0, len(p) - 1))
    neighbours = [p[k] for k in (g - 1, g + 1) if 0 <= k < len(p)]
    change = max((abs(p[g] - q) for q in neighbours), default=0.0)
    return float(p[g]), float((t[g + 1] - t[g]) * change / 2.0)


def min_window_s(spec: MeterSpec, series: DomainSeries) -> float:
    if spec.by_update:
        return 2.0 * spec.update_s / EDGE_ERROR
    gaps = np.diff(series.time_s)
    return 2.0 * float(np.median(gaps)) if gaps.size else math.inf


def budget(
    meter: str, series: DomainSeries, span: tuple[float, float], energy_j: float
) -> Budget | None:
    """The budget of `energy_j`, the energy of `series` over `span`; None for a meter or
    method without a stated spec, or a series too short to judge."""
    spec = SPECS.get((meter, series.method))
    t = np.asarray(series.time_s, dtype=np.float64)
    if spec is None or t.size < 2:
        return None
    p = _gap_power(t, np.asarray(series.energy_j, dtype=np.float64))
    (p_a, half_a), (p_b, half_b) = _edge(t, p, span[0]), _edge(t, p, span[1])
    components = {
        "resolution": spec.resolution_j / math.sqrt(6.0),  # two edges of q / sqrt(12)
        "update": spec.update_s * math.hypot(p_a, p_b) / math.sqrt(12.0),
        "edges": math.hypot(half_a, half_b) / SQRT3,
    }
    if series.estimated and series.bridged:
        # A polled sample missed: the power then could have been anywhere in the range seen.
        half = float(np.median(np.diff(t))) * float(np.ptp(p)) / 2.0
        components["bridged"] = math.sqrt(series.bridged) * half / SQRT3
    if spec.accuracy is not None:
        components["accuracy"] = spec.accuracy * abs(energy_j) / SQRT3
    u = math.sqrt(sum(c * c for c in components.values()))
    need = min_window_s(spec, series)
    length = span[1] - span[0]
    below = None
    if length < need:
        below = (
            f"{length:.3f} s is shorter than the {need:.3f} s {meter} ({series.method}) needs "
            f"for a {EDGE_ERROR:.0%} edge error"
        )
    return Budget(u, components, need, below)


def plan_warnings(meters: list[str], interval_ms: int, idle_s: float) -> list[str]:
    """What a campaign with these meters will not resolve, said before it starts: an idle
    gap whose settled half is shorter than a meter's window guard, and (for meters needing
    seconds, as the NVML counter does) the short phases that will get no figure."""
    out = []
    for name in meters:
        spec = SPECS.get((name, "counter")) or SPECS.get((name, "power-integration"))
        if spec is None:
            continue
        need = 2.0 * spec.update_s / EDGE_ERROR if spec.by_update else 2.0 * interval_ms / 1000
        if 0 < idle_s / 2 < need:
            out.append(
                f"--idle {idle_s:g}: its settled half ({idle_s / 2:g} s) is shorter than the "
                f"{need:g} s {name} needs for a {EDGE_ERROR:.0%} edge error, so every baseline "
                f"will be below resolution; use --idle {2 * need:g} or more"
            )
        if need >= 1.0:
            out.append(
                f"{name}: a run or phase shorter than {need:g} s will be labelled below "
                "resolution and get no figure (typically startup, data_to_device, compile and "
                "eval); make the measured work longer where their energy matters"
            )
    return out
