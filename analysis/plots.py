"""Figures, each written as PNG (embedded in the HTML report) and SVG (for papers). Every
function takes tables, draws one figure and returns the PNG's path."""

from __future__ import annotations

import hashlib
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import matplotlib

matplotlib.use("Agg")  # no display on measurement hosts or in CI

import matplotlib.pyplot as plt
import matplotlib.ticker
import numpy as np
import pandas as pd
import seaborn as sns
from matplotlib.figure import Figure

DPI = 110
# An offset label ("+2.2e3" above the axis) hides the values readers compare: never use one.
matplotlib.rcParams["axes.formatter.useoffset"] = False
# Matplotlib stamps the date into SVG metadata; leaving it out keeps reruns byte-identical.
SVG_META = {"Date": None}


@dataclass(frozen=True)
class PowerTrace:
    run_id: str
    power: pd.DataFrame  # time_s (seconds since the run started) + <domain>_power_w columns
    phases: list[tuple[str, float, float]]  # name, start and end in seconds since run start


def safe_stem(stem: str) -> str:
    """A file name from names a campaign folder chose (domains, metrics): only letters,
    digits, '.', '_' and '-', never a path; a changed name gets a hash, so none collide."""
    safe = re.sub(r"[^A-Za-z0-9._-]", "_", stem).lstrip(".") or "_"
    if safe != stem:
        safe += "-" + hashlib.sha256(stem.encode()).hexdigest()[:8]
    return safe


def _save(fig: Figure, out_dir: Path, stem: str) -> Path:
    stem = safe_stem(stem)
    out_dir.mkdir(parents=True, exist_ok=True)
    png = out_dir / f"{stem}.png"
    fig.savefig(png, dpi=DPI, bbox_inches="tight", metadata={"Software": None})
    fig.savefig(out_dir / f"{stem}.svg", bbox_inches="tight", metadata=SVG_META)
    plt.close(fig)
    return png


def _finish(ax: Any, xlabel: str, ylabel: str, title: str, out_dir: Path, stem: str) -> Path:
    """Labels, legend and grid of a per-framework scatter, then save it."""
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    ax.set_title(title)
    ax.legend(fontsize=8)
    ax.grid(alpha=0.3)
    return _save(ax.figure, out_dir, stem)


def _palette(frameworks: Sequence[str]) -> dict[str, tuple[float, float, float]]:
    return dict(zip(frameworks, sns.color_palette("colorblind", len(frameworks)), strict=True))


def violin_box(
    ok: pd.DataFrame,
    column: str,
    label: str,
    frameworks: Sequence[str],
    out_dir: Path,
    *,
    log: bool = True,
    scale: float = 1.0,
) -> Path:
    """Distribution per framework: a violin for the shape, a box for median and quartiles,
    and every run as a dot so that small samples are not hidden behind a smooth curve. On a
    log axis by default, so that a framework five times slower does not flatten the others;
    `scale` divides the values (bytes -> MiB)."""
    data = ok[ok[column].notna()].copy()
    data[column] = data[column] / scale
    fig, ax = plt.subplots(figsize=(6.4, 4.2))
    if log:
        ax.set_yscale("log")
    order = [f for f in frameworks if f in set(data["framework"])]
    pal = _palette(frameworks)
    common: dict[str, Any] = {"data": data, "x": "framework", "y": column, "order": order,
                              "ax": ax}  # fmt: skip
    sns.violinplot(**common, hue="framework", palette=pal, inner=None, cut=0, legend=False)
    for body in ax.collections:
        body.set_alpha(0.35)
    box = {"boxprops": {"facecolor": "white", "zorder": 3}, "medianprops": {"color": "black"}}
    sns.boxplot(**common, **box, width=0.18, showfliers=False, zorder=3)
    sns.stripplot(**common, color="black", size=2.5, jitter=0.08, zorder=4)
    ax.set_xlabel("")
    ax.set_ylabel(label)
    ax.set_title(label)
    ax.grid(axis="y", alpha=0.3)
    return _save(fig, out_dir, f"violin-{column}")


