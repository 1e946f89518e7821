"""Energy arithmetic on cumulative series: the run's span, phases and their remainder, the
settled half of an idle gap, the bracketing baseline and its subtraction. Pure functions."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np

from orchestrator.meters import domains
from orchestrator.meters.base import DomainSeries, Recording
from orchestrator.meters.counters import power_from_cumulative
from orchestrator.meters.uncertainty import budget


@dataclass(frozen=True)
class Phase:
    name: str
    start_s: float
    end_s: float

    @property
    def duration_s(self) -> float:
        return self.end_s - self.start_s


def phases_from_events(events: list[dict[str, Any]]) -> list[Phase]:
    """The phases of docs/formats.md from a workload's events.jsonl records, of a training
    run (startup, data_to_device, compile, epoch_<k>, eval) or an inference run (startup,
    data_to_device, compile, infer).

    A phase whose closing event is missing (a crashed run) is left out, not guessed."""
    first: dict[tuple[str, Any], float] = {}
    for e in events:
        first.setdefault((e["event"], e.get("epoch")), float(e["t"]))

    def t(name: str, epoch: int | None = None) -> float | None:
        return first.get((name, epoch))

    pairs: list[tuple[str, float | None, float | None]] = [
        ("startup", t("process_start"), t("model_built")),
        # Logs written before data_on_device existed simply lack this phase.
        ("data_to_device", t("model_built"), t("data_on_device")),
    ]
    if t("infer_start") is not None:
        # `python -m workload infer`: one pass over the test split; its first batch (with
        # any tracing and compilation) is `compile`, inside `infer` as it is inside epoch_1.
        pairs += [
            ("compile", t("infer_start"), t("first_batch_end")),
            ("infer", t("infer_start"), t("infer_end")),
        ]
    else:
        pairs.append(("compile", t("epoch_start", 1), t("first_step_end", 1)))
    epochs = sorted({e["epoch"] for e in events if e["event"] == "epoch_start"})
    pairs += [(f"epoch_{k}", t("epoch_start", k), t("epoch_end", k)) for k in epochs]
    pairs.append(("eval", t("eval_start"), t("eval_end")))
    return [Phase(n, s, e) for n, s, e in pairs if s is not None and e is not None and e >= s]


def _own(recordings: list[Recording]) -> list[Recording]:
    """The recordings whose domains are values, not checks of another meter's."""
    return [r for r in recordings if r.checks is None]


def _covers(series: DomainSeries, phase: Phase) -> bool:
    # A phase outside the sampled window would need extrapolation: that is inventing.
    return (
        len(series.time_s) >= 2
        and series.time_s[0] <= phase.start_s <= phase.end_s <= (series.time_s[-1])
    )


def energy_per_phase(
    recordings: list[Recording], phases: list[Phase]
) -> dict[str, dict[str, float]]:
    """Phase name -> domain -> joules, interpolating each cumulative counter at the phase
    boundaries. A domain whose samples do not cover a phase is absent for that phase."""
    out: dict[str, dict[str, float]] = {p.name: {} for p in phases}
    for rec in recordings:
        for domain, s in rec.series.items():
            for p in phases:
                if _covers(s, p):
                    e0, e1 = np.interp([p.start_s, p.end_s], s.time_s, s.energy_j)
                    out[p.name][domain] = float(e1 - e0)
    return out


@dataclass(frozen=True)
class Settled:
    """The settled part of an idle gap for one domain: its second half, after the previous
    run's tail (fans, caches, clocks winding down) has passed."""

    start_s: float
    energy_j: float
    duration_s: float
    power_sd_w: float  # of the per-sample power inside it: the gap's noise

    @property
    def power_w(self) -> float:
        return self.energy_j / self.duration_s


def settled_half(series: DomainSeries, start_s: float, end_s: float) -> Settled | None:
    """The second half of [start_s, end_s] of `series`, None where it does not cover it."""
    mid = (start_s + end_s) / 2.0
    if not _covers(series, Phase("settled", mid, end_s)) or end_s <= mid:
        return None
    e0, e1 = np.interp([mid, end_s], series.time_s, series.energy_j)
    inside = series.time_s >= mid
    power = power_from_cumulative(series.time_s[inside], series.energy_j[inside])
    power = power[np.isfinite(power)]
    sd = float(np.std(power)) if power.size > 1 else 0.0
    return Settled(mid, float(e1 - e0), end_s - mid, sd)


