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