def power_series(
    traces: Mapping[str, PowerTrace], frameworks: Sequence[str], out_dir: Path
) -> Path:
    """One typical run per framework: power per domain over time, phases shaded."""
    fws = [f for f in frameworks if f in traces]
    fig, axes = plt.subplots(len(fws), 1, figsize=(8, 2.6 * len(fws)), squeeze=False)
    phase_names = sorted({p[0] for t in traces.values() for p in t.phases})
    shades = dict(zip(phase_names, sns.color_palette("pastel", len(phase_names)), strict=True))
    for ax, fw in zip(axes[:, 0], fws, strict=True):
        trace = traces[fw]
        for name, start, end in trace.phases:
            if name == "compile":  # inside epoch_1 (or infer): hatch it over that shade
                ax.axvspan(
                    start,
                    end,
                    facecolor="none",
                    hatch="//",
                    edgecolor="grey",
                    lw=0,
                    label="compile (first step or batch)",
                )
            else:
                ax.axvspan(start, end, color=shades[name], alpha=0.5, lw=0, label=name)
        for col in trace.power.columns:
            if col.endswith("_power_w"):
                ax.plot(
                    trace.power["time_s"], trace.power[col], lw=1, label=col[: -len("_power_w")]
                )
        ax.set_title(f"{fw}: run {trace.run_id}", fontsize=10)
        ax.set_ylabel("power (W)")
        ax.set_ylim(bottom=0)
        ax.grid(alpha=0.3)
    axes[-1, 0].set_xlabel("time since the run started (s)")
    handles, labels = axes[0, 0].get_legend_handles_labels()
    seen = dict(zip(labels, handles, strict=True))
    fig.legend(
        seen.values(),
        seen.keys(),
        loc="upper center",
        ncol=min(6, len(seen)),
        fontsize=8,
        bbox_to_anchor=(0.5, 1.0 + 0.12 / len(fws)),
    )
    fig.tight_layout()
    return _save(fig, out_dir, "power-series")


def phase_stack(medians: pd.DataFrame, ylabel: str, out_dir: Path, stem: str) -> Path:
    """`medians`: one row per framework, one column per phase, in order; stacked bars."""
    fig, ax = plt.subplots(figsize=(6.4, 4.2))
    bottom = np.zeros(len(medians))
    colors = sns.color_palette("pastel", len(medians.columns))
    for color, phase in zip(colors, medians.columns, strict=True):
        values = medians[phase].fillna(0).to_numpy(dtype=float)
        ax.bar(
            medians.index, values, bottom=bottom, label=phase, color=color, edgecolor="grey", lw=0.5
        )
        bottom += values
    ax.set_ylabel(ylabel)
    ax.set_title(f"{ylabel} per phase (median over runs)")
    ax.legend(fontsize=8, loc="upper left", bbox_to_anchor=(1.0, 1.0))
    ax.grid(axis="y", alpha=0.3)
    return _save(fig, out_dir, stem)


def order_effects(
    ok: pd.DataFrame, column: str, label: str, frameworks: Sequence[str], out_dir: Path
) -> Path:
    """The metric against the run's position in its iteration: a slope means the order of
    the runs (heat, caches, tail energy of the previous run) leaks into the measurement."""
    data = ok[ok[column].notna() & ok["position"].notna()]
    _, ax = plt.subplots(figsize=(6.4, 4.2))
    pal = _palette(frameworks)
    rng = np.random.default_rng(0)
    for fw in frameworks:
        sub = data[data["framework"] == fw]
        if sub.empty:
            continue
        x = sub["position"].to_numpy(dtype=float)
        ax.scatter(
            x + rng.uniform(-0.08, 0.08, len(x)),
            sub[column],
            s=12,
            color=pal[fw],
            alpha=0.7,
            label=fw,
        )
        med = sub.groupby("position")[column].median()
        ax.plot(med.index, med.to_numpy(), color=pal[fw], lw=1.5)
    ax.set_xticks(sorted(data["position"].unique()))
    return _finish(ax, "position in the iteration", label, f"{label} by position (lines: medians)",
                   out_dir, f"order-{column}")  # fmt: skip


def accuracy(ok: pd.DataFrame, frameworks: Sequence[str], out_dir: Path) -> Path:
    data = ok[ok["test_accuracy"].notna()]
    order = [f for f in frameworks if f in set(data["framework"])]
    fig, ax = plt.subplots(figsize=(6.4, 3.6))
    common: dict[str, Any] = {"data": data, "x": "framework", "y": "test_accuracy",
                              "order": order, "ax": ax}  # fmt: skip
    sns.boxplot(**common, hue="framework", palette=_palette(frameworks), width=0.4,
                showfliers=False, legend=False)  # fmt: skip
    sns.stripplot(**common, color="black", size=3, jitter=0.1)
    ax.set_xlabel("")
    ax.set_ylabel("test accuracy")
    ax.set_title("Test accuracy after training")
    ax.grid(axis="y", alpha=0.3)
    return _save(fig, out_dir, "accuracy")


@dataclass(frozen=True)
class ForestRow:
    label: str  # e.g. "Energy: torch / keras"
    ratio: float
    low: float
    high: float
    verdict: str


VERDICT_COLOURS = {
    "higher": "#c62828",
    "lower": "#1565c0",
    "equivalent": "#2e7d32",
    "inconclusive": "#616161",
    "too few to claim": "#bdbdbd",
    "not testable": "#9e9e9e",
}


def forest(rows: Sequence[ForestRow], band: tuple[float, float], out_dir: Path) -> Path:
    """Each comparison's ratio B/A with the interval its verdict is read from (the family's
    simultaneous one) on a log axis, the band of irrelevant differences shaded: the whole
    answer in one picture."""
    return _save(forest_figure(rows, band), out_dir, "forest")


