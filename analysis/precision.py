"""How precisely a campaign has pinned down each primary ratio, and how many iterations
another precision would need. Pure: numbers in, frozen dataclasses out; the campaign's
stopping rule (orchestrator/campaign/stopping.py), the cell report and the study report all
read their intervals from here, so the three always agree.

The ratio B/A of a primary metric (energy, time) is the report's paired estimate
(analysis.inference.compare_paired): the Hodges-Lehmann estimate of the per-iteration
log-ratios log(B_i / A_i) with its exact distribution-free interval. Pairing by iteration
cancels drift common to both frameworks; the log makes the ratio symmetric. `precision` is
how far the interval reaches from the estimate, as a relative half-width.

The iterations another precision needs are planned as the benchmarking literature does:
Lilja's n = (t s / e)^2 for a t-interval of the mean (Lilja 2000; Georges et al. 2007,
section 3), solved with the t quantile of that n; Kalibera and Jones (2013) dimension the
repetitions of each level the same way, from the variance an initial experiment shows. The
rank interval needs about n / (3 / pi) pairs for the same width under normality (its
asymptotic relative efficiency, Hodges and Lehmann 1956), and at least the n at which the
exact interval is bounded at all (6 at 95%: 2 / 2^6 < 0.05).
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from itertools import combinations

from scipy import stats as sps

from analysis.inference import RANK_ARE, compare_paired, signed_rank_cut
from analysis.load import MEASURED

CONFIDENCE = 0.95
# The ratios a campaign's answer rests on: (tidy-table column, name in reports).
PRIMARY_METRICS: tuple[tuple[str, str], ...] = (
    ("energy_gross_j", "energy"),
    ("duration_s", "time"),
)
MAX_ITERATIONS_SEARCHED = 100_000


@dataclass(frozen=True)
class RatioPrecision:
    """B/A for one metric, paired by iteration. `precision` is the interval's relative
    half-width on the ratio scale: the ratio is known to within +-precision (at `confidence`);
    infinite while the interval is unbounded (fewer than 6 pairs at 95%)."""

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
    if n < 2 or not math.isfinite(log_sd):
        return math.inf
    t = float(sps.t.ppf(1 - (1 - confidence) / 2, n - 1))
    return t * log_sd / math.sqrt(n)


def relative_half_width(ratio: float, low: float, high: float) -> float:
    """+-P on the ratio scale: how far the interval reaches from the estimate, on the wider
    side, e.g. 0.02 for an interval within 2% of the ratio either way."""
    if not (math.isfinite(high) and low > 0 and ratio > 0):
        return math.inf
    return math.expm1(max(math.log(high / ratio), math.log(ratio / low)))


def smallest_bounded_n(confidence: float = CONFIDENCE) -> int:
    """The fewest pairs whose exact signed-rank interval is bounded (6 at 95%)."""
    n = 1
    while signed_rank_cut(n, confidence) == 0:
        n += 1
    return n


def iterations_needed(
    log_sd: float, precision: float, confidence: float = CONFIDENCE
) -> int | None:
    """Pairs for +-precision: the smallest n whose t-interval half-width is at most
    log(1 + precision), divided by the rank interval's efficiency, and at least the smallest
    n with a bounded interval."""
    if not math.isfinite(log_sd) or precision <= 0:
        return None
    floor = smallest_bounded_n(confidence)
    if log_sd == 0:
        return floor
    target = math.log1p(precision)
    z = float(sps.norm.ppf(1 - (1 - confidence) / 2))
    n = max(2, math.ceil((z * log_sd / target) ** 2))  # the normal quantile: a lower bound
    while half_width_log(log_sd, n, confidence) > target:
        n += 1
        if n > MAX_ITERATIONS_SEARCHED:
            return None
    return max(floor, math.ceil(n / RANK_ARE))


def paired_ratio(
    metric: str,
    a: str,
    b: str,
    values_a: Mapping[int, float],
    values_b: Mapping[int, float],
    confidence: float = CONFIDENCE,
) -> RatioPrecision | None:
    """B/A from the iterations where both have a positive finite value; None without any."""
    pa = {i: v for i, v in values_a.items() if _positive(v)}
    pb = {i: v for i, v in values_b.items() if _positive(v)}
    estimate = compare_paired(pa, pb, confidence)
    if estimate.n_pairs == 0:
        return None
    return RatioPrecision(
        metric=metric,
        framework_a=a,
        framework_b=b,
        n_pairs=estimate.n_pairs,
        ratio=estimate.ratio,
        ratio_ci_low=estimate.ratio_ci_low,
        ratio_ci_high=estimate.ratio_ci_high,
        precision=relative_half_width(
            estimate.ratio, estimate.ratio_ci_low, estimate.ratio_ci_high
        ),
        log_sd=estimate.log_sd,
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
    """metric -> framework -> iteration -> value, from tidy-table rows of measured runs."""
    out: dict[str, dict[str, dict[int, float]]] = {m: {} for m, _ in PRIMARY_METRICS}
    for row in rows:
        if row.get("status") not in MEASURED:  # what the report's statistics count
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
