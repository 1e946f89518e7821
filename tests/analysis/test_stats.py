"""analysis.stats against SciPy, hand-computed examples and invariants."""

from __future__ import annotations

import itertools
import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy import stats as sps

from analysis import stats

finite = st.floats(min_value=-1e6, max_value=1e6, allow_nan=False, allow_infinity=False)
samples = st.lists(finite, min_size=1, max_size=30)


def test_describe_matches_numpy_and_scipy() -> None:
    rng = np.random.default_rng(1)
    x = rng.normal(50, 3, size=35)
    d = stats.describe(x)
    assert d.n == 35
    assert d.mean == pytest.approx(np.mean(x))
    assert d.median == pytest.approx(np.median(x))
    assert d.variance == pytest.approx(np.var(x, ddof=1))
    assert d.sd == pytest.approx(np.std(x, ddof=1))
    assert (d.min, d.max) == (x.min(), x.max())
    assert d.iqr == pytest.approx(sps.iqr(x))
    sw = sps.shapiro(x)
    assert (d.shapiro_w, d.shapiro_p) == pytest.approx((sw.statistic, sw.pvalue))
    assert d.cv == pytest.approx(np.std(x, ddof=1) / np.mean(x))


def test_describe_hand_example() -> None:
    d = stats.describe([2.0, 4.0, 4.0, 4.0, 5.0, 5.0, 7.0, 9.0])
    assert d.mean == 5.0
    assert d.median == 4.5
    assert d.variance == pytest.approx(32 / 7)
    assert (d.q1, d.q3) == (4.0, 5.5)


def test_describe_ignores_nan_and_handles_tiny_samples() -> None:
    d = stats.describe([1.0, math.nan])
    assert d.n == 1 and d.mean == 1.0
    assert math.isnan(d.variance) and math.isnan(d.shapiro_p)
    assert stats.describe([]).n == 0


def test_cliffs_delta_known_values() -> None:
    assert stats.cliffs_delta([1, 2, 3], [4, 5, 6]) == 1.0
    assert stats.cliffs_delta([4, 5, 6], [1, 2, 3]) == -1.0
    assert stats.cliffs_delta([1, 2, 3], [1, 2, 3]) == 0.0
    # 6 pairs where b > a, 1 where b < a, 2 ties, out of 9
    assert stats.cliffs_delta([1, 2, 3], [2, 3, 4]) == pytest.approx(5 / 9)


def test_common_language_matches_mann_whitney_u() -> None:
    rng = np.random.default_rng(2)
    a = rng.integers(0, 10, 20).astype(float)  # ties on purpose
    b = rng.integers(2, 12, 25).astype(float)
    u_b = sps.mannwhitneyu(b, a).statistic  # pairs where b > a, ties counted half
    assert stats.common_language(a, b) == pytest.approx(u_b / (len(a) * len(b)))


def test_cliff_magnitude_thresholds() -> None:
    labels = [stats.cliff_magnitude(d) for d in (0.1, -0.2, 0.4, -0.9)]
    assert labels == ["negligible", "small", "medium", "large"]


def test_holm_hand_example() -> None:
    # sorted: 0.005*4=0.02, 0.01*3=0.03, 0.03*2=0.06, 0.04*1=0.04 -> raised to 0.06
    assert stats.holm([0.01, 0.04, 0.03, 0.005]) == pytest.approx([0.03, 0.06, 0.06, 0.02])


def test_holm_caps_at_one_and_skips_nan() -> None:
    out = stats.holm([0.6, math.nan, 0.9])
    assert out[0] == 1.0 and out[2] == 1.0 and math.isnan(out[1])


def test_trend_is_spearman_against_the_place_in_the_campaign() -> None:
    x = np.arange(1, 13, dtype=float)
    y = np.array([5, 3, 6, 7, 6, 9, 8, 11, 10, 12, 14, 13], dtype=float)
    t = stats.trend(x, y, "iteration")
    ref = sps.spearmanr(x, y)
    assert (t.test, t.n, t.against) == ("spearman", 12, "iteration")
    assert (t.statistic, t.p_value) == pytest.approx((ref.statistic, ref.pvalue))
    assert stats.trend([1, 2], [3, 4], "iteration").test == "none"  # too few to say


def test_order_effect_is_kruskal_wallis_across_positions() -> None:
    groups = [[10.0, 11.0, 10.5, 10.2], [12.0, 12.5, 11.9, 12.2], [10.1, 10.4, 10.8, 10.3]]
    t = stats.order_effect(groups, "position")
    ref = sps.kruskal(*groups)
    assert t.test == "kruskal-wallis" and t.n == 12
    assert (t.statistic, t.p_value) == pytest.approx((ref.statistic, ref.pvalue))
    assert stats.order_effect([[1.0, 1.0], [1.0]], "position").test == "none"


def test_bootstrap_ci_is_reproducible_and_close_to_scipy() -> None:
    rng = np.random.default_rng(5)
    x = rng.normal(100, 10, 200)
    ci = stats.bootstrap_median_ci(x, seed=7)
    assert ci == stats.bootstrap_median_ci(x, seed=7)
    assert ci != stats.bootstrap_median_ci(x, seed=8)
    ref = sps.bootstrap(
        (x,), np.median, method="percentile", n_resamples=10_000, random_state=1
    ).confidence_interval
    assert ci[0] == pytest.approx(ref.low, abs=0.5)
    assert ci[1] == pytest.approx(ref.high, abs=0.5)


def test_tukey_outliers_hand_example() -> None:
    # Q1 = 2, Q3 = 4, IQR = 2: fences at -1 and 7
    mask = stats.tukey_outliers([1, 2, 3, 4, 100, math.nan])
    assert mask.tolist() == [False, False, False, False, True, False]
    assert not stats.tukey_outliers([1, 2, 100]).any()  # too few values to judge


@given(samples, samples)
def test_cliffs_delta_antisymmetric_and_bounded(a: list[float], b: list[float]) -> None:
    d = stats.cliffs_delta(a, b)
    assert -1.0 <= d <= 1.0
    assert stats.cliffs_delta(b, a) == pytest.approx(-d)


@settings(max_examples=40, deadline=None)
@given(samples, st.integers(0, 1000))
def test_bootstrap_ci_contains_median(x: list[float], seed: int) -> None:
    low, high = stats.bootstrap_median_ci(x, resamples=2000, seed=seed)
    assert low <= float(np.median(x)) <= high


@given(st.lists(st.floats(0, 1), min_size=1, max_size=20))
def test_holm_never_below_raw_and_keeps_order(p: list[float]) -> None:
    adj = stats.holm(p)
    assert all(a >= r - 1e-12 and a <= 1.0 for a, r in zip(adj, p, strict=True))
    order = np.argsort(p, kind="stable")
    assert all(adj[i] <= adj[j] + 1e-12 for i, j in itertools.pairwise(order))
