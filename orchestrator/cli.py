"""The typer command line. It only parses options and calls one function per command;
user errors become one line on stderr and exit code 2."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Annotated, Any, NoReturn

import typer
from rich.console import Console
from rich.markup import escape

# Typer (0.29) vendors click; its usage errors are only reachable from here.
from typer._click.exceptions import UsageError

from orchestrator.errors import UserError

app = typer.Typer(
    help="Measure the energy of ML frameworks doing identical work.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    # Help texts hold literal brackets ("[/sys/class/powercap]", "[35]"): never Rich markup.
    rich_markup_mode=None,
)
data_app = typer.Typer(help="Prepare datasets.", no_args_is_help=True, rich_markup_mode=None)
app.add_typer(data_app, name="data")

# Data (paths, names, a workload's output) is never markup: a call that styles its own
# constant text says markup=True and escapes whatever data it embeds.
err = Console(stderr=True, markup=False)


def _fail(message: str, code: int) -> NoReturn:
    err.print(
        f"[bold red]error:[/] {escape(message)}", highlight=False, soft_wrap=True, markup=True
    )
    sys.exit(code)


def main(argv: list[str] | None = None) -> None:
    # standalone_mode=False lets usage errors reach us, so that they too are one line.
    try:
        code = app(args=argv, standalone_mode=False)
    except UsageError as exc:
        if not exc.format_message():  # no arguments: the help was shown
            sys.exit(2)
        hint = f" (see `{exc.ctx.command_path} --help`)" if exc.ctx else ""
        _fail(exc.format_message() + hint, 2)
    except UserError as exc:
        _fail(str(exc), 2)
    except (KeyboardInterrupt, typer.Abort):
        _fail("interrupted", 130)
    sys.exit(code if isinstance(code, int) else 0)


@data_app.command("prepare")
def data_prepare(
    *,
    out: Annotated[
        Path, typer.Option("--out", help="Folder to write dataset.npz and dataset.json into.")
    ],
    dataset: Annotated[
        str, typer.Option("--dataset", help="mnist, fashion-mnist or synthetic.")
    ] = "mnist",
    source: Annotated[
        Path | None,
        typer.Option(
            "--source", help="Folder with the four IDX files (.gz or not); else download."
        ),
    ] = None,
    mirror: Annotated[
        str | None,
        typer.Option("--mirror", help="Base URL to download from instead of the dataset's site."),
    ] = None,
    cache_dir: Annotated[
        Path | None,
        typer.Option(
            "--cache-dir",
            help="Download cache (default $FWENERGY_CACHE/datasets or ~/.cache/fwenergy/datasets).",
        ),
    ] = None,
    seed: Annotated[
        int | None, typer.Option("--seed", help="Seed of the synthetic data (default 0).")
    ] = None,
    train_count: Annotated[
        int | None,
        typer.Option("--train-count", help="Synthetic training images (default 60000)."),
    ] = None,
    test_count: Annotated[
        int | None, typer.Option("--test-count", help="Synthetic test images (default 10000).")
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
    meter: Annotated[
        str, typer.Option(help="auto, energibridge, rapl, nvml, none, or a comma list")
    ] = "auto",
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
        Path | None, typer.Argument(help="campaign folder (results/<campaign-id>/)")
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
    seed: Annotated[int, typer.Option(help="bootstrap seed")] = 0,
    latest: Annotated[
        Path | None,
        typer.Option(help="analyse the newest campaign folder in this folder (make report)"),
    ] = None,
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
        campaign, report_out = import_energibridge_folder(energibridge_csvs, target), None
    if campaign is None:
        raise UserError("give a campaign folder, or --energibridge-csvs DIR to import one")
    try:
        report = analyze(campaign, report_out, seed=seed, console=err)
    except AnalysisInputError as exc:
        raise UserError(str(exc)) from exc
    err.print(f"report written to {report}", highlight=False, soft_wrap=True, markup=False)


# --- campaign, run, build, doctor (orchestrator/campaign, orchestrator/runtimes) -----------

_FW_HELP = "comma-separated: keras,torch,jax"
_RESULTS = Path("results")
_ALL_FRAMEWORKS = ["keras", "torch", "jax"]


def _opt(help_text: str) -> Any:
    return typer.Option(help=help_text, show_default=False)


Seconds = float | None
PowercapRoot = Annotated[
    Path | None, _opt("powercap tree for the rapl meter [/sys/class/powercap]")
]
EnergiBridge = Annotated[Path | None, _opt("the energibridge executable [from PATH]")]
Reap = typer.Option(
    "--reap", help="remove running containers of other campaigns instead of refusing to measure"
)


@app.command()
def campaign(
    *,
    iterations: Annotated[int | None, _opt("repetitions of every framework [35]")] = None,
    frameworks: Annotated[str | None, _opt(f"{_FW_HELP} [all three]")] = None,
    warmup: Annotated[
        Seconds, _opt("seconds of every core busy before the first run [300]")
    ] = None,
    idle: Annotated[Seconds, _opt("seconds of measured idle after every run [60]")] = None,
    runtime: Annotated[str | None, _opt("auto, docker or local [auto]")] = None,
    meter: Annotated[
        str | None, _opt("auto, none, rapl, nvml, energibridge, or a list [auto]")
    ] = None,
    interval_ms: Annotated[
        int | None, _opt("meter sampling interval in milliseconds [100]")
    ] = None,
    resume: Annotated[
        Path | None, _opt("continue the campaign folder DIR where it stopped")
    ] = None,
    profile: Annotated[str | None, _opt("paper (the reference study) or quick (minutes)")] = None,
    seed: Annotated[int | None, _opt("seeds the run order and the workload [0]")] = None,
    data: Annotated[
        Path | None, _opt("a prepared dataset folder (orchestrator data prepare)")
    ] = None,
    dataset: Annotated[
        str | None, _opt("mnist, fashion-mnist or synthetic, prepared on the fly")
    ] = None,
    source: Annotated[
        Path | None, _opt("folder with the dataset's IDX files (with --dataset)")
    ] = None,
    epochs: Annotated[int | None, _opt("passed to the workload [3]")] = None,
    batch_size: Annotated[int | None, _opt("passed to the workload [64]")] = None,
    learning_rate: Annotated[float | None, _opt("passed to the workload [0.001]")] = None,
    limit_train: Annotated[int | None, _opt("passed to the workload: the first N images")] = None,
    limit_test: Annotated[int | None, _opt("passed to the workload: the first N images")] = None,
    threads: Annotated[
        int | None, _opt("CPU threads of every framework [CPUs of --cpuset]")
    ] = None,
    device: Annotated[str | None, _opt("cpu or gpu [cpu]")] = None,
    cpuset: Annotated[str | None, _opt("CPUs for the workload, e.g. 1-7 [all but CPU 0]")] = None,
    memory_limit: Annotated[str | None, _opt("docker memory limit, e.g. 8g")] = None,
    run_timeout: Annotated[Seconds, _opt("seconds before a run is stopped [3600]")] = None,
    max_failures: Annotated[int | None, _opt("stop after this many failed runs [10]")] = None,
    results: Annotated[Path, typer.Option(help="folder that holds campaign folders")] = _RESULTS,
    powercap_root: PowercapRoot = None,
    energibridge: EnergiBridge = None,
    reap: Annotated[bool, Reap] = False,
) -> None:
    """Measure every framework, many times, in a shuffled order, with warm-up and idle gaps."""
    from orchestrator.campaign.launch import MeterPaths, campaign_command

    options = {
        "iterations": iterations, "frameworks": frameworks, "warmup_s": warmup, "idle_s": idle,
        "runtime": runtime, "meter": meter, "interval_ms": interval_ms, "seed": seed,
        "epochs": epochs, "batch_size": batch_size, "learning_rate": learning_rate,
        "limit_train": limit_train, "limit_test": limit_test, "threads": threads,
        "device": device, "cpuset": cpuset, "memory_limit": memory_limit,
        "run_timeout_s": run_timeout, "max_failures": max_failures,
    }  # fmt: skip
    campaign_command(
        options, profile, resume=resume, data=data, dataset=dataset, source=source,
        results=results, meter_paths=MeterPaths(powercap_root, energibridge), console=err,
        reap=reap,
    )  # fmt: skip


@app.command("run")
def run_once(
    *,
    framework: Annotated[str, typer.Option(help="keras, torch or jax")],
    runtime: Annotated[str, typer.Option(help="auto, docker or local")] = "auto",
    meter: Annotated[str, typer.Option(help="auto, none, rapl, nvml, energibridge")] = "auto",
    interval_ms: Annotated[int, typer.Option(help="meter sampling interval in ms")] = 100,
    data: Annotated[Path | None, _opt("a prepared dataset folder")] = None,
    dataset: Annotated[str | None, _opt("mnist, fashion-mnist or synthetic [mnist]")] = None,
    source: Annotated[Path | None, _opt("folder with the dataset's IDX files")] = None,
    epochs: Annotated[int | None, _opt("passed to the workload [3]")] = None,
    batch_size: Annotated[int | None, _opt("passed to the workload [64]")] = None,
    limit_train: Annotated[int | None, _opt("passed to the workload")] = None,
    limit_test: Annotated[int | None, _opt("passed to the workload")] = None,
    threads: Annotated[int | None, _opt("CPU threads for the framework")] = None,
    device: Annotated[str | None, _opt("cpu or gpu [cpu]")] = None,
    cpuset: Annotated[str | None, _opt("CPUs for the workload, e.g. 1-7")] = None,
    memory_limit: Annotated[str | None, _opt("docker memory limit, e.g. 8g")] = None,
    run_timeout: Annotated[Seconds, _opt("seconds before the run is stopped [3600]")] = None,
    results: Annotated[Path, typer.Option(help="folder that holds campaign folders")] = _RESULTS,
    powercap_root: PowercapRoot = None,
    energibridge: EnergiBridge = None,
    reap: Annotated[bool, Reap] = False,
) -> None:
    """One measured run of one framework: a one-run campaign folder, no warm-up, no idle."""
    from orchestrator.campaign.launch import MeterPaths, campaign_command

    options = {
        "iterations": 1, "frameworks": framework, "warmup_s": 0.0, "idle_s": 0.0,
        "runtime": runtime, "meter": meter, "interval_ms": interval_ms, "epochs": epochs,
        "batch_size": batch_size, "limit_train": limit_train, "limit_test": limit_test,
        "threads": threads, "device": device, "cpuset": cpuset, "memory_limit": memory_limit,
        "run_timeout_s": run_timeout,
    }  # fmt: skip
    campaign_command(
        options, None, resume=None, data=data, dataset=dataset, source=source,
        results=results, meter_paths=MeterPaths(powercap_root, energibridge), console=err,
        single_run=True, reap=reap,
    )  # fmt: skip


@app.command()
def build(
    *,
    framework: Annotated[list[str] | None, _opt("framework to build (repeat) [all]")] = None,
    device: Annotated[str, typer.Option(help="cpu, or gpu for the CUDA variants")] = "cpu",
    network: Annotated[str, typer.Option(help="build network: auto, host, default, ...")] = "auto",
    base_image: Annotated[str | None, _opt("[python:3.11-slim-bookworm]")] = None,
    torch_index_url: Annotated[str | None, _opt("index for torch's CPU wheel; '' for none")] = None,
    wheelhouse: Annotated[Path | None, _opt("wheels to offer the torch build")] = None,
) -> None:
    """Build the framework images (what `make build` runs)."""
    from orchestrator.runtimes.build import build_images

    build_images(
        framework or _ALL_FRAMEWORKS, device=device, network=network, base_image=base_image,
        torch_index_url=torch_index_url, wheelhouse=wheelhouse,
        log=lambda line: err.print(line, soft_wrap=True, highlight=False, markup=False),
    )  # fmt: skip


@app.command()
def doctor(
    *,
    json_out: Annotated[bool, typer.Option("--json", help="one JSON object on stdout")] = False,
    frameworks: Annotated[str, typer.Option(help=_FW_HELP)] = "keras,torch,jax",
    powercap_root: PowercapRoot = None,
    energibridge: EnergiBridge = None,
) -> None:
    """What on this machine would spoil a measurement, and how to fix it."""
    from orchestrator.machine.doctor import report

    report(frameworks, powercap_root, energibridge, json_out=json_out, console=err)
