"""Inference on the ratio scale: Hodges-Lehmann estimates with distribution-free intervals,
one declared rank test per design, the three-way relevance verdict, TOST equivalence and the
smallest detectable ratio. Pure: arrays in, frozen dataclasses out (docs/analysis.md).

Energy and time are positive and act multiplicatively (a framework is "40% slower"), so
every comparison is made on log values and reported as a ratio B/A: symmetric on the log
scale, and a paired per-iteration log-ratio cancels drift common to both frameworks."""

from __future__ import annotations

import functools
import math
import warnings
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from scipy import stats as sps

from analysis.errors import AnalysisInputError

ALPHA = 0.05
CONFIDENCE = 0.95
# Exact null distributions up to these sizes (fast: at most a few ms); normal
# approximations above, where they are accurate to well under 0.001 in coverage.
EXACT_SIGNED_RANK_MAX_N = 400
EXACT_RANK_SUM_MAX_MN = 2500
POWER = 0.8  # for the smallest detectable ratio
# Asymptotic relative efficiency of the rank tests against the t-test under normality (3/pi):
# a rank test needs about n / 0.955 observations to match the t-test's power.
RANK_ARE = 3 / math.pi

Array = Sequence[float] | np.ndarray

# "too few to claim": the unadjusted 95% interval lies beyond the band, but the family's
# simultaneous interval is unbounded: too few iterations for any claim after the correction.
VERDICTS = ("higher", "lower", "equivalent", "inconclusive", "too few to claim", "not testable")


@dataclass(frozen=True)
class RatioEstimate:
    """B relative to A. `ratio` is exp of the Hodges-Lehmann estimate of the log-ratio; the
    interval is the matching distribution-free one (unbounded when n is too small)."""

    design: str  # "paired" (per-iteration log-ratios) or "unpaired"
    n_a: int
    n_b: int
    n_pairs: int  # iterations with an ok run of both (0 when unpaired)
    test: str  # "wilcoxon-signed-rank", "brunner-munzel" or "none"
    statistic: float
    p_value: float
    ratio: float
    ratio_ci_low: float
    ratio_ci_high: float
    confidence: float
    min_p_possible: float  # the smallest p-value the exact test can give at this n
    detectable_ratio: float  # smallest ratio detectable from 1 with 80% power (observed spread)
    log_sd: float  # sd of the log-ratios (paired) or pooled sd of the logs (unpaired)


@dataclass(frozen=True)
class Equivalence:
    """TOST (Schuirmann 1987; Lakens 2017) on the difference B - A against +-margin."""

    design: str
    n: int
    diff: float  # Hodges-Lehmann estimate of B - A
    diff_ci_low: float  # (1 - 2 alpha) interval: TOST at alpha is this interval inside the band
    diff_ci_high: float
    margin: float
    p_tost: float  # max of the two one-sided p-values
    equivalent: bool


# --- exact null distributions -------------------------------------------------------------


def signed_rank_cdf(n: int) -> np.ndarray:
    """P(T+ <= t) for t = 0..n(n+1)/2 under H0 (no ties): the coefficients of
    prod_{i=1..n} (1 + q^i) / 2^n, built one rank at a time."""
    m = n * (n + 1) // 2
    counts = np.zeros(m + 1)
    counts[0] = 1.0
    for i in range(1, n + 1):
        shifted = np.zeros(m + 1)
        shifted[i:] = counts[: m + 1 - i]
        counts = (counts + shifted) / 2
    return np.cumsum(counts)


def rank_sum_cdf(m: int, n: int) -> np.ndarray:
    """P(U <= u) for u = 0..m n under H0, U the Mann-Whitney count of pairs (x < y): choose
    which n of the m + n ranks belong to y, all equally likely."""
    total = m + n
    # ways[j, s]: probability mass of choosing j ranks among those seen with sum s
    max_sum = n * total
    ways = np.zeros((n + 1, max_sum + 1))
    ways[0, 0] = 1.0
    for r in range(1, total + 1):
        upper = min(r, n)
        ways[1 : upper + 1, r:] += ways[0:upper, : max_sum + 1 - r].copy()
    dist = ways[n]
    dist = dist / dist.sum()
    offset = n * (n + 1) // 2  # the smallest rank sum
    return np.cumsum(dist[offset : offset + m * n + 1])


