"""The idle baseline of each run, recomputed from the campaign's `idle/` gaps, so net energy
never depends on when a run happened or on what the orchestrator computed at the time.

Rule (shared with the orchestrator's run.json): the baseline power of a run is the mean
power over the settled part (the second half) of the idle gap immediately before the run
and of the gap immediately after it; when one of the two is missing the other is used alone
(and that is said); net energy = gross energy - baseline power x (ended_at - started_at).
The first half of a gap is left out because the previous run's tail (fans, caches being
written back, a container being removed) still lifts the power there."""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from analysis.errors import AnalysisInputError
from analysis.jsonio import read_json

# A gap starts when the previous run's meters have stopped: allow for the meters' own
# start/stop time when deciding that a gap touches a run.
TOUCH_S = 5.0

Key = tuple[str, str]  # (meter, domain): a baseline is only ever matched by both


@dataclass(frozen=True)
class Level:
    """Mean power of one domain over (the settled part of) one gap."""

    mean_w: float
    sd_w: float  # sample sd of the power readings; NaN when only a whole-gap mean exists
    n: int  # readings behind sd_w (0 for a whole-gap mean)


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
    gaps: str  # "before+after", "before", "after" or "" (none)
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
    readings = power[ok]
    sd = float(np.std(readings, ddof=1)) if len(readings) > 1 else math.nan
    return Level(mean, sd, len(readings))


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
    start, end = float(record["start"]), float(record["end"])
    series = {p.name[len("power-") : -len(".csv")]: p for p in gap_dir.glob("power-*.csv")}
    frames = {meter: read_power_csv(p) for meter, p in series.items()}
    levels: dict[Key, Level] = {}
    settled = True
    for domain, e in (record.get("energy") or {}).items():
        meter = str(e.get("meter"))
        frame = frames.get(meter)
        col = f"{domain}_power_w"
        level = None
        if frame is not None and col in frame.columns and "time_s" in frame.columns:
            level = _settled_level(frame, col, start, end)
        if level is None:
            whole = e.get("mean_power_w")
            if whole is None:
                continue
            level = Level(float(whole), math.nan, 0)
            settled = False
        levels[(meter, domain)] = level
    return Gap(gap_dir.name, start, end, levels, settled)


def read_gaps(folder: Path) -> list[Gap]:
    """Every complete idle gap of a campaign folder, in time order."""
    gaps = [g for d in sorted((folder / "idle").glob("*")) if (g := read_gap(d)) is not None]
    return sorted(gaps, key=lambda g: g.start)


def _pooled(levels: Sequence[Level]) -> tuple[float, float]:
    """Mean of the gaps' means (each gap counts once: the two bracket the run) and the sd
    of all their readings pooled."""
    mean = float(np.mean([lv.mean_w for lv in levels]))
    n = sum(lv.n for lv in levels)
    if n < 2 or any(lv.n < 2 for lv in levels):
        return mean, math.nan
    ss = sum((lv.n - 1) * lv.sd_w**2 + lv.n * (lv.mean_w - mean) ** 2 for lv in levels)
    return mean, math.sqrt(ss / (n - 1))


def bracketing(
    start: float, end: float, keys: Sequence[Key], gaps: Sequence[Gap], run_starts: Sequence[float]
) -> Baseline:
    """The baseline of a run over [start, end] for its summed (meter, domain) keys. A gap
    counts as "immediately" before (after) the run when no other run starts between them,
    and only when it has a level for every key."""
    others = [s for s in run_starts if not math.isclose(s, start)]

    def usable(g: Gap) -> bool:
        return all(k in g.levels for k in keys)

    before = [g for g in gaps if g.end <= start + TOUCH_S and usable(g)]
    before = [g for g in before if not any(g.end <= s < start for s in others)]
    after = [g for g in gaps if g.start >= end - TOUCH_S and usable(g)]
    after = [g for g in after if not any(end < s <= g.start for s in others)]
    g_before = max(before, key=lambda g: g.end) if before else None
    g_after = min(after, key=lambda g: g.start) if after else None
    used = [g for g in (g_before, g_after) if g is not None]
    nan = math.nan
    if not keys or not used:
        return Baseline(nan, nan, nan, nan, "", {})
    by_domain: dict[str, float] = {}
    variance = 0.0
    for meter, domain in keys:
        mean, sd = _pooled([g.levels[(meter, domain)] for g in used])
        by_domain[domain] = mean
        variance += sd**2
    total = float(sum(by_domain.values()))

    def side(g: Gap | None) -> float:
        return float(sum(g.levels[k].mean_w for k in keys)) if g is not None else nan

    label = "+".join(n for n, g in (("before", g_before), ("after", g_after)) if g is not None)
    return Baseline(total, math.sqrt(variance), side(g_before), side(g_after), label, by_domain)
