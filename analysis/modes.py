"""Two populations in one sample: a test for bimodality of per-run values (e.g. a
framework's steady-state epoch times), so that a campaign never silently mixes two modes.

The test fits one normal and a two-component normal mixture with a shared variance (EM,
started from the best two-group split of the sorted values) and calls the sample bimodal
when all three hold:

* the mixture explains the data much better than one normal: BIC(1) - BIC(2) > 10, "very
  strong" evidence on Kass & Raftery's scale (J. Am. Stat. Assoc. 90, 1995, 773-795);
* the two components are clearly separated: Ashman's D = |mu1 - mu2| / sigma > 2 (Ashman,
  Bird & Zepf, Astron. J. 108, 1994, 2348-2361; with a shared sigma this is also the point
  where an equal mixture of two normals stops being unimodal);
* each mode holds at least MIN_SHARE of the runs and at least two runs (one stray run is
  an outlier, for the Tukey fences, not a mode);
* the runs themselves show the dip, not only the fitted curve: the band of width
  |mu1 - mu2| / 3 centred between the modes holds at most GAP_RATIO times the runs of the
  emptier of the two same-width bands centred on the modes. Without this rule a flat
  sample (a uniform one, or a campaign with steady linear drift) passes the first two at
  large n, since two normals fit a flat-topped sample better than one.

The shared variance keeps the fit away from the degenerate one-point components that make
an unequal-variance mixture's likelihood unbounded. Pure: arrays in, a frozen dataclass
out."""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

MIN_RUNS = 8  # below this a mixture of two normals cannot be told from one
MIN_DELTA_BIC = 10.0
MIN_ASHMAN_D = 2.0
MIN_SHARE = 0.1
GAP_RATIO = 0.5
_EM_STEPS = 500


@dataclass(frozen=True)
class Modes:
    n: int
    bimodal: bool
    tested: bool  # False when there are fewer than MIN_RUNS finite values
    delta_bic: float  # BIC(one normal) - BIC(two-normal mixture); NaN when not tested
    ashman_d: float
    low_mean: float  # the mixture's components (NaN when not tested)
    high_mean: float
    sd: float  # their shared standard deviation
    high: tuple[bool, ...]  # per input value (NaN inputs False): in the high component


def _best_split(x: np.ndarray) -> int:
    """Index k of sorted x minimising the within-group sum of squares of x[:k], x[k:]."""
    n = len(x)
    csum, csq = np.cumsum(x), np.cumsum(x * x)
    k = np.arange(1, n)
    left = csq[k - 1] - csum[k - 1] ** 2 / k
    right = (csq[-1] - csq[k - 1]) - (csum[-1] - csum[k - 1]) ** 2 / (n - k)
    return int(k[np.argmin(left + right)])


def _normal_logpdf(x: np.ndarray, mu: float, var: float) -> np.ndarray:
    return -0.5 * (np.log(2 * math.pi * var) + (x - mu) ** 2 / var)


def _mixture(x: np.ndarray) -> tuple[float, float, float, float, float, np.ndarray]:
    """EM for two normals with a shared variance: (weight of high, mu_low, mu_high, var,
    log-likelihood, responsibility of high per value)."""
    s = np.sort(x)
    k = _best_split(s)
    mu = np.array([s[:k].mean(), s[k:].mean()])
    var = float(((s[:k] - mu[0]) ** 2).sum() + ((s[k:] - mu[1]) ** 2).sum()) / len(x)
    var = max(var, 1e-12 * float(np.var(x)))
    w = k / len(x)
    loglik_prev = -math.inf
    for _ in range(_EM_STEPS):
        a = np.log(w) + _normal_logpdf(x, mu[0], var)
        b = np.log1p(-w) + _normal_logpdf(x, mu[1], var)
        top = np.maximum(a, b)
        total = top + np.log(np.exp(a - top) + np.exp(b - top))
        loglik = float(total.sum())
        r_high = np.exp(b - total)
        r_low = 1 - r_high
        if r_high.sum() < 1e-9 or r_low.sum() < 1e-9:
            break  # one component took everything: the one-normal fit
        w = float(r_low.mean())
        mu = np.array([(r_low * x).sum() / r_low.sum(), (r_high * x).sum() / r_high.sum()])
        var = float((r_low * (x - mu[0]) ** 2 + r_high * (x - mu[1]) ** 2).sum() / len(x))
        var = max(var, 1e-12 * float(np.var(x)))
        if loglik - loglik_prev < 1e-10 * abs(loglik):
            break
        loglik_prev = loglik
    return 1 - w, float(mu[0]), float(mu[1]), var, loglik, r_high


def _dip_in_runs(x: np.ndarray, mu_low: float, mu_high: float) -> bool:
    half = abs(mu_high - mu_low) / 6

    def band(centre: float) -> int:
        return int(((x >= centre - half) & (x <= centre + half)).sum())

    middle = band((mu_low + mu_high) / 2)
    return middle <= GAP_RATIO * min(band(mu_low), band(mu_high))


def two_modes(values: Sequence[float] | np.ndarray) -> Modes:
    """Test `values` (NaN ignored) for two clusters; see the module docstring."""
    raw = np.asarray(values, dtype=float)
    finite = np.isfinite(raw)
    x = raw[finite]
    n = len(x)
    nan = math.nan
    if n < MIN_RUNS or float(np.var(x)) == 0.0:
        return Modes(n, False, n >= MIN_RUNS, nan, nan, nan, nan, nan, (False,) * len(raw))
    var1 = float(np.var(x))
    loglik1 = float(_normal_logpdf(x, float(x.mean()), var1).sum())
    _, mu_low, mu_high, var2, loglik2, r_high = _mixture(x)
    bic1 = -2 * loglik1 + 2 * math.log(n)
    bic2 = -2 * loglik2 + 4 * math.log(n)  # two means, one variance, one weight
    delta_bic = bic1 - bic2
    ashman_d = abs(mu_high - mu_low) / math.sqrt(var2)
    in_high = r_high > 0.5
    smaller = int(min(in_high.sum(), n - in_high.sum()))
    bimodal = (
        _dip_in_runs(x, mu_low, mu_high)
        and delta_bic > MIN_DELTA_BIC
        and ashman_d > MIN_ASHMAN_D
        and smaller >= max(2, math.ceil(MIN_SHARE * n))
    )
    high = np.zeros(len(raw), dtype=bool)
    high[finite] = in_high
    return Modes(
        n, bimodal, True, delta_bic, ashman_d, mu_low, mu_high, math.sqrt(var2), tuple(high)
    )
