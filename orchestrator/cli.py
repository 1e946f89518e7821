"""The typer command line. It only parses options and calls one function per command;
user errors become one line on stderr and exit code 2."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Annotated, NoReturn

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
)
data_app = typer.Typer(help="Prepare datasets.", no_args_is_help=True)
app.add_typer(data_app, name="data")

err = Console(stderr=True)


def _fail(message: str, code: int) -> NoReturn:
    err.print(f"[bold red]error:[/] {escape(message)}", highlight=False, soft_wrap=True)
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
    from orchestrator.measure import measure as run_measure
    from orchestrator.measure import render

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
) -> None:
    """Statistics, figures and a report (summary.csv, stats.csv, report.md, report.html)."""
    from analysis.analyze import analyze
    from analysis.errors import AnalysisInputError

    report_out = out
    if energibridge_csvs is not None and campaign is not None:
        raise UserError("give either a campaign folder or --energibridge-csvs, not both")
    if energibridge_csvs is not None:
        # lives in its own module (merged separately); imported here so the CLI loads without it
        from orchestrator.import_energibridge import import_energibridge_folder

        target = out or energibridge_csvs.parent / f"{energibridge_csvs.name}-campaign"
        campaign, report_out = import_energibridge_folder(energibridge_csvs, target), None
    if campaign is None:
        raise UserError("give a campaign folder, or --energibridge-csvs DIR to import one")
    try:
        report = analyze(campaign, report_out, seed=seed, console=err)
    except AnalysisInputError as exc:
        raise UserError(str(exc)) from exc
    err.print(f"report written to {report}", highlight=False, soft_wrap=True)
