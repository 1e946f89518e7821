from __future__ import annotations

import pytest

from orchestrator.runtimes.docker import image_tag
from tests.campaign.conftest import tiny_dataset  # noqa: F401 (the same fixture here)
from tests.conftest import FRAMEWORKS, docker_available, require


@pytest.fixture
def docker_images() -> dict[str, str]:
    """framework -> image id of the built CPU images (make build)."""
    require(
        docker_available(), "no Docker engine: ../shared/tools/sandbox-docker.sh or start dockerd"
    )
    import docker

    client = docker.from_env()
    ids = {}
    for fw in FRAMEWORKS:
        try:
            ids[fw] = client.images.get(image_tag(fw)).id
        except docker.errors.ImageNotFound:
            require(False, f"image {image_tag(fw)} missing: run `make build`")
    return ids
