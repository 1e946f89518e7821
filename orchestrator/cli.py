"""The typer command line. It only parses options and calls one function per command;
user errors become one line on stderr and exit code 2."""

from __future__ import annotations

import inspect
import json
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Annotated, Any, NoReturn

import typer
from rich.console import Console
from rich.markup import escape

# Typer (0.29) vendors click; its usage errors are only reachable from here.
from typer._click.exceptions import UsageError

from orchestrator.errors import UserError
from orchestrator.meters.registry import METER_NAMES
from orchestrator.runtimes.variants import FRAMEWORKS, REGISTRY

app = typer.Typer(
    help="Measure the energy of ML frameworks doing identical work.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    # Help texts hold literal brackets ("[/sys/class/powercap]"): never read them as markup.
    rich_markup_mode=None,
)
data_app = typer.Typer(help="Prepare datasets.", no_args_is_help=True, rich_markup_mode=None)
app.add_typer(data_app, name="data")
study_app = typer.Typer(
    help="Studies: a matrix of campaigns from one TOML file (docs/studies.md).",
    no_args_is_help=True,
    rich_markup_mode=None,
)
app.add_typer(study_app, name="study")

# Data (paths, names, a workload's output) is never markup: a call that styles its own
# constant text says markup=True and escapes whatever data it embeds.
err = Console(stderr=True, markup=False)


def _fail(message: str, code: int) -> NoReturn:
    err.print(
        f"[bold red]error:[/] {escape(message)}", highlight=False, soft_wrap=True, markup=True
    )
    sys.exit(code)


def main(argv: list[str] | None = None, prog_name: str | None = None) -> None:
    # standalone_mode=False lets usage errors reach us, so that they too are one line.
    try:
        code = app(args=argv, prog_name=prog_name, standalone_mode=False)
    except UsageError as exc:
        if not exc.format_message():  # no arguments: the help was shown
            sys.exit(2)
        hint = f" (see `{exc.ctx.command_path} --help`)" if exc.ctx else ""
        _fail(exc.format_message() + hint, 2)
    except UserError as exc:
        _fail(str(exc), 2)
    except UnicodeDecodeError as exc:
        _fail(f"a file meant to be text is not UTF-8 ({exc.reason} at byte {exc.start}); "
              "restore it from the original", 2)  # fmt: skip
    except OSError as exc:
        # The machine refused: a full disk, a permission, a path that cannot be a folder.
        # The user can act on it; a traceback would not tell them more.
        where = f": {exc.filename}" if exc.filename else ""
        _fail(f"{exc.strerror or exc}{where}; free space or fix the path, then run again", 2)
    except (KeyboardInterrupt, typer.Abort):
        _fail("interrupted", 130)
    sys.exit(code if isinstance(code, int) else 0)


def _opt(help_text: str) -> Any:
    return typer.Option(help=help_text, show_default=False)


@data_app.command("prepare")
def data_prepare(
    *,
    out: Annotated[
        Path, typer.Option("--out", help="Folder to write dataset.npz and dataset.json into.")
    ],
    dataset: Annotated[
        str,
        typer.Option(
            "--dataset",
            help="mnist, fashion-mnist, synthetic, cifar10, synthetic-cifar10, ag-news or "
            "synthetic-text (docs/data.md).",
        ),
    ] = "mnist",
    source: Annotated[
        Path | None,
        _opt("Folder with the dataset's published files (docs/data.md); else download."),
    ] = None,
    mirror: Annotated[
        str | None, _opt("Base URL to download from instead of the dataset's site.")
    ] = None,
    cache_dir: Annotated[
        Path | None,
        _opt("Download cache (default $FWENERGY_CACHE/datasets or ~/.cache/fwenergy/datasets)."),
    ] = None,
    seed: Annotated[int | None, _opt("Seed of the synthetic data (default 0).")] = None,
    train_count: Annotated[
        int | None, _opt("Synthetic training examples (default: the real dataset's count).")
    ] = None,
    test_count: Annotated[
        int | None, _opt("Synthetic test examples (default: the real dataset's count).")
    ] = None,
    force: Annotated[
        bool, typer.Option("--force", help="Replace a different dataset already in --out.")
    ] = False,
    json_output: Annotated[
        bool, typer.Option("--json", help="Print the result as one JSON object on stdout.")
    ] = False,
) -> None:
    """Prepare one dataset file that every framework reads."""
    from orchestrator.data.command import prepare_command

    prepare_command(
        dataset,
        out,
        source,
        mirror=mirror,
        cache_dir=cache_dir,
        seed=seed,
        train_count=train_count,
        test_count=test_count,
        force=force,
        json_output=json_output,
    )


