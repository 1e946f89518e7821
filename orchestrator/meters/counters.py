"""Counter arithmetic shared by every meter: wrap-around correction, power integration,
and power from cumulative energy. Pure functions from arrays to arrays."""

from __future__ import annotations

import math

import numpy as np

from orchestrator.errors import MeterError


def unwrap_known_range(raw: np.ndarray, max_range: float) -> np.ndarray:
    """Cumulative increase of a counter that wraps after `max_range`, starting at 0.

    One wrap per sample gap is all that can be detected, so sample well inside the wrap
    period (RAPL's package counter wraps after minutes, not seconds). Linux documents
    `max_energy_range_uj` as the largest value the counter takes, so a wrap adds that much;
    the off-by-one microjoule per wrap that a modulus of `max_range + 1` would give is far
    below the counter's own resolution."""
    values = np.asarray(raw, dtype=np.float64)
    if values.size == 0:
        return values
    steps = np.diff(values)
    steps = np.where(steps < 0, steps + max_range, steps)
    return np.concatenate(([0.0], np.cumsum(steps)))


def wrap_range_power_of_two(value_before_wrap: float) -> float:
    """The range 2^k a counter must have had for `value_before_wrap` to be its last value
    before a wrap: the smallest power of two above it.

    EnergiBridge reports raw 32-bit MSR counters times the energy unit (2^-14 J on most
    Intel CPUs, 2^-16 J on AMD Zen), so they wrap at a power of two of joules (262,144 J,
    65,536 J) it does not tell us. Just before a wrap the counter sits within one step of
    2^k, hence above 2^(k-1) whenever a step is smaller than half the range."""
    if value_before_wrap <= 0:
        return 1.0
    return 2.0 ** (math.floor(math.log2(value_before_wrap)) + 1)


def unwrap_power_of_two(values: np.ndarray) -> np.ndarray:
    """Cumulative increase of a counter in joules that wraps at an unknown 2^k J."""
    v = np.asarray(values, dtype=np.float64)
    if v.size == 0:
        return v
    steps = np.diff(v)
    for i in np.flatnonzero(steps < 0):
        # The largest value seen up to the wrap bounds the range from below, which keeps a
        # counter that wrapped early in its life from being given too small a range.
        before = float(np.max(v[: i + 1]))
        steps[i] += wrap_range_power_of_two(before)
    return np.concatenate(([0.0], np.cumsum(steps)))


def integrate_power(time_s: np.ndarray, power_w: np.ndarray) -> np.ndarray:
    """Cumulative energy in joules from instantaneous power samples (trapezoid rule).

    This is an estimate: what the power did between samples is not known."""
    t = np.asarray(time_s, dtype=np.float64)
    p = np.asarray(power_w, dtype=np.float64)
    if t.size == 0:
        return t
    return np.concatenate(([0.0], np.cumsum(np.diff(t) * (p[1:] + p[:-1]) / 2.0)))


def power_from_cumulative(time_s: np.ndarray, energy_j: np.ndarray) -> np.ndarray:
    """Mean power over each sample gap, one value per gap, NaN where the gap is empty."""
    t = np.asarray(time_s, dtype=np.float64)
    e = np.asarray(energy_j, dtype=np.float64)
    dt = np.diff(t)
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(dt > 0, np.diff(e) / np.where(dt > 0, dt, 1.0), np.nan)


def check_increasing(time_s: np.ndarray, what: str) -> None:
    if np.any(np.diff(np.asarray(time_s, dtype=np.float64)) < 0):
        raise MeterError(f"{what}: sample times go backwards; was the system clock changed?")
