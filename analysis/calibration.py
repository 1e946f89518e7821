"""What the verdicts control, measured: synthetic families of comparisons with a known true
ratio, decided exactly as analysis.study decides a family (each interval at
inference.family_confidence(m), the verdict read off it by inference.verdict). Used by
benchmarks/verdict_calibration.py (the figures in docs/analysis.md) and, seeded and small,
by tests/analysis/test_calibration.py.

A run's value is log-normal: log value = log truth + N(0, cv). Paired, each comparison has
its own iterations, B and A drawn independently in each (no shared drift to cancel: the
widest paired case); unpaired, B's spread can be `spread_ratio` times A's, the case a shift
interval that assumes one shape gets wrong."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from analysis import inference

CLAIMS = ("higher", "lower", "equivalent")


@dataclass(frozen=True)
class Calibration:
    campaigns: int
    false_claim_rate: float  # share of campaigns with at least one false verdict
    coverage: float  # share of shown intervals that hold the true ratio
    joint_coverage: float  # share of campaigns whose m shown intervals all hold it
    claims: float  # share of verdicts that are a claim (higher, lower, equivalent)


def false_claim(verdict: str, true_ratio: float, min_effect: float) -> bool:
    """A verdict the truth contradicts: higher needs true > 1+e, lower true < 1/(1+e),
    equivalent 1/(1+e) < true < 1+e (the band's edges belong to neither claim)."""
    low, high = inference.band(min_effect)
    if verdict == "higher":
        return not true_ratio > high
    if verdict == "lower":
        return not true_ratio < low
    if verdict == "equivalent":
        return not low < true_ratio < high
    return False


def _ratio_interval(
    a: np.ndarray, b: np.ndarray, paired: bool, confidence: float
) -> tuple[float, float]:
    """The interval compare_paired / compare_unpaired report for B/A (the same functions
    on the same logs, without the test they also run)."""
    la, lb = np.log(a), np.log(b)
    if paired:
        _, lo, hi = inference.hodges_lehmann_one_sample(lb - la, confidence)
    else:
        lo, hi = inference.brunner_munzel_shift_interval(la, lb, confidence)
    return float(np.exp(lo)), float(np.exp(hi))


def _one(
    rng: np.random.Generator, true_ratio: float, n: int, cv: float, paired: bool,
    spread_ratio: float, n_b: int | None, confidence: float,
) -> tuple[tuple[float, float], tuple[float, float]]:  # fmt: skip
    """The family's interval and the unadjusted 95% one, for one comparison."""
    a = np.exp(rng.normal(0, cv, n))
    sd_b, size_b = (cv, n) if paired else (cv * spread_ratio, n if n_b is None else n_b)
    b = true_ratio * np.exp(rng.normal(0, sd_b, size_b))
    return (_ratio_interval(a, b, paired, confidence),
            _ratio_interval(a, b, paired, inference.CONFIDENCE))  # fmt: skip


def calibrate(
    *,
    campaigns: int,
    m: int = 6,
    n: int = 10,
    cv: float = 0.03,
    min_effect: float = 0.05,
    true_ratio: float | None = None,
    paired: bool = True,
    spread_ratio: float = 1.0,
    n_b: int | None = None,
    seed: int = 0,
) -> Calibration:
    """`campaigns` families of m comparisons, every one with `true_ratio` (default: the
    band's upper edge 1 + min_effect, where false claims are likeliest)."""
    rng = np.random.default_rng(seed)
    truth = 1 + min_effect if true_ratio is None else true_ratio
    confidence = inference.family_confidence(m)
    any_false = all_cover = 0
    covers = claims = 0
    for _ in range(campaigns):
        wrong = hold = 0
        for _ in range(m):
            (low, high), e95 = _one(rng, truth, n, cv, paired, spread_ratio, n_b, confidence)
            v = inference.verdict(low, high, min_effect, e95)
            wrong += false_claim(v, truth, min_effect)
            claims += v in CLAIMS
            hold += low <= truth <= high
        any_false += wrong > 0
        all_cover += hold == m
        covers += hold
    total = campaigns * m
    return Calibration(
        campaigns, any_false / campaigns, covers / total, all_cover / campaigns, claims / total
    )
