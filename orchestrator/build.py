"""`orchestrator build` / `make build`: the framework images, labelled with the project
version and the SHA-256 of the requirements they were built from.

The engine's classic builder is used through the Docker SDK (no BuildKit features, so the
same Dockerfiles build on a vfs engine without BuildKit)."""

from __future__ import annotations

import hashlib
import shutil
import time
from collections.abc import Callable
from pathlib import Path

from orchestrator import __version__
from orchestrator.errors import UserError
from orchestrator.runtimes.docker import connect, image_tag

REPO = Path(__file__).resolve().parent.parent
WHEELHOUSE = REPO / ".wheelhouse"


class BuildError(UserError):
    """An image did not build."""


def requirements_file(framework: str, device: str) -> Path:
    name = "requirements-gpu.txt" if device == "gpu" else "requirements.txt"
    return REPO / "images" / framework / name


def fill_wheelhouse(wheels: Path) -> list[str]:
    """Copy the wheels of a local folder into the build context's .wheelhouse/."""
    if not wheels.is_dir():
        raise BuildError(f"--wheelhouse {wheels} is not a folder of .whl files")
    copied = []
    for whl in sorted(wheels.glob("*.whl")):
        target = WHEELHOUSE / whl.name
        if not target.exists() or target.stat().st_size != whl.stat().st_size:
            shutil.copy2(whl, target)
        copied.append(whl.name)
    return copied


def build_image(
    framework: str,
    *,
    device: str = "cpu",
    network: str | None = None,
    base_image: str | None = None,
    torch_index_url: str | None = None,
    log: Callable[[str], None] = print,
) -> str:
    """Build one image; returns its id. `network` is the build's network mode (e.g. "host"
    where the default bridge cannot reach the package index)."""
    req = requirements_file(framework, device)
    if not req.exists():
        raise BuildError(f"{req.relative_to(REPO)} is missing: no {device} variant of {framework}")
    client = connect()
    buildargs = {
        "REQUIREMENTS": req.name,
        "FWENERGY_VERSION": __version__,
        "REQUIREMENTS_SHA256": hashlib.sha256(req.read_bytes()).hexdigest(),
    }
    if base_image:
        buildargs["BASE_IMAGE"] = base_image
    if framework == "torch" and torch_index_url is not None:
        buildargs["TORCH_INDEX_URL"] = torch_index_url
    tag = image_tag(framework, device)
    log(f"building {tag} (images/{framework}/Dockerfile, {req.name})")
    start = time.monotonic()
    image_id = None
    last_lines: list[str] = []
    for chunk in client.api.build(
        path=str(REPO),
        dockerfile=f"images/{framework}/Dockerfile",
        tag=tag,
        buildargs=buildargs,
        network_mode=network,
        rm=True,
        forcerm=True,
        decode=True,
    ):
        if "stream" in chunk:
            line = chunk["stream"].rstrip()
            if line:
                last_lines = [*last_lines[-19:], line]
                if line.startswith("Step "):
                    log(f"  {framework}: {line}")
        if "aux" in chunk and "ID" in chunk["aux"]:
            image_id = chunk["aux"]["ID"]
        if "error" in chunk:
            for line in last_lines[-10:]:
                log(f"  {framework}| {line}")
            raise BuildError(
                f"{tag} did not build: {chunk['error'].strip()} (the build's last lines are above)"
            )
    if image_id is None:
        image_id = client.images.get(tag).id
    log(f"built {tag} {image_id[:19]} in {time.monotonic() - start:.0f} s")
    return str(image_id)


def build_images(
    frameworks: list[str],
    *,
    device: str = "cpu",
    network: str | None = None,
    base_image: str | None = None,
    torch_index_url: str | None = None,
    wheelhouse: Path | None = None,
    log: Callable[[str], None] = print,
) -> dict[str, str]:
    """Build several images in turn; framework -> image id."""
    from orchestrator.campaign.plan import parse_frameworks

    names = parse_frameworks(",".join(frameworks))
    if device not in ("cpu", "gpu"):
        raise BuildError(f"--device must be cpu or gpu, not {device!r}")
    if wheelhouse is not None:
        log(f"wheelhouse: {', '.join(fill_wheelhouse(wheelhouse)) or 'no wheels'}")
    return {
        fw: build_image(
            fw,
            device=device,
            network=network,
            base_image=base_image,
            torch_index_url=torch_index_url,
            log=log,
        )
        for fw in names
    }
