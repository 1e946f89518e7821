"""Entry points behind `orchestrator campaign` and `orchestrator run`: check everything,
write the plan, then hand over to the protocol. Nothing is written before every input has
been checked, so bad input never leaves a folder that looks like a result."""

from __future__ import annotations

import secrets
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass, replace
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.markup import escape

from orchestrator.campaign.alone import measure_alone, measuring
from orchestrator.campaign.dataset import resolve_dataset
from orchestrator.campaign.folder import CampaignFolder
from orchestrator.campaign.idle import read_idle_records
from orchestrator.campaign.interrupts import Interrupted
from orchestrator.campaign.plan import (
    CampaignSettings,
    Plan,
    ProtocolSettings,
    check_against_dataset,
    check_dataset_name,
    check_resume_options,
    resolve_options,
    settings_from_options,
)
from orchestrator.campaign.progress import CampaignProgress
from orchestrator.campaign.protocol import CampaignStopped, Context, execute
from orchestrator.campaign.records import CampaignDocument, RecordError
from orchestrator.campaign.state import finished_runs, repair_state
from orchestrator.campaign.stopping import rule_from_json, rule_json
from orchestrator.campaign.validate import recorded_settings
from orchestrator.data import read_prepared
from orchestrator.errors import (
    DataError,
    MeterError,
    RuntimeUnavailableError,
    UserError,
    check_writable_folder,
)
from orchestrator.machine import gpu, provenance
from orchestrator.meters.base import Meter
from orchestrator.meters.registry import open_meters
from orchestrator.meters.uncertainty import plan_warnings
from orchestrator.runtimes.base import Runtime
from orchestrator.runtimes.select import select_runtime


@dataclass(frozen=True)
class MeterPaths:
    """Where this machine's meters read from: not part of the plan (a resume on the same
    machine may name them again)."""

    powercap_root: Path | None = None
    energibridge: Path | None = None


@dataclass(frozen=True)
class Inputs:
    """What a campaign reads from this machine, named at the edge (the CLI) and not part of
    the plan: the dataset, where campaign folders go, where the meters read."""

    data: Path | None = None
    dataset: str | None = None
    source: Path | None = None
    results: Path = Path("results")
    meter_paths: MeterPaths = MeterPaths()


def _open_meters(
    spec: str, protocol: ProtocolSettings, device: str, paths: MeterPaths
) -> list[Meter]:
    return open_meters(
        spec,
        protocol.interval_ms,
        powercap_root=paths.powercap_root,
        energibridge=paths.energibridge,
        device=device,
        gpu=protocol.gpu if device == "gpu" else None,
    )


def _protocol_json(
    settings: CampaignSettings, runtime: Runtime, meters: list[Meter]
) -> dict[str, Any]:
    p = asdict(settings.protocol)
    p["runtime_requested"] = p["runtime"]
    p["runtime"] = runtime.kind
    p["meters"] = [m.name for m in meters]
    # What each meter could read when the campaign began: resume insists on the same.
    p["domains"] = {m.name: m.domains() for m in meters}
    return p


def _resume_meters(
    proto: dict[str, Any], protocol: ProtocolSettings, device: str, paths: MeterPaths
) -> list[Meter]:
    """The meters the campaign resolved when it began (never `auto` again: after a reboot
    undoes a chmod, auto would quietly drop RAPL), each still reading every domain it
    recorded; MeterError with one line otherwise."""
    names = list(proto["meters"])
    try:
        meters = _open_meters(",".join(names), protocol, device, paths)
    except MeterError as exc:
        raise MeterError(
            f"cannot resume with the recorded meters {', '.join(names)}: {exc}"
        ) from exc
    recorded = proto.get("domains") or {}
    for meter in meters:
        lost = sorted(set(recorded.get(meter.name, [])) - set(meter.domains()))
        if lost:
            raise MeterError(
                f"cannot resume: the {meter.name} meter no longer reads {', '.join(lost)}, "
                "which the campaign's runs measured (after a reboot, restore read access as "
                "docs/meters.md says), or start a new campaign"
            )
    return meters


