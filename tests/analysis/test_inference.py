"""analysis.inference pinned against SciPy's exact tests and hand computation."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy import stats as sps

from analysis import inference as inf

distinct = st.lists(
    st.floats(-5, 5, allow_nan=False).filter(lambda v: abs(v) > 1e-3), min_size=6, max_size=14,
    unique=True,
).filter(lambda xs: len({round(abs(v), 9) for v in xs}) == len(xs))  # fmt: skip


@pytest.mark.parametrize("n", [3, 6, 10, 17])
def test_signed_rank_distribution_is_scipys_exact_one(n: int) -> None:
    rng = np.random.default_rng(n)
    d = rng.normal(0.2, 1, n)
    t_plus = int(sps.rankdata(np.abs(d))[d > 0].sum())
    exact = sps.wilcoxon(d, alternative="less", method="exact").pvalue  # P(T+ <= t)
    assert inf.signed_rank_cdf(n)[t_plus] == pytest.approx(exact)


@pytest.mark.parametrize(("m", "n"), [(3, 4), (6, 6), (10, 7), (12, 12)])
def test_rank_sum_distribution_is_scipys_exact_one(m: int, n: int) -> None:
    rng = np.random.default_rng(m * n)
    x, y = rng.normal(0, 1, m), rng.normal(0.4, 1, n)
    res = sps.mannwhitneyu(y, x, alternative="less", method="exact")  # P(U <= u)
    assert inf.rank_sum_cdf(m, n)[int(res.statistic)] == pytest.approx(res.pvalue)


def test_signed_rank_cut_matches_the_published_critical_values() -> None:
    # two-sided 5% critical values of T (Wilcoxon tables): n=6: 0, n=10: 8, n=20: 52, n=35: 195
    for n, critical in ((6, 0), (10, 8), (20, 52), (35, 195)):
        assert inf.signed_rank_cut(n, 0.95) == critical + 1
    assert inf.signed_rank_cut(5, 0.95) == 0  # n = 5: no interval exists


def test_hodges_lehmann_one_sample_hand_example() -> None:
    # Walsh averages of 1..6: 21 values, median 3.5; n = 6 cuts one from each end
    est, lo, hi = inf.hodges_lehmann_one_sample([1.0, 2.0, 3.0, 4.0, 5.0, 6.0])
    assert (est, lo, hi) == (3.5, 1.0, 6.0)
    est2, lo2, hi2 = inf.hodges_lehmann_one_sample([0.1, 0.3])
    assert est2 == pytest.approx(0.2) and (lo2, hi2) == (-math.inf, math.inf)


def test_hodges_lehmann_shift_hand_example() -> None:
    # differences y - x: 1, 2, 2, 3, 3, 3, 4, 4, 5 -> median 3; 3 vs 3 cannot reach 5%
    est, lo, hi = inf.hodges_lehmann_shift([1.0, 2.0, 3.0], [4.0, 5.0, 6.0])
    assert est == 3.0 and (lo, hi) == (-math.inf, math.inf)
    # 4 vs 4: the smallest two-sided p is 2/70 < 0.05, so c = 1: the extreme differences
    est, lo, hi = inf.hodges_lehmann_shift([1.0, 2.0, 3.0, 4.0], [11.0, 12.0, 13.0, 14.0])
    assert (est, lo, hi) == (10.0, 7.0, 13.0)


@settings(max_examples=60, deadline=None)
@given(distinct)
def test_walsh_interval_excludes_zero_exactly_when_wilcoxon_rejects(d: list[float]) -> None:
    _, lo, hi = inf.hodges_lehmann_one_sample(d)
    p = sps.wilcoxon(d, method="exact").pvalue
    assert (lo > 0 or hi < 0) == (p < 0.05) or math.isclose(p, 0.05, rel_tol=1e-9)


@settings(max_examples=60, deadline=None)
@given(
    st.lists(st.integers(0, 10_000), min_size=4, max_size=12, unique=True),
    st.integers(1, 5),
)
def test_moses_interval_excludes_zero_exactly_when_mann_whitney_rejects(
    values: list[int], split: int
) -> None:
    split = min(split + 1, len(values) - 2)
    x, y = np.array(values[:split], float), np.array(values[split:], float) + 0.5
    _, lo, hi = inf.hodges_lehmann_shift(x, y)
    p = sps.mannwhitneyu(x, y, method="exact").pvalue
    assert (lo > 0 or hi < 0) == (p < 0.05)


def test_paired_comparison_is_wilcoxon_on_log_ratios() -> None:
    rng = np.random.default_rng(3)
    a = {i: float(v) for i, v in enumerate(rng.normal(100, 3, 15), 1)}
    b = {i: a[i] * 1.2 * float(np.exp(rng.normal(0, 0.02))) for i in a}
    del b[4]  # an iteration without B: left out of the pairs, not of n_a
    r = inf.compare_paired(a, b)
    d = np.log([b[i] / a[i] for i in sorted(b)])
    assert (r.design, r.n_a, r.n_b, r.n_pairs, r.test) == (
        "paired", 15, 14, 14, "wilcoxon-signed-rank")  # fmt: skip
    assert r.p_value == pytest.approx(sps.wilcoxon(d).pvalue)
    est, lo, hi = inf.hodges_lehmann_one_sample(d)
    assert (r.ratio, r.ratio_ci_low, r.ratio_ci_high) == pytest.approx(
        (math.exp(est), math.exp(lo), math.exp(hi))
    )
    assert r.ratio_ci_low < 1.2 < r.ratio_ci_high
    assert r.min_p_possible == 2.0**-13


def test_unpaired_comparison_is_brunner_munzel() -> None:
    rng = np.random.default_rng(4)
    a, b = rng.lognormal(np.log(2200), 0.2, 12), rng.lognormal(np.log(3200), 0.3, 10)
    r = inf.compare_unpaired(a, b)
    ref = sps.brunnermunzel(a, b)  # a rank test: logs or values give the same
    assert r.test == "brunner-munzel" and r.n_pairs == 0
    assert (r.statistic, r.p_value) == pytest.approx((ref.statistic, ref.pvalue))
    assert r.ratio == pytest.approx(math.exp(np.median(np.log(b)[:, None] - np.log(a)[None, :])))
    assert r.ratio_ci_low < 3200 / 2200 < r.ratio_ci_high


def test_complete_separation_gets_the_permutation_tests_smallest_p() -> None:
    # Brunner-Munzel's variance estimate is 0 when the samples do not overlap (SciPy: NaN);
    # its permutation version (Neubert & Brunner 2007) then gives 2 / C(m + n, n)
    r = inf.compare_unpaired([2200.0, 2210, 2190, 2205], [3200.0, 3190, 3210, 3205, 3199])
    assert r.p_value == pytest.approx(2 / math.comb(9, 4)) and r.statistic == math.inf
    assert inf.brunner_munzel([1.0, 2.0], [5.0, 6.0], "less")[1] == pytest.approx(1 / 6)
    assert inf.brunner_munzel([1.0, 2.0], [5.0, 6.0], "greater")[1] == 1.0


def test_detectable_ratio_hand_computation() -> None:
    a = {i: 100.0 for i in range(1, 11)}
    b = {i: 100.0 * math.exp(0.01 * (-1) ** i) for i in a}  # log-ratios +-0.01
    r = inf.compare_paired(a, b)
    sd = float(np.std([0.01 * (-1) ** i for i in a], ddof=1))
    t = sps.t.ppf(0.975, 9) + sps.t.ppf(0.8, 9)
    assert r.log_sd == pytest.approx(sd)
    assert r.detectable_ratio == pytest.approx(
        math.exp(t * sd / math.sqrt(10) / math.sqrt(3 / math.pi))
    )


@pytest.mark.parametrize(
    ("low", "high", "unadjusted", "expected"),
    [
        (1.30, 1.50, (1.35, 1.45), "higher"),
        (0.60, 0.90, (0.7, 0.8), "lower"),
        (0.98, 1.03, (0.99, 1.02), "equivalent"),
        (0.99, 1.07, (1.01, 1.06), "inconclusive"),  # different from 1, not shown relevant
        (1.02, 1.06, (1.03, 1.05), "inconclusive"),
        (1.04, 1.30, (1.06, 1.2), "inconclusive"),  # beyond the band only uncorrected
        (1.05, 1.30, (1.06, 1.2), "inconclusive"),  # the edge itself is not beyond it
        (1 / 1.05, 1.03, (0.96, 1.02), "inconclusive"),  # nor inside it
        # the family's interval is unbounded (too few iterations for the correction)
        (0.0, math.inf, (4.4, 4.98), "too few to claim"),
        (0.0, math.inf, (0.1, 0.9), "too few to claim"),
        (0.0, math.inf, (0.99, 1.02), "not testable"),  # no claim of equivalence either
        (-math.inf, math.inf, (math.nan, math.nan), "not testable"),
        (0.0, math.inf, (0.0, math.inf), "not testable"),
    ],
)
def test_verdict_rule(
    low: float, high: float, unadjusted: tuple[float, float], expected: str
) -> None:
    assert inf.verdict(low, high, 0.05, unadjusted) == expected


def test_band_is_symmetric_on_the_log_scale() -> None:
    low, high = inf.band(0.05)
    assert high == 1.05 and math.log(low) == pytest.approx(-math.log(high))


def test_tost_paired_is_two_one_sided_wilcoxon_tests() -> None:
    rng = np.random.default_rng(5)
    a = {i: 0.985 + float(rng.normal(0, 0.002)) for i in range(1, 21)}
    b = {i: a[i] + 0.001 + float(rng.normal(0, 0.001)) for i in a}
    eq = inf.tost_paired(a, b, 0.005)
    d = np.array([b[i] - a[i] for i in sorted(a)])
    p1 = sps.wilcoxon(d + 0.005, alternative="greater").pvalue
    p2 = sps.wilcoxon(d - 0.005, alternative="less").pvalue
    assert eq.p_tost == pytest.approx(max(p1, p2))
    assert eq.equivalent and -0.005 < eq.diff_ci_low < eq.diff < eq.diff_ci_high < 0.005
    far = inf.tost_paired(a, {i: v + 0.02 for i, v in b.items()}, 0.005)
    assert not far.equivalent


def test_tost_unpaired_is_two_one_sided_brunner_munzel_tests() -> None:
    rng = np.random.default_rng(6)
    a, b = rng.normal(0.98, 0.003, 15), rng.normal(0.9805, 0.003, 15)
    eq = inf.tost_unpaired(a, b, 0.005)
    p1 = sps.brunnermunzel(a, b + 0.005, alternative="less").pvalue
    p2 = sps.brunnermunzel(a, b - 0.005, alternative="greater").pvalue
    assert eq.p_tost == pytest.approx(max(p1, p2)) and eq.equivalent


def test_two_iterations_are_not_testable() -> None:
    r = inf.compare_paired({1: 100.0, 2: 101.0}, {1: 140.0, 2: 141.0})
    assert math.isinf(r.ratio_ci_high) and r.min_p_possible == 0.5
    assert inf.verdict(r.ratio_ci_low, r.ratio_ci_high, 0.05) == "not testable"


def test_hodges_lehmann_refuses_more_pairwise_values_than_its_bound_before_allocating():
    """50,000 iterations would sort 1.25e9 Walsh averages (about 30 GB): one line instead
    (issue 24, minor); a campaign's largest (10,000 iterations) stays within the bound."""
    assert inf.MAX_PAIRWISE >= 10_000 * 10_001 // 2
    with pytest.raises(inf.TooManyPairs, match="1,250,025,000 pairwise values"):
        inf.hodges_lehmann_one_sample(np.ones(50_000))
    with pytest.raises(inf.TooManyPairs, match=r"20,000 x 20,000 runs"):
        inf.hodges_lehmann_shift(np.ones(20_000), np.ones(20_000))
