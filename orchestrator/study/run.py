"""`orchestrator study run|run-cell|status`: check the study file, write the study folder,
then run each cell as one campaign through the campaign's own entry points
(campaign/launch.py), in the recorded order, through an executor.

A cell is the unit of work: `run_cell` runs or resumes one cell from its folder alone, under
the cell's lock, so an executor that runs cells elsewhere (a Slurm job per cell, issue 16)
calls `orchestrator study run-cell DIR CELL` and nothing else. The local executor runs them
one after another in this process. Finished cells are skipped, a partial cell resumes, and a
run is never measured twice: that is the campaign's resume.
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from dataclasses import asdict
from pathlib import Path
from typing import Any, Protocol

from rich.console import Console
from rich.markup import escape
from rich.table import Table

from orchestrator.campaign.folder import CampaignFolder
from orchestrator.campaign.launch import (
    Inputs,
    MeterPaths,
    ends_like_a_campaign,
    new_campaign,
    resume_campaign,
)
from orchestrator.campaign.plan import DEFAULTS, check_against_dataset
from orchestrator.campaign.plan import settings_from_options as check_campaign
from orchestrator.campaign.state import finished_runs
from orchestrator.data import PreparedDataset, read_prepared
from orchestrator.errors import UserError
from orchestrator.machine import gpu
from orchestrator.meters.registry import open_meters
from orchestrator.runtimes.select import select_runtime
from orchestrator.study.folder import StudyFolder
from orchestrator.study.slurm import SlurmExecutor, SlurmSettings, record_start, slurm_status
from orchestrator.study.spec import (
    Study,
    campaign_options,
    inputs_of,
    model_and_task,
    read_study_file,
)


class Executor(Protocol):
    """Runs the given cells of a study folder, each as `run_cell` does. Returns None when it
    only handed the cells over (Slurm without --wait), else one line per job that did not
    complete (none for the local executor)."""

    def run(self, root: Path, cell_ids: list[str], meter_paths: MeterPaths,
            console: Console) -> list[str] | None: ...  # fmt: skip


class LocalExecutor:
    """Every cell in this process, one after another, in the study's order."""

    def run(self, root: Path, cell_ids: list[str], meter_paths: MeterPaths,
            console: Console) -> list[str] | None:  # fmt: skip
        for n, cell_id in enumerate(cell_ids, start=1):
            console.print(f"cell {n}/{len(cell_ids)}: {cell_id}", highlight=False)
            run_cell(root, cell_id, meter_paths, console)
        return []


def _slurm(settings: SlurmSettings | None) -> Executor:
    return SlurmExecutor(settings)


# How cells run: one entry per executor (docs/adding.md).
EXECUTORS: dict[str, Callable[[SlurmSettings | None], Executor]] = {
    "local": lambda _: LocalExecutor(),
    "slurm": _slurm,
}


def executor(name: str, slurm: SlurmSettings | None = None) -> Executor:
    found = EXECUTORS.get(name)
    if found is None:
        raise UserError(f"unknown executor {name!r}; choose from {', '.join(EXECUTORS)}")
    chosen = found(slurm)
    preflight = getattr(chosen, "preflight", None)
    if preflight is not None:  # e.g. sbatch and the partition, before any folder exists
        preflight()
    return chosen


def _preflight(study: Study, meter_paths: MeterPaths) -> None:
    """What would stop a cell on this machine, checked before the study folder exists: the
    prepared datasets, the meters and the runtime of every distinct cell."""
    seen: set[tuple[Any, ...]] = set()
    prepared: dict[Path, PreparedDataset] = {}
    for cell in study.cells:
        data, _, _ = inputs_of(cell)
        if data is not None and data not in prepared:
            prepared[data] = read_prepared(data)
        options = campaign_options(cell)
        meter = (options.get("meter", DEFAULTS["meter"]),
                 options.get("interval_ms", DEFAULTS["interval_ms"]))  # fmt: skip
        if ("meter", meter) not in seen:
            seen.add(("meter", meter))
            open_meters(meter[0], meter[1], powercap_root=meter_paths.powercap_root,
                        energibridge=meter_paths.energibridge)  # fmt: skip
        settings = check_campaign(options, None)  # checked when the file was read: cannot fail
        if data is not None:  # the model reads it (its manifest's name), the limits fit it
            ds = prepared[data]
            check_against_dataset(settings.workload, ds.train_count, ds.test_count, ds.name)
        frameworks = list(settings.plan.frameworks)
        device, gpu_index = settings.workload.device, settings.protocol.gpu
        runtime = (settings.protocol.runtime, tuple(frameworks), device, gpu_index)
        if ("runtime", runtime) not in seen:
            seen.add(("runtime", runtime))
            if device == "gpu":  # the campaign's own GPU checks, before the folder exists
                gpu.check_driver(gpu_index)
            rt, _ = select_runtime(settings.protocol.runtime, frameworks, device)
            if device == "gpu":
                gpu.check_frameworks(rt, frameworks, gpu_index)


