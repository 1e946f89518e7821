"""`orchestrator measure -- COMMAND...`: run any command under the meters, like EnergiBridge.

The meters start before the command and stop after it; the energy reported is that of the
command's own window, read off each cumulative counter by interpolation at the command's
start and end (the meters' extra milliseconds at either side are not counted)."""

from __future__ import annotations

import shutil
import signal
import subprocess
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.markup import escape
from rich.table import Table
from rich.text import Text

from orchestrator.errors import UserError, check_writable_folder
from orchestrator.meters import clock
from orchestrator.meters.base import Recording
from orchestrator.meters.crosscheck import cross_checks, disagreements
from orchestrator.meters.energy import Phase, energy_per_phase
from orchestrator.meters.registry import open_meters
from orchestrator.meters.uncertainty import budget
from orchestrator.meters.window import MeterWindow
from orchestrator.runtimes.process import exit_status


@dataclass(frozen=True)
class DomainResult:
    meter: str
    energy_j: float
    mean_power_w: float | None
    method: str
    estimated: bool
    uncertainty: dict[str, Any] | None = None  # meters/uncertainty.py's budget

    @property
    def below_resolution(self) -> str | None:
        return None if self.uncertainty is None else self.uncertainty.get("below_resolution")


@dataclass(frozen=True)
class Measurement:
    command: tuple[str, ...]
    exit_code: int
    start_s: float
    end_s: float
    meters: tuple[str, ...]
    domains: dict[str, DomainResult]
    notes: tuple[str, ...]
    output: Path | None
    dropped: dict[str, str] = field(default_factory=dict)  # domain -> why it was lost
    cross_checks: list[dict[str, Any]] = field(default_factory=list)

    @property
    def duration_s(self) -> float:
        return self.end_s - self.start_s

    def to_json(self) -> dict[str, Any]:
        return {
            "command": list(self.command),
            "duration_s": self.duration_s,
            "exit_code": self.exit_code,
            "meters": list(self.meters),
            "domains": {
                name: {
                    "meter": d.meter,
                    "energy_j": d.energy_j,
                    "mean_power_w": d.mean_power_w,
                    "method": d.method,
                    "estimated": d.estimated,
                    "uncertainty_j": None if d.uncertainty is None else d.uncertainty["u_j"],
                    "uncertainty": d.uncertainty,
                    "below_resolution": d.below_resolution,
                }
                for name, d in self.domains.items()
            },
            "dropped": dict(self.dropped),
            "cross_checks": self.cross_checks,
            "notes": list(self.notes),
            "output": str(self.output) if self.output else None,
        }


def summarise(
    recordings: list[Recording], start_s: float, end_s: float
) -> tuple[dict[str, DomainResult], list[str]]:
    """Energy per domain over the command's window [start_s, end_s]. A domain whose samples
    do not cover that window falls back to its whole recording, and says so."""
    window = Phase("command", start_s, end_s)
    own = [r for r in recordings if r.checks is None]
    inside = energy_per_phase(own, [window])["command"]
    domains: dict[str, DomainResult] = {}
    notes: list[str] = []
    for rec in recordings:
        if rec.checks is not None:
            continue  # compared in the cross-checks, never a value of its own
        for name, s in rec.series.items():
            if name in inside:
                energy, duration = inside[name], window.duration_s
                span = (start_s, end_s)
            else:
                energy, duration = float(s.energy_j[-1]), rec.duration_s
                span = (float(s.time_s[0]), float(s.time_s[-1]))
                notes.append(
                    f"{name}: samples do not cover the whole command; energy is over the "
                    f"meter's {duration:.3f} s window"
                )
            b = budget(rec.meter, s, span, energy)
            domains[name] = DomainResult(
                rec.meter,
                energy,
                energy / duration if duration > 0 else None,
                s.method,
                s.estimated,
                None if b is None else b.to_json(),
            )
            if b is not None and b.below_resolution:
                notes.append(f"{name}: BELOW RESOLUTION: {b.below_resolution}")
    return domains, notes


