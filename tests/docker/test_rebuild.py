"""A rebuild replaces its image: the image the tag named before goes, with its untagged
layers, unless something still uses it; a full disk says how to make room."""

from __future__ import annotations

import contextlib
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from orchestrator.runtimes.build import build_failure, build_tagged
from orchestrator.runtimes.docker import image_id
from tests.conftest import docker_available, require

BASE = "python:3.11-slim-bookworm"  # the project's base image, there after sandbox-docker.sh


@pytest.fixture
def client() -> Any:
    require(
        docker_available(), "no Docker engine: ../shared/tools/sandbox-docker.sh or start dockerd"
    )
    import docker

    client = docker.from_env()
    require(
        image_id(client, BASE) is not None,
        f"{BASE} missing: ../shared/tools/sandbox-docker.sh provides it",
    )
    return client


@pytest.fixture
def tag(client: Any) -> Iterator[str]:
    """A tag of this test's own, removed after it."""
    import docker

    tag = f"fwenergy-test/rebuild:{uuid.uuid4().hex[:12]}"
    yield tag
    with contextlib.suppress(docker.errors.ImageNotFound):
        client.images.remove(tag, force=True)


def _build(client: Any, tag: str, context: Path, content: str, log: list[str]) -> str:
    context.mkdir(exist_ok=True)
    # A RUN step makes an intermediate layer, the kind an interrupted rebuild leaves behind.
    (context / "Dockerfile").write_text(
        f"FROM {BASE}\nRUN echo {content} > /content\nLABEL content={content}\n"
    )
    return build_tagged(client, context, tag, network="host", log=log.append)


@pytest.mark.docker
def test_a_rebuild_removes_the_image_it_replaced(client: Any, tag: str, tmp_path: Path) -> None:
    log: list[str] = []
    first = _build(client, tag, tmp_path, "one", log)
    parent = client.images.get(first).attrs["Parent"]  # the RUN step's layer, untagged
    assert image_id(client, parent) is not None
    second = _build(client, tag, tmp_path, "two", log)
    assert second != first
    assert client.images.get(tag).id == second
    assert image_id(client, first) is None
    assert image_id(client, parent) is None  # its untagged layers went with it
    assert f"removed {first[:19]}, which {tag} named before this build" in log
    # The same content again is the same image: nothing to remove.
    log.clear()
    assert _build(client, tag, tmp_path, "two", log) == second
    assert not [line for line in log if "before this build" in line]


@pytest.mark.docker
def test_an_image_still_in_use_is_kept(client: Any, tag: str, tmp_path: Path) -> None:
    log: list[str] = []
    first = _build(client, tag, tmp_path, "one", log)
    container = client.containers.create(first, command=["true"])
    try:
        second = _build(client, tag, tmp_path, "two", log)
        assert image_id(client, first) is not None  # a container uses it: never forced
        assert client.images.get(tag).id == second
        kept = [line for line in log if line.startswith(f"kept {first[:19]}")]
        assert len(kept) == 1 and "container" in kept[0]
    finally:
        container.remove()
        client.images.remove(first)


def test_a_full_disk_says_how_to_make_room() -> None:
    # The Docker engine's own words when its disk filled during a CI build of the Keras image.
    error = (
        "failed to register layer: write /opt/venv/lib/python3.11/site-packages/tensorflow/"
        "libtensorflow_cc.so.2: no space left on device"
    )
    line = build_failure("fwenergy/keras:0.1.0", error)
    assert line.startswith("fwenergy/keras:0.1.0 did not build: failed to register layer")
    assert "docker image prune" in line and "\n" not in line
    assert "docker image prune" not in build_failure("t", "returned a non-zero code: 1")