@dataclass(frozen=True)
class Gap:
    """One measured idle gap as the baseline rule needs it: its name, when it was, and
    its settled half per (meter, domain)."""

    name: str
    start_s: float
    end_s: float
    settled: dict[tuple[str, str], Settled]


@dataclass(frozen=True)
class Baseline:
    power_w: float
    spread_w: float  # time-weighted SD of the settled power over the gaps used
    gaps: tuple[str, ...]
    note: str | None = None  # said when only one gap could be used


def bracketing_baseline(
    gaps: list[Gap], meter: str, domain: str, started_at: float, ended_at: float
) -> Baseline | None:
    """The baseline of a run: the mean power over the settled halves of the idle gap just
    before it and the one just after it (pooled: their energy over their time), matched by
    meter and domain. Where one of the two is missing, the nearest gap alone, and the note
    says so; None without any gap that read this domain with this meter."""
    key = (meter, domain)
    read = [g for g in gaps if key in g.settled]
    before = max((g for g in read if g.end_s <= started_at), key=lambda g: g.end_s, default=None)
    after = min((g for g in read if g.start_s >= ended_at), key=lambda g: g.start_s, default=None)
    used = [g for g in (before, after) if g is not None]
    note = None
    if len(used) == 1:
        note = f"baseline from the gap {'before' if before else 'after'} the run only"
    if not used:
        nearest = min(
            read,
            key=lambda g: min(abs(g.end_s - started_at), abs(g.start_s - ended_at)),
            default=None,
        )
        if nearest is None:
            return None
        used, note = [nearest], "baseline from the nearest gap only (none before or after)"
    parts = [g.settled[key] for g in used]
    duration = sum(p.duration_s for p in parts)
    power = sum(p.energy_j for p in parts) / duration
    variance = sum(p.duration_s * (p.power_sd_w**2 + (p.power_w - power) ** 2) for p in parts)
    return Baseline(power, float(np.sqrt(variance / duration)), tuple(g.name for g in used), note)


def net_energy_j(gross_j: float, baseline_power_w: float, duration_s: float) -> float:
    """Energy above the idle baseline; can be negative when the run was quieter than idle."""
    return gross_j - baseline_power_w * duration_s


def _span_energy(series: DomainSeries, span: tuple[float, float]) -> float | None:
    """Energy over [start, end], read off the cumulative counter; None where the samples do
    not cover the span (extrapolating would invent)."""
    if not _covers(series, Phase("run", *span)):
        return None
    e0, e1 = np.interp(span, series.time_s, series.energy_j)
    return float(e1 - e0)


def why_not_summable(
    domain: str, series: DomainSeries, out_of_total: Mapping[str, str]
) -> str | None:
    """None when a total may add `domain`, else why not."""
    if not domains.is_summable(domain):
        return f"nested in {domains.kind_of(domain).nested_in}"
    return series.out_of_total or out_of_total.get(domain)


@dataclass(frozen=True)
class RunEnergy:
    block: dict[str, dict[str, Any]]  # run.json's `energy`
    dropped: dict[str, str]  # domain -> why it is missing although a meter meant to read it


def energy_block(
    recordings: list[Recording],
    *,
    span: tuple[float, float] | None = None,
    out_of_total: Mapping[str, str] | None = None,
) -> RunEnergy:
    """The `energy` block of run.json (docs/formats.md) without its baseline, and the
    domains lost. With `span` (the run's [started_at, ended_at]) the energy is that of the
    span, interpolated on each counter; without it, the meters' whole window.
    `out_of_total`: domains to keep out of the total though their kind is summable (e.g.
    the GPU in a CPU run), with the reason."""
    block: dict[str, dict[str, Any]] = {}
    dropped: dict[str, str] = {}
    for rec in _own(recordings):
        dropped.update(rec.dropped)
        for domain, s in rec.series.items():
            if span is None:
                gross: float | None = float(s.energy_j[-1]) if len(s.energy_j) else None
                duration = rec.duration_s
            else:
                gross, duration = _span_energy(s, span), span[1] - span[0]
            if gross is None:
                dropped[domain] = f"{rec.meter}: its samples do not cover the run"
                continue
            window = span or (float(s.time_s[0]), float(s.time_s[-1]))
            b = budget(rec.meter, s, window, gross)
            why_not = why_not_summable(domain, s, out_of_total or {})
            entry: dict[str, Any] = {
                "meter": rec.meter,
                "gross_j": gross,
                "mean_power_w": gross / duration if duration > 0 else None,
                "method": s.method,
                "estimated": s.estimated,
                "summable": why_not is None,
            }
            if why_not is not None and domains.is_summable(domain):
                entry["out_of_total"] = why_not
            if b is not None:
                entry["uncertainty"] = b.to_json()
                if b.below_resolution:
                    entry["below_resolution"] = b.below_resolution
            block[domain] = entry
    return RunEnergy(block, dropped)