def _cut(cdf: np.ndarray, confidence: float) -> int:
    """How many ordered estimates to cut from each end: the largest c with
    P(T <= c - 1) <= (1 - confidence) / 2 (Hollander, Wolfe & Chicken 2014, 3.2 and 4.3)."""
    return int(np.sum(cdf <= (1 - confidence) / 2 + 1e-12))


def _normal_cut(mean: float, sd: float, confidence: float) -> int:
    z = sps.norm.ppf(1 - (1 - confidence) / 2)
    return max(0, math.floor(mean - z * sd + 0.5))


@functools.lru_cache(maxsize=1024)  # pure; the exact distributions cost ms at larger n
def signed_rank_cut(n: int, confidence: float) -> int:
    if n <= EXACT_SIGNED_RANK_MAX_N:
        return _cut(signed_rank_cdf(n), confidence)
    m = n * (n + 1) / 2
    return _normal_cut(m / 2, math.sqrt(n * (n + 1) * (2 * n + 1) / 24), confidence)


@functools.lru_cache(maxsize=1024)
def rank_sum_cut(m: int, n: int, confidence: float) -> int:
    if m * n <= EXACT_RANK_SUM_MAX_MN:
        return _cut(rank_sum_cdf(m, n), confidence)
    return _normal_cut(m * n / 2, math.sqrt(m * n * (m + n + 1) / 12), confidence)


# --- Hodges-Lehmann estimates -------------------------------------------------------------

# Both estimates sort every pairwise average or difference: n(n+1)/2 of them for n pairs.
# 10^8 (800 MB, about 14,000 pairs) bounds the memory; a campaign has at most 10,000
# iterations, so only an imported study larger than any campaign meets it.
MAX_PAIRWISE = 100_000_000


class TooManyPairs(AnalysisInputError):
    """A sample whose pairwise averages would not fit the bound."""


def _check_pair_count(count: int, what: str) -> None:
    if count > MAX_PAIRWISE:
        raise TooManyPairs(
            f"{what}: {count:,} pairwise values would be sorted, more than {MAX_PAIRWISE:,} "
            "(about 800 MB); analyse fewer runs (a subset of the iterations)"
        )


def _clean(x: Array) -> np.ndarray:
    a = np.asarray(x, dtype=float)
    return a[np.isfinite(a)]


