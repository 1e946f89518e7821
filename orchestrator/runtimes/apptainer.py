"""The apptainer runtime: the same pinned images as docker, converted into Apptainer's .sif
files, for HPC nodes that run Apptainer (formerly Singularity) and no Docker engine.

One `apptainer exec` per run, started like a local process (its own process group, pinned
to the campaign's CPUs, dies with the orchestrator): the container is contained
(`--containall`: private /tmp, PID and IPC namespaces), gets none of our environment
(`--cleanenv`, only what `--env` passes) and no home folder (`--no-home`), the dataset
read-only at /data and the run folder at /out, exactly docker's mounts, and `--nv` only for
a GPU run, with the one metered GPU made visible. A .sif is a read-only file, so nothing is
created before a run and nothing is left after it: prepare and cleanup have nothing to copy
or remove.

Provenance: the .sif's SHA-256 is its image id (campaign.json's `provenance.images`, each
run.json's `runtime.image_id`), so that a resumed campaign refuses a rebuilt image as it
does a changed docker image, with `apptainer --version` beside it.

Tested here against tests/fakes/apptainer (no Apptainer package exists for this machine);
docs/slurm.md says what to check on a real cluster."""

from __future__ import annotations

import hashlib
import os
import re
import shutil
import subprocess
from collections.abc import Callable
from pathlib import Path
from typing import Any

from orchestrator import __version__
from orchestrator.errors import RuntimeUnavailableError
from orchestrator.paths import SIFS_ENV, default_sifs
from orchestrator.runtimes.base import RunSpec, Runtime, devices_reply, entrypoint_args
from orchestrator.runtimes.docker import DATA_MOUNT, OUT_MOUNT, image_tag
from orchestrator.runtimes.local import LocalExecution
from orchestrator.runtimes.variants import variant

# `apptainer --version`: "apptainer version 1.3.4" (cobra's version template of the
# project's PACKAGE_NAME and PACKAGE_VERSION; a distribution may append "-1.el9").
_VERSION = re.compile(r"^apptainer version (\S+)$")
# A SIF file begins with a 32-byte launch script, then the magic (apptainer/sif's header).
_SIF_MAGIC_AT = 32
_SIF_MAGIC = b"SIF_MAGIC"
_HASH_CHUNK = 1 << 22
_INJECTED = ("APPTAINERENV_", "SINGULARITYENV_")
FRAMEWORK_LABEL = "io.fwenergy.framework"  # set by images/Dockerfile, kept by the conversion


def sif_name(framework: str, device: str = "cpu", version: str = __version__) -> str:
    """fwenergy-<image>-<version>[-gpu].sif: the docker tag's name, as a file name."""
    suffix = "-gpu" if device == "gpu" else ""
    return f"fwenergy-{variant(framework).image}-{version}{suffix}.sif"


def bind_args(source: Path, target: str, read_only: bool) -> list[str]:
    """One bind mount. `--bind SRC:DST[:ro]` splits on colons and commas, and a run folder
    named after a variant (001-2-torch:compile) has a colon: such a path goes through
    `--mount`, whose fields are key=value pairs parsed as CSV (a comma quoted)."""
    src = str(source)
    if ":" not in src and "," not in src:
        return ["--bind", f"{src}:{target}" + (":ro" if read_only else "")]
    field = f"source={src}"
    if "," in field or '"' in field:
        field = '"' + field.replace('"', '""') + '"'
    return ["--mount", f"type=bind,{field},destination={target}" + (",ro" if read_only else "")]


def exec_options(spec: RunSpec) -> list[str]:
    """The options of `apptainer exec` for one run: contained, clean environment, no home,
    the dataset read-only, the run folder writable, the GPU only for a GPU run."""
    options = ["--containall", "--cleanenv", "--no-home", "--pwd", "/tmp"]
    options += bind_args(spec.data_dir.resolve(), DATA_MOUNT, read_only=True)
    options += bind_args(spec.out_dir.resolve(), OUT_MOUNT, read_only=False)
    if spec.memory_limit:
        # Apptainer's cgroup limits, as docker's: swap equal to the limit, so no swapping.
        options += ["--memory", spec.memory_limit, "--memory-swap", spec.memory_limit]
    if spec.device == "gpu":
        # --nv binds every GPU's driver; one GPU, the metered one, is made visible, as the
        # docker runtime's device request and the local runtime's environment do.
        options += ["--nv", "--env", "CUDA_DEVICE_ORDER=PCI_BUS_ID",
                    "--env", f"CUDA_VISIBLE_DEVICES={spec.gpu}"]  # fmt: skip
    return options