def start_study(path: Path, results: Path, executor_name: str, meter_paths: MeterPaths,
                console: Console, on_folder: list[Path],
                slurm: SlurmSettings | None = None) -> list[str] | None:  # fmt: skip
    from orchestrator.study.folder import study_document

    run = executor(executor_name, slurm)
    study, text = read_study_file(path)
    _preflight(study, meter_paths)
    study_id = CampaignFolder.new_id(results, study.name)  # <UTC time>-<name>, unique
    folder = StudyFolder.create(results, study_id, study_document(study, study_id, text, path,
                                                                  executor_name))  # fmt: skip
    on_folder.append(folder.root)
    console.print(
        f"study folder: {folder.root} ({len(study.cells)} cells)", highlight=False, soft_wrap=True
    )
    return _run_all(folder, run, meter_paths, console)


def resume_study(root: Path, executor_name: str, meter_paths: MeterPaths, console: Console,
                 slurm: SlurmSettings | None = None) -> list[str] | None:  # fmt: skip
    run = executor(executor_name, slurm)
    folder, _, _ = StudyFolder.open(root)
    console.print(f"resuming {folder.root}", highlight=False, soft_wrap=True)
    return _run_all(folder, run, meter_paths, console)


def _run_all(folder: StudyFolder, run: Executor, meter_paths: MeterPaths,
             console: Console) -> list[str] | None:  # fmt: skip
    """The executor's answer (Executor.run)."""
    folder, _, doc = StudyFolder.open(folder.root)  # checked: its cells are its own
    with folder.study_lock():
        todo = [c for c in doc["order"] if folder.progress(c).state != "done"]
        if len(todo) < len(doc["order"]):
            console.print(f"{len(doc['order']) - len(todo)} cells already done", highlight=False)
        return run.run(folder.root, todo, meter_paths, console)


def cells_without_ok_run(root: Path, cell_ids: list[str]) -> list[str]:
    """The cells none of whose runs ended ok (or that never began): nothing to compare."""
    folder = StudyFolder(root)
    return [
        c for c in cell_ids
        if not any(s.status == "ok"
                   for s in finished_runs(folder.cell_dir(c) / "state.jsonl").values())
    ]  # fmt: skip


def _judge(root: Path, cell_ids: list[str], failed_jobs: list[str], console: Console) -> None:
    """Exit 1 when a cell has no ok run or a job did not complete, naming each."""
    empty = cells_without_ok_run(root, cell_ids)
    if not empty and not failed_jobs:
        return
    lines = []
    if empty:
        lines.append(f"no run ended ok in {', '.join(empty)} (see {root}/cells/<cell>/runs/"
                     "*/stdout.log); fix the cause, then resume the study")  # fmt: skip
    lines += failed_jobs
    for line in lines:
        console.print(line, highlight=False, soft_wrap=True, markup=False)
    sys.exit(1)


def run_cell(root: Path, cell_id: str, meter_paths: MeterPaths, console: Console) -> Path:
    """Run or resume one cell: the unit every executor runs (`orchestrator study run-cell`)."""
    folder, study, doc = StudyFolder.open(root)
    cell = study.cell(cell_id)
    cell_root = folder.cell_dir(cell.cell_id)
    with folder.cell_lock(cell.cell_id):
        record_start(folder.root, cell.cell_id)  # inside a Slurm job: its id and node
        progress = folder.progress(cell.cell_id)
        if progress.state == "done":
            console.print(f"{cell.cell_id} is done", highlight=False)
            return cell_root
        model, task = model_and_task(cell)
        console.print(f"{cell.cell_id}: {cell.label} ({task} {model})", highlight=False,
                      soft_wrap=True)  # fmt: skip
        if (cell_root / "campaign.json").exists():
            return resume_campaign(cell_root, meter_paths, console)
        data, dataset, source = inputs_of(cell)
        return new_campaign(
            campaign_options(cell),
            None,
            Inputs(data, dataset, source, folder.cells_dir, meter_paths),
            console=console,
            campaign_id=cell.cell_id,
            study={"study_id": doc["study_id"], "cell_id": cell.cell_id,
                   "factors": cell.factors, "model": model, "task": task},
        )  # fmt: skip