def forest_figure(rows: Sequence[ForestRow], band: tuple[float, float]) -> Figure:
    """The forest plot, not yet saved (tests look at where its parts land)."""
    fig, ax = plt.subplots(figsize=(7.2, 0.25 * len(rows) + 0.8))
    ax.set_xscale("log")
    ax.axvspan(band[0], band[1], color="#e0e0e0", lw=0, label="irrelevant difference")
    ax.axvline(1.0, color="black", lw=0.8)
    finite = [v for r in rows for v in (r.low, r.high, r.ratio) if np.isfinite(v) and v > 0]
    lo_lim = min([band[0], *finite]) / 1.15
    hi_lim = max([band[1], *finite]) * 1.15
    for y, r in enumerate(reversed(rows)):
        colour = VERDICT_COLOURS.get(r.verdict, "black")
        low = r.low if np.isfinite(r.low) and r.low > 0 else lo_lim
        high = r.high if np.isfinite(r.high) else hi_lim
        ax.plot([low, high], [y, y], color=colour, lw=2)
        if np.isfinite(r.ratio) and r.ratio > 0:
            ax.plot([r.ratio], [y], "o", color=colour)
        ax.annotate(
            r.verdict,
            (hi_lim, y),
            xytext=(4, 0),
            textcoords="offset points",
            va="center",
            fontsize=8,
            color=colour,
            annotation_clip=False,
        )
    ax.set_xlim(lo_lim, hi_lim)
    ax.set_yticks(range(len(rows)))
    ax.set_yticklabels([r.label for r in reversed(rows)], fontsize=9)
    ax.set_xlabel("ratio B / A (log scale), simultaneous interval")
    ax.xaxis.set_major_formatter(matplotlib.ticker.FuncFormatter(lambda v, _: f"{v:g}"))
    ax.xaxis.set_minor_formatter(matplotlib.ticker.NullFormatter())
    ticks = [
        t
        for t in (0.1, 0.2, 0.3, 0.5, 0.6, 0.7, 0.8, 0.9, 1.0, 1.1, 1.25, 1.5, 2, 3, 5, 10)
        if lo_lim <= t <= hi_lim
    ]
    ax.set_xticks(ticks)
    ax.grid(axis="x", alpha=0.3)
    # above the axes, never over a row's interval or estimate
    ax.legend(fontsize=8, loc="lower left", bbox_to_anchor=(0.0, 1.0), frameon=False)
    fig.tight_layout()
    return fig


def drift(
    ok: pd.DataFrame, column: str, label: str, frameworks: Sequence[str], out_dir: Path
) -> Path:
    """The metric against the iteration (time in the campaign), one line per framework: a
    slope is drift, which the paired comparison cancels only when all frameworks share it."""
    data = ok[ok[column].notna() & ok["iteration"].notna()]
    _, ax = plt.subplots(figsize=(6.4, 3.6))
    pal = _palette(frameworks)
    for fw in frameworks:
        sub = data[data["framework"] == fw].sort_values("iteration")
        if not sub.empty:
            ax.plot(sub["iteration"], sub[column], "o-", ms=3, lw=1, color=pal[fw], label=fw)
    ax.set_yscale("log")
    return _finish(ax, "iteration", label, f"{label} over the campaign", out_dir,
                   f"drift-{column}")  # fmt: skip


def idle_power(idle: pd.DataFrame, out_dir: Path) -> Path:
    """The settled idle power of every gap over the campaign: the baseline net energy uses."""
    fig, ax = plt.subplots(figsize=(6.4, 3.2))
    t = (idle["time_s"] - idle["time_s"].min()) / 60
    ax.plot(t, idle["power_w"], "o-", ms=3, lw=1, color="#555555")
    ax.set_xlabel("minutes since the first idle gap")
    ax.set_ylabel("idle power (W)")
    ax.set_title("Idle power (settled second half of each gap)")
    ax.set_ylim(*idle_limits(idle["power_w"].to_numpy(dtype=float)))
    ax.grid(alpha=0.3)
    return _save(fig, out_dir, "idle-power")


IDLE_SPAN = 0.05  # the axis spans at least +-5% of the median idle power


def idle_limits(power: np.ndarray) -> tuple[float, float]:
    """The idle-power axis: the data, but never narrower than +-IDLE_SPAN of its median, so
    that 10 µW of noise on a steady baseline draws as the flat line it is, not as swings."""
    finite = power[np.isfinite(power)]
    if not len(finite):
        return (0.0, 1.0)
    mid = float(np.median(finite))
    span = max(abs(mid) * IDLE_SPAN, 1e-3)
    low, high = min(float(finite.min()), mid - span), max(float(finite.max()), mid + span)
    pad = (high - low) * 0.05
    return (low - pad, high + pad)
