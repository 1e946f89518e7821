"""The campaign protocol: warm-up, then every planned run in the recorded order, each one
prepared outside the meter window and started inside it, followed by an idle gap; each
finished run is recorded in state.jsonl, which is all resume needs.

A run's baseline comes from the idle gaps that bracket it (meters/energy.py): run.json is
written when the run ends, with the gap before it, and rewritten once the gap after it has
been measured. A run that lost a domain its meters read when the campaign began is
`incomplete`, never `ok`: its total would silently add up less than the others'."""

from __future__ import annotations

import json
import os
import time
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from orchestrator.campaign.alone import MeasurementLock, still_alone
from orchestrator.campaign.folder import CampaignFolder
from orchestrator.campaign.idle import measure_idle, read_gaps
from orchestrator.campaign.interrupts import Interrupted, Interrupts
from orchestrator.campaign.plan import (
    Plan,
    PlannedRun,
    ProtocolSettings,
    StoppingRule,
    WorkloadSettings,
)
from orchestrator.campaign.progress import CampaignProgress
from orchestrator.campaign.records import RunRecord
from orchestrator.campaign.state import finished_runs
from orchestrator.campaign.warmup import warm_up
from orchestrator.meters import clock, domains
from orchestrator.meters.base import Meter, Recording
from orchestrator.meters.crosscheck import cross_checks, disagreements
from orchestrator.meters.energy import (
    Gap,
    bracketing_baseline,
    energy_block,
    phase_block,
    phases_from_events,
    with_baselines,
)
from orchestrator.meters.window import MeterWindow
from orchestrator.runtimes.base import (
    CAMPAIGN_LABEL,
    OWNER_LABEL,
    RUN_LABEL,
    Execution,
    ExitState,
    RunSpec,
    Runtime,
    owner_label,
    status_of,
)
from orchestrator.runtimes.variants import variant


class CampaignStopped(Exception):
    """--max-failures reached: the folder is consistent and can be resumed."""


@dataclass(frozen=True)
class Context:
    folder: CampaignFolder
    campaign_id: str
    plan: Plan
    workload: WorkloadSettings
    protocol: ProtocolSettings
    data_dir: Path
    runtime: Runtime
    meters: list[Meter]
    stopping: StoppingRule | None = None  # None: run every planned iteration
    # The campaign's name on the container engine (CampaignDocument.container_key): its id
    # alone repeats across hosts' studies and same-second campaigns.
    key: str | None = None
    lock: MeasurementLock | None = None  # the host's, held by the caller for the campaign

    @property
    def container_key(self) -> str:
        return self.key or self.campaign_id


# A run's events are a few per epoch and phase; a workload that writes millions (a 2 GB
# events.jsonl) gets its first ones read, not all of it held in memory.
MAX_EVENTS = 100_000
TAIL_BYTES = 64 * 1024


def read_events(path: Path) -> list[dict[str, Any]]:
    """events.jsonl as far as it is complete (a crashed run may leave a torn last line),
    read line by line, the first MAX_EVENTS at most."""
    out: list[dict[str, Any]] = []
    try:
        with path.open(encoding="utf-8", errors="replace") as f:
            for line in f:
                event = _event(line)
                if event is not None:
                    out.append(event)
                    if len(out) >= MAX_EVENTS:
                        break
    except FileNotFoundError:
        pass
    return out


def _event(line: str) -> dict[str, Any] | None:
    try:
        e = json.loads(line)
    except ValueError:
        return None
    return e if isinstance(e, dict) and "event" in e and "t" in e else None


def _tail_lines(path: Path) -> list[str]:
    """The complete lines in the last TAIL_BYTES of a file (a log may be gigabytes)."""
    try:
        with path.open("rb") as f:
            size = f.seek(0, os.SEEK_END)
            f.seek(max(0, size - TAIL_BYTES))
            lines = f.read().decode(errors="replace").splitlines()
    except OSError:
        return []
    return lines[1:] if size > TAIL_BYTES else lines  # the first may be cut


def last_event(path: Path) -> dict[str, Any] | None:
    """The last complete event, for the live display, without reading the whole file."""
    for line in reversed(_tail_lines(path)):
        event = _event(line)
        if event is not None:
            return event
    return None


def _last_line(path: Path) -> str | None:
    lines = [ln.strip() for ln in _tail_lines(path) if ln.strip()]
    return lines[-1][:300] if lines else None


