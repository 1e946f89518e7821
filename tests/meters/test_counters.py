"""Wrap-around correction and power integration: known inputs and properties."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from orchestrator.meters.counters import (
    integrate_power,
    power_from_cumulative,
    unwrap_known_range,
    unwrap_power_of_two,
    wrap_range_power_of_two,
)


def test_known_range_wrap_adds_the_range() -> None:
    raw = np.array([900, 990, 30, 120])  # wraps once at max_range 1000
    assert unwrap_known_range(raw, 1000).tolist() == [0, 90, 130, 220]


def test_amd_zen_counter_wraps_at_65536_joules() -> None:
    values = np.array([65530.5, 65535.0, 3.5, 8.0])
    assert unwrap_power_of_two(values).tolist() == [0.0, 4.5, 9.0, 13.5]


def test_intel_counter_wraps_at_262144_joules() -> None:
    values = np.array([262_100.0, 262_140.0, 36.0])
    assert unwrap_power_of_two(values).tolist() == [0.0, 40.0, 80.0]


def test_range_is_the_power_of_two_above_the_value_before_the_wrap() -> None:
    assert wrap_range_power_of_two(65_535.99) == 65_536.0
    assert wrap_range_power_of_two(40_000.0) == 65_536.0
    assert wrap_range_power_of_two(262_143.0) == 262_144.0


@given(
    max_range=st.integers(min_value=10, max_value=2**40),
    offset_frac=st.floats(min_value=0, max_value=1, exclude_max=True),
    step_fracs=st.lists(st.floats(min_value=0, max_value=1, exclude_max=True), max_size=200),
)
def test_known_range_unwrap_recovers_the_true_increase(
    max_range: int, offset_frac: float, step_fracs: list[float]
) -> None:
    steps = [int(f * max_range) for f in step_fracs]  # at most one wrap per gap
    truth = np.concatenate(([0], np.cumsum(steps, dtype=np.int64)))
    raw = (int(offset_frac * max_range) + truth) % max_range
    assert unwrap_known_range(raw, max_range).tolist() == truth.astype(float).tolist()


@given(
    k=st.integers(min_value=4, max_value=32),
    unit_exp=st.sampled_from([14, 16]),
    offset_frac=st.floats(min_value=0, max_value=1, exclude_max=True),
    step_fracs=st.lists(st.floats(min_value=0, max_value=0.5, exclude_max=True), max_size=200),
)
def test_power_of_two_unwrap_recovers_the_true_increase(
    k: int, unit_exp: int, offset_frac: float, step_fracs: list[float]
) -> None:
    # EnergiBridge's values: an integer MSR count times the energy unit 2^-unit_exp J.
    counts = 2 ** (k + unit_exp)
    steps = [int(f * counts) for f in step_fracs]  # each step under half the range
    truth = np.concatenate(([0], np.cumsum(steps, dtype=np.int64)))
    raw = ((int(offset_frac * counts) + truth) % counts) * 2.0**-unit_exp
    assert unwrap_power_of_two(raw) == pytest.approx(truth * 2.0**-unit_exp, rel=1e-12, abs=1e-9)


@given(st.lists(st.floats(min_value=0, max_value=1e6), min_size=2, max_size=50))
def test_unwrapped_counters_never_decrease(values: list[float]) -> None:
    assert np.all(np.diff(unwrap_power_of_two(np.array(values))) >= 0)


def test_integrate_constant_power_gives_power_times_time() -> None:
    t = np.array([0.0, 0.1, 0.35, 1.0])
    assert integrate_power(t, np.full(4, 40.0))[-1] == pytest.approx(40.0)


def test_integrate_a_ramp_is_exact_for_the_trapezoid_rule() -> None:
    t = np.linspace(0, 2, 21)
    assert integrate_power(t, 10 * t)[-1] == pytest.approx(20.0)


def test_power_from_cumulative_is_per_gap_and_nan_for_empty_gaps() -> None:
    p = power_from_cumulative(np.array([0.0, 1.0, 1.0, 3.0]), np.array([0.0, 5.0, 5.0, 9.0]))
    assert p[0] == 5.0 and np.isnan(p[1]) and p[2] == 2.0
