"""`orchestrator doctor`: what on this machine would spoil a measurement, each finding with
the fix. Reads facts through provenance (the one place that collects them) and judges."""

from __future__ import annotations

import json
import os
import shutil
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path
from types import ModuleType
from typing import Any, Literal

from rich.console import Console
from rich.table import Table
from rich.text import Text

from orchestrator.errors import UserError
from orchestrator.machine import provenance
from orchestrator.runtimes.variants import parse_variants

IDLE_GPU_MAX_C = 60  # a datacentre GPU at idle sits well below this (H100: 30-40 C)
Level = Literal["ok", "warn", "fail", "info"]


@dataclass(frozen=True)
class Finding:
    check: str
    level: Level
    detail: str
    fix: str | None = None


def ok(check: str, detail: str) -> Finding:
    return Finding(check, "ok", detail)


def info(check: str, detail: str) -> Finding:
    return Finding(check, "info", detail)


def warn(check: str, detail: str, fix: str | None = None) -> Finding:
    return Finding(check, "warn", detail, fix)


def fail(check: str, detail: str, fix: str | None = None) -> Finding:
    return Finding(check, "fail", detail, fix)


def check_engine(frameworks: list[str]) -> list[Finding]:
    from orchestrator.runtimes.docker import DockerRuntime

    try:
        rt = DockerRuntime()
    except UserError as exc:
        return [
            warn(
                "docker engine",
                str(exc),
                "start Docker (or use --runtime local with `make venvs`)",
            )
        ]
    out = [ok("docker engine", "the engine answers")]
    missing = rt.missing_images(frameworks, "cpu")
    if missing:
        out.append(warn("images", f"missing: {', '.join(missing)}", "make build"))
    else:
        out.append(ok("images", "all framework images present"))
    return [*out, _engine_disk(rt.client)]


def _engine_disk(client: Any) -> Finding:
    from orchestrator.runtimes.docker import IMAGE_REPOSITORY

    info_ = client.info()
    root, driver = info_.get("DockerRootDir", ""), info_.get("Driver", "")
    # A remote engine's data root is another machine's path: nothing to read here.
    local = client.api.base_url == "http+docker://localhost"  # the SDK's name for a unix socket
    try:
        free_bytes = shutil.disk_usage(root).free if local and root else None
    except OSError:
        free_bytes = None
    images = client.images.list(filters={"reference": f"{IMAGE_REPOSITORY}/*"})
    largest = max((int(i.attrs.get("Size", 0)) for i in images), default=0)
    return judge_engine_disk(root, driver, free_bytes, largest)


def judge_engine_disk(
    root: str, driver: str, free_bytes: int | None, largest_image_bytes: int
) -> Finding:
    """Whether the engine's disk holds what a campaign and a rebuild add: on vfs every
    container and every build step is a full copy of its image, elsewhere a rebuild's new
    layers are at most about one image."""
    check = "docker disk"
    if free_bytes is None:
        return info(
            check,
            f"the engine's data root ({root or 'unknown'}) cannot be read from this machine; "
            "`docker system df` shows its use",
        )
    need = largest_image_bytes * (2 if driver == "vfs" else 1)
    where = f"{free_bytes / 2**30:.1f} GiB free on {root} ({driver} storage)"
    if free_bytes < need:
        copies = (
            "a run's container and a rebuild each copy"
            if driver == "vfs"
            else "a rebuild adds up to"
        )
        return warn(
            check,
            f"{where}; {copies} the largest image ({largest_image_bytes / 2**30:.1f} GiB)",
            "free space there: `docker system df` shows what uses it, `docker image prune` "
            "removes untagged images (earlier builds)",
        )
    return ok(check, where)


def check_meters(powercap_root: Path | None, energibridge: Path | None) -> list[Finding]:
    from orchestrator.meters.registry import open_meters

    try:
        meters = open_meters("auto", powercap_root=powercap_root, energibridge=energibridge)
    except UserError as exc:
        return [fail("meters", str(exc), "see docs/meters.md")]
    names = [m.name for m in meters]
    if names == ["none"]:
        return [
            fail(
                "meters",
                "no energy meter readable: only time is measured",
                "make RAPL readable (sudo chmod a+r /sys/class/powercap/*/energy_uj) "
                "or install EnergiBridge / an NVIDIA driver",
            )
        ]
    domains = [d for m in meters for d in m.domains()]
    return [ok("meters", f"{', '.join(names)}: {', '.join(domains) or 'no domains'}")]


