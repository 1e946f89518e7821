"""Every image is built from exact pins (`name==version`), transitive packages included, so an
image built next year installs the same bytes. CPU pins are checked against the environments
`make venvs` installed from them; GPU pins (CUDA comes as wheels) against what pip resolves
for them on PyPI."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from orchestrator.machine.provenance import requirement_pins
from orchestrator.paths import requirements_file
from orchestrator.runtimes.variants import VARIANTS
from tests.conftest import framework_python, require

PIN = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]*(\[[a-z0-9,-]+\])?==[A-Za-z0-9.+!-]+$")
# (environment, requirements folder) of every image: the frameworks' and their versions'
BUILDS = sorted({(v.environment, v.requirements_folder) for v in VARIANTS})
# GPU requirements where an image has them (version variants are CPU only so far)
GPU_BUILDS = [b for b in BUILDS if requirements_file(b[1], "gpu").exists()]
IDS = [b[0] for b in BUILDS]
GPU_IDS = [b[0] for b in GPU_BUILDS]


def _norm(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def _requirement_lines(path: Path) -> list[str]:
    lines = []
    for raw in path.read_text().splitlines():
        line = raw.split("#", 1)[0].strip()
        if line.startswith("-r "):
            lines += _requirement_lines(path.parent / line[3:].strip())
        elif line:
            lines.append(line)
    return lines


@pytest.mark.parametrize(
    ("build", "device"),
    [*((b, "cpu") for b in BUILDS), *((b, "gpu") for b in GPU_BUILDS)],
    ids=[*(f"{i}-cpu" for i in IDS), *(f"{i}-gpu" for i in GPU_IDS)],
)
def test_every_requirement_is_an_exact_pin(build: tuple[str, str], device: str) -> None:
    lines = _requirement_lines(requirements_file(build[1], device))
    assert lines
    loose = [line for line in lines if not PIN.match(line)]
    assert loose == [], f"not pinned with ==: {loose}"
    versions: dict[str, set[str]] = {}
    for line in lines:
        name, version = line.split("==")
        versions.setdefault(_norm(name.split("[")[0]), set()).add(version)
    assert {n: v for n, v in versions.items() if len(v) > 1} == {}


@pytest.mark.parametrize("build", BUILDS, ids=IDS)
def test_cpu_pins_are_the_whole_environment(build: tuple[str, str]) -> None:
    environment, folder = build
    python = framework_python(environment)
    require(python.exists(), f"{python} missing: run `make venvs`")
    freeze = subprocess.run(
        [str(python), "-m", "pip", "list", "--format", "json", "--exclude-editable"],
        capture_output=True, text=True, check=True, timeout=120,
    ).stdout  # fmt: skip
    installed = {_norm(p["name"]): p["version"] for p in json.loads(freeze)}
    installed = {n: v for n, v in installed.items() if n not in ("pip", "setuptools", "wheel")}
    pinned = {_norm(n): v for n, v in requirement_pins(requirements_file(folder)).items()}
    assert installed == {n: v for n, v in pinned.items() if n in installed}
    assert set(installed) == set(pinned) - {"pip", "setuptools", "wheel"}


@pytest.mark.slow
@pytest.mark.parametrize("image", [b[1] for b in GPU_BUILDS], ids=GPU_IDS)
def test_gpu_pins_leave_nothing_for_pip_to_choose(image: str, tmp_path: Path) -> None:
    """What pip would install for the GPU requirements, resolved on the package index (as the
    image build does, without this machine's CPU wheels), is exactly what is pinned."""
    report = tmp_path / "report.json"
    env = {k: v for k, v in os.environ.items() if not k.startswith("PIP_")}
    env["PIP_CONFIG_FILE"] = os.devnull  # resolve from the index alone, as the image does
    r = subprocess.run(
        [sys.executable, "-m", "pip", "install", "--isolated", "--dry-run", "--quiet",
         "--ignore-installed", "--no-cache-dir", "--report", str(report),
         "-r", str(requirements_file(image, "gpu"))],
        capture_output=True, text=True, env=env, check=False, timeout=900,
    )  # fmt: skip
    require(r.returncode == 0, f"the package index cannot resolve {image}'s GPU pins: {r.stderr}")
    resolved = {
        _norm(i["metadata"]["name"]): i["metadata"]["version"]
        for i in json.loads(report.read_text())["install"]
    }
    pinned = {_norm(n): v for n, v in requirement_pins(requirements_file(image, "gpu")).items()}
    assert {n: v for n, v in resolved.items() if pinned.get(n) != v} == {}
