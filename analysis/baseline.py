"""The idle baseline of each run, recomputed from the campaign's `idle/` gaps, so net energy
never depends on when a run happened or on what the orchestrator computed at the time.

Rule (the same as the orchestrator's for run.json, orchestrator/meters/energy.py): the
baseline power of a run, per (meter, domain), is the mean power over the settled part (the
second half) of the last idle gap before the run and of the first gap after it, pooled
(their energy over their time); when one of the two is missing the other is used alone,
and with neither the nearest gap, and that is said; net energy = gross energy - baseline
power x (ended_at - started_at). The first half of a gap is left out because the previous
run's tail (fans, caches being written back, a container being removed) still lifts the
power there."""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from analysis.errors import AnalysisInputError
from analysis.jsonio import read_json

Key = tuple[str, str]  # (meter, domain): a baseline is only ever matched by both


@dataclass(frozen=True)
class Level:
    """Mean power of one domain over (the settled part of) one gap."""

    mean_w: float
    sd_w: float  # sd of the power readings inside it; NaN when only a whole-gap mean exists
    duration_s: float  # the time it covers: the weight when two gaps are pooled


@dataclass(frozen=True)
class Gap:
    name: str  # idle/<name>/
    start: float
    end: float
    levels: dict[Key, Level]
    settled: bool  # False when some domain had no power series: its whole-gap mean is used


@dataclass(frozen=True)
class Baseline:
    power_w: float  # summed over the run's summed domains; NaN when no gap brackets the run
    sd_w: float  # spread of the idle power readings behind it (sqrt of summed variances)
    before_w: float  # the settled power of the gap before the run (NaN when none)
    after_w: float  # the same for the gap after the run
    gaps: str  # "before+after", "before", "after", "nearest" or "" (none)
    by_domain: dict[str, float]


def _settled_level(frame: pd.DataFrame, col: str, start: float, end: float) -> Level | None:
    """Time-weighted mean power over [mid, end] of the gap; each row's power is the mean
    over the interval since the previous row (docs/formats.md)."""
    t = frame["time_s"].to_numpy(dtype=float)
    p = frame[col].to_numpy(dtype=float)
    if len(t) < 2:
        return None
    mid = (start + end) / 2
    left, right = t[:-1], t[1:]
    power = p[1:]
    overlap = np.clip(np.minimum(right, end) - np.maximum(left, mid), 0, None)
    ok = (overlap > 0) & np.isfinite(power)
    if not ok.any():
        return None
    mean = float(np.sum(power[ok] * overlap[ok]) / np.sum(overlap[ok]))
    return Level(mean, float(np.std(power[ok])), float(np.sum(overlap[ok])))


def read_power_csv(path: Path) -> pd.DataFrame:
    try:
        return pd.read_csv(path)
    except (pd.errors.ParserError, pd.errors.EmptyDataError, UnicodeDecodeError) as exc:
        raise AnalysisInputError(f"{path}: unreadable CSV ({exc}); repair or remove it") from exc


def read_gap(gap_dir: Path) -> Gap | None:
    """One idle/<name>/ folder; None when its idle.json is absent (an interrupted gap)."""
    path = gap_dir / "idle.json"
    if not path.is_file():
        return None
    record = read_json(path, "fwenergy.idle")
    try:
        return _gap(gap_dir, record)
    except (KeyError, TypeError, ValueError, AttributeError) as exc:
        # A damaged field (missing, or of the wrong type): one line naming the file.
        raise AnalysisInputError(
            f"{path}: damaged ({type(exc).__name__}: {exc}); repair or remove that idle gap"
        ) from exc


def _gap(gap_dir: Path, record: dict[str, Any]) -> Gap:
    start, end = float(record["start"]), float(record["end"])
    series = {p.name[len("power-") : -len(".csv")]: p for p in gap_dir.glob("power-*.csv")}
    frames = {meter: read_power_csv(p) for meter, p in series.items()}
    levels: dict[Key, Level] = {}
    settled = True
    for domain, e in (record.get("energy") or {}).items():
        meter = str(e.get("meter"))
        level = None
        if e.get("settled_duration_s"):  # written by the campaign since the settled rule
            d = float(e["settled_duration_s"])
            level = Level(float(e["settled_energy_j"]) / d, float(e["settled_power_sd_w"]), d)
        frame = frames.get(meter)
        col = f"{domain}_power_w"
        if level is None and frame is not None and {col, "time_s"} <= set(frame.columns):
            level = _settled_level(frame, col, start, end)
        if level is None:
            # an older gap without a power series: only its whole-window mean is known
            whole = e.get("mean_power_w")
            if whole is None:
                continue
            level = Level(float(whole), math.nan, end - start)
            settled = False
        levels[(meter, domain)] = level
    return Gap(gap_dir.name, start, end, levels, settled)