def new_campaign(
    options: dict[str, Any],
    profile: str | None,
    inputs: Inputs,
    *,
    console: Console,
    on_folder: Callable[[Path], None] | None = None,
    campaign_id: str | None = None,
    study: dict[str, Any] | None = None,
    reap: bool = False,
) -> Path:
    """Check, plan, write campaign.json, run. Returns the campaign folder; `on_folder` hears
    of it as soon as it exists (for the resume hint when the campaign is interrupted). A
    study names its cells' folders (`campaign_id`) and records the cell in `study`."""
    settings = settings_from_options(options, profile)
    gpu_campaign = settings.workload.device == "gpu"
    if gpu_campaign:  # before anything slow: a machine without a driver says so at once
        gpu.check_driver(settings.protocol.gpu)
    data, dataset, source, results = inputs.data, inputs.dataset, inputs.source, inputs.results
    check_writable_folder(results, "--results")
    if data is None and dataset is None:
        dataset = resolve_options(options, profile)["dataset"]
    if dataset is not None:  # before it is prepared (into the cache): nothing made for nothing
        check_dataset_name(settings.workload, dataset)
    prepared = resolve_dataset(data, dataset, source, seed=settings.workload.seed)
    check_against_dataset(
        settings.workload, prepared.train_count, prepared.test_count, prepared.name
    )
    meters = _open_meters(
        settings.protocol.meter, settings.protocol, settings.workload.device, inputs.meter_paths
    )
    for warning in plan_warnings([m.name for m in meters], settings.protocol.interval_ms,
                                 settings.protocol.idle_s):  # fmt: skip
        console.print(f"warning: {warning}", highlight=False, soft_wrap=True, markup=False)
    frameworks = list(settings.plan.frameworks)
    runtime, why = select_runtime(settings.protocol.runtime, frameworks, settings.workload.device)
    console.print(why, highlight=False, soft_wrap=True, markup=False)
    if gpu_campaign:
        gpu.check_frameworks(runtime, frameworks, settings.protocol.gpu)
    software = runtime.software(frameworks, settings.workload.device)
    campaign_id = campaign_id or CampaignFolder.new_id(results, prepared.name)
    rule = settings.stopping
    campaign = CampaignDocument(
        campaign_id=campaign_id,
        created_at=time.time(),
        profile=settings.profile,
        frameworks=frameworks,
        iterations=settings.plan.iterations,
        seed=settings.plan.seed,
        order=[list(row) for row in settings.plan.order],
        protocol=_protocol_json(settings, runtime, meters),
        workload=asdict(settings.workload),
        dataset={
            "name": prepared.name,
            "path": str(Path(prepared.path).resolve()),
            "sha256": prepared.sha256,
            "train_count": prepared.train_count,
            "test_count": prepared.test_count,
        },
        provenance=provenance.collect(software, runtime.kind, settings.workload.device),
        stopping=None if rule is None else rule_json(rule, settings.plan.iterations),
        study=study,
        instance=secrets.token_hex(8),  # the folder's name may repeat, this does not
    )
    with measuring(str(results / campaign_id)) as lock:
        measure_alone(runtime, None, reap, console)
        folder = CampaignFolder.create(results, campaign_id, campaign)
        console.print(f"campaign folder: {folder.root}", highlight=False, soft_wrap=True,
                      markup=False)  # fmt: skip
        if on_folder is not None:
            on_folder(folder.root)
        ctx = Context(folder, campaign_id, settings.plan, settings.workload, settings.protocol,
                      Path(prepared.path), runtime, meters, rule,
                      key=campaign.container_key(), lock=lock)  # fmt: skip
        _run(ctx, console)
    return folder.root


def resume_campaign(
    root: Path, meter_paths: MeterPaths, console: Console, reap: bool = False
) -> Path:
    """Continue the recorded plan: finished runs stay, aborted and missing ones are redone."""
    folder, campaign = CampaignFolder.open(root)
    if campaign.workload is None or campaign.dataset is None or campaign.seed is None:
        raise DataError(
            f"{root} was imported, not measured here: there is nothing to resume; analyse it "
            "with `orchestrator analyze`"
        )
    folder.lock()
    repaired = repair_state(folder.state_jsonl)
    if repaired:
        console.print(f"note: {repaired}", highlight=False, soft_wrap=True, markup=False)
    read_idle_records(folder)  # every idle.json checked now, not at the first run
    plan = Plan(
        tuple(campaign.frameworks),
        campaign.iterations,
        campaign.seed,
        tuple(tuple(row) for row in campaign.order),
    )
    workload, protocol = recorded_settings(
        campaign.workload, campaign.protocol, str(folder.campaign_json)
    )
    proto = campaign.protocol
    prepared = read_prepared(Path(campaign.dataset["path"]))
    if prepared.sha256 != campaign.dataset["sha256"]:
        raise DataError(
            f"the dataset at {prepared.path} changed since the campaign began "
            f"(sha256 {prepared.sha256[:12]} != {campaign.dataset['sha256'][:12]}); "
            "restore it or start a new campaign"
        )
    meters_opened = proto.get("meters")
    if not isinstance(meters_opened, list) or not all(isinstance(m, str) for m in meters_opened):
        raise RecordError(f"{folder.campaign_json}: protocol.meters is not a list of names")
    meters = _resume_meters(proto, protocol, workload.device, meter_paths)
    runtime, _ = select_runtime(protocol.runtime, list(plan.frameworks), workload.device)
    recorded = campaign.provenance.get("images") or {}
    now = runtime.software(list(plan.frameworks), workload.device)
    changed = [f for f, image_id in recorded.items() if now.get(f, {}).get("image_id") != image_id]
    if changed:
        raise RuntimeUnavailableError(
            f"the {', '.join(changed)} image changed since the campaign began; a campaign "
            "must use one image per framework: rebuild the recorded one or start a new campaign"
        )
    with measuring(str(folder.root)) as lock:
        measure_alone(runtime, campaign.container_key(), reap, console)
        console.print(
            f"resuming {folder.root} (runtime: {runtime.kind})",
            highlight=False,
            soft_wrap=True,
            markup=False,
        )
        ctx = Context(folder, campaign.campaign_id, plan, workload, protocol,
                      Path(prepared.path), runtime, meters, rule_from_json(campaign.stopping),
                      key=campaign.container_key(), lock=lock)  # fmt: skip
        _run(ctx, console)
    return folder.root


