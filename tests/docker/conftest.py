from __future__ import annotations

import pytest

from orchestrator.runtimes.docker import image_id, image_tag
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
    ids = {fw: image_id(client, image_tag(fw)) for fw in FRAMEWORKS}
    for fw, found in ids.items():
        require(found is not None, f"image {image_tag(fw)} missing: run `make build`")
    return {fw: str(found) for fw, found in ids.items()}
