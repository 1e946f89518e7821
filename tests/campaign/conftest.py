from __future__ import annotations

from pathlib import Path

import pytest

from orchestrator.data import PreparedDataset, prepare_dataset
from tests.conftest import FRAMEWORKS, framework_python, require, stand_in_venvs


@pytest.fixture(scope="session")
def tiny_dataset(tmp_path_factory: pytest.TempPathFactory) -> PreparedDataset:
    """A real prepared dataset (synthetic, 256 + 128 images), as `orchestrator data` makes."""
    out = tmp_path_factory.mktemp("data") / "synthetic"
    return prepare_dataset("synthetic", out, progress=False, train_count=256, test_count=128)


@pytest.fixture
def frameworks_installed() -> None:
    for fw in FRAMEWORKS:
        require(framework_python(fw).exists(), f"no {fw} environment: run `make venvs`")


@pytest.fixture
def torch_installed() -> None:
    require(framework_python("torch").exists(), "no torch environment: run `make venvs`")


def failing_venvs(root: Path, exit_code: int = 1) -> Path:
    """Framework environments whose interpreter exits non-zero after a line on stderr: how a
    broken environment looks to the campaign (no mock: a real executable is started)."""
    return stand_in_venvs(root, {
        fw: f"#!/bin/sh\necho 'ImportError: {fw} is broken here' >&2\nexit {exit_code}\n"
        for fw in FRAMEWORKS
    })  # fmt: skip


def quick_venvs(root: Path, seconds: float = 0.5) -> Path:
    """Framework environments whose interpreter stands in for a finished workload: it writes
    events.jsonl and result.json into --out after `seconds` (a real executable, started by
    the real local runtime), for tests of the protocol around the run, not of the work."""
    script = (
        "#!/bin/sh\n"
        'while [ $# -gt 0 ]; do [ "$1" = --out ] && out="$2"; shift; done\n'
        'echo "{\\"event\\": \\"process_start\\", \\"t\\": $(date +%s.%N)}"'
        ' > "$out/events.jsonl"\n'
        f"sleep {seconds}\n"
        'echo "{\\"event\\": \\"done\\", \\"t\\": $(date +%s.%N)}" >> "$out/events.jsonl"\n'
        'echo "{}" > "$out/result.json"\n'
    )
    return stand_in_venvs(root, dict.fromkeys(FRAMEWORKS, script))
