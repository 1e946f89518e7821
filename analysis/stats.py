"""Descriptive statistics, overlap effect sizes, trend tests and Holm's correction. Pure:
arrays in, frozen dataclasses out; nothing here knows about files, frameworks or campaigns.
Inference on the ratio scale lives in analysis.inference."""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from scipy import stats as sps

ALPHA = 0.05
# Romano et al. (2006) thresholds for |Cliff's delta|: negligible < 0.147 <= small < 0.33
# <= medium < 0.474 <= large. They describe overlap of the two samples, not the size of a
# difference: a 0.5% difference with 0.1% noise is "large" here.
CLIFF_THRESHOLDS = (0.147, 0.33, 0.474)
TUKEY_K = 1.5
# Above this coefficient of variation a sample is called noisy (hyperfine-style warning).
NOISY_CV = 0.05
SMALL_N = 10
BOOTSTRAP_RESAMPLES = 10_000


@dataclass(frozen=True)
class Describe:
    n: int
    mean: float
    median: float
    variance: float  # sample variance (ddof=1); NaN for n < 2
    sd: float
    min: float
    max: float
    q1: float
    q3: float
    iqr: float
    cv: float  # sd / |mean|; NaN when the mean is 0
    median_ci_low: float
    median_ci_high: float
    shapiro_w: float  # NaN when Shapiro-Wilk cannot run (n < 3 or a constant sample)
    shapiro_p: float


@dataclass(frozen=True)
class Trend:
    """A test of one metric against the run's place in the campaign: Spearman's rank
    correlation against iteration (slow drift) or Kruskal-Wallis across positions in the
    iteration (order effects)."""

    against: str  # "iteration", "position" or "time"
    test: str  # "spearman", "kruskal-wallis" or "none"
    n: int
    statistic: float  # Spearman's rho, or the Kruskal-Wallis H
    p_value: float


def _clean(x: Sequence[float] | np.ndarray) -> np.ndarray:
    a = np.asarray(x, dtype=float)
    return a[np.isfinite(a)]


