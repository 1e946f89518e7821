"""The docker runtime, through the Docker SDK: a fresh container per run from the pinned
image, no network, the dataset read-only, the run folder as the output, the same threads and
CPU set for every framework, a memory limit, OOM detection, logs kept, container removed.

Creating a container copies the whole image on a vfs engine (20-30 s for 1 GB): that happens
in `prepare`, before the meter starts, so the copy is never measured.
"""

from __future__ import annotations

import contextlib
import grp
import os
import pwd
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from orchestrator import __version__
from orchestrator.errors import RuntimeUnavailableError
from orchestrator.runtimes.base import (
    CAMPAIGN_LABEL,
    OWNER_LABEL,
    Execution,
    ExitState,
    Foreign,
    RunSpec,
    Runtime,
    devices_reply,
    entrypoint_args,
    owner_gone,
)
from orchestrator.runtimes.variants import variant

IMAGE_REPOSITORY = "fwenergy"
DATA_MOUNT = "/data"
OUT_MOUNT = "/out"
# As root, the workload runs under an id that no host account has (not in passwd or group,
# outside every subordinate id range of user namespaces), and only that id and root may
# write the run folder while it runs: no host account can alter results mid-run.
ISOLATED_ID_FIRST = 2_000_000_000
PIDS_LIMIT = 4096  # the frameworks' thread pools stay far below; a fork bomb does not


def hardening() -> dict[str, Any]:
    """What every measured container gets besides its workload: no capabilities, no way
    to gain privileges (the base image has setuid binaries), a read-only root with a
    private /tmp (the images' HOME and working directory), a pids limit, and an init
    process, so that the workload is not PID 1, which ignores SIGTERM: a stop would
    otherwise always wait out the grace period and end in SIGKILL.
    benchmarks/hardening.py measures that none of it changes the workload's speed."""
    return {
        "cap_drop": ["ALL"],
        "security_opt": ["no-new-privileges"],
        "read_only": True,
        "tmpfs": {"/tmp": "rw,nosuid,nodev,mode=1777,size=1g"},
        "pids_limit": PIDS_LIMIT,
        "init": True,
    }


def _subordinate_ranges() -> list[range]:
    out = []
    for name in ("/etc/subuid", "/etc/subgid"):
        with contextlib.suppress(OSError):
            for line in Path(name).read_text().splitlines():
                parts = line.split(":")
                if len(parts) == 3 and parts[1].isdigit() and parts[2].isdigit():
                    out.append(range(int(parts[1]), int(parts[1]) + int(parts[2])))
    return out


def isolated_id() -> int:
    """A uid (used as gid too) that no host account, group or user namespace has."""
    taken = _subordinate_ranges()
    for candidate in range(ISOLATED_ID_FIRST, ISOLATED_ID_FIRST + 100_000):
        if any(candidate in r for r in taken):
            continue
        try:
            pwd.getpwuid(candidate)
            continue
        except KeyError:
            pass
        try:
            grp.getgrgid(candidate)
            continue
        except KeyError:
            return candidate
    raise RuntimeUnavailableError("no free user id for the container; check /etc/subuid")


def image_tag(framework: str, device: str = "cpu", version: str = __version__) -> str:
    """The pinned image name shared by the orchestrator, compose.yaml and `make build`."""
    suffix = "-gpu" if device == "gpu" else ""
    return f"{IMAGE_REPOSITORY}/{variant(framework).image}:{version}{suffix}"


def image_id(client: Any, reference: str) -> str | None:
    """The id of the image a tag or id names on the engine; None when it has none."""
    import docker

    try:
        return str(client.images.get(reference).id)
    except docker.errors.ImageNotFound:
        return None


def gpu_request(gpu: int) -> Any:
    """Exactly one GPU for a container, by its index (what NVML and nvidia-smi number)."""
    import docker

    return docker.types.DeviceRequest(device_ids=[str(gpu)], capabilities=[["gpu"]])


def connect() -> Any:
    """A Docker SDK client whose engine answers, or RuntimeUnavailableError."""
    try:
        import docker

        client = docker.from_env(timeout=600)
        client.ping()
    except Exception as exc:  # the SDK raises many kinds when no engine is reachable
        raise RuntimeUnavailableError(
            f"no Docker engine answers ({type(exc).__name__}); start it, check DOCKER_HOST "
            "and your permission on the socket, or use --runtime local"
        ) from exc
    return client


