"""The provenance says how many sockets the machine has, from /proc/cpuinfo's format."""

from __future__ import annotations

from pathlib import Path

from orchestrator.machine.provenance import sockets

# Two logical CPUs of /proc/cpuinfo on a two-socket x86 server (fields cut for length).
ENTRY = """processor\t: {n}
vendor_id\t: GenuineIntel
model name\t: Intel(R) Xeon(R) Gold 6248 CPU @ 2.50GHz
physical id\t: {socket}
siblings\t: 40
core id\t\t: {core}
cpu cores\t: 20
"""


def test_sockets_are_the_distinct_physical_ids(tmp_path: Path) -> None:
    cpuinfo = tmp_path / "cpuinfo"
    cpuinfo.write_text("\n".join(ENTRY.format(n=n, socket=n // 4, core=n % 4) for n in range(8)))
    assert sockets(cpuinfo) == 2
    # A VM or an ARM machine without the field: not said rather than guessed.
    cpuinfo.write_text("processor\t: 0\nBogoMIPS\t: 50.00\n")
    assert sockets(cpuinfo) is None
