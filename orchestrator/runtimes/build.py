"""`orchestrator build` / `make build`: the framework images, labelled with the project
version and the SHA-256 of the requirements they were built from.

The engine's classic builder is used through the Docker SDK (no BuildKit features, so the
same Dockerfile builds on a vfs engine without BuildKit)."""

from __future__ import annotations

import hashlib
import shutil
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from orchestrator import __version__
from orchestrator.errors import UserError
from orchestrator.machine.provenance import requirement_pins
from orchestrator.paths import REPO, requirements_file
from orchestrator.runtimes.docker import connect, image_id, image_tag
from orchestrator.runtimes.variants import parse_variants, variant

WHEELHOUSE = REPO / ".wheelhouse"


DOCKERFILE = "images/Dockerfile"  # one for every framework: FRAMEWORK is a build argument
# PyPI's torch is the CUDA build; the CPU wheel (torch==X+cpu) is on PyTorch's own index.
TORCH_CPU_INDEX = "https://download.pytorch.org/whl/cpu"


class BuildError(UserError):
    """An image did not build."""


def _pins(requirements: Path) -> set[tuple[str, str]]:
    # Wheel file names normalise "-" to "_"; compare names that way.
    pins = requirement_pins(requirements).items()
    return {(name.lower().replace("-", "_"), version) for name, version in pins}


def _wheelhouse_has_pins(requirements: Path, wheelhouse: Path) -> bool:
    """Whether `wheelhouse` holds a wheel for every local-version pin (like torch's +cpu),
    the ones the package index cannot serve."""
    local = {(n, v) for n, v in _pins(requirements) if "+" in v}
    have = {tuple(w.name.split("-")[:2]) for w in wheelhouse.glob("*.whl")}
    return bool(local) and all((n, v) in {(a.lower(), b) for a, b in have} for n, v in local)


def wheelhouse_of(framework: str) -> Path:
    """The build context's wheel folder of one image (.wheelhouse/<image>/): each image sees
    only its own wheels, so no image carries another's."""
    return WHEELHOUSE / variant(framework).image


def fill_wheelhouse(
    wheels: Path, framework: str = "torch", wheelhouse: Path | None = None
) -> list[str]:
    """Copy into the image's wheel folder the wheels of `wheels` that its requirements pin
    (name and version): only those, so the context stays small."""
    if not wheels.is_dir():
        raise BuildError(f"--wheelhouse {wheels} is not a folder of .whl files")
    wheelhouse = wheelhouse or wheelhouse_of(framework)
    wheelhouse.mkdir(parents=True, exist_ok=True)
    pins = _pins(requirements_file(variant(framework).requirements_folder, "cpu"))
    copied = []
    for whl in sorted(wheels.glob("*.whl")):
        name, version = whl.name.split("-")[:2]
        if (name.lower(), version) not in pins:
            continue
        target = wheelhouse / whl.name
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
    v = variant(framework)
    req = requirements_file(v.requirements_folder, device)
    if not req.exists():
        raise BuildError(f"{req.relative_to(REPO)} is missing: no {device} variant of {framework}")
    client = connect()
    buildargs = {
        "FRAMEWORK": v.framework,
        "REQUIREMENTS_DIR": f"images/{v.requirements_folder}",
        "WHEELS": v.image,
        "REQUIREMENTS": req.name,
        "FWENERGY_VERSION": __version__,
        "REQUIREMENTS_SHA256": hashlib.sha256(req.read_bytes()).hexdigest(),
    }
    if base_image:
        buildargs["BASE_IMAGE"] = base_image
    if v.framework == "torch":
        if torch_index_url is None and device == "gpu":
            # A 2.13.0+cpu wheel would satisfy ==2.13.0 and win: keep CPU sources out.
            torch_index_url = ""
            buildargs["FIND_LINKS"] = ""
        if torch_index_url is None and _wheelhouse_has_pins(req, wheelhouse_of(framework)):
            torch_index_url = ""  # the pinned wheels are in .wheelhouse/: no index needed
        buildargs["EXTRA_INDEX_URL"] = (
            TORCH_CPU_INDEX if torch_index_url is None else torch_index_url
        )
    tag = image_tag(framework, device)
    log(f"building {tag} (images/Dockerfile, FRAMEWORK={v.framework}, {req.relative_to(REPO)})")
    start = time.monotonic()
    built = build_tagged(
        client,
        REPO,
        tag,
        dockerfile=DOCKERFILE,
        buildargs=buildargs,
        network=network,
        name=framework,
        log=log,
    )
    log(f"built {tag} {built[:19]} in {time.monotonic() - start:.0f} s")
    return built


