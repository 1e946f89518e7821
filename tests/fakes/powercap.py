"""A fake Linux powercap tree: real files laid out as /sys/class/powercap is, advanced by a
simulator process at a known power per zone, wrap-arounds included.

The tree mirrors the kernel's: zone directories nest under the `intel-rapl` control type
(`intel-rapl/intel-rapl:0/intel-rapl:0:0`) and the root holds one link per zone and
sub-zone, as /sys/class/powercap does. Each zone has `name`, `energy_uj` and
`max_energy_range_uj`, and the power-limit constraints where given: `constraint_N_name`,
`constraint_N_power_limit_uw` (the limit set, PL1 or PL2), `constraint_N_max_power_uw` (what
intel_rapl_common reports: the TDP for long_term, often 0 for short_term) and
`constraint_N_time_window_us`. The simulator sets
`energy_uj` to `(offset_uj + power_w x 1e6 x (t - t0)) mod max_energy_range_uj` every tick,
replacing the file atomically so a reader never sees it half written (sysfs reads are atomic
too). Zone ids are hexadecimal, as the kernel writes them (`intel-rapl:a` is the eleventh).
A zone may misread: for `misread_s` = (start, length) after t0 it reads 1 mJ less than it
read 0.3 s before, a counter going backwards that no wrap explains.

Run as a script: `python tests/fakes/powercap.py simulate ROOT [--tick-ms 2]`.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import signal
import subprocess
import sys
import time
from dataclasses import asdict, dataclass, replace
from pathlib import Path
from types import TracebackType

SPEC = ".fake-powercap.json"


@dataclass(frozen=True)
class FakeZone:
    zone_id: str  # intel-rapl:0 or intel-rapl:0:1
    name: str  # package-0, core, uncore, dram, psys
    power_w: float
    max_energy_range_uj: int = 262_143_328_850
    offset_uj: int = 0
    max_power_uw: int | None = None  # constraint_0_max_power_uw alone, where given
    misread_s: tuple[float, float] | None = None
    # (name, power_limit_uw, max_power_uw) per constraint, in the kernel's order.
    constraints: tuple[tuple[str, int, int], ...] = ()


def _limits(long_term_w: float, tdp_w: float | None = None) -> tuple[tuple[str, int, int], ...]:
    """PL1 = PL2 = `long_term_w`, TDP `tdp_w` (default PL1) as intel_rapl_common states
    them: the long-term constraint's max_power_uw is the TDP, the short-term one's 0."""
    pl = int(long_term_w * 1e6)
    return (("long_term", pl, int((tdp_w or long_term_w) * 1e6)), ("short_term", pl, 0))


def two_socket_intel(max_range_uj: int = 262_143_328_850) -> list[FakeZone]:
    """Two sockets with core, uncore and dram sub-zones, and psys: what a server-class
    Intel machine exposes (psys is usually on laptops; both kinds of zone are covered).
    The packages and psys state power limits a little above their draw; the sub-zones
    none, as on most machines."""
    r = max_range_uj
    return [
        FakeZone("intel-rapl:0", "package-0", 30.0, r, r - 3_000_000, constraints=_limits(36)),
        FakeZone("intel-rapl:0:0", "core", 20.0, r, 1_000_000),
        FakeZone("intel-rapl:0:1", "uncore", 2.5, r, 5),
        FakeZone("intel-rapl:0:2", "dram", 6.0, r, r // 2),
        FakeZone("intel-rapl:1", "package-1", 25.0, r, 123_456, constraints=_limits(36)),
        FakeZone("intel-rapl:1:0", "core", 15.0, r, 0),
        FakeZone("intel-rapl:1:1", "dram", 5.0, r, 7_000_000),
        FakeZone("intel-rapl:2", "psys", 80.0, r, 42, constraints=_limits(96)),
    ]


def desktop_package(max_range_uj: int = 200_000_000) -> list[FakeZone]:
    """A desktop part (a 125 W TDP Core i9) whose board sets PL1 = PL2 = 200 W and which
    draws 200 W: the kernel states 125 W (the TDP) as the long-term max_power_uw and 0 as
    the short-term one; only the power limits say what it may draw. The small range makes
    it wrap every second (a real one: every 22 min at this power)."""
    r = max_range_uj
    return [
        FakeZone("intel-rapl:0", "package-0", 200.0, r, r - 2_000_000,
                 constraints=_limits(200, tdp_w=125)),
        FakeZone("intel-rapl:0:0", "core", 170.0, r, r // 2),
    ]  # fmt: skip


def amd_single_socket() -> list[FakeZone]:
    """AMD Zen on Linux 5.8+: one package zone per socket and its `core` sub-zone, which
    reads the core-energy MSR of the package's lead CPU only (one core)."""
    return [
        FakeZone("intel-rapl:0", "package-0", 45.0, 65_532_610_987, 1_000),
        FakeZone("intel-rapl:0:0", "core", 3.0, 65_532_610_987, 7_000),
    ]


def die_named_server() -> list[FakeZone]:
    """A two-socket, six-die-per-socket server (Cascade Lake-AP; AMD Zen 4/5 on some 6.9 and
    6.10 kernels): twelve top-level zones `package-P-die-D`, numbered 0 to b in hex, each
    with a dram sub-zone, and a platform zone `psys-1`."""
    zones = []
    for k in range(12):
        socket, die = divmod(k, 6)
        zones.append(FakeZone(f"intel-rapl:{k:x}", f"package-{socket}-die-{die}", 10.0 + k))
        zones.append(FakeZone(f"intel-rapl:{k:x}:0", "dram", 1.0 + k / 10))
    zones.append(FakeZone("intel-rapl:c", "psys-1", 250.0))
    return zones