def bootstrap_median_ci(
    x: Sequence[float] | np.ndarray,
    confidence: float = 0.95,
    resamples: int = BOOTSTRAP_RESAMPLES,
    seed: int = 0,
) -> tuple[float, float]:
    """Percentile bootstrap confidence interval of the median, reproducible from `seed`."""
    a = _clean(x)
    if len(a) == 0:
        return (math.nan, math.nan)
    rng = np.random.default_rng(seed)
    medians = np.empty(resamples)
    # chunks keep memory flat for large samples while staying vectorised
    chunk = max(1, 2_000_000 // len(a))
    for start in range(0, resamples, chunk):
        stop = min(resamples, start + chunk)
        idx = rng.integers(0, len(a), size=(stop - start, len(a)))
        medians[start:stop] = np.median(a[idx], axis=1)
    tail = (1 - confidence) / 2 * 100
    low, high = np.percentile(medians, [tail, 100 - tail])
    return (float(low), float(high))


def shapiro(x: Sequence[float] | np.ndarray) -> tuple[float, float]:
    a = _clean(x)
    if len(a) < 3 or np.ptp(a) == 0:
        return (math.nan, math.nan)
    res = sps.shapiro(a)
    return (float(res.statistic), float(res.pvalue))


def describe(x: Sequence[float] | np.ndarray, seed: int = 0) -> Describe:
    a = _clean(x)
    n = len(a)
    if n == 0:
        nan = math.nan
        return Describe(0, nan, nan, nan, nan, nan, nan, nan, nan, nan, nan, nan, nan, nan, nan)
    mean = float(np.mean(a))
    var = float(np.var(a, ddof=1)) if n > 1 else math.nan
    sd = math.sqrt(var) if n > 1 else math.nan
    q1, q3 = (float(v) for v in np.percentile(a, [25, 75]))
    low, high = bootstrap_median_ci(a, seed=seed)
    w, p = shapiro(a)
    return Describe(
        n=n,
        mean=mean,
        median=float(np.median(a)),
        variance=var,
        sd=sd,
        min=float(np.min(a)),
        max=float(np.max(a)),
        q1=q1,
        q3=q3,
        iqr=q3 - q1,
        cv=sd / abs(mean) if mean != 0 and n > 1 else math.nan,
        median_ci_low=low,
        median_ci_high=high,
        shapiro_w=w,
        shapiro_p=p,
    )


def cliffs_delta(a: Sequence[float] | np.ndarray, b: Sequence[float] | np.ndarray) -> float:
    """P(b > a) - P(b < a) over all pairs: +1 when every b exceeds every a."""
    x, y = _clean(a), _clean(b)
    if len(x) == 0 or len(y) == 0:
        return math.nan
    diff = y[:, None] - x[None, :]
    return float((np.sum(diff > 0) - np.sum(diff < 0)) / diff.size)


def common_language(a: Sequence[float] | np.ndarray, b: Sequence[float] | np.ndarray) -> float:
    """P(b > a) + P(b = a)/2 (McGraw & Wong): the chance a random b beats a random a."""
    d = cliffs_delta(a, b)
    return (d + 1) / 2 if math.isfinite(d) else math.nan


def cliff_magnitude(delta: float) -> str:
    if not math.isfinite(delta):
        return "n/a"
    small, medium, large = CLIFF_THRESHOLDS
    m = abs(delta)
    if m < small:
        return "negligible"
    if m < medium:
        return "small"
    if m < large:
        return "medium"
    return "large"


def holm(p_values: Sequence[float]) -> list[float]:
    """Holm-Bonferroni adjusted p-values (step-down, monotone, capped at 1). NaN stays NaN
    and does not count towards the number of comparisons."""
    p = np.asarray(p_values, dtype=float)
    out = np.full(len(p), math.nan)
    valid = np.flatnonzero(np.isfinite(p))
    m = len(valid)
    order = valid[np.argsort(p[valid], kind="stable")]
    running = 0.0
    for rank, i in enumerate(order):
        running = max(running, min(1.0, (m - rank) * p[i]))
        out[i] = running
    return [float(v) for v in out]


def trend(x: Sequence[float] | np.ndarray, y: Sequence[float] | np.ndarray, against: str) -> Trend:
    """Spearman's rho of y against x (both finite): monotone drift without assuming a line."""
    xa, ya = np.asarray(x, dtype=float), np.asarray(y, dtype=float)
    keep = np.isfinite(xa) & np.isfinite(ya)
    xa, ya = xa[keep], ya[keep]
    if len(xa) < 3 or np.ptp(xa) == 0 or np.ptp(ya) == 0:
        return Trend(against, "none", len(xa), math.nan, math.nan)
    res = sps.spearmanr(xa, ya)
    return Trend(against, "spearman", len(xa), float(res.statistic), float(res.pvalue))


def order_effect(groups: Sequence[Sequence[float] | np.ndarray], against: str) -> Trend:
    """Kruskal-Wallis H across groups (one per position in the iteration)."""
    clean = [_clean(g) for g in groups]
    clean = [g for g in clean if len(g)]
    n = sum(len(g) for g in clean)
    if len(clean) < 2 or np.ptp(np.concatenate(clean)) == 0:
        return Trend(against, "none", n, math.nan, math.nan)
    res = sps.kruskal(*clean)
    return Trend(against, "kruskal-wallis", n, float(res.statistic), float(res.pvalue))


def tukey_outliers(x: Sequence[float] | np.ndarray, k: float = TUKEY_K) -> np.ndarray:
    """Boolean mask over `x`: True outside [Q1 - k IQR, Q3 + k IQR]. NaN is never flagged.

    Tukey fences rather than |z| > 3: with n values |z| cannot exceed (n-1)/sqrt(n), so the
    z rule cannot flag anything in small samples, and the mean and sd it uses are the very
    statistics an outlier distorts."""
    a = np.asarray(x, dtype=float)
    finite = a[np.isfinite(a)]
    mask = np.zeros(len(a), dtype=bool)
    if len(finite) < 4:
        return mask
    q1, q3 = np.percentile(finite, [25, 75])
    iqr = q3 - q1
    with np.errstate(invalid="ignore"):
        mask = (a < q1 - k * iqr) | (a > q3 + k * iqr)
    return mask & np.isfinite(a)
