"""RAPL through Linux powercap, in pure Python: `<root>/intel-rapl:*` zones and sub-zones.

Intel exposes package, core, uncore, dram and psys zones; AMD (Linux 5.8 and later) exposes
its package counter under the same `intel-rapl` control type. Zones nest (psys contains the
packages, a package its core and uncore), so each is reported on its own and never added
to the zones inside it.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from orchestrator.errors import MeterError
from orchestrator.meters.base import DomainSeries, Recording
from orchestrator.meters.counters import check_increasing, unwrap_known_range
from orchestrator.meters.sampler import PollingMeter, write_power_csv

DEFAULT_POWERCAP_ROOT = Path("/sys/class/powercap")
_ZONE_DIR = re.compile(r"^intel-rapl:(\d+)(?::(\d+))?$")
_PACKAGE = re.compile(r"^package-(\d+)$")
_SUBZONE_DOMAIN = {"core": "cpu-core", "uncore": "cpu-uncore", "dram": "dram"}

PERMISSION_FIX = (
    "since Linux 5.10 (CVE-2020-8694) energy_uj is readable by root only: run as root, or "
    "grant read access with `sudo chmod o+r /sys/class/powercap/intel-rapl:*/energy_uj "
    "/sys/class/powercap/intel-rapl:*:*/energy_uj` (until reboot) or the udev rule in "
    "docs/meters.md; container engines hide powercap, so measure on the host"
)


@dataclass(frozen=True)
class Zone:
    path: Path
    zone_id: str  # the sysfs directory name, e.g. intel-rapl:0:1
    name: str  # the zone's own `name` file, e.g. package-0, core, dram, psys
    domain: str  # docs/formats.md domain, e.g. cpu-core-0
    max_energy_range_uj: int

    @property
    def energy_path(self) -> Path:
        return self.path / "energy_uj"


def _read_bytes(path: Path) -> bytes:
    # os.open/os.read rather than Path.read_text: energy_uj is read every sample for every
    # zone, and the text layer costs several times the read itself. The file is reopened
    # each time: a kept descriptor would not see a file replaced (as the fake tree does).
    try:
        fd = os.open(path, os.O_RDONLY)
        try:
            return os.read(fd, 256)
        finally:
            os.close(fd)
    except PermissionError as exc:
        raise MeterError(f"cannot read {path}: permission denied; {PERMISSION_FIX}") from exc
    except OSError as exc:
        raise MeterError(
            f"cannot read {path} ({exc.strerror or exc}); is --powercap-root a powercap tree?"
        ) from exc


def _read_text(path: Path) -> str:
    return _read_bytes(path).decode("ascii", "replace").strip()


def read_energy_uj(path: Path) -> int:
    data = _read_bytes(path)
    try:
        return int(data)
    except ValueError as exc:
        text = data.decode("ascii", "replace").strip()
        raise MeterError(f"{path} holds {text!r}, not an integer count of microjoules") from exc


def _zone_dirs(root: Path) -> list[Path]:
    """Every intel-rapl zone directory under root, whether the tree is flat
    (/sys/class/powercap has a link per zone and sub-zone) or nested (the real devices)."""
    found: dict[Path, Path] = {}
    stack = [root, root / "intel-rapl"]
    depth = {root: 0, root / "intel-rapl": 0}
    while stack:
        d = stack.pop()
        if not d.is_dir() or depth[d] > 2:
            continue
        for entry in sorted(d.iterdir()):
            if _ZONE_DIR.match(entry.name) and entry.is_dir():
                found.setdefault(entry.resolve(), entry)
                depth[entry] = depth[d] + 1
                stack.append(entry)
    return sorted(found.values(), key=lambda p: _zone_key(p.name))


def _zone_key(zone_id: str) -> tuple[int, int]:
    m = _ZONE_DIR.match(zone_id)
    assert m is not None
    return int(m.group(1)), int(m.group(2)) if m.group(2) is not None else -1


def discover_zones(root: Path) -> tuple[list[Zone], list[str]]:
    """The readable zones under root with their domains, and notes on what was skipped."""
    if not root.is_dir():
        raise MeterError(
            f"powercap root {root} does not exist; this kernel exposes no RAPL there "
            "(needs intel_rapl_common, AMD needs Linux 5.8+), or this is a container: "
            "measure on the host or pass --powercap-root"
        )
    dirs = _zone_dirs(root)
    names = {d.name: _read_text(d / "name") for d in dirs}
    zones: list[Zone] = []
    notes: list[str] = []
    seen: set[str] = set()
    for d in dirs:
        name = names[d.name]
        top, sub = _zone_key(d.name)
        parent = names.get(f"intel-rapl:{top}", "")
        domain = _domain(name, top, sub, parent)
        if domain is None:
            notes.append(f"rapl: zone {d.name} named {name!r} is not a known domain; skipped")
            continue
        if domain in seen:
            notes.append(f"rapl: zone {d.name} repeats domain {domain}; skipped")
            continue
        seen.add(domain)
        max_range = read_energy_uj(d / "max_energy_range_uj")
        zones.append(Zone(d, d.name, name, domain, max_range))
    if not zones:
        raise MeterError(
            f"no RAPL zones (intel-rapl:*) under {root}: this CPU or kernel exposes none "
            "(needs intel_rapl_common, AMD needs Linux 5.8+), or this is a container, which "
            "hides powercap: measure on the host or pass --powercap-root"
        )
    return zones, notes


def _domain(name: str, top: int, sub: int, parent_name: str) -> str | None:
    if name == "psys":
        return "psys"
    package = _PACKAGE.match(name)
    if package and sub < 0:
        return f"cpu-package-{package.group(1)}"
    if name in _SUBZONE_DOMAIN:
        # A sub-zone belongs to the socket its package zone names; a top-level dram zone
        # (some servers) is numbered by its own index.
        parent = _PACKAGE.match(parent_name) if sub >= 0 else None
        socket = parent.group(1) if parent else str(top)
        return f"{_SUBZONE_DOMAIN[name]}-{socket}"
    return None


class RaplMeter(PollingMeter):
    name = "rapl"

    def __init__(self, interval_ms: int = 100, *, powercap_root: Path | None = None) -> None:
        super().__init__(interval_ms)
        self.root = powercap_root or DEFAULT_POWERCAP_ROOT
        self.zones, self._notes = discover_zones(self.root)
        for zone in self.zones:  # fail now, with the fix, rather than inside the window
            read_energy_uj(zone.energy_path)

    def domains(self) -> list[str]:
        return [z.domain for z in self.zones]

    def _header(self) -> list[str]:
        return [f"{z.domain}_energy_uj" for z in self.zones]

    def _read(self) -> list[int]:
        return [read_energy_uj(z.energy_path) for z in self.zones]

    def stop(self) -> Recording:
        rows, out_dir = self.stop_sampling()
        table = np.asarray(rows, dtype=np.float64)  # every RAPL value is a number
        time_s = table[:, 0]
        check_increasing(time_s, "rapl")
        series = {
            z.domain: DomainSeries(
                time_s, unwrap_known_range(table[:, i + 1], z.max_energy_range_uj) / 1e6
            )
            for i, z in enumerate(self.zones)
        }
        notes = self.notes + self._notes
        gap_s = float(np.max(np.diff(time_s))) if len(time_s) > 1 else 0.0
        for z in self.zones:
            # A wrap is only detectable if at most one happens per sample gap.
            power_w = series[z.domain].energy_j[-1] / max(time_s[-1] - time_s[0], 1e-9)
            if power_w > 0 and gap_s * power_w * 1e6 > z.max_energy_range_uj / 2:
                notes.append(
                    f"rapl: {z.domain} counter range {z.max_energy_range_uj} uJ is close to "
                    f"one sample gap ({gap_s:.3f} s): wraps may be missed; sample faster"
                )
        samples = out_dir / f"samples-{self.name}.csv"
        power = write_power_csv(out_dir / f"power-{self.name}.csv", series)
        return Recording(
            self.name, float(time_s[0]), float(time_s[-1]), series, samples, power, tuple(notes)
        )
