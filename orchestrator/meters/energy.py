"""Energy arithmetic on cumulative series: phases, baseline subtraction. Pure functions."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from orchestrator.meters.base import DomainSeries, Recording


@dataclass(frozen=True)
class Phase:
    name: str
    start_s: float
    end_s: float

    @property
    def duration_s(self) -> float:
        return self.end_s - self.start_s


def phases_from_events(events: list[dict[str, Any]]) -> list[Phase]:
    """The phases of docs/formats.md from a workload's events.jsonl records.

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
        ("compile", t("epoch_start", 1), t("first_step_end", 1)),
    ]
    epochs = sorted({e["epoch"] for e in events if e["event"] == "epoch_start"})
    pairs += [(f"epoch_{k}", t("epoch_start", k), t("epoch_end", k)) for k in epochs]
    pairs.append(("eval", t("eval_start"), t("eval_end")))
    return [Phase(n, s, e) for n, s, e in pairs if s is not None and e is not None and e >= s]


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


def mean_power_w(recordings: list[Recording]) -> dict[str, float]:
    """Domain -> mean power over the recordings that read it (what idle gaps give).

    Several gaps are pooled as total energy over total time, so a longer gap weighs more
    and one short, noisy gap cannot swing the baseline."""
    energy: dict[str, float] = {}
    duration: dict[str, float] = {}
    for rec in recordings:
        if rec.duration_s <= 0:
            continue
        for domain, joules in rec.energy_j.items():
            energy[domain] = energy.get(domain, 0.0) + joules
            duration[domain] = duration.get(domain, 0.0) + rec.duration_s
    return {domain: energy[domain] / duration[domain] for domain in energy}


def net_energy_j(gross_j: float, baseline_power_w: float, duration_s: float) -> float:
    """Energy above the idle baseline; can be negative when the run was quieter than idle."""
    return gross_j - baseline_power_w * duration_s


def energy_block(
    recordings: list[Recording], baseline_power_w: dict[str, float] | None = None
) -> dict[str, dict[str, Any]]:
    """The `energy` block of run.json (docs/formats.md), gross, baseline and net labelled."""
    block: dict[str, dict[str, Any]] = {}
    for rec in recordings:
        for domain, s in rec.series.items():
            gross = float(s.energy_j[-1]) if len(s.energy_j) else None
            if gross is None:
                continue
            entry: dict[str, Any] = {
                "meter": rec.meter,
                "gross_j": gross,
                "mean_power_w": gross / rec.duration_s if rec.duration_s > 0 else None,
                "method": s.method,
                "estimated": s.estimated,
            }
            if baseline_power_w and domain in baseline_power_w:
                base = baseline_power_w[domain]
                entry["baseline_power_w"] = base
                entry["baseline_j"] = base * rec.duration_s
                entry["net_j"] = net_energy_j(gross, base, rec.duration_s)
            block[domain] = entry
    return block
