"""`--executor slurm`: each cell of a study as one Slurm job on a whole node.

A job runs `orchestrator study run-cell DIR CELL`, the same unit the local executor runs, so a
cell measured on a cluster is the same campaign folder as one measured here: its warm-up and
idle gaps on its node, its provenance (host, CPU, GPU, kernel, governor) recorded by the
campaign on that node, resumable after a preemption, a time limit or `scancel`.

Plain `sbatch` rather than a submission library (submitit pickles a Python callable and
needs the same interpreter and packages on every node to unpickle it): the job here is a
command line that is already idempotent (run-cell resumes and never measures a run twice),
its script is a file a user and a cluster's admin can read (`DIR/slurm/<cell>.sbatch`), and
requeue needs nothing but `--requeue`, since the job's command resumes the cell.

Bookkeeping, in `DIR/slurm/jobs.jsonl` (one JSON object per line, appended): a `submitted`
line per job (cell, job id, when) written here, and a `started` line (cell, job id, node,
when) written by the job itself. A cell whose last job is still pending or running is never
submitted again, and each cell's lock keeps two jobs off one cell besides.
"""

from __future__ import annotations

import json
import os
import re
import shlex
import shutil
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from rich.console import Console

from orchestrator.campaign.folder import write_text_atomic
from orchestrator.campaign.launch import MeterPaths
from orchestrator.campaign.plan import settings_from_options
from orchestrator.campaign.state import append_line
from orchestrator.errors import UserError
from orchestrator.study.spec import campaign_options

# --time in one of Slurm's forms: minutes, MM:SS, HH:MM:SS, D-HH, D-HH:MM, D-HH:MM:SS.
_TIME = re.compile(r"^(\d+-)?\d+(:\d{1,2}){0,2}$")
_NAME = re.compile(r"^[A-Za-z0-9_.+-]{1,64}$")  # partitions and accounts
LIVE_STATES = frozenset({"PENDING", "RUNNING", "CONFIGURING", "COMPLETING", "REQUEUED",
                         "RESIZING", "SUSPENDED", "REQUEUE_HOLD", "REQUEUE_FED"})  # fmt: skip
POLL_S = 2.0


class SlurmError(UserError):
    """Slurm cannot run the study as asked; nothing was submitted."""


@dataclass(frozen=True)
class SlurmSettings:
    partition: str | None = None
    account: str | None = None
    time: str | None = None  # the job's time limit, in Slurm's notation
    sbatch_args: tuple[str, ...] = ()  # more `sbatch` options, passed as they are
    wait: bool = False  # block until every submitted job has ended

    def checked(self) -> SlurmSettings:
        for flag, value in (("--partition", self.partition), ("--account", self.account)):
            if value is not None and not _NAME.match(value):
                raise SlurmError(f"{flag} {value!r} is not a Slurm name (letters, digits, ._+-)")
        if self.time is not None and not _TIME.match(self.time):
            raise SlurmError(
                f"--time {self.time!r} is not a Slurm time limit such as 04:00:00 or 2-00:00:00"
            )
        for arg in self.sbatch_args:
            if not arg.startswith("--") or "\n" in arg:
                raise SlurmError(
                    f"--sbatch-arg {arg!r}: give one long sbatch option per --sbatch-arg, e.g. "
                    "--sbatch-arg=--qos=long"
                )
        return self


def _run(cmd: list[str], what: str) -> str:
    try:
        r = subprocess.run(cmd, capture_output=True, text=True, timeout=60, check=False)
    except OSError as exc:
        raise SlurmError(f"{what}: {exc}") from None
    except subprocess.TimeoutExpired:
        raise SlurmError(f"{what}: {cmd[0]} did not answer within 60 s") from None
    if r.returncode != 0:
        last = (r.stderr.strip().splitlines() or ["no message"])[-1]
        raise SlurmError(f"{what}: {last}")
    return r.stdout


def _tool(name: str) -> str:
    found = shutil.which(name)
    if found is None:
        raise SlurmError(
            f"--executor slurm: {name} is not on PATH; run on a Slurm login node (or start a "
            "one-machine cluster with tools/slurm-local.sh)"
        )
    return found


