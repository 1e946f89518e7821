"""The typer command line. It only parses options and calls one function per command;
user errors become one line on stderr and exit code 2."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console

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


def main() -> None:
    try:
        app()
    except UserError as exc:
        err.print(f"[bold red]error:[/] {exc}", highlight=False, soft_wrap=True)
        sys.exit(2)


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
