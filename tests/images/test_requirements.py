"""Every image is built from exact pins (`name==version`), transitive packages included, so an
image built next year installs the same bytes. CPU pins are checked against the environments
`make venvs` installed from them; GPU pins (CUDA comes as wheels) against what pip resolves
for them on PyPI, recorded by `make resolve-gpu-pins` (tools/resolve_gpu_pins.py)."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from pathlib import Path

import pytest

from orchestrator.machine.provenance import requirement_pins
from orchestrator.paths import requirements_file
from orchestrator.runtimes.variants import VARIANTS
from tests.conftest import REPO, framework_python, require
from tools import resolve_gpu_pins
from tools.resolve_gpu_pins import normalized

PIN = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]*(\[[a-z0-9,-]+\])?==[A-Za-z0-9.+!-]+$")
# (environment, requirements folder) of every image: the frameworks' and their versions'
BUILDS = sorted({(v.environment, v.requirements_folder) for v in VARIANTS})
# GPU requirements where an image has them (version variants are CPU only so far)
GPU_BUILDS = [b for b in BUILDS if requirements_file(b[1], "gpu").exists()]
IDS = [b[0] for b in BUILDS]
GPU_IDS = [b[0] for b in GPU_BUILDS]


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
        versions.setdefault(normalized(name.split("[")[0]), set()).add(version)
    assert {n: v for n, v in versions.items() if len(v) > 1} == {}


@pytest.mark.frameworks
@pytest.mark.parametrize("build", BUILDS, ids=IDS)
def test_cpu_pins_are_the_whole_environment(build: tuple[str, str]) -> None:
    environment, folder = build
    python = framework_python(environment)
    require(python.exists(), f"{python} missing: run `make venvs`")
    freeze = subprocess.run(
        [str(python), "-m", "pip", "list", "--format", "json", "--exclude-editable"],
        capture_output=True, text=True, check=True, timeout=120,
    ).stdout  # fmt: skip
    installed = {normalized(p["name"]): p["version"] for p in json.loads(freeze)}
    installed = {n: v for n, v in installed.items() if n not in ("pip", "setuptools", "wheel")}
    pinned = {normalized(n): v for n, v in requirement_pins(requirements_file(folder)).items()}
    assert installed == {n: v for n, v in pinned.items() if n in installed}
    assert set(installed) == set(pinned) - {"pip", "setuptools", "wheel"}


def stale_record(requirements: Path) -> str | None:
    """Why the recorded resolution of a GPU requirements file cannot be trusted, or None."""
    record = resolve_gpu_pins.record_path(requirements)
    if not record.exists():
        return f"{record} missing: run `{resolve_gpu_pins.MAKE_TARGET}`"
    if json.loads(record.read_text())["requirements_sha256"] != resolve_gpu_pins.sha256(
        requirements
    ):
        return (
            f"{requirements} changed since its resolution was recorded: "
            f"run `{resolve_gpu_pins.MAKE_TARGET}`"
        )
    return None


def image_python() -> str:
    """The Python of the images' base (`ARG BASE_IMAGE=python:3.11-...`)."""
    dockerfile = (REPO / "images" / "Dockerfile").read_text()
    found = re.search(r"^ARG BASE_IMAGE=python:(\d+\.\d+)", dockerfile, re.MULTILINE)
    assert found, "images/Dockerfile names no python:X.Y base image"
    return found.group(1)


@pytest.mark.parametrize("image", [b[1] for b in GPU_BUILDS], ids=GPU_IDS)
def test_gpu_pins_leave_nothing_for_pip_to_choose(image: str) -> None:
    """What pip installs for the GPU requirements, resolved on the package index alone (as
    the image build does, without this machine's CPU wheels), is exactly what is pinned. The
    resolution is recorded by `make resolve-gpu-pins`, keyed by the file's SHA-256, so this
    runs offline; a changed file fails here until it is resolved again."""
    requirements = requirements_file(image, "gpu")
    assert stale_record(requirements) is None, stale_record(requirements)
    record = json.loads(resolve_gpu_pins.record_path(requirements).read_text())
    assert (record["python"], record["machine"]) == (image_python(), "x86_64")
    pinned = {normalized(n): v for n, v in requirement_pins(requirements).items()}
    resolved = record["resolved"]
    assert {n: v for n, v in resolved.items() if pinned.get(n) != v} == {}


@pytest.mark.parametrize("edit", ["gpu", "included cpu"])
def test_a_changed_requirements_file_asks_for_a_new_resolution(edit: str, tmp_path: Path) -> None:
    """One byte changed in a GPU requirements file, or in the CPU file it includes, makes its
    recorded resolution stale, and the failure names the make target that renews it."""
    source = requirements_file("keras", "gpu")
    for name in ("requirements.txt", "requirements-gpu.txt", resolve_gpu_pins.RECORD_NAME):
        shutil.copy(source.parent / name, tmp_path / name)
    copy = tmp_path / source.name
    assert stale_record(copy) is None
    changed = tmp_path / ("requirements-gpu.txt" if edit == "gpu" else "requirements.txt")
    changed.write_text(changed.read_text() + "#\n")
    message = stale_record(copy)
    assert message is not None
    assert "changed since its resolution was recorded" in message
    assert "make resolve-gpu-pins" in message
