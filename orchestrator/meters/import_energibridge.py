"""Import a study that used EnergiBridge alone: a folder with one sub-folder per framework
and one CSV per run (keras/keras_0.csv ... keras/keras_34.csv) becomes a campaign folder
in docs/formats.md's format, so the same analysis reads it.

What the CSVs cannot tell is left out or null, never guessed: no idle baseline (so no net
energy), no phases, no exit code, no planned position, and not whether the run succeeded:
every run's status is `imported`, not `ok`. The energy columns become domains through the
same table as the meter's (orchestrator/meters/domains.py): the package counter
(CPU_ENERGY on AMD, PACKAGE_ENERGY on Intel) is the total; DRAM joins it only when the
caller says the CPU is a client part (EnergiBridge's DRAM unit is wrong on servers).
"""

from __future__ import annotations

import re
import shutil
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from orchestrator.campaign.folder import CampaignFolder
from orchestrator.campaign.records import CampaignDocument, RunRecord
from orchestrator.errors import UserError
from orchestrator.meters.energibridge_csv import (
    EnergiBridgeTable,
    energibridge_series,
    package_column,
    parse_energibridge_csv,
)
from orchestrator.meters.energy import energy_block
from orchestrator.meters.sampler import RecordingBuilder

# The status of every imported run: a CSV cannot say whether the run it measured succeeded.
IMPORTED_STATUS = "imported"
_NUMBER = re.compile(r"(\d+)")


class EnergiBridgeImportError(UserError):
    """A folder of EnergiBridge CSVs that cannot be imported; the message says why."""


@dataclass(frozen=True)
class SourceRun:
    group: str
    iteration: int
    csv: Path
    table: EnergiBridgeTable

    @property
    def start_s(self) -> float:
        return float(self.table.time_s[0])


def natural_key(name: str) -> list[Any]:
    """keras_2 before keras_10."""
    return [int(p) if p.isdigit() else p.lower() for p in _NUMBER.split(name)]


def _run_number(path: Path) -> int | None:
    numbers = _NUMBER.findall(path.stem)
    return int(numbers[-1]) if numbers else None


def _collect(src: Path) -> list[SourceRun]:
    if not src.is_dir():
        raise EnergiBridgeImportError(f"{src} is not a folder of EnergiBridge CSVs")
    groups = {
        d.name: sorted(d.glob("*.csv"), key=lambda p: natural_key(p.name))
        for d in sorted(src.iterdir())
        if d.is_dir() and not d.name.startswith(".")
    }
    groups = {g: files for g, files in groups.items() if files}
    if not groups:
        raise EnergiBridgeImportError(
            f"{src} has no sub-folder with CSVs; expected one folder per framework, "
            "e.g. keras/keras_0.csv ... torch/torch_0.csv"
        )
    numbered = all(_run_number(p) is not None for files in groups.values() for p in files)
    # Files numbered from 0 (keras_0.csv) become iteration 1: iterations are 1-based.
    shift = 0
    if numbered:
        shift = 1 if min(_run_number(p) or 0 for fs in groups.values() for p in fs) == 0 else 0
    runs: list[SourceRun] = []
    for group, files in groups.items():
        seen: dict[int, Path] = {}
        for rank, path in enumerate(files, start=1):
            number = _run_number(path)
            iteration = number + shift if numbered and number is not None else rank
            if iteration in seen:
                raise EnergiBridgeImportError(
                    f"{path} and {seen[iteration]} both give run {iteration} of {group}; "
                    "keep one CSV per run"
                )
            seen[iteration] = path
            table = parse_energibridge_csv(path)
            package = package_column(table)
            if package is None:
                raise EnergiBridgeImportError(
                    f"{path}: no CPU_ENERGY (J) or PACKAGE_ENERGY (J) column, so no CPU "
                    "energy to import (was it recorded on a machine without RAPL MSRs?)"
                )
            if len(table.data) > 1 and len(set(table.column(package))) == 1:
                raise EnergiBridgeImportError(
                    f"{path}: the {package} column never advances, so it measured nothing "
                    "(EnergiBridge without MSR access?); leave this CSV out of the study"
                )
            runs.append(SourceRun(group, iteration, path, table))
    return runs


def _interval_ms(runs: list[SourceRun]) -> int | None:
    gaps = np.concatenate([np.diff(r.table.column("Time")) for r in runs])
    return round(float(np.median(gaps))) if gaps.size else None


def import_energibridge_folder(src: Path, out: Path, *, client_cpu: bool = False) -> Path:
    """Write the campaign folder for `src` at `out` (which must not exist yet) and return
    it. It is assembled beside `out` and renamed into place only when complete.
    `client_cpu`: the study ran on a client CPU, so its DRAM column may join the total."""
    if out.exists():
        raise EnergiBridgeImportError(f"{out} already exists; choose a new output folder")
    runs = _collect(src)
    with CampaignFolder.assembling(out.parent, out.name, _campaign(runs, src, out.name)) as f:
        interval_ms = _interval_ms(runs)
        for run in sorted(runs, key=lambda r: (r.iteration, r.start_s)):
            record = _write_run(run, f, src, interval_ms, client_cpu)
            f.append_state(record.state_line(finished_at=record.ended_at or run.start_s))
    return out


def _campaign(runs: list[SourceRun], src: Path, campaign_id: str) -> CampaignDocument:
    iterations = sorted({r.iteration for r in runs})
    # The order the runs started in, from their own clocks: what the study actually did.
    order = [
        [r.group for r in sorted((r for r in runs if r.iteration == i), key=lambda r: r.start_s)]
        for i in iterations
    ]
    return CampaignDocument(
        campaign_id=campaign_id,
        created_at=min(r.start_s for r in runs),
        frameworks=sorted({r.group for r in runs}),
        iterations=len(iterations),
        seed=None,
        order=order,
        protocol={
            "warmup_s": None,
            "idle_s": None,
            "runtime": "imported",
            "meters": ["energibridge"],
            "interval_ms": _interval_ms(runs),
        },
        workload=None,
        dataset=None,
        provenance={},
        imported={"source": str(src.resolve()), "tool": "energibridge", "imported_at": time.time()},
    )


def _write_run(
    run: SourceRun, folder: CampaignFolder, src: Path, interval_ms: int | None, client_cpu: bool
) -> RunRecord:
    # Position 0 in the folder name: the planned position is unknown (run.json says null).
    run_id = f"{run.iteration:03d}-0-{run.group}"
    d = folder.run_dir(run_id)
    d.mkdir()
    shutil.copyfile(run.csv, d / "samples-energibridge.csv")
    out = RecordingBuilder("energibridge")
    energibridge_series(run.table, out, gpu=False, client_cpu=client_cpu)
    recording = out.finish(d, run.table.time_s, d / "samples-energibridge.csv")
    start_s, end_s = recording.start_s, recording.end_s
    record = RunRecord(
        run_id=run_id,
        iteration=run.iteration,
        position=None,
        framework=run.group,
        status=IMPORTED_STATUS,
        exit_code=None,
        error=None,
        started_at=start_s,
        ended_at=end_s,
        runtime={"kind": "imported"},
        meters=[
            {
                "name": "energibridge",
                "interval_ms": interval_ms,
                "samples": "samples-energibridge.csv",
            }
        ],
        energy=energy_block([recording]).block,
        phases=[],
        notes=[n for n in recording.notes if "CORE*_ENERGY" not in n],
        imported={"source": str(run.csv.relative_to(src)), "tool": "energibridge"},
    )
    folder.write_run(record)
    return record