class JobLog:
    """DIR/slurm/jobs.jsonl: which job ran which cell, where."""

    def __init__(self, root: Path) -> None:
        self.dir = root / "slurm"
        self.path = self.dir / "jobs.jsonl"

    def append(self, entry: dict[str, Any]) -> None:
        self.dir.mkdir(exist_ok=True)
        append_line(self.path, entry)

    def entries(self) -> list[dict[str, Any]]:
        if not self.path.exists():
            return []
        out = []
        for raw in self.path.read_text(encoding="utf-8", errors="replace").splitlines():
            try:
                entry = json.loads(raw)
            except ValueError:
                continue  # a torn last line
            if isinstance(entry, dict) and isinstance(entry.get("job_id"), str):
                out.append(entry)
        return out

    def last_job(self) -> dict[str, dict[str, Any]]:
        """Cell -> its last job: the submitted line, with the node where it started."""
        out: dict[str, dict[str, Any]] = {}
        for e in self.entries():
            cell = str(e.get("cell"))
            if e.get("event") == "submitted":
                out[cell] = dict(e)
            elif e.get("event") == "started" and out.get(cell, {}).get("job_id") == e["job_id"]:
                out[cell]["node"] = e.get("node")
                out[cell]["started_at"] = e.get("at")
        return out


def job_states(job_ids: list[str]) -> dict[str, str]:
    """Job id -> its state: squeue for live jobs, `scontrol show job` for recently ended
    ones (no accounting database needed); UNKNOWN when Slurm no longer remembers it."""
    if not job_ids:
        return {}
    out: dict[str, str] = {}
    squeue = shutil.which("squeue")
    if squeue:
        text = _run([squeue, "-h", "-j", ",".join(job_ids), "-o", "%i %T"], "squeue")
        for line in text.splitlines():
            parts = line.split()
            if len(parts) == 2:
                out[parts[0]] = parts[1]
    scontrol = shutil.which("scontrol")
    for job_id in job_ids:
        if job_id in out or scontrol is None:
            continue
        r = subprocess.run([scontrol, "-o", "show", "job", job_id], capture_output=True,
                           text=True, timeout=60, check=False)  # fmt: skip
        found = re.search(r"\bJobState=(\S+)", r.stdout)
        out[job_id] = found.group(1) if r.returncode == 0 and found else "UNKNOWN"
    return out


def record_start(root: Path, cell_id: str) -> None:
    """Called by run-cell inside a Slurm job: which job and node measure this cell now."""
    job_id = os.environ.get("SLURM_JOB_ID")
    if job_id:
        node = os.environ.get("SLURMD_NODENAME")
        entry = {"event": "started", "cell": cell_id, "job_id": job_id, "node": node}
        JobLog(root).append(entry | {"at": time.time()})


def job_script(root: Path, cell_id: str, gpu: bool, settings: SlurmSettings,
               meter_paths: MeterPaths) -> str:  # fmt: skip
    """The job's script: sbatch options as #SBATCH lines, then run-cell. Every value in it was
    checked (the cell id by the study folder, the settings above) and is quoted."""
    # --output is a Slurm filename pattern: a % of the path is written %% (%j: the job id).
    log = f"{str(root / 'slurm').replace('%', '%%')}/{cell_id}-%j.log"
    options = [f"--job-name=fwenergy-{cell_id}", "--nodes=1", "--ntasks=1",
               # a measurement never shares a node
               "--exclusive", f"--output={log}", "--open-mode=append",
               # preempted or failed node: Slurm runs the script again, which resumes the cell
               "--requeue"]  # fmt: skip
    if settings.partition:
        options.append(f"--partition={settings.partition}")
    if settings.account:
        options.append(f"--account={settings.account}")
    if settings.time:
        options.append(f"--time={settings.time}")
    if gpu:
        options.append("--gres=gpu:1")
    options += settings.sbatch_args
    command = [sys.executable, "-m", "orchestrator", "study", "run-cell", str(root), cell_id]
    if meter_paths.powercap_root is not None:
        command += ["--powercap-root", str(meter_paths.powercap_root)]
    if meter_paths.energibridge is not None:
        command += ["--energibridge", str(meter_paths.energibridge)]
    lines = ["#!/bin/bash", *(f"#SBATCH {shlex.quote(o)}" for o in options),
             "set -euo pipefail", f"cd {shlex.quote(str(root))}",
             f"exec {shlex.join(command)}", ""]  # fmt: skip
    return "\n".join(lines)