def _meters_block(meters: list[Meter], recordings: list[Recording]) -> list[dict[str, Any]]:
    out = []
    for m, rec in zip(meters, recordings, strict=False):
        entry: dict[str, Any] = {"name": m.name}
        if m.name != "none":
            entry["interval_ms"] = m.interval_ms
            if rec.samples_csv is not None:
                entry["samples"] = rec.samples_csv.name
        out.append(entry)
    return out


INCOMPLETE = "incomplete"


def run_record(
    run: PlannedRun,
    *,
    status: str,
    exit_state: ExitState,
    error: str | None,
    started_at: float | None,
    ended_at: float | None,
    runtime_block: dict[str, Any],
    meters: list[Meter],
    recordings: list[Recording],
    events: list[dict[str, Any]],
    gaps: list[Gap],
    workload: WorkloadSettings | None = None,
) -> RunRecord:
    """run.json (docs/formats.md), from what happened. Pure.

    The energy is that of [started_at, ended_at], read off each counter; a CPU run keeps
    a GPU it recorded out of the total. A domain its meters meant to read and did not (lost
    in the window, or samples not covering the run) turns an `ok` run `incomplete`."""
    span = None if started_at is None or ended_at is None else (started_at, ended_at)
    workload = workload or WorkloadSettings()
    device = workload.device
    out_of_total = {
        d: "a CPU run: the GPU is recorded, not part of the total"
        for rec in recordings
        for d in rec.series
        if device == "cpu" and not domains.is_cpu(d)
    }
    energy = energy_block(recordings, span=span, out_of_total=out_of_total)
    checks = cross_checks(recordings, span) if span is not None else []
    dropped = dict(energy.dropped)
    measured = {d for rec in recordings for d in rec.series}
    for m in meters:
        for d in m.domains():
            if d not in measured and d not in dropped:
                dropped[d] = f"{m.name}: not in the recording"
    if status == "ok" and dropped:
        status = INCOMPLETE
        error = "domain lost: " + "; ".join(f"{d} ({why})" for d, why in sorted(dropped.items()))
    record = RunRecord(
        run_id=run.run_id,
        iteration=run.iteration,
        position=run.position,
        framework=run.framework,
        status=status,
        exit_code=exit_state.exit_code,
        error=error,
        started_at=started_at,
        ended_at=ended_at,
        runtime=runtime_block,
        meters=_meters_block(meters, recordings),
        energy=energy.block,
        phases=phase_block(recordings, phases_from_events(events), span),
        notes=sorted({n for rec in recordings for n in rec.notes} | set(disagreements(checks))),
        variant=variant(run.framework).record(),
        model=workload.model,
        task=workload.task,
        cross_checks=checks or None,
    )
    return with_gaps(record, gaps)


def with_gaps(record: RunRecord, gaps: list[Gap]) -> RunRecord:
    """`record` with the baseline the idle gaps measured so far give it."""
    if record.started_at is None or record.ended_at is None:
        return record
    baselines = {}
    for domain, entry in record.energy.items():
        base = bracketing_baseline(gaps, entry["meter"], domain, record.started_at,
                                   record.ended_at)  # fmt: skip
        if base is not None:
            baselines[(entry["meter"], domain)] = base
    duration_s = record.ended_at - record.started_at
    return replace(record, energy=with_baselines(record.energy, baselines, duration_s))


def _error_text(status: str, exit_state: ExitState, ctx: Context, run_dir: Path) -> str | None:
    if status == "ok":
        return None
    if status == "timeout":
        return f"still running after --run-timeout {ctx.protocol.run_timeout_s:g} s; stopped"
    if status == "oom":
        return f"killed by the out-of-memory killer (--memory-limit {ctx.protocol.memory_limit})"
    last = _last_line(run_dir / "stdout.log")
    return f"exit code {exit_state.exit_code}" + (f": {last}" if last else "")


def _wait(ctx: Context, execution: Execution, started_at: float, progress: CampaignProgress,
          run_dir: Path) -> bool:  # fmt: skip
    """Wait for the workload; False on timeout. Polls once a second only for the live
    display, so a non-interactive campaign adds no work inside the meter window."""
    deadline = started_at + ctx.protocol.run_timeout_s
    while True:
        left = deadline - clock.now()
        if left <= 0:
            return False
        if execution.wait(min(left, 1.0) if progress.live_enabled else left):
            return True
        event = last_event(run_dir / "events.jsonl")
        if event is not None:
            progress.set_detail(f"({event['event']})")