@app.command(
    context_settings={"allow_interspersed_args": False},
    help="Measure the energy of any command: orchestrator measure [OPTIONS] -- COMMAND...",
)
def measure(
    command: Annotated[list[str], typer.Argument(help="the command to run, after --; no shell")],
    *,
    meter: Annotated[str, typer.Option(help=f"{', '.join(METER_NAMES)}, or a comma list")] = "auto",
    interval_ms: Annotated[int, typer.Option(help="sampling interval in milliseconds")] = 100,
    output: Annotated[
        Path | None, typer.Option(help="folder to keep the raw and power CSVs in")
    ] = None,
    powercap_root: Annotated[
        Path | None, typer.Option(help="powercap sysfs root (default /sys/class/powercap)")
    ] = None,
    energibridge: Annotated[
        Path | None, typer.Option(help="path of the energibridge binary (default: on PATH)")
    ] = None,
    json_out: Annotated[
        bool, typer.Option("--json", help="print one JSON object on stdout, nothing else there")
    ] = False,
) -> None:
    from orchestrator.meters.measure import measure as run_measure
    from orchestrator.meters.measure import render

    result = run_measure(
        command,
        meter,
        interval_ms,
        output=output,
        powercap_root=powercap_root,
        energibridge=energibridge,
    )
    render(result, err)
    if json_out:
        print(json.dumps(result.to_json()))
    raise typer.Exit(result.exit_code)


@app.command("analyze")
def analyze_command(
    campaign: Annotated[
        Path | None,
        typer.Argument(help="campaign folder (results/<campaign-id>/) or study folder"),
    ] = None,
    out: Annotated[
        Path | None,
        typer.Option(
            help="report folder (default DIR/report); with --energibridge-csvs, the campaign "
            "folder the import writes (default: <csvs>-campaign next to it)"
        ),
    ] = None,
    energibridge_csvs: Annotated[
        Path | None,
        typer.Option(
            help="a folder of EnergiBridge CSVs (one sub-folder per framework) to "
            "import as a campaign and analyse"
        ),
    ] = None,
    client_cpu: Annotated[
        bool,
        typer.Option(
            help="with --energibridge-csvs: the study ran on a client CPU, whose DRAM counter "
            "EnergiBridge scales right, so DRAM joins the energy total"
        ),
    ] = False,
    seed: Annotated[int, typer.Option(help="bootstrap seed")] = 0,
    reference: Annotated[
        str | None,
        typer.Option(help="the framework the others are compared with (default: the first)"),
    ] = None,
    min_effect: Annotated[
        float, typer.Option(help="smallest relevant change of energy or time, in percent")
    ] = 5.0,
    accuracy_margin: Annotated[
        float, typer.Option(help="accuracy equivalence margin, in percentage points")
    ] = 0.5,
    latest: Annotated[
        Path | None,
        typer.Option(help="analyse the newest campaign folder in this folder (make report)"),
    ] = None,
    figures: Annotated[
        bool,
        typer.Option(help="draw the figures (--no-figures: the numbers and text, 5x faster)"),
    ] = True,
) -> None:
    """Statistics, figures and a report (summary.csv, stats.csv, report.md, report.html)."""
    from analysis.analyze import analyze
    from analysis.errors import AnalysisInputError

    report_out = out
    if latest is not None:
        from orchestrator.campaign.folder import newest_campaign

        if campaign is not None or energibridge_csvs is not None:
            raise UserError("--latest picks the campaign folder: give no other")
        campaign = newest_campaign(latest)
    if energibridge_csvs is not None and campaign is not None:
        raise UserError("give either a campaign folder or --energibridge-csvs, not both")
    if energibridge_csvs is not None:
        # lives in its own module (merged separately); imported here so the CLI loads without it
        from orchestrator.meters.import_energibridge import import_energibridge_folder

        target = out or energibridge_csvs.parent / f"{energibridge_csvs.name}-campaign"
        imported = import_energibridge_folder(energibridge_csvs, target, client_cpu=client_cpu)
        campaign, report_out = imported, None
    if campaign is None:
        raise UserError("give a campaign folder, or --energibridge-csvs DIR to import one")
    from analysis.study_report import analyze_study  # every cell, then across cells

    try:
        # a study folder: every cell's report, then the study report across cells
        run = analyze_study if (campaign / "study.json").exists() else analyze
        report = run(
            campaign,
            report_out,
            seed=seed,
            console=err,
            reference=reference,
            min_effect=min_effect / 100,
            accuracy_margin=accuracy_margin / 100,
            figures=figures,
        )
    except AnalysisInputError as exc:
        raise UserError(str(exc)) from exc
    err.print(f"report written to {report}", highlight=False, soft_wrap=True, markup=False)


