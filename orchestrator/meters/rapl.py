"""RAPL through Linux powercap, in pure Python: `<root>/intel-rapl:*` zones and sub-zones.

Intel exposes package, core, uncore, dram and psys zones; AMD (Linux 5.8 and later) exposes
its package counter under the same `intel-rapl` control type. Zones nest (psys contains the
packages, a package its core and uncore), so each is reported on its own and never added
to the zones inside it (orchestrator/meters/domains.py says which kinds a total adds).

The kernel numbers zones in hexadecimal (`intel-rapl:a` is the eleventh) and names a
package `package-P-die-D` when its CPU has several dies, each die with its own counter. A
top-level zone this meter cannot name would be energy missing from the total, so it stops
the meter at start-up rather than being skipped.

On AMD (and Hygon), the `core` sub-zone reads the core-energy MSR of the package's lead
CPU: one core (CPU 0, the one a default cpuset keeps the workload off), not the package's
cores, so it is left out with a note.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from orchestrator.errors import MeterError
from orchestrator.meters import domains
from orchestrator.meters.base import Recording
from orchestrator.meters.counters import PHYSICAL_MAX_POWER_W, unwrap_counter
from orchestrator.meters.sampler import PollingMeter, RecordingBuilder

DEFAULT_POWERCAP_ROOT = Path("/sys/class/powercap")
CPUINFO = Path("/proc/cpuinfo")
_ZONE_DIR = re.compile(r"^intel-rapl:([0-9a-f]+)(?::([0-9a-f]+))?$")
_PACKAGE = re.compile(r"^package-(\d+)(?:-die-(\d+))?$")
_PSYS = re.compile(r"^psys(?:-(\d+))?$")
_SUBZONE_DOMAIN = {"core": domains.core, "uncore": domains.uncore, "dram": domains.dram}
# The core-energy MSR these vendors expose as `core` belongs to one CPU, not the package.
ONE_CORE_VENDORS = ("AuthenticAMD", "HygonGenuine")
# A wrap is accepted, and a sampling gap trusted, only below this many times the zone's
# largest power limit: the limits are averages over their time windows, which the power
# inside a window may exceed for a moment.
CONSTRAINT_MARGIN = 1.5

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
    # What the zone can draw (its largest power limit with a margin, else physical): bounds
    # a wrap, and the longest sampling gap in which at most one wrap can hide.
    max_power_w: float = PHYSICAL_MAX_POWER_W

    @property
    def wrap_s(self) -> float:
        """The shortest time the counter can take to wrap: its range at max_power_w."""
        return self.max_energy_range_uj / 1e6 / self.max_power_w

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
    return int(m.group(1), 16), int(m.group(2), 16) if m.group(2) is not None else -1


def cpu_vendor(cpuinfo: Path = CPUINFO) -> str | None:
    """The CPU's vendor_id (GenuineIntel, AuthenticAMD, ...), None where it is not said."""
    try:
        text = cpuinfo.read_text(encoding="ascii", errors="replace")
    except OSError:
        return None
    m = re.search(r"^vendor_id\s*:\s*(\S+)", text, re.MULTILINE)
    return m.group(1) if m else None


def _max_power_w(zone_dir: Path) -> float | None:
    """What the zone can draw, with a margin: its largest power limit, PL2 included, None
    where it states none.

    The kernel's intel_rapl_common reports the TDP (THERMAL_SPEC_POWER) as the long-term
    constraint's `max_power_uw` and the short-term one's from MSR_PKG_POWER_INFO, often 0;
    desktop parts run at PL2 (`constraint_1_power_limit_uw`, often twice the TDP) for
    minutes. So every `constraint_*_power_limit_uw` and `constraint_*_max_power_uw` counts."""
    limits = []
    for pattern in ("constraint_*_max_power_uw", "constraint_*_power_limit_uw"):
        for f in zone_dir.glob(pattern):
            try:
                limits.append(int(_read_bytes(f)) / 1e6)
            except (MeterError, ValueError):
                continue  # the kernel answers some of these with an error (ENODATA)
    best = max(limits, default=0.0)
    return min(best * CONSTRAINT_MARGIN, PHYSICAL_MAX_POWER_W) if best > 0 else None