def _run(ctx: Context, console: Console) -> None:
    done = len(finished_runs(ctx.folder.state_jsonl))
    progress = CampaignProgress(console, len(ctx.plan.runs()), done, ctx.protocol.idle_s)
    try:
        execute(ctx, progress)
    finally:
        ctx.folder.unlock()


@contextmanager
def ends_like_a_campaign(
    console: Console, folder: list[Path], resume_command: Callable[[str], str]
) -> Iterator[None]:
    """How a campaign (or a study of campaigns) ends: an interruption exits 128+signal with
    the command that resumes it (`orchestrator <resume_command(folder)>`), a full disk or
    another refusal of the machine once the folder exists is one line with that command,
    --max-failures exits 1. `folder` holds the folder once it exists."""
    try:
        yield
    except Interrupted as exc:
        console.print(
            f"{exc}; the run in progress is recorded as aborted. Resume with: "
            f"orchestrator {resume_command(str(folder[0]) if folder else 'DIR')}",
            highlight=False,
            soft_wrap=True,
            markup=False,
        )
        sys.exit(exc.exit_code)
    except OSError as exc:
        if not folder:
            raise
        # A full disk mid-campaign: the run without a state line is redone on resume.
        raise UserError(
            f"{exc.strerror or exc}{f': {exc.filename}' if exc.filename else ''}; free space "
            f"or fix the path, then: orchestrator {resume_command(str(folder[0]))}"
        ) from exc
    except CampaignStopped as exc:
        console.print(
            f"[bold red]stopped:[/] {escape(str(exc))}", highlight=False, soft_wrap=True,
            markup=True,
        )  # fmt: skip
        sys.exit(1)


@contextmanager
def _folders_let_go() -> Iterator[None]:
    """The campaign folder's lock ends with the command, however it ends."""
    try:
        yield
    finally:
        CampaignFolder.unlock_all()


def campaign_command(
    options: dict[str, Any],
    profile: str | None,
    inputs: Inputs,
    *,
    resume: Path | None,
    console: Console,
    single_run: bool = False,
    reap: bool = False,
) -> None:
    """`orchestrator campaign` and `run`: a new or resumed campaign, and how it ended. An
    interruption exits 128+signal with the resume command; --max-failures exits 1, and so
    does a single run (`orchestrator run`) that did not end ok, and a campaign in which no
    run ended ok."""
    folder: list[Path] = []
    # Every path the user gave is made absolute here, once: the workload runs in another
    # working directory (the run folder, or a container), where a relative one means
    # something else.
    inputs = replace(
        inputs,
        data=inputs.data and inputs.data.absolute(),
        source=inputs.source and inputs.source.absolute(),
        results=inputs.results.absolute(),
    )
    resume = resume and resume.absolute()
    with (
        ends_like_a_campaign(console, folder, lambda target: f"campaign --resume {target}"),
        _folders_let_go(),
    ):
        if resume is not None:
            extra = {"profile": profile, "data": inputs.data, "dataset": inputs.dataset,
                     "source": inputs.source}  # fmt: skip
            check_resume_options({**options, **extra})
            folder.append(resume)
            resume_campaign(resume, inputs.meter_paths, console, reap=reap)
        else:
            new_campaign(
                options, profile, inputs, console=console, on_folder=folder.append, reap=reap
            )
    if folder:
        states = list(finished_runs(CampaignFolder(folder[0]).state_jsonl).values())
        if single_run and any(s.status != "ok" for s in states):
            sys.exit(1)  # the protocol has already said why, in one line
        if states and not any(s.status == "ok" for s in states):
            console.print(
                f"no run ended ok in {folder[0]}: see runs/*/stdout.log, fix the cause, "
                "then start again (or --resume to keep the failed runs)",
                highlight=False, soft_wrap=True, markup=False,
            )  # fmt: skip
            sys.exit(1)
    console.print(
        f"done: {folder[0] if folder else ''}", highlight=False, soft_wrap=True, markup=False
    )