def measure_run(
    ctx: Context, run: PlannedRun, interrupts: Interrupts, progress: CampaignProgress
) -> RunRecord:
    """One run, start to state line. Re-raises Interrupted after recording the run aborted."""
    run_dir = CampaignFolder.fresh(ctx.folder.run_dir(run.run_id))
    spec = RunSpec(
        framework=run.framework,
        data_dir=ctx.data_dir,
        out_dir=run_dir,
        workload_args=ctx.workload.args() + variant(run.framework).workload_args(),
        cpuset=ctx.protocol.cpuset,
        memory_limit=ctx.protocol.memory_limit,
        device=ctx.workload.device,
        labels={
            CAMPAIGN_LABEL: ctx.container_key,
            RUN_LABEL: run.run_id,
            OWNER_LABEL: owner_label(),
        },
        gpu=ctx.protocol.gpu,
        task=ctx.workload.task,
    )
    execution: Execution | None = None
    window = MeterWindow(ctx.meters, run_dir)
    started_at = ended_at = None
    timed_out = False
    interrupted: Interrupted | None = None
    exit_state = ExitState(exit_code=None)
    try:
        progress.set(
            f"iteration {run.iteration}/{ctx.plan.iterations} {run.framework}", "(preparing)"
        )
        execution = ctx.runtime.prepare(spec)  # before the meter: container copies are slow
        # ...and their write-back to disk too: flushed now, it cannot land in the run.
        os.sync()
        window.start()
        started_at = clock.now()
        execution.start()
        progress.run_started()
        if not _wait(ctx, execution, started_at, progress, run_dir):
            timed_out = True
            execution.stop()
        ended_at = clock.now()
    except Interrupted as exc:
        interrupted = exc
        if execution is not None:
            execution.stop()
        ended_at = clock.now() if started_at is not None else None
    except BaseException:
        # Not a run outcome (the engine failed, a bug): clean up and let it surface. The run
        # has no state line, so resume redoes it.
        window.abort()
        if execution is not None:
            execution.cleanup()
        raise
    # From here on a signal waits until the run is recorded: meters stopped, logs collected,
    # container removed, run.json and the state line written.
    with interrupts.deferred():
        # A meter that fails to stop (its counters vanished, EnergiBridge crashed) fails
        # the run, not the campaign: the run is still finished, cleaned up and recorded.
        stopped, meter_failures = window.stop_each()
        started = [m for m, _ in stopped]
        recordings = [rec for _, rec in stopped]
        runtime_block: dict[str, Any] = {"kind": ctx.runtime.kind}
        if execution is not None:
            if started_at is not None:
                exit_state = execution.finish()
            runtime_block = execution.describe()
            execution.cleanup()
        status = status_of(exit_state, timed_out, interrupted is not None)
        if status in ("timeout", "aborted"):
            # Stopped by us, not ended by itself: the code of our own kill means nothing.
            exit_state = ExitState(exit_code=None, oom_killed=exit_state.oom_killed)
        error = str(interrupted) if interrupted else _error_text(status, exit_state, ctx, run_dir)
        if status == "ok" and not (run_dir / "result.json").exists():
            status, error = "failed", "exit code 0 but no result.json: the workload did not finish"
        if meter_failures:
            lost = "; ".join(f"meter {m.name} failed when stopped: {e}" for m, e in meter_failures)
            status = "failed" if status == "ok" else status
            error = lost if error is None else f"{error}; {lost}"
        record = run_record(
            run, status=status, exit_state=exit_state, error=error, started_at=started_at,
            ended_at=ended_at, runtime_block=runtime_block, meters=started,
            recordings=recordings, events=read_events(run_dir / "events.jsonl"),
            gaps=read_gaps(ctx.folder), workload=ctx.workload,
        )  # fmt: skip
        ctx.folder.write_run(record)
        ctx.folder.append_state(record.state_line(finished_at=time.time()))
    if interrupted is not None:
        raise interrupted
    return record


# The idle gap before the first run; sorts before every run's own gap.
START_GAP = "000-0-start"
# The idle gap between a resumed campaign's warm-up and its first run: the first resumed run
# follows idle, as every other run does, not 100% load. Gaps are matched to runs by time.
RESUME_GAP = "000-0-resume-{n}"


def _gap_before_first_run(ctx: Context) -> str | None:
    """The start gap once; every later start of the campaign (a resume, even one before any
    run was recorded) a resume gap of its own, after its own warm-up."""
    if ctx.protocol.idle_s <= 0:
        return None
    if not (ctx.folder.idle_dir(START_GAP) / "idle.json").exists():
        return START_GAP
    n = 1
    while ctx.folder.idle_dir(RESUME_GAP.format(n=n)).exists():
        n += 1
    return RESUME_GAP.format(n=n)