def hodges_lehmann_one_sample(
    d: Array, confidence: float = CONFIDENCE
) -> tuple[float, float, float]:
    """Median of the Walsh averages (d_i + d_j) / 2, i <= j, and the interval between the
    c-th smallest and c-th largest of them (Hodges & Lehmann 1963; Tukey's interval). It
    excludes 0 exactly when the exact two-sided signed-rank test rejects at 1 - confidence."""
    x = _clean(d)
    n = len(x)
    if n == 0:
        return (math.nan, math.nan, math.nan)
    _check_pair_count(n * (n + 1) // 2, f"Hodges-Lehmann of {n:,} paired differences")
    i, j = np.triu_indices(n)
    walsh = np.sort((x[i] + x[j]) / 2)
    c = signed_rank_cut(n, confidence)
    est = float(np.median(walsh))
    if c == 0:
        return (est, -math.inf, math.inf)
    return (est, float(walsh[c - 1]), float(walsh[len(walsh) - c]))


def hodges_lehmann_shift(
    x: Array, y: Array, confidence: float = CONFIDENCE
) -> tuple[float, float, float]:
    """Median of all differences y_j - x_i and Moses' distribution-free interval (the c-th
    smallest and largest difference), the two-sample counterpart of the above."""
    a, b = _clean(x), _clean(y)
    if len(a) == 0 or len(b) == 0:
        return (math.nan, math.nan, math.nan)
    _check_pair_count(len(a) * len(b), f"Hodges-Lehmann of {len(a):,} x {len(b):,} runs")
    diffs = np.sort((b[:, None] - a[None, :]).ravel())
    c = rank_sum_cut(len(a), len(b), confidence)
    est = float(np.median(diffs))
    if c == 0:
        return (est, -math.inf, math.inf)
    return (est, float(diffs[c - 1]), float(diffs[len(diffs) - c]))


# --- tests --------------------------------------------------------------------------------


def wilcoxon_signed_rank(d: Array, alternative: str = "two-sided") -> tuple[float, float]:
    """SciPy's Wilcoxon signed-rank test (zeros dropped, Wilcoxon's convention); p = 1 when
    every difference is zero, NaN with fewer than one non-zero difference."""
    x = _clean(d)
    if len(x) == 0:
        return (math.nan, math.nan)
    if np.all(x == 0):
        return (0.0, 1.0)
    nonzero = np.abs(x[x != 0])
    # SciPy's default falls back to a slow permutation test when |d| has ties; the normal
    # approximation with its tie correction is what the textbooks use there
    exact = (
        len(nonzero) <= 50 and len(np.unique(nonzero)) == len(nonzero) and len(nonzero) == len(x)
    )
    method = "exact" if exact else "asymptotic"
    res = sps.wilcoxon(x, alternative=alternative, method=method)
    return (float(res.statistic), float(res.pvalue))


def brunner_munzel(x: Array, y: Array, alternative: str = "two-sided") -> tuple[float, float]:
    """SciPy's Brunner-Munzel test: a rank test that does not assume equal spreads (the
    unpaired studies' frameworks differ in spread). NaN below 2 values per sample."""
    a, b = _clean(x), _clean(y)
    if len(a) < 2 or len(b) < 2:
        return (math.nan, math.nan)
    if np.ptp(np.concatenate([a, b])) == 0:
        return (0.0, 1.0)
    with warnings.catch_warnings():
        # SciPy warns before returning NaN for samples that do not overlap (handled below)
        warnings.simplefilter("ignore", RuntimeWarning)
        res = sps.brunnermunzel(a, b, alternative=alternative)
    if not math.isfinite(res.pvalue):
        # The samples do not overlap: the variance estimate is 0 and the statistic infinite.
        # The studentized permutation version of the test (Neubert & Brunner 2007) then
        # gives the smallest p any rank test can, 2 / C(m + n, n).
        b_above = bool(np.min(b) > np.max(a))
        statistic = math.inf if b_above else -math.inf
        smallest = 1 / math.comb(len(a) + len(b), len(b))
        if alternative == "two-sided":
            return (statistic, min(1.0, 2 * smallest))
        agrees = b_above if alternative == "less" else not b_above
        return (statistic, smallest if agrees else 1.0)
    return (float(res.statistic), float(res.pvalue))


def min_p_signed_rank(n: int) -> float:
    """The smallest two-sided p-value of the exact signed-rank test: every sign the same."""
    return min(1.0, 2.0 ** (1 - n)) if n > 0 else 1.0


def min_p_rank_sum(m: int, n: int) -> float:
    """The smallest two-sided p-value of an exact two-sample rank test: complete separation."""
    if m == 0 or n == 0:
        return 1.0
    return min(1.0, 2.0 / math.comb(m + n, n))


# --- comparisons --------------------------------------------------------------------------


def _detectable(log_sd: float, se_factor: float, df: float, confidence: float) -> float:
    """exp((t_{1-alpha/2} + t_{power}) sd se_factor / sqrt(ARE)): the smallest ratio a
    two-sided test at alpha = 1 - confidence detects with POWER, from the observed spread
    (Cohen 1988). With confidence 1 - ALPHA/m this is the power under the family's
    correction."""
    if not (math.isfinite(log_sd) and df >= 1):
        return math.nan
    t = sps.t.ppf(1 - (1 - confidence) / 2, df) + sps.t.ppf(POWER, df)
    return math.exp(float(t) * log_sd * se_factor / math.sqrt(RANK_ARE))


def _logs(x: Array) -> np.ndarray:
    a = _clean(x)
    return np.log(a[a > 0])


def _estimate(
    sizes: tuple[str, int, int, int],
    test: tuple[str, float, float],
    log_estimate: tuple[float, float, float],
    confidence: float,
    min_p: float,
    spread: tuple[float, float],
) -> RatioEstimate:
    """The log-scale estimate and interval back on the ratio scale (an unbounded interval
    stays unbounded: exp(-inf) = 0, exp(inf) = inf)."""
    est, lo, hi = log_estimate
    return RatioEstimate(
        *sizes,
        *test,
        ratio=math.exp(est) if math.isfinite(est) else math.nan,
        ratio_ci_low=math.exp(lo) if not math.isnan(lo) else math.nan,
        ratio_ci_high=math.exp(hi) if not math.isnan(hi) else math.nan,
        confidence=confidence,
        min_p_possible=min_p,
        log_sd=spread[0],
        detectable_ratio=spread[1],
    )


def compare_paired(
    a_by_block: dict[int, float], b_by_block: dict[int, float], confidence: float = CONFIDENCE
) -> RatioEstimate:
    """B/A from per-iteration log-ratios log(b_i / a_i): Wilcoxon signed-rank test and the
    Hodges-Lehmann estimate with its interval. Only iterations with a positive value of both
    enter (the others are counted out through n_pairs)."""
    blocks = sorted(
        k for k in a_by_block.keys() & b_by_block.keys() if a_by_block[k] > 0 and b_by_block[k] > 0
    )
    d = np.array([math.log(b_by_block[k] / a_by_block[k]) for k in blocks])
    n = len(d)
    stat, p = wilcoxon_signed_rank(d) if n else (math.nan, math.nan)
    est, lo, hi = hodges_lehmann_one_sample(d, confidence)
    sd = float(np.std(d, ddof=1)) if n > 1 else math.nan
    return _estimate(
        ("paired", len(a_by_block), len(b_by_block), n),
        ("wilcoxon-signed-rank" if n else "none", stat, p),
        (est, lo, hi),
        confidence,
        min_p_signed_rank(n),
        (sd, _detectable(sd, 1 / math.sqrt(n) if n else math.nan, n - 1, confidence)),
    )


def _brunner_munzel_p(a: np.ndarray, b: np.ndarray, own: tuple[np.ndarray, np.ndarray]) -> float:
    """SciPy's two-sided Brunner-Munzel p-value (t distribution), computed directly with the
    within-sample ranks `own` given: the interval search calls it a few dozen times. Where
    the variance estimate is 0 it is brunner_munzel's (the permutation p)."""
    nx, ny = len(a), len(b)
    both = sps.rankdata(np.concatenate([a, b]))
    rx, ry = both[:nx], both[nx:]
    sx = float(np.sum((rx - own[0] - rx.mean() + own[0].mean()) ** 2)) / (nx - 1)
    sy = float(np.sum((ry - own[1] - ry.mean() + own[1].mean()) ** 2)) / (ny - 1)
    spread = nx * sx + ny * sy
    if spread <= 0:
        return brunner_munzel(a, b)[1]
    w = nx * ny * (ry.mean() - rx.mean()) / ((nx + ny) * math.sqrt(spread))
    df = spread**2 / ((nx * sx) ** 2 / (nx - 1) + (ny * sy) ** 2 / (ny - 1))
    return float(2 * sps.t.sf(abs(w), df))


def brunner_munzel_shift_interval(
    x: Array, y: Array, confidence: float = CONFIDENCE
) -> tuple[float, float]:
    """The shifts d that the two-sided Brunner-Munzel test of (x, y - d) does not reject at
    1 - confidence: the interval that inverts the test itself, so that it excludes 0 exactly
    when the test rejects, and that, like the test, does not assume equal spreads (Moses'
    interval does: with a 5x spread ratio it covered 86-93% instead of 95%). The test's
    statistic moves only where y_j - d crosses an x_i, so the ends are searched among the
    pairwise differences (bisection from the Hodges-Lehmann estimate outwards; the p-value
    falls with the distance from it). Unbounded on a side where even complete separation
    (the permutation p, 2 / C(m + n, n)) is not significant."""
    a, b = _clean(x), _clean(y)
    if len(a) < 2 or len(b) < 2:
        return (-math.inf, math.inf)
    alpha = 1 - confidence
    if min_p_rank_sum(len(a), len(b)) >= alpha:
        return (-math.inf, math.inf)
    diffs = np.unique(b[:, None] - a[None, :])
    # The test depends on d only through the ranks, so it is constant between consecutive
    # differences: step k is the open interval (diffs[k-1], diffs[k]) (step 0 below all,
    # step len(diffs) above all), judged at its midpoint.
    edges = np.concatenate([[diffs[0] - 1.0], diffs, [diffs[-1] + 1.0]])
    mids = (edges[:-1] + edges[1:]) / 2

    own = (sps.rankdata(a), sps.rankdata(b))  # ranks within each sample: no shift moves them

    def accepted(k: int) -> bool:
        p = _brunner_munzel_p(a, b - float(mids[k]), own)
        return not (math.isfinite(p) and p < alpha)

    centre = int(np.searchsorted(diffs, float(np.median(b[:, None] - a[None, :]))))
    if not accepted(centre):  # the estimate's own step rejected: only with heavy ties
        centre = min(range(len(mids)), key=lambda k: _brunner_munzel_p(a, b - float(mids[k]), own))
    lo_k, hi_k = 0, centre  # step 0 is complete separation, rejected (checked above)
    while hi_k - lo_k > 1:  # invariant: lo_k rejected, hi_k accepted
        mid = (lo_k + hi_k) // 2
        lo_k, hi_k = (lo_k, mid) if accepted(mid) else (mid, hi_k)
    low = float(edges[hi_k])  # the lower edge of the first accepted step
    lo_k, hi_k = centre, len(mids) - 1
    while hi_k - lo_k > 1:  # invariant: lo_k accepted, hi_k rejected
        mid = (lo_k + hi_k) // 2
        lo_k, hi_k = (mid, hi_k) if accepted(mid) else (lo_k, mid)
    high = float(edges[lo_k + 1])
    return (low, high)


def compare_unpaired(a: Array, b: Array, confidence: float = CONFIDENCE) -> RatioEstimate:
    """B/A from independent samples: Brunner-Munzel test on the logs (a rank test, so the
    same as on the values), the Hodges-Lehmann shift of the logs and the interval that
    inverts the same test (robust to unequal spreads, and with ties the test and the
    interval come from the same distribution)."""
    la, lb = _logs(a), _logs(b)
    stat, p = brunner_munzel(la, lb)
    est = hodges_lehmann_shift(la, lb, confidence)[0]
    lo, hi = brunner_munzel_shift_interval(la, lb, confidence)
    df = len(la) + len(lb) - 2
    if len(la) >= 2 and len(lb) >= 2:
        pooled = ((len(la) - 1) * np.var(la, ddof=1) + (len(lb) - 1) * np.var(lb, ddof=1)) / df
        sd = math.sqrt(float(pooled))
        factor = math.sqrt(1 / len(la) + 1 / len(lb))
    else:
        sd, factor = math.nan, math.nan
    return _estimate(
        ("unpaired", len(la), len(lb), 0),
        ("brunner-munzel" if math.isfinite(p) else "none", stat, p),
        (est, lo, hi),
        confidence,
        min_p_rank_sum(len(la), len(lb)),
        (sd, _detectable(sd, factor, df, confidence)),
    )


def band(min_effect: float) -> tuple[float, float]:
    """The relevance band on the ratio scale, symmetric in log: [1/(1+e), 1+e]."""
    return (1 / (1 + min_effect), 1 + min_effect)


def family_confidence(m: int) -> float:
    """The confidence of each interval in a family of m comparisons whose verdicts are
    read off the intervals: 1 - ALPHA/m (Bonferroni), so that all m intervals cover their
    ratios together with probability at least 1 - ALPHA, and with it every verdict."""
    return 1 - ALPHA / max(1, m)


def min_n_for_claim(m: int, paired: bool) -> int:
    """The fewest paired iterations (or runs per framework, unpaired, equal sizes) whose
    interval at family_confidence(m) is bounded: below it no verdict but "not testable" or
    "too few to claim" is possible. Paired: 2^-n <= ALPHA / (2m), i.e. 6 for one
    comparison, 7 for two, 8 for six (three frameworks), 9 for twelve, 10 for twenty."""
    confidence = family_confidence(m)
    n = 1
    if paired:
        while signed_rank_cut(n, confidence) == 0:
            n += 1
    else:
        while rank_sum_cut(n, n, confidence) == 0:
            n += 1
    return n


def _bounded(low: float, high: float) -> bool:
    return math.isfinite(low) and math.isfinite(high) and low > 0


def verdict(
    ci_low: float,
    ci_high: float,
    min_effect: float,
    unadjusted: tuple[float, float] = (math.nan, math.nan),
) -> str:
    """Three-way decision read off the family's simultaneous interval of the ratio
    (confidence family_confidence(m)) against the band of irrelevance: higher/lower when the
    whole interval lies beyond the band, equivalent when it lies inside, inconclusive
    otherwise. A false verdict needs the interval to miss the true ratio, so the chance of
    any false verdict in the family is at most ALPHA. When the simultaneous interval is
    unbounded (too few iterations for the family): "too few to claim" if the `unadjusted`
    95% interval lies beyond the band, else "not testable"."""
    low, high = band(min_effect)
    if not _bounded(ci_low, ci_high):
        u_low, u_high = unadjusted
        if _bounded(u_low, u_high) and (u_low > high or u_high < low):
            return "too few to claim"
        return "not testable"
    if ci_low > high:
        return "higher"
    if ci_high < low:
        return "lower"
    if low < ci_low and ci_high < high:
        return "equivalent"
    return "inconclusive"


def tost_paired(
    a_by_block: dict[int, float], b_by_block: dict[int, float], margin: float
) -> Equivalence:
    """Equivalence of B - A within +-margin on per-iteration differences: two one-sided
    Wilcoxon signed-rank tests at ALPHA; the matching (1 - 2 ALPHA) Hodges-Lehmann interval."""
    blocks = sorted(a_by_block.keys() & b_by_block.keys())
    d = np.array([b_by_block[k] - a_by_block[k] for k in blocks], dtype=float)
    d = d[np.isfinite(d)]
    est, lo, hi = hodges_lehmann_one_sample(d, 1 - 2 * ALPHA)
    p_low = wilcoxon_signed_rank(d + margin, "greater")[1] if len(d) else math.nan
    p_high = wilcoxon_signed_rank(d - margin, "less")[1] if len(d) else math.nan
    return _equivalence("paired", len(d), est, lo, hi, margin, p_low, p_high)


def tost_unpaired(a: Array, b: Array, margin: float) -> Equivalence:
    """The same for independent samples: two one-sided Brunner-Munzel tests on B shifted by
    the margin; the (1 - 2 ALPHA) interval that inverts the same test."""
    x, y = _clean(a), _clean(b)
    est = hodges_lehmann_shift(x, y)[0]
    lo, hi = brunner_munzel_shift_interval(x, y, 1 - 2 * ALPHA)
    # SciPy's "less": the first sample is stochastically smaller than the second
    p_low = brunner_munzel(x, y + margin, "less")[1]
    p_high = brunner_munzel(x, y - margin, "greater")[1]
    return _equivalence("unpaired", min(len(x), len(y)), est, lo, hi, margin, p_low, p_high)


def _equivalence(
    design: str, n: int, est: float, lo: float, hi: float, margin: float, p1: float, p2: float
) -> Equivalence:
    p = max(p1, p2) if math.isfinite(p1) and math.isfinite(p2) else math.nan
    inside = math.isfinite(lo) and math.isfinite(hi) and -margin < lo and hi < margin
    return Equivalence(design, n, est, lo, hi, margin, p, bool(inside and p < ALPHA))