# --- campaign, run, build, doctor (orchestrator/campaign, orchestrator/runtimes) -----------


def _table_command(name: str, doc: str, handler: Callable[[dict[str, Any]], None]) -> None:
    """Register `name` with the options of campaign/options.py that it takes: the table is
    the one declaration of flag, type, help and default; typer reads the signature."""
    from orchestrator.campaign.options import for_command
    from orchestrator.campaign.plan import DEFAULTS

    params, annotations = [], {}
    for o in for_command(name):
        kind = o.type if o.required else o.type | None
        option = typer.Option(o.flag, help=o.help_text(DEFAULTS), show_default=False)
        annotation = Annotated[kind, option]  # type: ignore[valid-type]
        default = inspect.Parameter.empty if o.required else None
        params.append(inspect.Parameter(o.key, inspect.Parameter.KEYWORD_ONLY,
                                        default=default, annotation=annotation))  # fmt: skip
        annotations[o.key] = annotation

    def command(**given: Any) -> None:
        handler(given)

    command.__signature__ = inspect.Signature(params)  # type: ignore[attr-defined]
    command.__annotations__ = annotations
    command.__doc__ = doc
    app.command(name)(command)


def _launch(given: dict[str, Any], *, single_run: bool = False) -> None:
    from orchestrator.campaign.launch import Inputs, MeterPaths, campaign_command
    from orchestrator.campaign.options import BY_KEY

    settings = {k: v for k, v in given.items() if BY_KEY[k].setting}
    inputs = Inputs(
        given["data"], given["dataset"], given["source"], given["results"] or Path("results"),
        MeterPaths(given["powercap_root"], given["energibridge"]),
    )  # fmt: skip
    campaign_command(settings, given.get("profile"), inputs, resume=given.get("resume"),
                     console=err, single_run=single_run, reap=bool(given.get("reap")))  # fmt: skip


def _run_once(given: dict[str, Any]) -> None:
    # One run: a one-run campaign folder, no warm-up, no idle gap.
    fixed = {"iterations": 1, "frameworks": given["framework"], "warmup_s": 0.0, "idle_s": 0.0}
    _launch(given | fixed, single_run=True)


_table_command(
    "campaign",
    "Measure every framework, many times, in a shuffled order, with warm-up and idle gaps.",
    _launch,
)
_table_command(
    "run",
    "One measured run of one framework: a one-run campaign folder, no warm-up, no idle.",
    _run_once,
)


_SIF_HELP = "then convert each into a .sif for --runtime apptainer ($FWENERGY_SIFS, else .sif/)"
_FROM_ARCHIVE_HELP = "with --sif: convert this `docker save` archive of the one --framework"


@app.command()
def build(
    *,
    framework: Annotated[list[str] | None, _opt("framework to build (repeat) [all]")] = None,
    device: Annotated[str, typer.Option(help="cpu, or gpu for the CUDA variants")] = "cpu",
    network: Annotated[str, typer.Option(help="build network: auto, host, default, ...")] = "auto",
    base_image: Annotated[str | None, _opt("[python:3.11-slim-bookworm]")] = None,
    torch_index_url: Annotated[str | None, _opt("index for torch's CPU wheel; '' for none")] = None,
    wheelhouse: Annotated[Path | None, _opt("wheels to offer the torch build")] = None,
    sif: Annotated[bool, typer.Option(help=_SIF_HELP)] = False,
    from_archive: Annotated[Path | None, _opt(_FROM_ARCHIVE_HELP)] = None,
) -> None:
    """Build the framework images (what `make build` runs)."""
    from orchestrator.runtimes.apptainer import build_sif
    from orchestrator.runtimes.build import BuildError, build_images

    def log(line: str) -> None:
        err.print(line, soft_wrap=True, highlight=False, markup=False)

    names = framework or list(FRAMEWORKS)
    if from_archive is not None:
        if not sif or len(names) != 1:
            raise BuildError("--from-archive converts one image: give --sif and one --framework")
        build_sif(names[0], device, archive=from_archive, log=log)
        return
    built = build_images(
        names, device=device, network=network, base_image=base_image,
        torch_index_url=torch_index_url, wheelhouse=wheelhouse, log=log,
    )  # fmt: skip
    for fw in built if sif else ():
        build_sif(fw, device, log=log)


