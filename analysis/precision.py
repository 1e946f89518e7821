"""How precisely a campaign has pinned down each primary ratio, and how many iterations
another precision would need. Pure: numbers in, frozen dataclasses out; the campaign's
stopping rule (orchestrator/campaign/stopping.py), the cell report and the study report all
read their intervals from here, so the three always agree.

The ratio B/A of a primary metric (energy, time) is estimated from the per-iteration
log-ratios log(B_i / A_i): pairing by iteration cancels drift common to both frameworks, and
the log makes the ratio symmetric. The interval is Student's t on their mean (a geometric
mean ratio), as Georges et al. (2007) use for fewer than 30 repetitions; the iterations
another precision needs follow Lilja's n = (t s / e)^2 (Lilja 2000; Georges et al. 2007,
section 3), solved with the t quantile of that n. Kalibera and Jones (2013) dimension the
repetitions of each level the same way, from the variance an initial experiment shows.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from itertools import combinations

import numpy as np
from scipy import stats as sps

CONFIDENCE = 0.95
# The ratios a campaign's answer rests on: (tidy-table column, name in reports).
PRIMARY_METRICS: tuple[tuple[str, str], ...] = (
    ("energy_gross_j", "energy"),
    ("duration_s", "time"),
)
# No precision is claimed from fewer pairs: one log-ratio has no spread.
MIN_PAIRS = 2
MAX_ITERATIONS_SEARCHED = 100_000


@dataclass(frozen=True)
class RatioPrecision:
    """B/A for one metric, paired by iteration. `precision` is the interval's relative
    half-width on the ratio scale: the ratio is known to within +-precision (at `confidence`)."""

    metric: str
    framework_a: str
    framework_b: str
    n_pairs: int
    ratio: float
    ratio_ci_low: float
    ratio_ci_high: float
    precision: float
    log_sd: float
    confidence: float = CONFIDENCE

    def iterations_for(self, precision: float) -> int | None:
        """Iterations (pairs) this spread needs for +-precision; None without a spread."""
        return iterations_needed(self.log_sd, precision, self.confidence)


def half_width_log(log_sd: float, n: int, confidence: float = CONFIDENCE) -> float:
    """Half-width of the t-interval of a mean of n values with standard deviation log_sd."""
    if n < MIN_PAIRS or not math.isfinite(log_sd):
        return math.inf
    t = float(sps.t.ppf(1 - (1 - confidence) / 2, n - 1))
    return t * log_sd / math.sqrt(n)


def precision_of_log(half_width: float) -> float:
    """+-P on the ratio scale from a half-width h on the log scale: the interval is
    [r e^-h, r e^h], within +-(e^h - 1) of r (the wider, upper side)."""
    return math.expm1(half_width) if math.isfinite(half_width) else math.inf


def iterations_needed(
    log_sd: float, precision: float, confidence: float = CONFIDENCE
) -> int | None:
    """The smallest n whose t-interval half-width is at most log(1 + precision)."""
    if not math.isfinite(log_sd) or precision <= 0:
        return None
    if log_sd == 0:
        return MIN_PAIRS
    target = math.log1p(precision)
    z = float(sps.norm.ppf(1 - (1 - confidence) / 2))
    n = max(MIN_PAIRS, math.ceil((z * log_sd / target) ** 2))  # the normal quantile: a floor
    while half_width_log(log_sd, n, confidence) > target:
        n += 1
        if n > MAX_ITERATIONS_SEARCHED:
            return None
    return n


def paired_ratio(
    metric: str,
    a: str,
    b: str,
    values_a: Mapping[int, float],
    values_b: Mapping[int, float],
    confidence: float = CONFIDENCE,
) -> RatioPrecision | None:
    """B/A from the iterations where both have a positive finite value; None without any."""
    logs = [
        math.log(values_b[i] / values_a[i])
        for i in sorted(set(values_a) & set(values_b))
        if _positive(values_a[i]) and _positive(values_b[i])
    ]
    if not logs:
        return None
    d = np.asarray(logs)
    mean = float(d.mean())
    sd = float(d.std(ddof=1)) if len(d) >= MIN_PAIRS else math.nan
    h = half_width_log(sd, len(d), confidence)
    return RatioPrecision(
        metric=metric,
        framework_a=a,
        framework_b=b,
        n_pairs=len(d),
        ratio=math.exp(mean),
        ratio_ci_low=math.exp(mean - h),
        ratio_ci_high=math.exp(mean + h),
        precision=precision_of_log(h),
        log_sd=sd,
        confidence=confidence,
    )


def _positive(x: float) -> bool:
    return isinstance(x, int | float) and math.isfinite(x) and x > 0


Values = Mapping[str, Mapping[str, Mapping[int, float]]]  # metric -> framework -> iteration


def primary_ratios(
    values: Values, frameworks: Sequence[str], confidence: float = CONFIDENCE
) -> list[RatioPrecision]:
    """Every pair (in the campaign's framework order, B/A) of every primary metric that has
    a measurement; a metric nobody measured (energy under --meter none) is left out."""
    out = []
    for metric, _ in PRIMARY_METRICS:
        by_fw = values.get(metric, {})
        for a, b in combinations(frameworks, 2):
            r = paired_ratio(metric, a, b, by_fw.get(a, {}), by_fw.get(b, {}), confidence)
            if r is not None:
                out.append(r)
    return out


def worst(ratios: Iterable[RatioPrecision]) -> RatioPrecision | None:
    """The least precise ratio: the one a precision rule waits for."""
    return max(ratios, key=lambda r: r.precision, default=None)


def values_from_rows(
    rows: Iterable[Mapping[str, object]],
) -> dict[str, dict[str, dict[int, float]]]:
    """metric -> framework -> iteration -> value, from tidy-table rows of ok runs."""
    out: dict[str, dict[str, dict[int, float]]] = {m: {} for m, _ in PRIMARY_METRICS}
    for row in rows:
        if row.get("status") != "ok":
            continue
        iteration, framework = row.get("iteration"), row.get("framework")
        try:
            it = int(iteration)  # type: ignore[call-overload]
        except (TypeError, ValueError):
            continue
        for metric, _ in PRIMARY_METRICS:
            value = row.get(metric)
            if isinstance(value, int | float) and _positive(float(value)):
                out[metric].setdefault(str(framework), {})[it] = float(value)
    return out