def check_cpu() -> list[Finding]:
    out = []
    govs = provenance.governors()
    if not govs:
        out.append(info("cpu governor", "not readable (no cpufreq here: VM or container?)"))
    elif set(govs) == {"performance"}:
        out.append(ok("cpu governor", "performance on every CPU"))
    else:
        out.append(
            warn(
                "cpu governor",
                f"{govs}: the clock follows load",
                "sudo cpupower frequency-set -g performance",
            )
        )
    boost = provenance.boost()
    if boost is None:
        out.append(info("turbo/boost", "not readable here"))
    elif boost == "on":
        out.append(
            warn(
                "turbo/boost",
                "on: clocks depend on temperature and history",
                "echo 1 | sudo tee /sys/devices/system/cpu/intel_pstate/no_turbo "
                "(AMD: echo 0 | sudo tee /sys/devices/system/cpu/cpufreq/boost)",
            )
        )
    else:
        out.append(ok("turbo/boost", "off"))
    smt = provenance.smt()
    if smt in ("on", "forceon"):
        out.append(
            warn(
                "smt",
                "SMT is on: sibling threads share a core",
                "echo off | sudo tee /sys/devices/system/cpu/smt/control, "
                "or pin with --cpuset to one thread per core",
            )
        )
    else:
        out.append(Finding("smt", "ok" if smt else "info", smt or "not readable here"))
    return out


def check_memory() -> list[Finding]:
    mem = provenance.meminfo()
    total, free = mem.get("SwapTotal", 0), mem.get("SwapFree", 0)
    if total and total - free > 0:
        return [
            warn(
                "swap",
                f"{(total - free) >> 20} MiB swapped out",
                "sudo swapoff -a && sudo swapon -a (or free memory first)",
            )
        ]
    return [ok("swap", "nothing swapped" if total else "no swap configured")]


def _cpu_ticks() -> dict[int, tuple[str, int]]:
    out = {}
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            text = stat.read_text()
        except OSError:
            continue
        name = text[text.index("(") + 1 : text.rindex(")")]
        fields = text[text.rindex(")") + 2 :].split()
        out[int(stat.parent.name)] = (name, int(fields[11]) + int(fields[12]))
    return out


def check_load(sample_s: float = 1.0) -> list[Finding]:
    import time

    load1 = os.getloadavg()[0]
    before = _cpu_ticks()
    time.sleep(sample_s)
    after = _cpu_ticks()
    hz = os.sysconf("SC_CLK_TCK")
    me = os.getpid()
    busy = sorted(
        ((after[p][1] - before[p][1]) / hz / sample_s, after[p][0], p)
        for p in after
        if p in before and p != me and (after[p][1] - before[p][1]) / hz > sample_s * 0.05
    )[::-1]
    out = []
    cpus = len(os.sched_getaffinity(0))
    level: Level = "warn" if load1 > 0.1 * cpus else "ok"
    out.append(
        Finding(
            "load average",
            level,
            f"{load1:.2f} over the last minute on {cpus} CPUs",
            "stop other work before measuring" if level == "warn" else None,
        )
    )
    if busy:
        names = ", ".join(f"{n} (pid {p}, {share:.0%} of a CPU)" for share, n, p in busy[:5])
        out.append(
            warn(
                "busy processes",
                names,
                "stop them (systemctl stop ..., close applications) before measuring",
            )
        )
    else:
        out.append(ok("busy processes", "none above 5% of a CPU"))
    return out


def check_time_and_thermal() -> list[Finding]:
    out = []
    sync = provenance.time_sync()
    if sync is None:
        out.append(info("time sync", "timedatectl cannot say"))
    elif sync:
        out.append(ok("time sync", "NTP synchronised"))
    else:
        out.append(
            warn(
                "time sync",
                "the clock is not synchronised: sample and event "
                "times still agree (one clock), but start times drift",
                "sudo timedatectl set-ntp true",
            )
        )
    temps = provenance.thermal_zones()
    hot = {k: v for k, v in temps.items() if v >= 70}
    if not temps:
        out.append(info("thermal", "no thermal zones readable"))
    elif hot:
        out.append(
            warn(
                "thermal",
                f"hot: {hot}",
                "let the machine cool down; check fans and airflow",
            )
        )
    else:
        out.append(ok("thermal", f"max {max(temps.values()):.0f} C"))
    return out


@dataclass(frozen=True)
class Subject:
    """What the checks look at: the frameworks to run, where the meters read, and for a GPU
    campaign the one GPU it would use."""

    frameworks: list[str]
    powercap_root: Path | None = None
    energibridge: Path | None = None
    device: str = "cpu"
    gpu: int = 0
    nvml_module: ModuleType | None = None