def study_command(
    study_file: Path | None,
    *,
    results: Path,
    resume: Path | None,
    executor_name: str,
    meter_paths: MeterPaths,
    console: Console,
    cell: str | None = None,
    slurm: SlurmSettings | None = None,
) -> None:
    """The CLI's `study run` and `study run-cell`: how the study ended, as a campaign ends:
    an interruption exits 128+signal with the resume command, --max-failures exits 1."""
    # Paths made absolute once, here: each run's workload works in its own run folder (or a
    # container), where a relative path would mean something else.
    results, resume = results.absolute(), resume and resume.absolute()
    study_file = study_file and study_file.absolute()
    folder: list[Path] = []
    failed_jobs: list[str] | None = None

    def again(target: str) -> str:
        return f"study run-cell {target} {cell}" if cell else f"study run --resume {target}"

    with ends_like_a_campaign(console, folder, again):
        if cell is not None:
            assert resume is not None
            folder.append(resume)
            run_cell(resume, cell, meter_paths, console)
            failed_jobs = []
        elif resume is not None:
            if study_file is not None:
                raise UserError("--resume continues the recorded study; drop the study file")
            folder.append(resume)
            failed_jobs = resume_study(resume, executor_name, meter_paths, console, slurm)
        elif study_file is None:
            raise UserError("give a study file (STUDY.toml), or --resume DIR")
        else:
            failed_jobs = start_study(study_file, results, executor_name, meter_paths, console,
                                      folder, slurm)  # fmt: skip
    if folder and failed_jobs is not None:  # every cell has ended: judge them
        cells = [cell] if cell else [str(c) for c in StudyFolder.open(folder[0])[2]["order"]]
        _judge(folder[0], cells, failed_jobs, console)
    console.print(f"done: {folder[0] if folder else ''}", highlight=False, soft_wrap=True)


def status(root: Path) -> dict[str, Any]:
    """Every cell's progress, in the study's order."""
    folder, study, doc = StudyFolder.open(root)
    jobs = slurm_status(folder.root)
    cells = []
    for cell_id in doc["order"]:
        p = folder.progress(cell_id)
        job = jobs.get(cell_id, {})
        cell = study.cell(cell_id)
        model, task = model_and_task(cell)
        cells.append({**asdict(p), "factors": cell.factors, "model": model, "task": task, **job})
    return {"study_id": doc["study_id"], "name": doc["name"], "factors": doc["factors"],
            "cells": cells}  # fmt: skip


def render_status(report: dict[str, Any], console: Console) -> None:
    table = Table(title=f"study {report['study_id']}", title_justify="left")
    slurm = any("job_id" in c for c in report["cells"])
    for col in ("cell", *report["factors"], "state", "runs", "stopped"):
        table.add_column(col)
    if slurm:
        for col in ("job", "job state", "node"):
            table.add_column(col)
    for c in report["cells"]:
        runs = f"{c['done_runs']}/{c['planned_runs']}" if c["planned_runs"] else "-"
        if c["failed_runs"]:
            runs += f" ({c['failed_runs']} failed)"
        stop = "-"
        if c["stopped_after"] is not None:
            stop = f"after iteration {c['stopped_after']} ({c['stop_reason']})"
        factors = [escape(_text(c["factors"][f])) for f in report["factors"]]
        jobs = [c.get("job_id") or "-", (c.get("job_state") or "-").lower(), c.get("node") or "-"]
        table.add_row(c["cell_id"], *factors, c["state"], runs, stop, *(jobs if slurm else []))
    console.print(table)
    counts: dict[str, int] = {}
    for c in report["cells"]:
        counts[c["state"]] = counts.get(c["state"], 0) + 1
    console.print(", ".join(f"{n} {s}" for s, n in counts.items()), highlight=False)


def _text(value: Any) -> str:
    return ",".join(value) if isinstance(value, list) else str(value)