class SlurmExecutor:
    """One `sbatch` job per cell; returns once they are submitted (or, with wait, ended)."""

    def __init__(self, settings: SlurmSettings | None = None) -> None:
        self.settings = (settings or SlurmSettings()).checked()

    def preflight(self) -> None:
        """Before the study folder exists: sbatch is there and the partition exists."""
        _tool("sbatch")
        if self.settings.partition:
            found = _run([_tool("sinfo"), "-h", "-o", "%P"], "sinfo").split()
            names = [p.rstrip("*") for p in found]
            if self.settings.partition not in names:
                raise SlurmError(
                    f"--partition {self.settings.partition}: no such partition here "
                    f"(sinfo lists {', '.join(names) or 'none'})"
                )

    def run(self, root: Path, cell_ids: list[str], meter_paths: MeterPaths,
            console: Console) -> list[str] | None:  # fmt: skip
        """None without --wait (the jobs were handed over), else a line per job that did
        not complete, with its log."""
        from orchestrator.study.folder import StudyFolder

        self.preflight()
        _, study, _ = StudyFolder.open(root)
        log = JobLog(root)
        last = log.last_job()
        states = job_states([last[c]["job_id"] for c in cell_ids if c in last])
        sbatch = _tool("sbatch")
        submitted: dict[str, str] = {}  # job id -> cell
        for cell_id in cell_ids:
            previous = last.get(cell_id)
            state = states.get(previous["job_id"]) if previous else None
            if previous and state in LIVE_STATES:
                console.print(f"{cell_id}: job {previous['job_id']} is {state.lower()}; not "
                              "submitted again", highlight=False)  # fmt: skip
                continue
            settings = settings_from_options(campaign_options(study.cell(cell_id)), None)
            script = log.dir / f"{cell_id}.sbatch"
            log.dir.mkdir(exist_ok=True)
            write_text_atomic(script, job_script(root, cell_id, settings.workload.device == "gpu",
                                                 self.settings, meter_paths))  # fmt: skip
            out = _run([sbatch, "--parsable", str(script)], f"sbatch {script}")
            job_id = out.strip().split(";")[0]
            if not job_id.isdigit():
                raise SlurmError(f"sbatch answered {out.strip()!r}, not a job id")
            log.append({"event": "submitted", "cell": cell_id, "job_id": job_id,
                        "at": time.time(), "script": script.name})  # fmt: skip
            submitted[job_id] = cell_id
            console.print(f"{cell_id}: submitted as job {job_id}", highlight=False)
        if self.settings.wait:
            return self._wait(root, submitted, console) if submitted else []
        if submitted:
            console.print(f"follow the jobs with: orchestrator study status {root}",
                          highlight=False, soft_wrap=True)  # fmt: skip
        return None

    @staticmethod
    def _wait(root: Path, jobs: dict[str, str], console: Console) -> list[str]:
        while True:
            states = job_states(list(jobs))
            live = [j for j in jobs if states.get(j) in LIVE_STATES]
            if not live:
                break
            time.sleep(POLL_S)
        ended = ", ".join(f"{j} {states.get(j, 'UNKNOWN').lower()}" for j in jobs)
        console.print(f"jobs ended: {ended}", highlight=False, soft_wrap=True)
        return [
            f"job {j} of {cell} ended {states.get(j, 'UNKNOWN').lower()}, not completed: see "
            f"{root / 'slurm' / f'{cell}-{j}.log'}"
            for j, cell in jobs.items()
            if states.get(j) != "COMPLETED"
        ]


def cancel(root: Path, console: Console) -> list[str]:
    """scancel every job of the study that is still pending or running."""
    last = JobLog(root).last_job()
    states = job_states([j["job_id"] for j in last.values()])
    live = [j["job_id"] for j in last.values() if states.get(j["job_id"]) in LIVE_STATES]
    if live:
        _run([_tool("scancel"), *live], "scancel")
    console.print(f"cancelled {len(live)} jobs" + (f": {', '.join(live)}" if live else ""),
                  highlight=False)  # fmt: skip
    return live


def slurm_status(root: Path) -> dict[str, dict[str, Any]]:
    """Cell -> its last job (id, state, node) for `study status`; empty for local studies."""
    last = JobLog(root).last_job()
    if not last:
        return {}
    try:
        states = job_states([j["job_id"] for j in last.values()])
    except SlurmError:
        states = {}
    return {
        cell: {"job_id": j["job_id"], "job_state": states.get(j["job_id"], "UNKNOWN"),
               "node": j.get("node")}
        for cell, j in last.items()
    }  # fmt: skip
