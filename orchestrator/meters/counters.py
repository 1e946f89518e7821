"""Counter arithmetic shared by every meter: wrap-around correction with a plausibility
check, bridging of missing or misread samples, power integration, and power from
cumulative energy. Pure functions from arrays to arrays."""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from orchestrator.errors import MeterError

# No CPU package, DRAM channel or GPU draws this much: a step of a counter implying more
# power than this is a misread, whatever the range.
PHYSICAL_MAX_POWER_W = 5000.0
# Wrap ranges that the counter does not state: EnergiBridge's raw MSR values.
POWER_OF_TWO = "power-of-two"
WrapRange = float | None | str  # joules; None: the counter never wraps (NVML, 64 bits)
# How many samples after an anomaly the old course may take to resume for the anomaly to be
# a misread: a glitch lasting a few samples, as the fake's `misread_s` and real hiccups do.
RESUME_WITHIN = 8
# Sample stamps are this coarse at best (EnergiBridge's are whole milliseconds: two rows
# may share one): a step is judged over at least this long.
STAMP_RESOLUTION_S = 1e-3


@dataclass(frozen=True)
class Counter:
    """A cumulative counter read into joules since its first good sample, and what it
    took: wraps corrected, samples bridged (missing or misread, interpolated across)."""

    time_s: np.ndarray
    energy_j: np.ndarray
    wraps: int = 0
    missing: int = 0  # samples the meter could not read
    misread: int = 0  # samples that went backwards without a plausible wrap, or jumped
    lost: str | None = None  # why the series is unusable; energy_j is then empty

    @property
    def bridged(self) -> int:
        return self.missing + self.misread


def unwrap_counter(
    time_s: np.ndarray,
    values_j: np.ndarray,
    wrap_range_j: WrapRange,
    *,
    max_power_w: float = PHYSICAL_MAX_POWER_W,
) -> Counter:
    """Turn raw counter readings (joules, NaN where a sample could not be read) into the
    cumulative energy since the first good reading.

    A step that goes backwards, or forwards faster than PHYSICAL_MAX_POWER_W, is an anomaly,
    decided by the samples that follow it rather than by the stale value before it:

    * the old course resumes within RESUME_WITHIN samples (a later sample lies a plausible
      step above the last good one, where no wrap could have brought it back): the samples
      in between are misreads, bridged;
    * else, a backwards step of a wrapping counter whose corrected step implies at most
      `max_power_w` (what the hardware can draw) over its gap, and which the next sample
      continues: a wrap;
    * else, when the next samples continue from the new value: the counter restarted
      (driver reload, a reset, or a wrap implying more than the hardware can draw), the
      energy across that step cannot be known and the series is lost;
    * else the sample alone is a misread.

    Misread and missing samples are bridged: the next good sample is measured from the
    last good one, so the energy is kept and only its shape inside the gap is interpolated.
    Readings missing at either end are trimmed, not extrapolated. When most of the window
    is missing or misread, the series is lost.

    One wrap per sample gap is all that can be detected: the caller checks that no gap was
    long enough for two (RaplMeter.stop)."""
    t = np.asarray(time_s, dtype=np.float64)
    v = np.asarray(values_j, dtype=np.float64)
    n = v.size
    read = np.flatnonzero(~np.isnan(v))
    good = np.zeros(n, dtype=bool)
    cum = np.full(n, np.nan)
    wraps = misread = 0
    last = -1
    peak = -np.inf  # largest good value so far: bounds an unknown power-of-two range

    def span() -> float | None:
        if wrap_range_j is None:
            return None
        return (
            wrap_range_power_of_two(peak) if wrap_range_j == POWER_OF_TWO else float(wrap_range_j)
        )

    def plausible(step: float, dt: float) -> bool:
        return 0.0 <= step <= PHYSICAL_MAX_POWER_W * max(dt, STAMP_RESOLUTION_S)

    def steps_on(step: float, dt: float, s: float | None) -> bool:
        # A plausible step forwards, or a plausible wrap.
        wrapped = s is not None and step < 0 and 0.0 <= step + s <= max_power_w * dt
        return plausible(step, dt) or wrapped

    def resumes(k: int, after_drop: bool) -> bool:
        # The old course: a plausible step from the last good sample that, after a drop,
        # no wrap (climbing back over the whole range within the bound) explains.
        step, dt = v[k] - v[last], max(t[k] - t[last], 0.0)
        s = span() if after_drop else None
        return plausible(step, dt) and (s is None or step + s > max_power_w * dt)

    pos = 0
    while pos < read.size:
        i = int(read[pos])
        if last < 0:
            good[i], cum[i], last, peak = True, 0.0, i, v[i]
            pos += 1
            continue
        dt = max(t[i] - t[last], 0.0)
        step = v[i] - v[last]
        if plausible(step, dt):
            good[i], cum[i], last, peak = True, cum[last] + step, i, max(peak, v[i])
            pos += 1
            continue
        ahead = read[pos + 1 : pos + 1 + RESUME_WITHIN]
        back = next((j for j, k in enumerate(ahead) if resumes(int(k), step < 0)), None)
        if back is not None:
            misread += back + 1
            pos += back + 1
            continue
        following = int(read[pos + 1]) if pos + 1 < read.size else None
        s = span()
        continued = following is None or steps_on(v[following] - v[i], t[following] - t[i], s)
        if step < 0 and s is not None and continued and 0.0 <= step + s <= max_power_w * dt:
            good[i], cum[i], last, peak = True, cum[last] + step + s, i, max(peak, v[i])
            wraps += 1
            pos += 1
            continue
        if continued and following is not None:
            why = (
                f"the counter went from {v[last]:.6f} J to {v[i]:.6f} J at sample {i} and "
                "went on from there: a restart (driver reload, reset)"
                + ("" if s is None else f" or a wrap implying more than {max_power_w:.0f} W")
                + "; the energy across that step cannot be known"
            )
            return Counter(t[:0], v[:0], wraps, int(n - read.size), misread, why)
        misread += 1
        pos += 1
    missing = int(n - read.size)
    idx = np.flatnonzero(good)
    if idx.size == 0 or idx.size * 2 < n:
        why = f"{missing + misread} of {n} samples missing or misread (more than half the window)"
        return Counter(t[:0], v[:0], wraps, missing, misread, why)
    inner = slice(idx[0], idx[-1] + 1)
    energy = np.interp(t[inner], t[idx], cum[idx])
    return Counter(t[inner], energy, wraps, missing, misread)


