"""Shared fixtures. Tests use real files, real subprocesses and a real Docker engine where
this machine has them; fakes only stand in for hardware that is missing here (RAPL, NVML,
EnergiBridge's MSR access), and follow the real thing's format exactly."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent
VENVS = Path(os.environ.get("FWENERGY_VENVS", REPO / ".venvs"))
FRAMEWORKS = ("keras", "torch", "jax")
FASHION_MNIST = Path("/usr/share/datasets/fashion-mnist")


def framework_python(framework: str) -> Path:
    return VENVS / framework / "bin" / "python"


@pytest.fixture(scope="session")
def repo() -> Path:
    return REPO


def docker_available() -> bool:
    if shutil.which("docker") is None:
        return False
    return subprocess.run(["docker", "info"], capture_output=True, check=False).returncode == 0


def require(condition: bool, reason: str) -> None:
    """Skip a test whose prerequisite is missing on a developer's machine, but fail it in CI,
    where .ci/run installs every prerequisite: a skipped test must never pass for a green CI."""
    if condition:
        return
    if os.environ.get("CI"):
        pytest.fail(f"prerequisite missing in CI: {reason}")
    pytest.skip(reason)
