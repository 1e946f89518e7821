"""The edge of `orchestrator data prepare`: option checks that only make sense on the
command line, and its output (one JSON object on stdout, or a short summary on stderr)."""

from __future__ import annotations

import json
import sys
from pathlib import Path

from rich.console import Console
from rich.markup import escape

from orchestrator.data.prepare import prepare_dataset
from orchestrator.data.registry import IMAGE, SYNTHETIC, spec
from orchestrator.errors import DataError


def prepare_command(
    dataset: str,
    out: Path,
    source: Path | None,
    *,
    mirror: str | None,
    cache_dir: Path | None,
    seed: int | None,
    train_count: int | None,
    test_count: int | None,
    force: bool,
    json_output: bool,
) -> None:
    if seed is not None and spec(dataset).obtained != SYNTHETIC:
        raise DataError(f"--seed is for synthetic data; {dataset} is fixed, drop --seed")
    prepared = prepare_dataset(
        dataset,
        out,
        source,
        cache_dir=cache_dir,
        mirror=mirror,
        seed=0 if seed is None else seed,
        progress=True,
        force=force,
        train_count=train_count,
        test_count=test_count,
    )
    if json_output:
        sys.stdout.write(json.dumps(prepared.to_json()) + "\n")
        return
    what = "images" if spec(dataset).input == IMAGE else "texts"
    err = Console(stderr=True)
    err.print(
        f"[bold green]prepared[/] {escape(prepared.name)}: {prepared.train_count} train, "
        f"{prepared.test_count} test {what} -> {escape(str(prepared.path))}",
        highlight=False,
        markup=True,
    )
    err.print(f"sha256 {prepared.sha256}", highlight=False, markup=False)
