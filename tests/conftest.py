"""Shared fixtures. Tests use real files, real subprocesses and a real Docker engine where
this machine has them; fakes only stand in for hardware that is missing here (RAPL, NVML,
EnergiBridge's MSR access), and follow the real thing's format exactly."""

from __future__ import annotations

import atexit
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest

from orchestrator.paths import workload_pythonpath
from orchestrator.runtimes import variants

REPO = Path(__file__).resolve().parent.parent
# The host's measurement lock (orchestrator/campaign/alone.py) in a folder of this session's
# own, inherited by every subprocess and Slurm job: a real measurement on the host, or
# another checkout's tests, neither refuses these campaigns nor is refused by them.
LOCK_DIR = tempfile.mkdtemp(prefix="fwenergy-test-lock-")
os.environ["FWENERGY_LOCK_DIR"] = LOCK_DIR
atexit.register(shutil.rmtree, LOCK_DIR, ignore_errors=True)
VENVS = Path(os.environ.get("FWENERGY_VENVS", REPO / ".venvs"))
FRAMEWORKS = variants.FRAMEWORKS
FASHION_MNIST = Path("/usr/share/datasets/fashion-mnist")


def framework_python(name: str) -> Path:
    """The python of a variant's environment (`torch:compile`), or of an environment by its
    folder name (`jax-0.5`)."""
    environment = variants.variant(name).environment if name in variants.REGISTRY else name
    return VENVS / environment / "bin" / "python"


@pytest.fixture(scope="session")
def repo() -> Path:
    return REPO


def docker_available() -> bool:
    if shutil.which("docker") is None:
        return False
    return subprocess.run(["docker", "info"], capture_output=True, check=False).returncode == 0


# `make test-fast` hides Docker, the framework environments and Slurm, and deselects the
# tests marked as needing them: a test that reaches for one unmarked fails there, naming the
# marker, so that the inner loop never skips in silence what CI runs.
FAST = os.environ.get("FWENERGY_TEST_FAST") == "1"
RESOURCE_MARKERS = ("docker", "frameworks", "slurm")
# Fixtures that stand for a resource: every test using one carries its marker.
FIXTURE_MARKERS = {
    "docker_images": "docker",
    "torch_installed": "frameworks",
    "cluster": "slurm",
}


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        for fixture in getattr(item, "fixturenames", ()):
            if fixture in FIXTURE_MARKERS:
                item.add_marker(FIXTURE_MARKERS[fixture])


def require(condition: bool, reason: str) -> None:
    """Skip a test whose prerequisite is missing on a developer's machine, but fail it in CI,
    where .ci/run installs every prerequisite: a skipped test must never pass for a green CI;
    and fail it in `make test-fast`, where only an unmarked test gets this far."""
    if condition:
        return
    if os.environ.get("CI"):
        pytest.fail(f"prerequisite missing in CI: {reason}")
    if FAST:
        pytest.fail(
            f"{reason}: `make test-fast` leaves out Docker, the framework environments and "
            f"Slurm; mark this test with the one it needs ({', '.join(RESOURCE_MARKERS)})"
        )
    pytest.skip(reason)


@pytest.fixture(scope="session")
def fashion_dataset(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Debian's real Fashion-MNIST IDX files, prepared once for the whole session."""
    require(
        FASHION_MNIST.is_dir(), f"{FASHION_MNIST} missing: apt-get install dataset-fashion-mnist"
    )
    from orchestrator.data import prepare_dataset

    out = tmp_path_factory.mktemp("fashion") / "prepared"
    return prepare_dataset("fashion-mnist", out, FASHION_MNIST, progress=False).path


def workload_env(framework: str) -> dict[str, str]:
    """The environment a framework's python runs the workload in: this checkout's workload
    code first on its path (as the local runtime runs it), whichever checkout made the venv."""
    # A variant (`torch:compile`) or an environment's folder (`jax-0.5`).
    name = variants.variant(framework).framework if framework in variants.REGISTRY else framework
    return os.environ | {"PYTHONPATH": workload_pythonpath(name.split("-")[0])}


def run_workload(
    framework: str, data: Path, out: Path, *args: str, wait: bool = True, task: str = "train"
) -> subprocess.Popen[str]:
    """`python -m workload TASK` from a framework's environment, as the local runtime runs it."""
    python = framework_python(framework)
    require(python.exists(), f"{python} missing: run `make venvs`")
    cmd = [str(python), "-m", "workload", task, "--data", str(data), "--out", str(out), *args]
    proc = subprocess.Popen(
        cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=workload_env(framework)
    )
    if wait:
        proc.wait()
    return proc


def stand_in_venvs(root: Path, scripts: dict[str, str]) -> Path:
    """Framework environments under `root` whose interpreter is the given sh script
    (framework -> script text): a real executable that the real runtimes start, standing in
    for a workload or a broken environment (no mock)."""
    for fw, script in scripts.items():
        python = root / fw / "bin" / "python"
        python.parent.mkdir(parents=True)
        python.write_text(script)
        python.chmod(0o755)
    return root


# tests/fakes/infer_workload.py: `python -m workload infer` as the contract specifies it.
INFER_STAND_IN = """#!/bin/sh
if [ "$1" = "-m" ] && [ "$2" = "workload" ]; then
    shift 2
    FAKE_FRAMEWORK={fw} FAKE_BATCH_S={batch_s} exec {python} {fake} "$@"
fi
exec {python} "$@"
"""


def infer_venvs(root: Path, batch_s: dict[str, float]) -> Path:
    """Environments whose `python -m workload infer` is the stand-in of
    tests/fakes/infer_workload.py, each batch taking `batch_s[framework]` seconds; every
    other use of the interpreter (provenance's `-c`) goes to the real one."""
    fake = REPO / "tests" / "fakes" / "infer_workload.py"
    return stand_in_venvs(root, {
        fw: INFER_STAND_IN.format(fw=fw, batch_s=s, python=sys.executable, fake=fake)
        for fw, s in batch_s.items()
    })  # fmt: skip