def _zone_dir(root: Path, zone_id: str) -> Path:
    parts = zone_id.split(":")
    top = root / "_devices" / "intel-rapl" / f"intel-rapl:{parts[1]}"
    return top / zone_id if len(parts) == 3 else top


def build_tree(
    root: Path, zones: list[FakeZone], *, energy_mode: int = 0o444, t0: float | None = None
) -> None:
    """Lay the files out; `energy_mode` 0o400 is what Linux 5.10+ gives energy_uj."""
    control = root / "_devices" / "intel-rapl"
    control.mkdir(parents=True, exist_ok=True)
    (control / "enabled").write_text("1\n")
    if not (root / "intel-rapl").exists():
        (root / "intel-rapl").symlink_to(control)
    for z in zones:
        d = _zone_dir(root, z.zone_id)
        d.mkdir(parents=True, exist_ok=True)
        (d / "name").write_text(z.name + "\n")
        (d / "max_energy_range_uj").write_text(f"{z.max_energy_range_uj}\n")
        if z.max_power_uw is not None:
            (d / "constraint_0_name").write_text("long_term\n")
            (d / "constraint_0_max_power_uw").write_text(f"{z.max_power_uw}\n")
        for k, (cname, limit_uw, max_uw) in enumerate(z.constraints):
            (d / f"constraint_{k}_name").write_text(f"{cname}\n")
            (d / f"constraint_{k}_power_limit_uw").write_text(f"{limit_uw}\n")
            (d / f"constraint_{k}_max_power_uw").write_text(f"{max_uw}\n")
            window_us = 28_000_000 if cname == "long_term" else 2_440
            (d / f"constraint_{k}_time_window_us").write_text(f"{window_us}\n")
        energy = d / "energy_uj"
        energy.write_text(f"{z.offset_uj % (z.max_energy_range_uj or 1)}\n")
        energy.chmod(energy_mode)
        link = root / z.zone_id
        if not link.exists():
            link.symlink_to(d)
    spec = {"t0": time.time() if t0 is None else t0, "zones": [asdict(z) for z in zones]}
    (root / SPEC).write_text(json.dumps(spec))


def energy_uj_at(z: FakeZone, t0: float, t: float) -> int:
    if z.misread_s is not None and 0 <= t - t0 - z.misread_s[0] < z.misread_s[1]:
        return (
            energy_uj_at(replace(z, misread_s=None), t0, t - 0.3) - 1000
        ) % z.max_energy_range_uj
    return int(z.offset_uj + z.power_w * 1e6 * (t - t0)) % z.max_energy_range_uj


def _prioritise() -> None:
    """Real RAPL counters advance in hardware whatever the load; a simulator starved by a
    busy machine would leave stale values that look like meter error. Ask for real-time
    scheduling (it sleeps most of each tick), else a better nice level, else carry on."""
    try:
        os.sched_setscheduler(0, os.SCHED_FIFO, os.sched_param(10))
        return
    except (OSError, AttributeError):
        pass
    with contextlib.suppress(OSError):
        os.nice(-10)


def simulate(root: Path, tick_ms: float) -> None:
    spec = json.loads((root / SPEC).read_text())
    t0 = spec["t0"]
    zones = [FakeZone(**{**z, "constraints": ()}) for z in spec["zones"]]
    paths = [_zone_dir(root, z.zone_id) for z in zones]
    running = True

    def _stop(*_: object) -> None:
        nonlocal running
        running = False

    signal.signal(signal.SIGTERM, _stop)
    _prioritise()
    while running:
        for z, d in zip(zones, paths, strict=True):
            tmp = d / ".energy_uj.tmp"
            tmp.write_text(f"{energy_uj_at(z, t0, time.time())}\n")
            tmp.replace(d / "energy_uj")
        time.sleep(tick_ms / 1000.0)


class FakePowercap:
    """The tree plus its simulator process, for a `with` block."""

    def __init__(self, root: Path, zones: list[FakeZone], tick_ms: float = 2.0) -> None:
        self.root = root
        self.zones = {z.zone_id: z for z in zones}
        self.tick_ms = tick_ms
        self._proc: subprocess.Popen[bytes] | None = None

    def __enter__(self) -> FakePowercap:
        build_tree(self.root, list(self.zones.values()))
        self._proc = subprocess.Popen(
            [sys.executable, __file__, "simulate", str(self.root), "--tick-ms", str(self.tick_ms)]
        )
        # The first tick has run once energy_uj differs from the offset written by build.
        deadline = time.time() + 10
        first = next(iter(self.zones.values()))
        path = _zone_dir(self.root, first.zone_id) / "energy_uj"
        while path.read_text().strip() == str(first.offset_uj) and time.time() < deadline:
            time.sleep(0.005)
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if self._proc is not None:
            self._proc.terminate()
            self._proc.wait(timeout=10)

    def power_w(self, zone_id: str) -> float:
        return self.zones[zone_id].power_w


def main() -> None:
    parser = argparse.ArgumentParser()
    sub = parser.add_subparsers(dest="cmd", required=True)
    sim = sub.add_parser("simulate")
    sim.add_argument("root", type=Path)
    sim.add_argument("--tick-ms", type=float, default=2.0)
    build = sub.add_parser("build", help="lay out the two-socket Intel tree")
    build.add_argument("root", type=Path)
    args = parser.parse_args()
    if args.cmd == "simulate":
        simulate(args.root, args.tick_ms)
    else:
        build_tree(args.root, two_socket_intel())


if __name__ == "__main__":
    main()