def measure(
    command: list[str],
    spec: str = "auto",
    interval_ms: int = 100,
    *,
    output: Path | None = None,
    powercap_root: Path | None = None,
    energibridge: Path | None = None,
) -> Measurement:
    """Run `command` (no shell) under the meters of `spec`; raw CSVs are kept in `output`."""
    if not command:
        raise UserError("no command to measure: put it after `--`, e.g. measure -- sleep 1")
    if shutil.which(command[0]) is None:
        raise UserError(f"command not found: {command[0]!r}; give its path or put it on PATH")
    if output is not None:
        check_writable_folder(output, "--output")
    meters = open_meters(spec, interval_ms, powercap_root=powercap_root, energibridge=energibridge)
    out_dir = output if output is not None else Path(tempfile.mkdtemp(prefix="fwenergy-"))
    out_dir.mkdir(parents=True, exist_ok=True)
    try:
        with MeterWindow(meters, out_dir) as window:
            exit_code, start_s, end_s = _run(command)
    finally:
        if output is None:
            shutil.rmtree(out_dir, ignore_errors=True)
    recordings = window.recordings
    domains, notes = summarise(recordings, start_s, end_s)
    if domains and end_s - start_s < 5 * interval_ms / 1000.0:
        # As hyperfine warns about outliers: a number from a handful of samples is coarse.
        notes.append(
            f"the command ran {end_s - start_s:.3f} s, under 5 sample intervals of "
            f"{interval_ms} ms: its energy rests on few samples; use a smaller --interval-ms"
        )
    checks = cross_checks(recordings, (start_s, end_s))
    notes += disagreements(checks)
    all_notes = list(dict.fromkeys([n for r in recordings for n in r.notes] + notes))
    return Measurement(
        tuple(command),
        exit_code,
        start_s,
        end_s,
        tuple(m.name for m in meters),
        domains,
        tuple(all_notes),
        output,
        {d: why for r in recordings for d, why in r.dropped.items()},
        checks,
    )


def _run(command: list[str]) -> tuple[int, float, float]:
    start_s = clock.now()
    proc = subprocess.Popen(command)
    try:
        code = proc.wait()
    except KeyboardInterrupt:
        proc.send_signal(signal.SIGINT)
        code = proc.wait()
    end_s = clock.now()
    return exit_status(code), start_s, end_s


def render(m: Measurement, console: Console) -> None:
    """The human summary, for stderr."""
    # The command line is data: escaped, never read as markup.
    status = "[green]0[/]" if m.exit_code == 0 else f"[red]{m.exit_code}[/]"
    console.print(
        f"[bold]{escape(' '.join(m.command))}[/]: {m.duration_s:.3f} s, exit code {status}, "
        f"meters {escape(', '.join(m.meters))}",
        highlight=False,
        markup=True,
    )
    if m.domains:
        table = Table("domain", "energy (J)", "u (J)", "mean power (W)", "method", "meter")
        for name, d in m.domains.items():
            power = "" if d.mean_power_w is None else f"{d.mean_power_w:.2f}"
            method = Text(d.method)
            if d.estimated:
                method.append(" (estimated)", style="yellow")
            u = "" if d.uncertainty is None else f"{d.uncertainty['u_j']:.3f}"
            energy = Text(f"{d.energy_j:.3f}")
            if d.below_resolution:
                energy = Text("below resolution", style="yellow")
            table.add_row(Text(name), energy, u, power, method, Text(d.meter))
        console.print(table)
    else:
        console.print("[bold red]NO ENERGY WAS MEASURED[/] (time only)", markup=True)
    for note in m.notes:
        console.print(
            f"[yellow]note:[/] {escape(note)}", highlight=False, soft_wrap=True, markup=True
        )
    if m.output:
        console.print(f"raw samples in {m.output}", highlight=False, markup=False)