def exec_command(apptainer: str, sif: Path, spec: RunSpec) -> list[str]:
    """The whole command line of one run."""
    args = entrypoint_args(spec, DATA_MOUNT, OUT_MOUNT)
    return [apptainer, "exec", *exec_options(spec), str(sif), "python", "-m", "workload", *args]


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as f:
        while chunk := f.read(_HASH_CHUNK):
            digest.update(chunk)
    return "sha256:" + digest.hexdigest()


class ApptainerExecution(LocalExecution):
    """A local process whose command is `apptainer exec`: the same process handling."""

    def __init__(self, runtime: ApptainerRuntime, sif: Path, spec: RunSpec) -> None:
        super().__init__(Path(runtime.executable), spec)
        self.runtime = runtime
        self.sif = sif
        self.image_id = runtime.image_id(sif)  # hashed before the meter starts

    def command(self) -> list[str]:
        return exec_command(self.runtime.executable, self.sif, self.spec)

    def environment(self) -> dict[str, str]:
        # apptainer itself needs ours (PATH, the site's APPTAINER_* settings); --cleanenv keeps
        # it out of the container, except APPTAINERENV_X (and Singularity's SINGULARITYENV_X),
        # which apptainer passes in as X even then: those are dropped, so only --env reaches
        # the workload.
        return {k: v for k, v in os.environ.items() if not k.startswith(_INJECTED)}

    def describe(self) -> dict[str, Any]:
        return {
            "kind": "apptainer",
            "image": str(self.sif),
            "image_id": self.image_id,
            "apptainer_version": self.runtime.version,
            **self.spec.gpu_block(),
        }


class ApptainerRuntime(Runtime):
    kind = "apptainer"

    def __init__(self, sifs: Path | None = None) -> None:
        self.sifs = sifs or default_sifs()
        found = shutil.which("apptainer")
        if found is None:
            raise RuntimeUnavailableError(
                "--runtime apptainer: apptainer is not on PATH; install Apptainer or load its "
                "module (e.g. `module load apptainer`), or use --runtime local"
            )
        self.executable = found
        self.version = apptainer_version(found)
        self._hashes: dict[tuple[str, int, int, int], str] = {}

    def summary(self) -> str:
        return f"apptainer {self.version}, images in {self.sifs}"

    def sif(self, framework: str, device: str) -> Path:
        return self.sifs / sif_name(framework, device)

    def _checked_sif(self, framework: str, device: str) -> Path:
        path = self.sif(framework, device)
        fix = (
            f"build it with `orchestrator build --sif --framework {framework}"
            + (" --device gpu" if device == "gpu" else "")
            + f"` (or set {SIFS_ENV} to the folder that has it; docs/slurm.md)"
        )
        try:
            with path.open("rb") as f:
                head = f.read(_SIF_MAGIC_AT + len(_SIF_MAGIC))
        except FileNotFoundError:
            raise RuntimeUnavailableError(
                f"no Apptainer image for {framework}: {path} is missing; {fix}"
            ) from None
        except OSError as exc:
            raise RuntimeUnavailableError(f"cannot read {path}: {exc.strerror}") from None
        if head[_SIF_MAGIC_AT:] != _SIF_MAGIC:
            raise RuntimeUnavailableError(f"{path} is not a SIF image; {fix}")
        return path

    def image_id(self, sif: Path) -> str:
        """The .sif's SHA-256, computed once per file version (a 1 GB image takes seconds)."""
        st = sif.stat()
        key = (str(sif), st.st_ino, st.st_size, st.st_mtime_ns)
        if key not in self._hashes:
            self._hashes[key] = _sha256(sif)
        return self._hashes[key]

    def check(self, frameworks: list[str], device: str) -> None:
        for f in frameworks:
            self._checked_sif(f, device)

    def prepare(self, spec: RunSpec) -> ApptainerExecution:
        return ApptainerExecution(self, self._checked_sif(spec.framework, spec.device), spec)

    def visible_gpus(self, framework: str, gpu: int) -> list[str]:
        sif = self._checked_sif(framework, "gpu")
        r = subprocess.run(
            [self.executable, "exec", "--containall", "--cleanenv", "--no-home", "--nv",
             "--env", "CUDA_DEVICE_ORDER=PCI_BUS_ID", "--env", f"CUDA_VISIBLE_DEVICES={gpu}",
             str(sif), "python", "-m", "workload", "devices"],
            capture_output=True, text=True, timeout=300, check=False,
        )  # fmt: skip
        return devices_reply(framework, r.returncode, r.stdout, r.stderr)

    def software(self, frameworks: list[str], device: str) -> dict[str, Any]:
        out = {}
        for f in frameworks:
            sif = self._checked_sif(f, device)
            labels = sif_labels(self.executable, sif)
            built_for = labels.get(FRAMEWORK_LABEL)
            if built_for is not None and built_for != variant(f).framework:
                raise RuntimeUnavailableError(
                    f"{sif} is the {built_for} image, not {f}'s; rebuild it with "
                    f"`orchestrator build --sif --framework {f}`"
                )
            out[f] = {
                "image": str(sif),
                "image_id": self.image_id(sif),
                "built_from": image_tag(f, device),
                "apptainer_version": self.version,
                "labels": labels,
            }
        return out