def check_gpu(s: Subject) -> list[Finding]:
    """The GPU a campaign would use, as NVML reports it: what would make its energy depend
    on more than the work (docs/gpu.md)."""
    if s.device != "gpu":
        return []
    found = provenance.gpus(s.nvml_module)
    if not found:
        return [
            fail("gpu", "no NVIDIA GPU readable through NVML", "install the driver (docs/gpu.md)")
        ]
    if not 0 <= s.gpu < len(found):
        return [fail("gpu", f"--gpu {s.gpu}: the machine has {len(found)} GPUs", "choose one")]
    g = found[s.gpu]
    label = f"gpu {s.gpu}"
    out = [info(label, f"{g['name']}, driver {g['driver']}, CUDA {g['cuda_driver']}")]
    if g["persistence_mode"] is False:
        out.append(
            warn(
                f"{label} persistence",
                "off: the driver reinitialises the GPU for each "
                "run, which costs time and energy at its start",
                "sudo nvidia-smi -pm 1",
            )
        )
    if g["processes"]:
        out.append(
            warn(
                f"{label} processes",
                f"other processes use it: {g['processes']}",
                "stop them: their power is inside every run",
            )
        )
    if g["power_limit_w"] is not None and g["power_limit_w"] != g["default_power_limit_w"]:
        out.append(
            warn(
                f"{label} power limit",
                f"{g['power_limit_w']:g} W (default "
                f"{g['default_power_limit_w']:g} W): results hold for this limit only",
                f"sudo nvidia-smi -i {s.gpu} -pl {g['default_power_limit_w']:g}",
            )
        )
    if g["sm_clock_mhz"] is not None and g["sm_clock_mhz"] != g["default_sm_clock_mhz"]:
        out.append(
            warn(
                f"{label} clocks",
                f"application clock {g['sm_clock_mhz']} MHz (default "
                f"{g['default_sm_clock_mhz']} MHz)",
                f"sudo nvidia-smi -i {s.gpu} -rac",
            )
        )
    if g["temperature_c"] is not None and g["temperature_c"] > IDLE_GPU_MAX_C:
        out.append(
            warn(
                f"{label} temperature",
                f"{g['temperature_c']} C before measuring: not idle or badly cooled",
                "wait for it to cool; check the other processes",
            )
        )
    if g["ecc"] and g["ecc"]["current"] != g["ecc"]["pending"]:
        out.append(warn(f"{label} ecc", "an ECC mode change waits for a reboot", "reboot first"))
    if g["mig"] and g["mig"]["current"]:
        out.append(
            warn(
                f"{label} mig",
                "MIG is on: a run would get a slice, not the GPU",
                f"sudo nvidia-smi -i {s.gpu} -mig 0",
            )
        )
    if not g["energy_counter"]:
        out.append(
            warn(
                f"{label} energy",
                "no total-energy counter (before Volta): energy is "
                "polled power integrated, labelled estimated",
                "use a Volta or newer GPU",
            )
        )
    if len(out) == 1:
        out.append(
            ok(
                f"{label} settings",
                "persistence on, default power limit and clocks, no "
                "other process, energy counter present",
            )
        )
    return out


# The checks, in the order they are shown. Adding a check is one line here.
CHECKS: tuple[Callable[[Subject], list[Finding]], ...] = (
    lambda s: check_engine(s.frameworks),
    lambda s: check_meters(s.powercap_root, s.energibridge),
    lambda s: check_cpu(),
    lambda s: check_memory(),
    lambda s: check_load(),
    lambda s: check_time_and_thermal(),
    check_gpu,
)


def diagnose(subject: Subject) -> list[Finding]:
    return [finding for check in CHECKS for finding in check(subject)]


def as_json(findings: list[Finding]) -> dict[str, object]:
    return {
        "schema": "fwenergy.doctor",
        "schema_version": 1,
        "ok": not any(f.level == "fail" for f in findings),
        "findings": [asdict(f) for f in findings],
    }


def report(
    frameworks: str,
    powercap_root: Path | None,
    energibridge: Path | None,
    *,
    device: str = "cpu",
    gpu: int = 0,
    json_out: bool,
    console: Console,
) -> None:
    """Print the findings: a table on stderr, or one JSON object on stdout."""
    if device not in ("cpu", "gpu"):
        raise UserError(f"--device must be cpu or gpu, not {device!r}")
    subject = Subject(list(parse_variants(frameworks)), powercap_root, energibridge, device, gpu)
    findings = diagnose(subject)
    if json_out:
        print(json.dumps(as_json(findings), indent=2))
        return
    table = Table(title="what would spoil a measurement here")
    for col in ("check", "", "finding", "fix"):
        table.add_column(col)
    style = {"ok": "green", "warn": "yellow", "fail": "red", "info": "dim"}
    for f in findings:
        # Findings quote the machine (paths, process names): Text, never markup.
        level = Text(f.level, style=style[f.level])
        table.add_row(Text(f.check), level, Text(f.detail), Text(f.fix or ""))
    console.print(table)
