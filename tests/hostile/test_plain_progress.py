"""Without a terminal (nohup, CI, Slurm) a campaign prints one plain line per phase change
and per finished run (issue 12, first impressions)."""

from __future__ import annotations

import re
from pathlib import Path

from orchestrator.data import PreparedDataset
from tests.campaign.conftest import failing_venvs
from tests.campaign.helpers import cli


def test_plain_lines_when_stderr_is_no_terminal(
    tiny_dataset: PreparedDataset, tmp_path: Path
) -> None:
    r = cli(["campaign", "--runtime", "local", "--meter", "none", "--frameworks", "torch",
             "--iterations", "2", "--warmup", "1", "--idle", "1", "--data",
             str(tiny_dataset.path), "--results", str(tmp_path / "results")], tmp_path,
            venvs=failing_venvs(tmp_path / "venvs"))  # fmt: skip
    lines = [re.sub(r"^\d\d:\d\d:\d\d ", "", ln) for ln in r.stderr.splitlines()]
    expected = [
        "warm-up every core busy for 1 s",
        "idle gap 1 s before the first run",
        "iteration 1/2 torch (preparing)",
        "run 1/2 done: 001-1-torch failed in",
        "idle gap 1 s after 001-1-torch",
        "iteration 2/2 torch (preparing)",
        "run 2/2 done: 002-1-torch failed in",
    ]
    found = [next((i for i, ln in enumerate(lines) if ln.startswith(e)), -1) for e in expected]
    assert -1 not in found and found == sorted(found), r.stderr
    assert "no energy measured" in r.stderr
    assert not any("\x1b[" in ln for ln in lines)  # plain text, no terminal codes