@contextlib.contextmanager
def engine_errors(what: str) -> Iterator[None]:
    """The Docker SDK's errors as what they are. They derive from requests' IOError, so
    unconverted they read like a full disk ("free space or fix the path")."""
    import docker
    import requests

    try:
        yield
    except docker.errors.NotFound as exc:
        raise RuntimeUnavailableError(
            f"{what}: the Docker engine no longer has the container ({exc.explanation or exc}); "
            "something else removed it (`docker rm`, another orchestrator): resume the campaign"
        ) from None
    except docker.errors.APIError as exc:
        raise RuntimeUnavailableError(
            f"{what}: the Docker engine refused ({exc.explanation or exc})"
        ) from None
    except requests.exceptions.RequestException as exc:
        raise RuntimeUnavailableError(
            f"{what}: the Docker engine stopped answering ({type(exc).__name__}); check that "
            "dockerd runs, then resume the campaign"
        ) from None


def container_options(spec: RunSpec, user: str) -> dict[str, Any]:
    """The container of one run, hardening aside (benchmarks/hardening.py runs both)."""
    import docker

    kwargs: dict[str, Any] = {
        "command": entrypoint_args(spec, DATA_MOUNT, OUT_MOUNT),
        "network_mode": "none",
        # Mounts, not `volumes`: the volume syntax is `host:container:mode`, and a run folder
        # named after a variant (001-2-torch:compile) has a colon of its own.
        "mounts": [
            docker.types.Mount(DATA_MOUNT, str(spec.data_dir.resolve()), "bind", True),
            docker.types.Mount(OUT_MOUNT, str(spec.out_dir.resolve()), "bind", False),
        ],
        "labels": dict(spec.labels),
        "detach": True,
        "user": user,
    }
    if spec.cpuset:
        kwargs["cpuset_cpus"] = spec.cpuset
    if spec.memory_limit:
        # Swap equal to the limit: no swapping, so a too-small limit is an OOM, not a
        # slow run with distorted energy.
        kwargs["mem_limit"] = spec.memory_limit
        kwargs["memswap_limit"] = spec.memory_limit
    if spec.device == "gpu":
        # One GPU, the metered one: TensorFlow and JAX take every GPU they see, torch one,
        # so more would bill frameworks unequally.
        kwargs["device_requests"] = [gpu_request(spec.gpu)]
    return kwargs


def _own_run_folder(out_dir: Path, uid: int, gid: int) -> None:
    for path in [out_dir, *out_dir.rglob("*")]:
        with contextlib.suppress(OSError):
            os.chown(path, uid, gid, follow_symlinks=False)


class DockerExecution(Execution):
    def __init__(self, client: Any, image: Any, spec: RunSpec) -> None:
        self.client = client
        self.image = image
        self.spec = spec
        self.container: Any = None
        self._create()

    def _user(self) -> str:
        # Run as the host user so its results stay readable and removable by it. Root on the
        # host: an id no host account has, the only one (with root) that may write the run
        # folder until cleanup hands it back to root.
        if os.getuid() != 0:
            return f"{os.getuid()}:{os.getgid()}"
        uid = isolated_id()
        os.chown(self.spec.out_dir, uid, uid)
        self.spec.out_dir.chmod(0o700)
        return f"{uid}:{uid}"

    def _create(self) -> None:
        import docker

        kwargs = {**container_options(self.spec, self._user()), **hardening()}
        try:
            self.container = self.client.containers.create(self.image.id, **kwargs)
        except docker.errors.APIError as exc:
            raise RuntimeUnavailableError(
                f"docker could not create the {self.spec.framework} container: "
                f"{exc.explanation or exc}"
            ) from exc

    def start(self) -> None:
        with engine_errors(f"starting the {self.spec.framework} container"):
            self.container.start()

    def wait(self, timeout_s: float | None) -> bool:
        import requests

        try:
            self.container.wait(timeout=timeout_s)
        except (requests.exceptions.ReadTimeout, requests.exceptions.ConnectionError):
            return False
        return True

    def stop(self) -> None:
        import docker

        with contextlib.suppress(docker.errors.APIError):
            self.container.stop(timeout=int(self.stop_grace_s))

    def finish(self) -> ExitState:
        with engine_errors(f"reading the {self.spec.framework} container's end"):
            self.container.reload()
            state = self.container.attrs.get("State", {})
            logs = self.container.logs(stdout=True, stderr=True)
        (self.spec.out_dir / "stdout.log").write_bytes(logs)
        running = state.get("Running", False)
        return ExitState(
            exit_code=None if running else state.get("ExitCode"),
            oom_killed=bool(state.get("OOMKilled", False)),
        )

    def cleanup(self) -> None:
        import docker

        if self.container is not None:
            with contextlib.suppress(docker.errors.NotFound):
                self.container.remove(force=True)
            self.container = None
        if os.getuid() == 0:
            _own_run_folder(self.spec.out_dir, 0, 0)
            self.spec.out_dir.chmod(0o755)

    def describe(self) -> dict[str, Any]:
        return {
            "kind": "docker",
            "image": image_tag(self.spec.framework, self.spec.device),
            "image_id": self.image.id,
            "container_id": None if self.container is None else self.container.id,
            **self.spec.gpu_block(),
        }