@app.command()
def doctor(
    *,
    json_out: Annotated[bool, typer.Option("--json", help="one JSON object on stdout")] = False,
    frameworks: Annotated[str, typer.Option(help=f"comma-separated, of {', '.join(REGISTRY)}")] = (
        ",".join(FRAMEWORKS)
    ),
    powercap_root: Annotated[Path | None, _opt("powercap tree for the rapl meter")] = None,
    energibridge: Annotated[Path | None, _opt("the energibridge executable [from PATH]")] = None,
    device: Annotated[str, _opt("cpu, or gpu to check the GPU a campaign would use [cpu]")] = "cpu",
    gpu: Annotated[int, _opt("the GPU (NVML index) with --device gpu [0]")] = 0,
) -> None:
    """What on this machine would spoil a measurement, and how to fix it."""
    from orchestrator.machine.doctor import report

    report(frameworks, powercap_root, energibridge, device=device, gpu=gpu, json_out=json_out,
           console=err)  # fmt: skip


# --- study (orchestrator/study) -------------------------------------------------------------

_POWERCAP = _opt("powercap tree for the rapl meter [/sys/class/powercap]")
_ENERGIBRIDGE = _opt("the energibridge executable [from PATH]")


@study_app.command("run")
def study_run(
    study_file: Annotated[Path | None, typer.Argument(help="the study file (TOML)")] = None,
    *,
    results: Annotated[Path, typer.Option(help="folder that holds study folders")] = Path(
        "results"
    ),
    resume: Annotated[Path | None, _opt("continue the study folder DIR where it stopped")] = None,
    executor: Annotated[
        str, typer.Option(help="how cells run: local (one after another) or slurm (a job each)")
    ] = "local",
    partition: Annotated[str | None, _opt("slurm: the partition [the cluster's default]")] = None,
    account: Annotated[str | None, _opt("slurm: the account to charge")] = None,
    time_limit: Annotated[
        str | None,
        typer.Option(
            "--time", help="slurm: each job's time limit, e.g. 04:00:00", show_default=False
        ),
    ] = None,
    sbatch_arg: Annotated[
        list[str] | None, _opt("slurm: one more sbatch option, e.g. --sbatch-arg=--qos=long")
    ] = None,
    wait: Annotated[bool, typer.Option(help="slurm: wait until every job has ended")] = False,
    powercap_root: Annotated[Path | None, _POWERCAP] = None,
    energibridge: Annotated[Path | None, _ENERGIBRIDGE] = None,
) -> None:
    """Run every cell of a study as one campaign, in a seeded shuffled order."""
    from orchestrator.campaign.launch import MeterPaths
    from orchestrator.study.run import study_command
    from orchestrator.study.slurm import SlurmSettings

    slurm = SlurmSettings(partition, account, time_limit, tuple(sbatch_arg or ()), wait)
    if executor != "slurm" and slurm != SlurmSettings():
        raise UserError("--partition, --account, --time, --sbatch-arg and --wait go with "
                        "--executor slurm")  # fmt: skip
    study_command(study_file, results=results, resume=resume, executor_name=executor,
                  meter_paths=MeterPaths(powercap_root, energibridge), console=err,
                  slurm=slurm)  # fmt: skip


@study_app.command("run-cell")
def study_run_cell(
    study_dir: Annotated[Path, typer.Argument(help="the study folder")],
    cell: Annotated[str, typer.Argument(help="the cell, e.g. cell-01 (study status lists them)")],
    *,
    powercap_root: Annotated[Path | None, _POWERCAP] = None,
    energibridge: Annotated[Path | None, _ENERGIBRIDGE] = None,
) -> None:
    """Run or resume one cell of a study (what an executor runs for each cell)."""
    from orchestrator.campaign.launch import MeterPaths
    from orchestrator.study.run import study_command

    paths = MeterPaths(powercap_root, energibridge)
    study_command(None, results=study_dir.parent, resume=study_dir, executor_name="local",
                  meter_paths=paths, console=err, cell=cell)  # fmt: skip


@study_app.command("cancel")
def study_cancel(study_dir: Annotated[Path, typer.Argument(help="the study folder")]) -> None:
    """Cancel the study's Slurm jobs that are still pending or running (scancel)."""
    from orchestrator.study.folder import StudyFolder
    from orchestrator.study.slurm import cancel

    folder, _, _ = StudyFolder.open(study_dir.absolute())
    cancel(folder.root, err)


@study_app.command("status")
def study_status(
    study_dir: Annotated[Path, typer.Argument(help="the study folder")],
    *,
    json_out: Annotated[bool, typer.Option("--json", help="one JSON object on stdout")] = False,
) -> None:
    """Each cell's progress: pending, running, partial or done, and its runs."""
    from orchestrator.study.run import render_status, status

    report = status(study_dir)
    render_status(report, err)
    if json_out:
        print(json.dumps(report))
