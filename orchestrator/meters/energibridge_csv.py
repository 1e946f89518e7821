"""EnergiBridge's CSV (v0.0.7), read exactly, and its counters turned into domain series.

The file is `Delta,Time,<every key sorted>`: Time is the Unix epoch milliseconds stamped
just before the row's values were collected, Delta the milliseconds from that stamp to when
the row was written, after the sleep (so roughly the time to the *next* row, not since the
previous one), then one column per key, whose set depends on the machine. Energy columns
are the raw RAPL MSR counters times the energy unit, in joules, with an arbitrary offset
and wrap-arounds that EnergiBridge does not correct. Used both by the meter and by the
folder importer.

A counter column that never advances over the whole file (a DRAM or PP1 register the CPU
does not implement reads 0 forever) is an absent domain, as Linux treats a zero-reading
RAPL status register, never a measured 0 J. EnergiBridge scales DRAM with the package's
energy unit, which is only right on client parts (servers count DRAM in a fixed 15.3 uJ
unit), so its DRAM stays out of the total unless the caller says the CPU is a client part.
"""

from __future__ import annotations

import csv
import re
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from orchestrator.errors import MeterError
from orchestrator.meters import domains
from orchestrator.meters.counters import (
    POWER_OF_TWO,
    integrate_power_bridged,
    unwrap_counter,
)
from orchestrator.meters.sampler import RecordingBuilder

# Intel: package, PP0 (the cores), PP1 (the integrated GPU, powercap's "uncore"), DRAM;
# AMD: CPU_ENERGY is the package. EnergiBridge reads one CPU's MSRs (CPU 0 on Intel, the
# last physical core on Linux/AMD): one socket, numbered 0 here.
ENERGY_DOMAINS = {
    "PACKAGE_ENERGY (J)": domains.package(0),
    "CPU_ENERGY (J)": domains.package(0),
    "PP0_ENERGY (J)": domains.core(0),
    "PP1_ENERGY (J)": domains.uncore(0),
    "DRAM_ENERGY (J)": domains.dram(0),
}
DRAM_COLUMN = "DRAM_ENERGY (J)"
DRAM_UNIT_NOTE = (
    "EnergiBridge scales DRAM with the package's energy unit, but server CPUs count DRAM "
    "in a fixed 15.3 uJ unit, so this value may be off several-fold: kept out of the total "
    "(say the CPU is a client part to add it)"
)
PACKAGE_COLUMNS = ("CPU_ENERGY (J)", "PACKAGE_ENERGY (J)")
OLD_PACKAGE_COLUMN = "PACAKGE_ENERGY (J)"  # the spelling of EnergiBridge before 0.0.7
_GPU_POWER = re.compile(r"^GPU(\d+)_POWER \(mWatts\)$")
_CORE_ENERGY = re.compile(r"^CORE\d+_ENERGY \(J\)$")


class EnergiBridgeCsvError(MeterError):
    """An EnergiBridge CSV that cannot be read; the message names the file and line."""


@dataclass(frozen=True)
class EnergiBridgeTable:
    path: Path
    columns: tuple[str, ...]
    data: np.ndarray  # one row per sample, one float column per CSV column

    def has(self, column: str) -> bool:
        return column in self.columns

    def column(self, name: str) -> np.ndarray:
        return self.data[:, self.columns.index(name)]

    @property
    def time_s(self) -> np.ndarray:
        return self.column("Time") / 1000.0


