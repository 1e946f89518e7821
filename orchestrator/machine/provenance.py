"""Machine metadata, collected in this one place (campaign.json's provenance, and the facts
`orchestrator doctor` judges). Each reader returns None for what this machine does not
expose: never a guess."""

from __future__ import annotations

import importlib
import json
import os
import platform
import socket
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from types import ModuleType
from typing import Any

from orchestrator import __version__
from orchestrator.paths import REPO, requirements_file
from orchestrator.runtimes.variants import variant

CPU = Path("/sys/devices/system/cpu")


def _read(path: Path) -> str | None:
    try:
        return path.read_text().strip()
    except OSError:
        return None


def cpu_model() -> str | None:
    text = _read(Path("/proc/cpuinfo")) or ""
    for line in text.splitlines():
        if line.startswith("model name"):
            return line.split(":", 1)[1].strip()
    return None


def physical_cores() -> int | None:
    text = _read(Path("/proc/cpuinfo")) or ""
    cores = set()
    phys = core = None
    for line in text.splitlines():
        key, _, value = line.partition(":")
        key = key.strip()
        if key == "physical id":
            phys = value.strip()
        elif key == "core id":
            core = value.strip()
        elif not line.strip() and core is not None:
            cores.add((phys, core))
            phys = core = None
    if core is not None:
        cores.add((phys, core))
    return len(cores) or None


def sockets(cpuinfo: Path = Path("/proc/cpuinfo")) -> int | None:
    """How many CPU sockets (distinct `physical id`s), so that a report can say "1 of 2
    sockets measured"; None where the kernel does not say (some VMs, non-x86)."""
    text = _read(cpuinfo) or ""
    ids = {
        value.strip()
        for key, _, value in (line.partition(":") for line in text.splitlines())
        if key.strip() == "physical id"
    }
    return len(ids) or None


def governors() -> dict[str, int]:
    """Scaling governor -> number of CPUs using it."""
    out: dict[str, int] = {}
    for p in sorted(CPU.glob("cpu[0-9]*/cpufreq/scaling_governor")):
        g = _read(p)
        if g:
            out[g] = out.get(g, 0) + 1
    return out


def boost() -> str | None:
    """'on'/'off' for turbo/boost where the kernel says, else None."""
    no_turbo = _read(CPU / "intel_pstate/no_turbo")
    if no_turbo is not None:
        return "off" if no_turbo == "1" else "on"
    b = _read(CPU / "cpufreq/boost")
    if b is not None:
        return "on" if b == "1" else "off"
    return None


def smt() -> str | None:
    return _read(CPU / "smt/control")


def meminfo() -> dict[str, int]:
    out = {}
    for line in (_read(Path("/proc/meminfo")) or "").splitlines():
        key, _, value = line.partition(":")
        parts = value.split()
        if parts and parts[0].isdigit():
            out[key] = int(parts[0]) * (1024 if parts[1:] == ["kB"] else 1)
    return out


def thermal_zones() -> dict[str, float]:
    """Zone type -> temperature in degrees Celsius."""
    out = {}
    for zone in sorted(Path("/sys/class/thermal").glob("thermal_zone*")):
        t, kind = _read(zone / "temp"), _read(zone / "type")
        if t and t.lstrip("-").isdigit():
            out[f"{kind or zone.name}:{zone.name}"] = int(t) / 1000
    return out


def time_sync() -> bool | None:
    """Whether the clock is NTP-synchronised, where timedatectl can say."""
    try:
        r = subprocess.run(
            ["timedatectl", "show", "--property=NTPSynchronized", "--value"],
            capture_output=True, text=True, timeout=5, check=False,
        )  # fmt: skip
    except (OSError, subprocess.TimeoutExpired):
        return None
    value = r.stdout.strip()
    return {"yes": True, "no": False}.get(value)


def _nvml_value(read: Callable[[], Any]) -> Any:
    """One NVML reading, or None where this GPU or driver does not support it."""
    try:
        value = read()
    except Exception:  # NVMLError_NotSupported, NoPermission, an old driver's missing call
        return None
    return value.decode() if isinstance(value, bytes) else value


def gpus(nvml_module: ModuleType | None = None) -> list[dict[str, Any]]:
    """What NVML says of every GPU: identity, driver and CUDA versions, and the settings that
    change an energy measurement (persistence, power limit, application clocks, ECC, MIG),
    with the processes using it and its temperature now. A reading the GPU does not support
    is null."""
    try:
        nv: Any = nvml_module or importlib.import_module("pynvml")
        nv.nvmlInit()
    except Exception:  # no driver, no library, no GPU: all mean "none readable"
        return []
    try:
        driver = _nvml_value(nv.nvmlSystemGetDriverVersion)
        cuda = _nvml_value(nv.nvmlSystemGetCudaDriverVersion)
        out = []
        for i in range(nv.nvmlDeviceGetCount()):
            h = nv.nvmlDeviceGetHandleByIndex(i)

            def read(name: str, *args: Any, h: Any = h) -> Any:
                return _nvml_value(lambda: getattr(nv, name)(h, *args))

            processes = read("nvmlDeviceGetComputeRunningProcesses")
            ecc, mig = read("nvmlDeviceGetEccMode"), read("nvmlDeviceGetMigMode")
            memory = read("nvmlDeviceGetMemoryInfo")
            persistence = read("nvmlDeviceGetPersistenceMode")
            out.append({
                "index": i,
                "name": read("nvmlDeviceGetName"),
                "uuid": read("nvmlDeviceGetUUID"),
                "memory_bytes": None if memory is None else int(memory.total),
                "driver": driver,
                # NVML encodes the CUDA version the driver supports as 1000*major + 10*minor.
                "cuda_driver": None if cuda is None else f"{cuda // 1000}.{cuda % 1000 // 10}",
                "persistence_mode": None if persistence is None else bool(persistence),
                "power_limit_w": _milli(read("nvmlDeviceGetPowerManagementLimit")),
                "default_power_limit_w": _milli(read("nvmlDeviceGetPowerManagementDefaultLimit")),
                "sm_clock_mhz": read("nvmlDeviceGetApplicationsClock", nv.NVML_CLOCK_SM),
                "default_sm_clock_mhz": read(
                    "nvmlDeviceGetDefaultApplicationsClock", nv.NVML_CLOCK_SM
                ),
                "temperature_c": read("nvmlDeviceGetTemperature", nv.NVML_TEMPERATURE_GPU),
                "ecc": None if ecc is None else {"current": bool(ecc[0]), "pending": bool(ecc[1])},
                "mig": None if mig is None else {"current": bool(mig[0]), "pending": bool(mig[1])},
                "energy_counter": read("nvmlDeviceGetTotalEnergyConsumption") is not None,
                "processes": None if processes is None else [int(p.pid) for p in processes],
            })  # fmt: skip
        return out
    finally:
        nv.nvmlShutdown()