def wrap_range_power_of_two(value_before_wrap: float) -> float:
    """The range 2^k a counter must have had for `value_before_wrap` to be its last value
    before a wrap: the smallest power of two above it.

    EnergiBridge reports raw 32-bit MSR counters times the energy unit (2^-14 J on most
    Intel CPUs, 2^-16 J on AMD Zen), so they wrap at a power of two of joules (262,144 J,
    65,536 J) it does not tell us. Just before a wrap the counter sits within one step of
    2^k, hence above 2^(k-1) whenever a step is smaller than half the range."""
    if value_before_wrap <= 0:
        return 1.0
    return 2.0 ** (math.floor(math.log2(value_before_wrap)) + 1)


def integrate_power(time_s: np.ndarray, power_w: np.ndarray) -> np.ndarray:
    """Cumulative energy in joules from instantaneous power samples (trapezoid rule).

    This is an estimate: what the power did between samples is not known."""
    t = np.asarray(time_s, dtype=np.float64)
    p = np.asarray(power_w, dtype=np.float64)
    if t.size == 0:
        return t
    return np.concatenate(([0.0], np.cumsum(np.diff(t) * (p[1:] + p[:-1]) / 2.0)))


def integrate_power_bridged(time_s: np.ndarray, power_w: np.ndarray) -> Counter:
    """`integrate_power` over the samples that were read (NaN: missing), as a Counter: a
    missing sample is bridged (the trapezoid spans it), missing ends are trimmed, and the
    series is lost when most samples are missing."""
    t = np.asarray(time_s, dtype=np.float64)
    p = np.asarray(power_w, dtype=np.float64)
    read = ~np.isnan(p)
    idx = np.flatnonzero(read)
    missing = int(np.sum(~read))
    if idx.size == 0 or idx.size * 2 < p.size:
        why = f"{missing} of {p.size} samples missing (more than half the window)"
        return Counter(t[:0], p[:0], missing=missing, lost=why)
    inner = slice(idx[0], idx[-1] + 1)
    energy = np.interp(t[inner], t[idx], integrate_power(t[idx], p[idx]))
    return Counter(t[inner], energy, missing=missing)


def power_from_cumulative(time_s: np.ndarray, energy_j: np.ndarray) -> np.ndarray:
    """Mean power over each sample gap, one value per gap, NaN where the gap is empty."""
    t = np.asarray(time_s, dtype=np.float64)
    e = np.asarray(energy_j, dtype=np.float64)
    dt = np.diff(t)
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(dt > 0, np.diff(e) / np.where(dt > 0, dt, 1.0), np.nan)


def check_increasing(time_s: np.ndarray, what: str) -> None:
    if np.any(np.diff(np.asarray(time_s, dtype=np.float64)) < 0):
        raise MeterError(f"{what}: sample times go backwards; was the system clock changed?")
