"""compose.yaml names the same images, mounts and entrypoint as the orchestrator; the build's
wheelhouse takes only the wheels the image pins."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

from orchestrator.paths import requirements_file
from orchestrator.runtimes import build
from orchestrator.runtimes.base import RunSpec, entrypoint_args
from orchestrator.runtimes.docker import DATA_MOUNT, OUT_MOUNT, image_tag
from orchestrator.runtimes.variants import VARIANTS
from tests.conftest import FRAMEWORKS, REPO, require


def _compose_config(*profile: str) -> str:
    exe = shutil.which("docker-compose")
    require(exe is not None, "docker-compose is not installed (apt-get install docker-compose)")
    r = subprocess.run(
        [str(exe), "-f", str(REPO / "compose.yaml"), *profile, "config"],
        capture_output=True, text=True, check=False, timeout=60,
    )  # fmt: skip
    assert r.returncode == 0, r.stderr
    return r.stdout


@pytest.mark.docker
def test_compose_matches_the_orchestrator() -> None:
    config = _compose_config("--profile", "gpu")
    for fw in FRAMEWORKS:
        assert f"image: {image_tag(fw)}\n" in config
        assert f"image: {image_tag(fw, 'gpu')}\n" in config
    # a CPU service per image (versions included), a GPU one where the image has GPU pins
    images = {v.image: v for v in VARIANTS}
    gpu = [v for v in images.values() if requirements_file(v.requirements_folder, "gpu").exists()]
    for v in images.values():
        assert f"image: {image_tag(v.name)}\n" in config
    services = len(images) + len(gpu)
    assert config.count("network_mode: none") == services
    assert config.count(f":{DATA_MOUNT}:ro") == services
    spec = RunSpec("torch", Path(DATA_MOUNT), Path(OUT_MOUNT), ())
    entry = ["python", "-m", "workload", *entrypoint_args(spec, DATA_MOUNT, OUT_MOUNT)]
    assert config.count("entrypoint:\n" + "".join(f"    - {a}\n" for a in entry)) == services
    assert config.count("driver: nvidia") == len(gpu)  # only the gpu profile reserves devices
    assert "count: all" not in config  # one GPU per container, not every GPU


def test_wheelhouse_takes_only_pinned_wheels(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    wheels = tmp_path / "wheels"
    wheels.mkdir()
    pinned = next(
        line.strip() for line in (REPO / "images/torch/requirements.txt").read_text().splitlines()
        if line.startswith("torch==")
    )  # fmt: skip
    version = pinned.split("==")[1]
    names = [
        f"torch-{version}-cp311-cp311-linux_x86_64.whl",
        "torch-1.0.0-cp311-cp311-linux_x86_64.whl",
        "requests-2.0.0-py3-none-any.whl",
    ]
    for n in names:
        (wheels / n).write_bytes(b"not a real wheel; only its name is read")
    house = tmp_path / "house"
    house.mkdir()
    assert not build._wheelhouse_has_pins(build.requirements_file("torch", "cpu"), house)
    assert build.wheelhouse_of("torch") == build.WHEELHOUSE / "torch"  # one folder per image
    assert build.fill_wheelhouse(wheels, "torch", house) == [names[0]]
    assert sorted(p.name for p in house.iterdir()) == [names[0]]
    assert build._wheelhouse_has_pins(build.requirements_file("torch", "cpu"), house)


def test_wheelhouse_must_be_a_folder(tmp_path: Path) -> None:
    with pytest.raises(build.BuildError, match="not a folder"):
        build.fill_wheelhouse(tmp_path / "missing")
