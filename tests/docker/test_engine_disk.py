"""`orchestrator doctor` says how much room the Docker engine's disk has for what a campaign
and a rebuild add, and warns before it runs out (a full vfs disk once failed a CI build)."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from orchestrator.machine.doctor import judge_engine_disk
from tests.campaign.helpers import cli
from tests.conftest import docker_available, require

GIB = 2**30


@pytest.mark.docker
def test_doctor_reports_the_engine_disk_it_can_read(tmp_path: Path) -> None:
    require(
        docker_available(), "no Docker engine: ../shared/tools/sandbox-docker.sh or start dockerd"
    )
    import docker

    root = docker.from_env().info()["DockerRootDir"]
    r = cli(["doctor", "--json"], tmp_path, timeout_s=120)
    assert r.returncode == 0, r.stderr
    disk = next(f for f in json.loads(r.stdout)["findings"] if f["check"] == "docker disk")
    free_gib = float(disk["detail"].split(" GiB free on ")[0])
    assert disk["detail"].split(" GiB free on ")[1].startswith(f"{root} (")
    # Read again here: the suite writes beside it, so a little drift is allowed.
    assert free_gib == pytest.approx(shutil.disk_usage(root).free / GIB, abs=1.0)
    assert disk["level"] in {"ok", "warn"}


def test_a_vfs_disk_must_hold_two_copies_of_the_largest_image() -> None:
    image = int(2.34 * GIB)  # the Keras image
    short = judge_engine_disk("/var/lib/docker", "vfs", 4 * GIB, image)
    assert short.level == "warn"
    assert short.detail == (
        "4.0 GiB free on /var/lib/docker (vfs storage); a run's container and a rebuild each "
        "copy the largest image (2.3 GiB)"
    )
    assert short.fix and "docker image prune" in short.fix
    assert judge_engine_disk("/var/lib/docker", "vfs", 5 * GIB, image).level == "ok"
    # Layered drivers share the image's layers: a rebuild's new layers are the most it adds.
    assert judge_engine_disk("/d", "overlay2", 4 * GIB, image).level == "ok"
    assert judge_engine_disk("/d", "overlay2", 2 * GIB, image).level == "warn"


def test_a_remote_engine_disk_is_not_judged() -> None:
    finding = judge_engine_disk("/var/lib/docker", "overlay2", None, GIB)
    assert finding.level == "info" and "cannot be read from this machine" in finding.detail
