"""Wrap-around correction and power integration: known inputs and properties."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from orchestrator.meters.counters import (
    POWER_OF_TWO,
    integrate_power,
    integrate_power_bridged,
    power_from_cumulative,
    unwrap_counter,
    wrap_range_power_of_two,
)

NAN = float("nan")


def unwrap_known_range(raw: np.ndarray, max_range: float) -> np.ndarray:
    # Samples a second apart with no power bound: only the wrap arithmetic is under test.
    t = np.arange(len(raw)) * 1e9
    c = unwrap_counter(t, np.asarray(raw, dtype=float), float(max_range), max_power_w=np.inf)
    assert c.lost is None and c.misread == 0
    return c.energy_j


def unwrap_power_of_two(values: np.ndarray) -> np.ndarray:
    t = np.arange(len(values)) * 1e9
    c = unwrap_counter(t, np.asarray(values, dtype=float), POWER_OF_TWO, max_power_w=np.inf)
    assert c.lost is None and c.misread == 0
    return c.energy_j


def test_known_range_wrap_adds_the_range() -> None:
    raw = np.array([900, 990, 30, 120])  # wraps once at max_range 1000
    assert unwrap_known_range(raw, 1000).tolist() == [0, 90, 130, 220]


def test_amd_zen_counter_wraps_at_65536_joules() -> None:
    values = np.array([65530.5, 65535.0, 3.5, 8.0])
    assert unwrap_power_of_two(values).tolist() == [0.0, 4.5, 9.0, 13.5]


def test_intel_counter_wraps_at_262144_joules() -> None:
    values = np.array([262_100.0, 262_140.0, 36.0])
    assert unwrap_power_of_two(values).tolist() == [0.0, 40.0, 80.0]


def test_a_1_mj_misread_is_bridged_not_taken_for_a_wrap() -> None:
    # 30 W package sampled every 100 ms; the fourth reading comes back 1 mJ low. Taken for
    # a wrap it would add the whole 262,143 J range.
    t = np.arange(6) * 0.1
    raw = np.array([1000.0, 1003.0, 1006.0, 1005.999, 1012.0, 1015.0])
    c = unwrap_counter(t, raw, 262_143.328850, max_power_w=150.0)
    assert c.wraps == 0 and c.misread == 1 and c.lost is None
    assert c.energy_j.tolist() == pytest.approx([0.0, 3.0, 6.0, 9.0, 12.0, 15.0])
    # EnergiBridge's counters, whose range is not stated, are checked alike.
    c = unwrap_counter(t, raw, POWER_OF_TWO)
    assert c.wraps == 0 and c.misread == 1 and c.energy_j[-1] == pytest.approx(15.0)


def test_a_real_wrap_near_the_top_of_the_range_is_accepted() -> None:
    t = np.arange(3) * 0.1
    c = unwrap_counter(t, np.array([996.0, 999.0, 2.0]), 1000.0, max_power_w=150.0)
    assert c.wraps == 1 and c.energy_j.tolist() == [0.0, 3.0, 6.0]


def test_a_wrap_implying_more_than_the_zone_power_is_a_misread() -> None:
    # 999 -> 2 in 10 ms would be 300 W through a 1000 J range: above the 150 W bound.
    t = np.array([0.0, 0.1, 0.11, 0.2])
    c = unwrap_counter(t, np.array([996.0, 999.0, 2.0, 1002.0]), 1000.0, max_power_w=150.0)
    assert c.wraps == 0 and c.misread == 1 and c.energy_j[-1] == pytest.approx(6.0)


def test_missing_samples_are_bridged_and_the_ends_trimmed() -> None:
    t = np.arange(6) * 1.0
    c = unwrap_counter(t, np.array([NAN, 10.0, NAN, 30.0, 40.0, NAN]), None)
    assert c.lost is None and c.missing == 3
    assert c.time_s.tolist() == [1.0, 2.0, 3.0, 4.0]
    assert c.energy_j.tolist() == [0.0, 10.0, 20.0, 30.0]


def test_a_counter_missing_most_of_the_window_is_lost() -> None:
    c = unwrap_counter(np.arange(5) * 1.0, np.array([1.0, NAN, NAN, NAN, 5.0]), None)
    assert c.lost is not None and "3 of 5" in c.lost and c.energy_j.size == 0


def test_polled_power_is_integrated_across_a_missing_sample() -> None:
    c = integrate_power_bridged(np.arange(4) * 1.0, np.array([100.0, NAN, 100.0, 100.0]))
    assert c.missing == 1 and c.energy_j[-1] == pytest.approx(300.0)


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


def test_a_wrap_above_the_bound_never_makes_later_samples_stale() -> None:
    # 200 W through a 100 J range sampled every 50 ms, bounded (wrongly) at 187.5 W: the
    # old rule rejected the wrap and then every later sample, each compared with the value
    # before the wrap, publishing a fraction of the energy. The samples after the drop go
    # on from it, so the counter did move there: the energy across it cannot be known.
    t = np.arange(40) * 0.05
    raw = (50.0 + 10.0 * np.arange(40)) % 100.0
    c = unwrap_counter(t, raw, 100.0, max_power_w=187.5)
    assert c.lost is not None and "went on from there" in c.lost and c.energy_j.size == 0
    # Bounded by what the part can draw (PL2 with its margin), every wrap is taken.
    c = unwrap_counter(t, raw, 100.0, max_power_w=300.0)
    assert c.lost is None and c.wraps == 4 and c.misread == 0
    assert c.energy_j[-1] == pytest.approx(390.0)


def test_a_counter_reset_loses_the_series_wherever_it_happens() -> None:
    # NVML's counter restarts at 0 when the driver reloads; it never wraps. Late or early
    # in the window, the energy across the reset is unknown: never bridged as misreads.
    t = np.arange(10) * 0.1
    for at in (2, 8):
        raw = np.where(np.arange(10) < at, 1000.0 + 25.0 * np.arange(10), 25.0 * np.arange(10))
        c = unwrap_counter(t, raw, None)
        assert c.lost is not None and "restart" in c.lost, at


def test_a_glitch_of_several_samples_is_bridged_when_the_course_resumes() -> None:
    # Three samples read back 0.3 s in time (the fake powercap's misread), then it resumes.
    t = np.arange(12) * 0.05
    truth = 1000.0 + 1.5 * np.arange(12)
    raw = truth.copy()
    raw[5:8] = truth[5:8] - 9.0
    c = unwrap_counter(t, raw, 262_143.328850, max_power_w=150.0)
    assert c.lost is None and c.misread == 3 and c.wraps == 0
    assert c.energy_j[-1] == pytest.approx(16.5)