def _milli(value: Any) -> float | None:
    return None if value is None else float(value) / 1000.0


def docker_info() -> dict[str, Any] | None:
    try:
        import docker

        client = docker.from_env(timeout=10)
        v = client.version()
        info = client.info()
    except Exception:
        return None
    return {
        "server_version": v.get("Version"),
        "api_version": v.get("ApiVersion"),
        "storage_driver": info.get("Driver"),
        "cgroup_version": info.get("CgroupVersion"),
    }


def project_commit() -> tuple[str | None, bool | None]:
    """The project's git commit and whether tracked files differ from it."""
    try:
        head = subprocess.run(
            ["git", "-C", str(REPO), "rev-parse", "HEAD"],
            capture_output=True, text=True, timeout=10, check=True,
        ).stdout.strip()  # fmt: skip
        dirty = subprocess.run(
            ["git", "-C", str(REPO), "status", "--porcelain", "--untracked-files=no"],
            capture_output=True, text=True, timeout=10, check=True,
        ).stdout.strip()  # fmt: skip
    except (OSError, subprocess.SubprocessError):
        return None, None
    return head, bool(dirty)


_LIST_PACKAGES = (
    "import importlib.metadata as m, json; "
    "print(json.dumps({d.metadata['Name']: d.version for d in m.distributions()}))"
)


def local_packages(python: Path) -> dict[str, str] | None:
    try:
        r = subprocess.run(
            [str(python), "-c", _LIST_PACKAGES],
            capture_output=True,
            text=True,
            timeout=60,
            check=True,
        )
        return dict(sorted(json.loads(r.stdout).items()))
    except (OSError, subprocess.SubprocessError, ValueError):
        return None


def requirement_pins(path: Path) -> dict[str, str]:
    """name -> version of every `name==version` line, following `-r` includes."""
    out: dict[str, str] = {}
    for raw in (_read(path) or "").splitlines():
        line = raw.split("#", 1)[0].strip()
        if line.startswith("-r "):  # the GPU variants include the CPU pins
            out.update(requirement_pins(path.parent / line[3:].strip()))
        name, sep, version = line.partition("==")
        if sep:
            out[name.split("[", 1)[0]] = version
    return out


def pinned_requirements(framework: str, device: str = "cpu") -> dict[str, str]:
    """The pins an image was built from (its label carries their SHA-256)."""
    return requirement_pins(requirements_file(variant(framework).requirements_folder, device))


def host() -> dict[str, Any]:
    return {
        "hostname": socket.gethostname(),
        "platform": platform.platform(),
        "python": sys.version.split()[0],
        "fwenergy": __version__,
    }


def collect(software: dict[str, Any], runtime_kind: str, device: str = "cpu") -> dict[str, Any]:
    """campaign.json's provenance block. `software` is the runtime's per-framework
    description (image ids or interpreters)."""
    mem = meminfo()
    commit, dirty = project_commit()
    govs = governors()
    packages: dict[str, Any] = {}
    for fw, desc in software.items():
        if runtime_kind == "local":
            packages[fw] = local_packages(Path(desc["python"]))
        else:
            packages[fw] = pinned_requirements(fw, device)
    return {
        "host": host(),
        "cpu": {
            "model": cpu_model(),
            "logical_cpus": os.cpu_count(),
            "physical_cores": physical_cores(),
            "sockets": sockets(),
            "usable_cpus": sorted(os.sched_getaffinity(0)),
            "smt": smt(),
        },
        "kernel": platform.release(),
        "governor": next(iter(govs)) if len(govs) == 1 else (govs or None),
        "boost": boost(),
        "memory_bytes": mem.get("MemTotal"),
        "swap_bytes": mem.get("SwapTotal"),
        "load_average": list(os.getloadavg()),
        "time_synchronised": time_sync(),
        "thermal_c": thermal_zones(),
        "gpus": gpus(),
        "docker": docker_info(),
        "runtime": runtime_kind,
        "images": {fw: d.get("image_id") for fw, d in software.items() if "image_id" in d},
        "software": software,
        "packages": packages,
        "project_commit": commit,
        "project_dirty": dirty,
    }