def read_gaps(folder: Path) -> list[Gap]:
    """Every complete idle gap of a campaign folder, in time order."""
    gaps = [g for d in sorted((folder / "idle").glob("*")) if (g := read_gap(d)) is not None]
    return sorted(gaps, key=lambda g: g.start)


def _pooled(levels: Sequence[Level]) -> tuple[float, float]:
    """Energy over time of the gaps used, and the time-weighted sd of the power readings
    around that mean (within-gap spread plus the gaps' distance from it)."""
    duration = sum(lv.duration_s for lv in levels)
    mean = sum(lv.mean_w * lv.duration_s for lv in levels) / duration
    variance = sum(lv.duration_s * (lv.sd_w**2 + (lv.mean_w - mean) ** 2) for lv in levels)
    return mean, math.sqrt(variance / duration)


def _around(
    start: float, end: float, key: Key, gaps: Sequence[Gap]
) -> tuple[Gap | None, Gap | None, list[Gap]]:
    read = [g for g in gaps if key in g.levels]
    before = max((g for g in read if g.end <= start), key=lambda g: g.end, default=None)
    after = min((g for g in read if g.start >= end), key=lambda g: g.start, default=None)
    used = [g for g in (before, after) if g is not None]
    if not used and read:
        used = [min(read, key=lambda g: min(abs(g.end - start), abs(g.start - end)))]
    return before, after, used


def bracketing(start: float, end: float, keys: Sequence[Key], gaps: Sequence[Gap]) -> Baseline:
    """The baseline of a run over [start, end], summed over its (meter, domain) keys; each
    key takes the gaps that read it."""
    nan = math.nan
    by_domain: dict[str, float] = {}
    variance, before_w, after_w, labels = 0.0, 0.0, 0.0, set()
    for key in keys:
        before, after, used = _around(start, end, key, gaps)
        if not used:
            return Baseline(nan, nan, nan, nan, "", {})
        mean, sd = _pooled([g.levels[key] for g in used])
        by_domain[key[1]] = mean
        variance += sd**2
        before_w += before.levels[key].mean_w if before is not None else nan
        after_w += after.levels[key].mean_w if after is not None else nan
        sides = [n for n, g in (("before", before), ("after", after)) if g is not None]
        labels.add("+".join(sides) or "nearest")
    if not keys:
        return Baseline(nan, nan, nan, nan, "", {})
    label = labels.pop() if len(labels) == 1 else "mixed"
    return Baseline(
        float(sum(by_domain.values())), math.sqrt(variance), before_w, after_w, label, by_domain
    )


# A GPU whose idle power sits this far above its lowest idle level has not returned to idle:
# clocks held high after a run, or another process on it. Both: relative and absolute, so
# that neither a 1 W wobble on a 30 W idle nor a 5% wobble on a 300 W one is flagged.
GPU_IDLE_EXCESS_FRACTION = 0.25
GPU_IDLE_EXCESS_W = 10.0


def gpu_idle_warnings(gaps: Sequence[Gap]) -> list[str]:
    """One warning per GPU domain whose settled idle power, in some gaps, stays well above its
    lowest idle level: the net GPU energy of the runs next to those gaps is understated."""
    out = []
    keys = sorted({k for g in gaps for k in g.levels if k[1].startswith("gpu-")})
    for key in keys:
        levels = [(g.name, g.levels[key].mean_w) for g in gaps if key in g.levels]
        if len(levels) < 2:
            continue
        floor = min(w for _, w in levels)
        limit = max(floor * (1 + GPU_IDLE_EXCESS_FRACTION), floor + GPU_IDLE_EXCESS_W)
        high = [(name, w) for name, w in levels if w > limit]
        if high:
            listed = ", ".join(f"{name} ({w:.0f} W)" for name, w in high[:5])
            more = f" and {len(high) - 5} more" if len(high) > 5 else ""
            out.append(
                f"{key[1]} did not return to idle in {len(high)} of {len(levels)} idle gaps: "
                f"{listed}{more}, against its lowest idle level of {floor:.0f} W (clocks held "
                "high after a run, or another process on the GPU). The baseline of the runs "
                "next to those gaps is too high and their net GPU energy too low; check "
                "`orchestrator doctor --device gpu`."
            )
    return out
