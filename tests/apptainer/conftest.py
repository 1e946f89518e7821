"""`--runtime apptainer` against tests/fakes/apptainer (no Apptainer exists for this machine):
the fake follows the real CLI and runs the real workload in the local framework environment
that stands for the image (docs/slurm.md says what a real cluster must still check)."""

from __future__ import annotations

import hashlib
import io
import json
import os
import tarfile
from pathlib import Path

import pytest

from orchestrator import __version__
from tests.campaign.conftest import tiny_dataset, torch_installed  # noqa: F401 (fixtures)
from tests.campaign.helpers import cli
from tests.conftest import REPO, framework_python, require

FAKE = REPO / "tests" / "fakes" / "apptainer"


def fake_bin(root: Path) -> Path:
    """A folder with only `apptainer` in it (the fake), to put first on PATH: the other
    fakes (energibridge) stay off it, so that meter selection is what it is here."""
    root.mkdir(parents=True, exist_ok=True)
    link = root / "apptainer"
    if not link.exists():
        link.symlink_to(FAKE)
    return root


def docker_archive(path: Path, framework: str, labels: dict[str, str] | None = None) -> Path:
    """A `docker save` archive in the real format (manifest.json naming the config blob and
    the repository tag), holding the image config with its labels; no layers are needed."""
    config = {"config": {"Labels": {"io.fwenergy.framework": framework,
                                    "org.opencontainers.image.version": __version__,
                                    **(labels or {})}}}  # fmt: skip
    blob = json.dumps(config).encode()
    name = hashlib.sha256(blob).hexdigest() + ".json"
    manifest = [{"Config": name, "RepoTags": [f"fwenergy/{framework}:{__version__}"],
                 "Layers": []}]  # fmt: skip
    with tarfile.open(path, "w") as tar:
        for member, data in ((name, blob), ("manifest.json", json.dumps(manifest).encode())):
            info = tarfile.TarInfo(member)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    return path


def apptainer_env(tmp: Path, sifs: Path) -> dict[str, str]:
    """The environment of a user who has Apptainer on PATH and the images in `sifs`."""
    path = f"{fake_bin(tmp / 'bin')}{os.pathsep}{os.environ['PATH']}"
    return {"PATH": path, "FWENERGY_SIFS": str(sifs),
            "FAKE_APPTAINER_LOG": str(tmp / "apptainer.log")}  # fmt: skip


def build_sifs(tmp: Path, sifs: Path, frameworks: list[str]) -> None:
    """The .sif files, converted by `orchestrator build --sif --from-archive` as a user on a
    cluster without Docker does."""
    for fw in frameworks:
        archive = docker_archive(tmp / f"{fw}.tar", fw)
        r = cli(["build", "--sif", "--framework", fw, "--from-archive", str(archive)], tmp,
                extra_env=apptainer_env(tmp, sifs))  # fmt: skip
        assert r.returncode == 0, r.stderr


def exec_calls(tmp: Path) -> list[list[str]]:
    """Every `apptainer exec` the fake was asked for, as argv lists."""
    log = tmp / "apptainer.log"
    calls = [json.loads(line) for line in log.read_text().splitlines()] if log.exists() else []
    return [c for c in calls if c and c[0] == "exec"]


@pytest.fixture
def jax_and_torch_installed() -> None:
    for fw in ("torch", "jax"):
        require(framework_python(fw).exists(), f"no {fw} environment: run `make venvs`")


@pytest.fixture
def apptainer_user(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """This process as a user with Apptainer on PATH; returns the (empty) folder of images."""
    sifs = tmp_path / "sifs"
    for key, value in apptainer_env(tmp_path, sifs).items():
        monkeypatch.setenv(key, value)
    return sifs
