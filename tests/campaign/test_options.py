"""The options table is the one declaration of the campaign's and run's options, and the
orchestrator's workload defaults are the workload's own."""

from __future__ import annotations

import re
from dataclasses import fields
from pathlib import Path

import pytest
from workload.cli import build_parser

from orchestrator.campaign.options import OPTIONS, for_command
from orchestrator.campaign.plan import DEFAULTS, PlanError, WorkloadSettings, settings_from_options
from tests.campaign.helpers import cli


@pytest.mark.parametrize("command", ["campaign", "run"])
def test_every_option_of_the_table_is_offered_with_its_default(
    command: str, tmp_path: Path
) -> None:
    r = cli([command, "--help"], tmp_path)
    assert r.returncode == 0, r.stderr
    text = " ".join(r.stdout.split())  # help wraps lines
    offered = set(re.findall(r"^ +(--[a-z-]+)", r.stdout, re.M)) - {"--help"}  # flags too
    assert offered == {o.flag for o in for_command(command)}
    for o in for_command(command):
        default = DEFAULTS.get(o.key)
        if o.default_text is None and default is not None:
            shown = f"{default:g}" if isinstance(default, float) else str(default)
            assert f"[{shown}]" in text.split(o.flag, 1)[1], o.flag


def test_bounds_come_from_the_table() -> None:
    for o in OPTIONS:
        if o.minimum is None:
            continue
        below = o.minimum - 1 if o.type is int else o.minimum - 0.5
        with pytest.raises(PlanError, match=re.escape(o.flag)):
            settings_from_options({o.key: below}, None)


def test_workload_defaults_are_the_workloads_own() -> None:
    """Parse the orchestrator's workload arguments with the workload's own parser: every
    setting arrives as the orchestrator meant it, and the defaults agree."""
    parser = build_parser()
    ours = WorkloadSettings()
    parsed = vars(parser.parse_args(["train", "--data", "d", "--out", "o", *ours.args()]))
    defaults = vars(parser.parse_args(["train", "--data", "d", "--out", "o"]))
    assert parsed["command"] == ours.task  # the task is the sub-command
    for f in fields(WorkloadSettings):
        if f.name == "task":
            continue
        assert parsed[f.name] == getattr(ours, f.name), f.name
        if f.name != "threads":  # the workload's default is every allowed CPU
            assert defaults[f.name] == f.default, f.name


def test_inference_arguments_are_the_workloads_own() -> None:
    """`--task infer` passes what `python -m workload infer` takes, and nothing of training
    (its parser refuses an unknown flag)."""
    ours = WorkloadSettings(task="infer", limit_test=32, batch_size=8)
    parsed = vars(build_parser().parse_args(["infer", "--data", "d", "--out", "o", *ours.args()]))
    assert parsed["command"] == "infer"
    for key in ("model", "batch_size", "seed", "threads", "device", "init", "precision",
                "limit_test"):  # fmt: skip
        assert parsed[key] == getattr(ours, key), key


def test_the_run_command_needs_a_framework(tmp_path: Path) -> None:
    r = cli(["run"], tmp_path)
    assert r.returncode == 2 and "--framework" in r.stderr
    assert len(r.stderr.strip().splitlines()) == 1


def test_help_of_every_command_renders(tmp_path: Path) -> None:
    """Help texts hold literal brackets like [/sys/class/powercap]: never parsed as markup."""
    for command in (["campaign"], ["run"], ["doctor"], ["measure"], ["analyze"], ["build"],
                    ["data", "prepare"], ["data"], []):  # fmt: skip
        r = cli([*command, "--help"], tmp_path)
        assert r.returncode == 0, (command, r.stderr)
        assert "Usage" in r.stdout