def _run_tool(
    cmd: list[str], what: str, timeout_s: float | None = 120
) -> subprocess.CompletedProcess[str]:
    try:
        r = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout_s, check=False)
    except (OSError, subprocess.TimeoutExpired) as exc:
        raise RuntimeUnavailableError(f"{what}: {exc}") from None
    if r.returncode != 0:
        last = r.stderr.strip().splitlines() or r.stdout.strip().splitlines() or ["no output"]
        raise RuntimeUnavailableError(f"{what} failed (exit code {r.returncode}): {last[-1]}")
    return r


def apptainer_version(executable: str) -> str:
    """`apptainer --version` -> "1.3.4"; RuntimeUnavailableError for anything else (a
    Singularity that is not Apptainer names itself differently)."""
    r = _run_tool([executable, "--version"], f"{executable} --version")
    line = r.stdout.strip()
    found = _VERSION.match(line)
    if found is None:
        raise RuntimeUnavailableError(
            f"{executable} --version answered {line[:80]!r}, not 'apptainer version X': "
            "--runtime apptainer needs Apptainer (1.0 or later)"
        )
    return found.group(1)


def sif_labels(executable: str, sif: Path) -> dict[str, str]:
    """The image's labels (`apptainer inspect --json --labels`): the docker labels it was
    built from (project version, requirements and their SHA-256) and Apptainer's own."""
    import json

    r = _run_tool([executable, "inspect", "--json", "--labels", str(sif)], "apptainer inspect")
    try:
        labels = json.loads(r.stdout)["data"]["attributes"]["labels"]
    except (ValueError, KeyError, TypeError):
        raise RuntimeUnavailableError(f"apptainer inspect {sif}: not the JSON expected") from None
    return {str(k): str(v) for k, v in (labels or {}).items()}


def build_sif(
    framework: str,
    device: str = "cpu",
    *,
    archive: Path | None = None,
    sifs: Path | None = None,
    log: Callable[[str], None] = print,
) -> Path:
    """Convert one pinned image into its .sif: from the Docker engine
    (docker-daemon://fwenergy/<image>:<tag>) or from a `docker save` archive
    (docker-archive://FILE), for machines without Docker. Replaces an older .sif."""
    executable = shutil.which("apptainer")
    if executable is None:
        raise RuntimeUnavailableError(
            "--sif: apptainer is not on PATH; install Apptainer or load its module, or "
            "convert the images on a machine that has it (docs/slurm.md)"
        )
    if archive is not None and not archive.is_file():
        raise RuntimeUnavailableError(f"--from-archive {archive}: no such file (`docker save`)")
    target = (sifs or default_sifs()) / sif_name(framework, device)
    target.parent.mkdir(parents=True, exist_ok=True)
    source = (
        f"docker-archive://{archive.resolve()}"
        if archive is not None
        else f"docker-daemon://{image_tag(framework, device)}"
    )
    log(f"converting {source} into {target}")
    # No time limit: converting a 1-2 GB image takes minutes.
    _run_tool([executable, "build", "--force", str(target), source], f"apptainer build {target}",
              timeout_s=None)  # fmt: skip
    return target
