from __future__ import annotations

from tests.campaign.conftest import tiny_dataset, torch_installed  # noqa: F401 (same fixtures)
from tests.docker.conftest import docker_images  # noqa: F401