def build_tagged(
    client: Any,
    context: Path,
    tag: str,
    *,
    dockerfile: str = "Dockerfile",
    buildargs: dict[str, str] | None = None,
    network: str | None = None,
    name: str = "",
    log: Callable[[str], None] = print,
) -> str:
    """Build `context` as `tag` with the engine's classic builder; returns the image id.

    The image the tag named before is removed once the new one holds the tag: the classic
    builder leaves it behind untagged, and on a vfs engine (every layer a full copy) a few
    rebuilds of the three images fill a disk."""
    name = name or tag
    replaced = image_id(client, tag)
    built = None
    last_lines: list[str] = []
    for chunk in client.api.build(
        path=str(context),
        dockerfile=dockerfile,
        tag=tag,
        buildargs=buildargs or {},
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
                    log(f"  {name}: {line}")
        if "aux" in chunk and "ID" in chunk["aux"]:
            built = chunk["aux"]["ID"]
        if "error" in chunk:
            for line in last_lines[-10:]:
                log(f"  {name}| {line}")
            raise BuildError(build_failure(tag, chunk["error"]))
    built = str(built or client.images.get(tag).id)
    if replaced and replaced != built:
        _remove_replaced(client, replaced, tag, log)
    return built


def build_failure(tag: str, error: str) -> str:
    """The one line a failed build ends with; a full disk says how to make room."""
    message = f"{tag} did not build: {error.strip()} (the build's last lines are above)"
    if "no space left on device" in error.lower():
        message += (
            "; the Docker engine's disk is full: `docker system df` shows what uses it, "
            "`docker image prune` removes untagged images (earlier builds), then build again"
        )
    return message


def _remove_replaced(client: Any, replaced: str, tag: str, log: Callable[[str], None]) -> None:
    """Remove the image `tag` named before this build, with its untagged parent layers; keep
    it, and say why, while another tag or a container still uses it (never forced)."""
    import docker

    try:
        client.images.remove(replaced, noprune=False)
    except docker.errors.APIError as exc:
        reason = exc.explanation or str(exc)
        log(f"kept {replaced[:19]}, which {tag} named before this build: {reason}")
        return
    log(f"removed {replaced[:19]}, which {tag} named before this build")


def build_network(client: object, network: str | None) -> str | None:
    """`auto`: the engine's default, unless the engine has no bridge network (dockerd
    --bridge=none, as in sandboxes): then the build containers need the host's network to
    reach the package index. Measured runs never have a network either way."""
    if network != "auto":
        return network or None
    bridges = client.networks.list(names=["bridge"])  # type: ignore[attr-defined]
    return None if bridges else "host"


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
    # One build per image: an implementation (torch:compile) runs in its framework's image.
    by_image = {variant(n).image: n for n in reversed(parse_variants(",".join(frameworks)))}
    names = tuple(reversed(by_image.values()))
    if device not in ("cpu", "gpu"):
        raise BuildError(f"--device must be cpu or gpu, not {device!r}")
    network = build_network(connect(), network)
    if network:
        log(f"build network: {network}")
    if wheelhouse is not None:
        for fw in names:
            log(f"wheelhouse of {fw}: {', '.join(fill_wheelhouse(wheelhouse, fw)) or 'no wheels'}")
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