def execute(ctx: Context, progress: CampaignProgress) -> None:
    """Run what the plan still needs. Raises Interrupted (folder resumable) or
    CampaignStopped (--max-failures)."""
    done = finished_runs(ctx.folder.state_jsonl)
    failures = sum(1 for r in done.values() if r.status != "ok")
    todo = [r for r in ctx.plan.runs() if r.run_id not in done]
    if ctx.stopping is not None and _stop_here(ctx, todo, progress):
        return
    if not todo:
        progress.note("every planned run is already recorded; nothing to do")
        return
    with Interrupts() as interrupts, progress:
        if ctx.protocol.warmup_s > 0:
            progress.set("warm-up", f"every core busy for {ctx.protocol.warmup_s:g} s")
            warm_up(ctx.protocol.warmup_s)
        first_gap = _gap_before_first_run(ctx)
        if first_gap is not None:
            # Every run, the first included, follows an idle gap: the same thermal history
            # for all, and a baseline (hence net energy) from the first run on.
            progress.set("idle gap", f"{ctx.protocol.idle_s:g} s before the first run")
            still_alone(ctx.runtime, ctx.lock)
            measure_idle(ctx.meters, ctx.folder.idle_dir(first_gap), ctx.protocol.idle_s)
        for n, run in enumerate(todo):
            if n and ctx.stopping is not None and _stop_here(ctx, todo[n:], progress):
                return
            still_alone(ctx.runtime, ctx.lock)
            record = measure_run(ctx, run, interrupts, progress)
            progress.run_finished(record)
            if record.status != "ok":
                failures += 1
                progress.note(f"run {run.run_id} {record.status}: {record.error}")
                if failures >= ctx.protocol.max_failures:
                    raise CampaignStopped(
                        f"stopped after {failures} failed runs (--max-failures "
                        f"{ctx.protocol.max_failures}); see runs/*/stdout.log, fix the cause, "
                        f"then resume with --resume {ctx.folder.root}"
                    )
            if ctx.protocol.idle_s > 0:
                progress.set("idle gap", f"{ctx.protocol.idle_s:g} s after {run.run_id}")
                still_alone(ctx.runtime, ctx.lock)
                measure_idle(ctx.meters, ctx.folder.idle_dir(run.run_id), ctx.protocol.idle_s)
                # Now the gap after the run exists: its baseline brackets it.
                with interrupts.deferred():
                    ctx.folder.write_run(with_gaps(record, read_gaps(ctx.folder)))
            interrupts.check()
        if ctx.stopping is not None:
            _stop_here(ctx, [], progress)


def _stop_here(ctx: Context, todo: list[PlannedRun], progress: CampaignProgress) -> bool:
    """With a stopping rule, at an iteration boundary (the next run opens an iteration, or
    none is left): has the campaign ended? Records the decision in campaign.json once."""
    from orchestrator.campaign import stopping  # reads the analysis: only when adaptive

    assert ctx.stopping is not None
    _, doc = CampaignFolder.open(ctx.folder.root)
    if stopping.stopped(doc.stopping):
        progress.note("the campaign already stopped under its rule; nothing to do")
        return True
    if todo and todo[0].position != 1:
        return False
    completed = todo[0].iteration - 1 if todo else ctx.plan.iterations
    if completed < ctx.stopping.min_iterations and todo:
        return False
    ratios = stopping.assess(ctx.folder, list(ctx.plan.frameworks), ctx.stopping.confidence)
    floor = stopping.claim_floor(ratios)
    if completed < floor and todo:
        progress.note(
            f"after iteration {completed}: fewer than the {floor} iterations any claim over "
            f"{len(ratios)} primary ratio(s) needs; not checking the precision yet"
        )
        return False
    if stopping.precise_enough(ctx.stopping, ratios):
        reason = "precision"
    elif not todo:
        reason = "maximum"
    else:
        w = stopping.least_precise(ratios)
        if w is not None:
            progress.note(
                f"after iteration {completed}: {w.metric} {w.framework_b}/{w.framework_a} "
                f"within +-{w.precision:.1%}, not yet +-{ctx.stopping.precision:.1%}"
            )
        return False
    block = stopping.record_stop(ctx.folder, completed, reason, ratios)
    progress.note(stopping.describe(block))
    return True