def discover_zones(root: Path, vendor: str | None = None) -> tuple[list[Zone], list[str]]:
    """The readable zones under root with their domains, and notes on what was skipped.

    MeterError for a top-level zone that cannot be named or that repeats another's domain:
    its energy would silently be missing from the total."""
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
    seen: dict[str, str] = {}
    bounds: dict[int, float] = {}  # top-level zone -> its stated max power
    top_level_socket = _top_level_sockets(dirs, names)
    for d in dirs:
        name = names[d.name]
        top, sub = _zone_key(d.name)
        parent = names.get(f"intel-rapl:{top:x}", "")
        if sub >= 0 and name == "core" and vendor in ONE_CORE_VENDORS:
            notes.append(
                f"rapl: zone {d.name} `core` left out: on {vendor} it reads one CPU's "
                "core-energy MSR (the package's lead CPU), not the package's cores"
            )
            continue
        domain = _domain(name, sub, parent, top_level_socket.get(d.name, top))
        if domain is None and sub < 0:
            raise MeterError(
                f"RAPL zone {d.name} under {root} is named {name!r}, which this meter cannot "
                "name: its energy would be missing from the total. Report it with the output "
                "of `grep . /sys/class/powercap/intel-rapl:*/name`, or use another meter"
            )
        if domain is None:
            # Nested in its package, whose own counter already holds its energy.
            notes.append(f"rapl: sub-zone {d.name} named {name!r} is not a known domain; skipped")
            continue
        if domain in seen and sub < 0:
            raise MeterError(
                f"RAPL zones {seen[domain]} and {d.name} under {root} are both named {name!r}: "
                "this kernel names the dies of a multi-die CPU alike, so one die's energy "
                "would be lost; use a kernel that names them package-P-die-D (Linux 5.4+)"
            )
        if domain in seen:
            notes.append(f"rapl: zone {d.name} repeats domain {domain}; skipped")
            continue
        seen[domain] = d.name
        max_range = read_energy_uj(d / "max_energy_range_uj")
        if max_range <= 0:
            raise MeterError(
                f"RAPL zone {d.name} under {root} gives max_energy_range_uj {max_range}: its "
                "wraps cannot be corrected; check the kernel's intel_rapl driver (or the "
                "--powercap-root tree), or use another meter"
            )
        # A sub-zone without limits of its own draws at most what its package can.
        limit = _max_power_w(d) or (bounds.get(top) if sub >= 0 else None)
        if sub < 0 and limit is not None:
            bounds[top] = limit
        zones.append(Zone(d, d.name, name, domain, max_range, limit or PHYSICAL_MAX_POWER_W))
    if not zones:
        raise MeterError(
            f"no RAPL zones (intel-rapl:*) under {root}: this CPU or kernel exposes none "
            "(needs intel_rapl_common, AMD needs Linux 5.8+), or this is a container, which "
            "hides powercap: measure on the host or pass --powercap-root"
        )
    return zones, notes


def _top_level_sockets(dirs: list[Path], names: dict[str, str]) -> dict[str, int]:
    """The socket of each top-level core, uncore or dram zone (some servers list DRAM
    beside the packages rather than inside them): the k-th such zone of a kind belongs to
    the k-th package socket, not to socket <its zone index>, which on a one-socket machine
    with `intel-rapl:1` = dram would invent a second socket."""
    packages = sorted(
        {int(m.group(1)) for d in dirs if (m := _PACKAGE.match(names[d.name])) is not None}
    )
    seen: dict[str, int] = {}
    out: dict[str, int] = {}
    for d in dirs:
        name = names[d.name]
        if name in _SUBZONE_DOMAIN and _zone_key(d.name)[1] < 0:
            k = seen[name] = seen.get(name, -1) + 1
            out[d.name] = packages[k] if k < len(packages) else k
    return out


def _domain(name: str, sub: int, parent_name: str, top_socket: int) -> str | None:
    psys = _PSYS.match(name)
    if psys:
        return domains.psys(int(psys.group(1)) if psys.group(1) else None)
    package = _PACKAGE.match(name)
    if package and sub < 0:
        die = int(package.group(2)) if package.group(2) else None
        return domains.package(int(package.group(1)), die)
    if name in _SUBZONE_DOMAIN:
        # A sub-zone belongs to the socket (and die) its package zone names; a top-level
        # one to its socket (_top_level_sockets).
        parent = _PACKAGE.match(parent_name) if sub >= 0 else None
        if parent is None:
            return _SUBZONE_DOMAIN[name](top_socket)
        die = int(parent.group(2)) if parent.group(2) else None
        return _SUBZONE_DOMAIN[name](int(parent.group(1)), die)
    return None


class RaplMeter(PollingMeter):
    name = "rapl"

    def __init__(
        self,
        interval_ms: int = 100,
        *,
        powercap_root: Path | None = None,
        vendor: str | None = None,
    ) -> None:
        super().__init__(interval_ms)
        self.root = powercap_root or DEFAULT_POWERCAP_ROOT
        self.vendor = vendor or cpu_vendor()
        self.zones, self._notes = discover_zones(self.root, self.vendor)
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
        out = RecordingBuilder(self.name, self.notes)
        out.notes += self._notes
        gap_s = float(np.max(np.diff(time_s))) if len(time_s) > 1 else 0.0
        for i, z in enumerate(self.zones):
            if gap_s >= z.wrap_s:
                # The process stalled (SIGSTOP, a paused VM, suspend, a starved thread):
                # the counter may have wrapped more than once, unseen.
                out.drop(
                    z.domain,
                    f"zone {z.zone_id}: {gap_s:.3f} s between two samples, as long as the "
                    f"{z.wrap_s:.3f} s its counter ({z.max_energy_range_uj} uJ) may take to "
                    f"wrap at {z.max_power_w:.0f} W: how many times it wrapped cannot be known",
                )
                continue
            counter = unwrap_counter(
                time_s,
                table[:, i + 1] / 1e6,
                z.max_energy_range_uj / 1e6,
                max_power_w=z.max_power_w,
            )
            out.add_counter(z.domain, counter, z.zone_id)
        return out.finish(out_dir, time_s, out_dir / f"samples-{self.name}.csv")
