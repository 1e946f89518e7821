"""Every command's --help works, and data (a workload's output, a path) is never read as
Rich markup: issue 12, items 3 and 4."""

from __future__ import annotations

from pathlib import Path

import pytest
import typer

from orchestrator.cli import app
from orchestrator.data import PreparedDataset
from tests.campaign.conftest import failing_venvs
from tests.campaign.helpers import cli, only_campaign, state_lines


def _command_paths() -> list[list[str]]:
    """Every command and sub-command of the real CLI, walked from typer's own tree."""
    out: list[list[str]] = [[]]

    def walk(cmd: object, path: list[str]) -> None:
        for name, sub in getattr(cmd, "commands", {}).items():
            out.append([*path, name])
            walk(sub, [*path, name])

    walk(typer.main.get_command(app), [])
    return out


def test_the_walk_finds_every_command() -> None:
    names = {" ".join(p) for p in _command_paths()}
    assert {"campaign", "run", "doctor", "measure", "analyze", "build", "data prepare"} <= names


@pytest.mark.parametrize("path", _command_paths(), ids=lambda p: " ".join(p) or "top")
def test_help_of_every_command(path: list[str], tmp_path: Path) -> None:
    r = cli([*path, "--help"], tmp_path, timeout_s=60)
    assert r.returncode == 0, r.stderr
    assert "Traceback" not in r.stderr
    assert "Usage:" in r.stdout


def _one_failing_run(tmp_path: Path, data: Path, results: Path, line: str):  # type: ignore[no-untyped-def]
    venvs = failing_venvs(tmp_path / "venvs")
    (venvs / "torch" / "bin" / "python").write_text(f"#!/bin/sh\necho '{line}' >&2\nexit 1\n")
    args = ["campaign", "--runtime", "local", "--meter", "none", "--frameworks", "torch",
            "--iterations", "1", "--warmup", "0", "--idle", "0", "--data", str(data),
            "--results", str(results)]  # fmt: skip
    return cli(args, tmp_path, venvs=venvs)


def test_workload_output_with_brackets_is_printed_as_it_is(
    tiny_dataset: PreparedDataset, tmp_path: Path
) -> None:
    line = "[info] failed: see [/sys/class/powercap] and [bold]x[/bold]"
    results = tmp_path / "results"
    first = _one_failing_run(tmp_path, tiny_dataset.path, results, line)
    assert "Traceback" not in first.stderr, first.stderr
    assert line in first.stderr  # literally, brackets and all
    assert state_lines(only_campaign(results))[0]["status"] == "failed"


def test_a_results_path_with_markup_characters(
    tiny_dataset: PreparedDataset, tmp_path: Path
) -> None:
    results = tmp_path / "res[/]ults[bold]"
    r = _one_failing_run(tmp_path, tiny_dataset.path, results, "broken")
    assert "Traceback" not in r.stderr, r.stderr
    folder = only_campaign(results)
    assert f"campaign folder: {folder}" in r.stderr