def parse_energibridge_csv(path: Path, separator: str = ",") -> EnergiBridgeTable:
    """Read one EnergiBridge CSV; any deviation from its format is an error naming the line."""
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise EnergiBridgeCsvError(f"{path}: cannot read ({exc.strerror or exc})") from exc
    lines = text.splitlines()
    if not lines or not lines[0].strip():
        raise EnergiBridgeCsvError(
            f"{path}: empty: EnergiBridge wrote no header (did it fail before the command ran?)"
        )
    reader = csv.reader(lines, delimiter=separator)
    header = tuple(next(reader))
    if header[:2] != ("Delta", "Time"):
        raise EnergiBridgeCsvError(
            f"{path}:1: header starts {','.join(header[:2])!r}, expected 'Delta,Time': "
            "not an EnergiBridge CSV"
        )
    if len(set(header)) != len(header):
        raise EnergiBridgeCsvError(f"{path}:1: header repeats a column name")
    if OLD_PACKAGE_COLUMN in header:
        # releases before 0.0.7 misspelled the column and scaled Intel counters with the
        # wrong energy unit: their joules cannot be trusted, so they are refused
        raise EnergiBridgeCsvError(
            f"{path}:1: column {OLD_PACKAGE_COLUMN!r} was written by EnergiBridge before "
            "0.0.7, whose Intel energy units are wrong; measure again with 0.0.7 or later"
        )
    rows: list[list[float]] = []
    for lineno, fields in enumerate(reader, start=2):
        if not fields:
            raise EnergiBridgeCsvError(f"{path}:{lineno}: empty line inside the data")
        if len(fields) != len(header):
            raise EnergiBridgeCsvError(
                f"{path}:{lineno}: {len(fields)} fields, the header has {len(header)} "
                "(a truncated or mixed file?)"
            )
        try:
            rows.append([float(f) for f in fields])
        except ValueError:
            bad = next(i for i, f in enumerate(fields) if not _is_float(f))
            raise EnergiBridgeCsvError(
                f"{path}:{lineno}: column {header[bad]!r} holds {fields[bad]!r}, not a number"
            ) from None
    if not rows:
        raise EnergiBridgeCsvError(f"{path}: header only, no samples")
    data = np.asarray(rows, dtype=np.float64)
    if np.any(np.diff(data[:, 1]) < 0):
        line = int(np.flatnonzero(np.diff(data[:, 1]) < 0)[0]) + 3
        raise EnergiBridgeCsvError(f"{path}:{line}: Time goes backwards")
    return EnergiBridgeTable(path, header, data)


def _is_float(s: str) -> bool:
    try:
        float(s)
    except ValueError:
        return False
    return True


def energibridge_series(
    table: EnergiBridgeTable, out: RecordingBuilder, *, gpu: bool = True, client_cpu: bool = False
) -> None:
    """Add the table's energy counters (wraps corrected, misreads bridged) and, with `gpu`,
    its GPU power columns integrated (estimated) to `out`, with notes. `client_cpu`: the
    CPU is a client part, whose DRAM unit EnergiBridge gets right."""
    time_s = table.time_s
    for column, domain in ENERGY_DOMAINS.items():
        if not table.has(column) or domain in out.series:
            continue
        raw = table.column(column)
        if raw.size >= 2 and np.all(raw == raw[0]):
            out.notes.append(
                f"energibridge: {column} never advanced ({raw[0]:g} J throughout): this CPU "
                f"does not implement it, so {domain} is absent, not 0 J"
            )
            continue
        out.add_counter(
            domain,
            unwrap_counter(time_s, raw, POWER_OF_TWO),
            column,
            out_of_total=DRAM_UNIT_NOTE if column == DRAM_COLUMN and not client_cpu else None,
        )
        if column == DRAM_COLUMN and not client_cpu and domain in out.series:
            out.notes.append(f"energibridge: {domain}: {DRAM_UNIT_NOTE}")
    for column in table.columns:
        m = _GPU_POWER.match(column)
        if m and gpu:
            power_w = table.column(column) / 1000.0
            out.add_counter(
                domains.gpu(int(m.group(1))),
                integrate_power_bridged(time_s, power_w),
                column,
                "power-integration",
            )
    if any(_CORE_ENERGY.match(c) for c in table.columns):
        out.notes.append(
            "energibridge: per-core CORE*_ENERGY columns kept in the raw CSV only "
            "(EnergiBridge indexes them by logical CPU, which is not a physical core)"
        )
    if out.series:
        out.notes.append(
            "energibridge: reads one CPU's MSRs (CPU 0 on Intel, the last physical core on "
            "Linux/AMD), so one socket only"
        )


def package_column(table: EnergiBridgeTable) -> str | None:
    """The package counter's column: CPU_ENERGY on AMD, PACKAGE_ENERGY on Intel."""
    return next((c for c in PACKAGE_COLUMNS if table.has(c)), None)
