"""The typer command line. It only parses options and calls one function per command;
user errors become one line on stderr and exit code 2."""

from __future__ import annotations

import json
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