class DockerRuntime(Runtime):
    kind = "docker"

    def __init__(self, client: Any | None = None) -> None:
        self.client = client or connect()

    def image(self, framework: str, device: str) -> Any:
        import docker

        tag = image_tag(framework, device)
        try:
            return self.client.images.get(tag)
        except docker.errors.ImageNotFound:
            raise RuntimeUnavailableError(
                f"image {tag} is missing; build it with `make build` or "
                f"`orchestrator build --framework {framework}`"
            ) from None

    def missing_images(self, frameworks: list[str], device: str) -> list[str]:
        out = []
        for f in frameworks:
            try:
                self.image(f, device)
            except RuntimeUnavailableError:
                out.append(image_tag(f, device))
        return out

    def check(self, frameworks: list[str], device: str) -> None:
        for f in frameworks:
            self.image(f, device)

    def prepare(self, spec: RunSpec) -> Execution:
        return DockerExecution(self.client, self.image(spec.framework, spec.device), spec)

    def visible_gpus(self, framework: str, gpu: int) -> list[str]:
        import docker

        # Created, started and removed here rather than by containers.run(remove=True),
        # which leaves the created container behind when the start fails (no GPU driver).
        container = None
        try:
            container = self.client.containers.create(
                self.image(framework, "gpu").id, ["devices"], network_disabled=True,
                device_requests=[gpu_request(gpu)],
            )  # fmt: skip
            container.start()
            code = container.wait()["StatusCode"]
            out = container.logs(stdout=True, stderr=False).decode(errors="replace")
            err = container.logs(stdout=False, stderr=True).decode(errors="replace")
        except docker.errors.APIError as exc:
            # e.g. 'could not select device driver "" with capabilities: [[gpu]]'
            raise RuntimeUnavailableError(
                f"the Docker engine cannot give a container a GPU ({exc.explanation or exc}): "
                "install the NVIDIA Container Toolkit and restart dockerd (docs/gpu.md)"
            ) from None
        finally:
            if container is not None:
                with contextlib.suppress(docker.errors.APIError):
                    container.remove(force=True)
        return devices_reply(framework, code, out if code == 0 else "", err)

    def software(self, frameworks: list[str], device: str) -> dict[str, Any]:
        out = {}
        for f in frameworks:
            img = self.image(f, device)
            out[f] = {"image": image_tag(f, device), "image_id": img.id, "labels": img.labels}
        return out

    def measured_elsewhere(self, campaign_id: str | None) -> list[Foreign]:
        filters = {"label": CAMPAIGN_LABEL, "status": "running"}
        with engine_errors("listing the measured containers"):
            found = self.client.containers.list(filters=filters)
        return [
            Foreign(c.id, c.labels.get(CAMPAIGN_LABEL, "?"), c.labels.get(OWNER_LABEL))
            for c in found
            if campaign_id is None or c.labels.get(CAMPAIGN_LABEL) != campaign_id
        ]

    def remove(self, container_id: str) -> None:
        import docker

        with contextlib.suppress(docker.errors.NotFound):
            self.client.containers.get(container_id).remove(force=True)

    def reap(self, labels: dict[str, str]) -> list[str]:
        """Only containers whose orchestrator is gone: the labels alone are not proof of
        ownership (a copied campaign folder has the same)."""
        import docker

        filters = {"label": [f"{k}={v}" for k, v in labels.items()]}
        removed = []
        with engine_errors("removing containers left by an interrupted run"):
            for c in self.client.containers.list(all=True, filters=filters):
                if owner_gone(c.labels.get(OWNER_LABEL)):
                    with contextlib.suppress(docker.errors.NotFound):
                        c.remove(force=True)
                    removed.append(c.id)
        return removed