def with_baselines(
    block: dict[str, dict[str, Any]],
    baselines: Mapping[tuple[str, str], Baseline],
    duration_s: float,
) -> dict[str, dict[str, Any]]:
    """`block` with each domain's baseline (matched by meter and domain) applied over
    `duration_s`, the span its gross energy covers; a domain without one has no net."""
    keys = ("baseline_power_w", "baseline_spread_w", "baseline_j", "net_j", "baseline_gaps",
            "baseline_note")  # fmt: skip
    out = {}
    for domain, given in block.items():
        entry = {k: v for k, v in given.items() if k not in keys}
        base = baselines.get((entry["meter"], domain))
        if base is not None:
            entry["baseline_power_w"] = base.power_w
            entry["baseline_spread_w"] = base.spread_w
            entry["baseline_j"] = base.power_w * duration_s
            entry["net_j"] = net_energy_j(entry["gross_j"], base.power_w, duration_s)
            entry["baseline_gaps"] = list(base.gaps)
            if base.note:
                entry["baseline_note"] = base.note
        out[domain] = entry
    return out


REMAINDER = "remainder"


def phase_block(
    recordings: list[Recording], phases: list[Phase], span: tuple[float, float] | None
) -> list[dict[str, Any]]:
    """run.json's `phases`: each phase's span and energy per domain, then `remainder`, the
    part of the run no phase covers (container start to process_start, the probe between
    data_on_device and epoch 1 or infer_start, eval_end or infer_end to exit), so the phases
    add up to the run.

    Phases overlap (compile is inside epoch_1, or infer), so the remainder is the run minus
    the union of the phases, not minus their sum."""
    recordings = _own(recordings)
    per_phase = energy_per_phase(recordings, phases)
    out: list[dict[str, Any]] = [
        _guarded(
            {
                "name": p.name,
                "start": p.start_s,
                "end": p.end_s,
                "duration_s": p.duration_s,
                "energy_j": per_phase.get(p.name, {}),
            },
            recordings,
        )
        for p in phases
    ]
    if span is None:
        return out
    covered = _union([(p.start_s, p.end_s) for p in phases], span)
    rest = _complement(covered, span)
    energy: dict[str, float] = {}
    for rec in recordings:
        for domain, s in rec.series.items():
            parts = [_span_energy(s, r) for r in rest]
            if all(e is not None for e in parts):
                energy[domain] = float(sum(e for e in parts if e is not None))
    out.append(
        {
            "name": REMAINDER,
            "start": span[0],
            "end": span[1],
            "duration_s": sum(b - a for a, b in rest),
            "energy_j": energy,
        }
    )
    return out


def _guarded(phase: dict[str, Any], recordings: list[Recording]) -> dict[str, Any]:
    """`phase` with each domain its meter cannot resolve over the phase's length moved from
    `energy_j` to `below_resolution` (with its value and why): no table or total gives it a
    figure as if it were measured (docs/meters.md, "Window guard")."""
    kept = dict(phase["energy_j"])
    below: dict[str, dict[str, Any]] = {}
    span = (phase["start"], phase["end"])
    for rec in recordings:
        for domain, s in rec.series.items():
            if domain not in kept:
                continue
            b = budget(rec.meter, s, span, kept[domain])
            if b is not None and b.below_resolution:
                below[domain] = {"energy_j": kept.pop(domain), "why": b.below_resolution}
    if below:
        return {**phase, "energy_j": kept, "below_resolution": below}
    return phase


def _union(
    intervals: list[tuple[float, float]], span: tuple[float, float]
) -> list[tuple[float, float]]:
    merged: list[tuple[float, float]] = []
    for a, b in sorted((max(a, span[0]), min(b, span[1])) for a, b in intervals):
        if b <= a:
            continue
        if merged and a <= merged[-1][1]:
            merged[-1] = (merged[-1][0], max(merged[-1][1], b))
        else:
            merged.append((a, b))
    return merged


def _complement(
    covered: list[tuple[float, float]], span: tuple[float, float]
) -> list[tuple[float, float]]:
    edges = [span[0], *(x for ab in covered for x in ab), span[1]]
    return [(a, b) for a, b in zip(edges[::2], edges[1::2], strict=True) if b > a]
