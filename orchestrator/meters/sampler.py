"""A background thread that calls a meter's read function every interval and appends each
sample to the meter's raw CSV. Used by the meters that poll in Python (RAPL, NVML)."""

from __future__ import annotations

import csv
import threading
import time
from abc import abstractmethod
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import IO, Any

import numpy as np

from orchestrator.errors import MeterError
from orchestrator.meters import clock
from orchestrator.meters.base import DomainSeries, Meter, Method, Recording
from orchestrator.meters.counters import Counter, check_increasing, power_from_cumulative

Value = float | int | str | None
Row = list[Value]


class Sampler:
    """Samples at fixed deadlines (start + k x interval), so a slow read does not make the
    rate drift; a deadline missed entirely is skipped rather than bunched up.

    The first sample is taken in `start()` and a last one in `stop()`, both in the caller's
    thread, so the recorded window covers exactly the caller's start..stop."""

    def __init__(
        self,
        read: Callable[[], Sequence[Value]],
        header: Sequence[str],
        csv_path: Path,
        interval_ms: int,
    ) -> None:
        self._read = read
        self._header = ["time_s", *header]
        self._csv_path = csv_path
        self._interval_s = interval_ms / 1000.0
        self._rows: list[Row] = []
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._file: IO[str] | None = None
        self._plain: Any = None
        self._error: BaseException | None = None

    def _sample(self) -> None:
        # The midpoint of the read is the best estimate of when the values were true.
        t0 = clock.now()
        values = list(self._read())
        t1 = clock.now()
        row: Row = [round((t0 + t1) / 2.0, 6), *values]
        self._rows.append(row)
        if self._plain is not None:
            self._plain.writerow(row)

    def start(self) -> None:
        self._csv_path.parent.mkdir(parents=True, exist_ok=True)
        self._file = self._csv_path.open("w", newline="", encoding="utf-8")
        self._plain = csv.writer(self._file)
        self._plain.writerow(self._header)
        try:
            self._sample()
        except BaseException:
            # Nothing was measured: leave no CSV that could pass for samples.
            self._file.close()
            self._csv_path.unlink(missing_ok=True)
            raise
        self._thread = threading.Thread(target=self._loop, name="meter-sampler", daemon=True)
        self._thread.start()

    def _loop(self) -> None:
        start = time.monotonic()
        k = 1
        while True:
            delay = start + k * self._interval_s - time.monotonic()
            if delay < 0:
                k += int(-delay // self._interval_s) + 1
                continue
            if self._stop.wait(delay):
                return
            try:
                self._sample()
            except Exception as exc:  # surfaced by stop(), in the caller's thread
                self._error = exc
                return
            k += 1

    def stop(self) -> list[Row]:
        if self._thread is None or self._file is None:
            raise RuntimeError("stop() before start()")
        self._stop.set()
        self._thread.join()
        try:
            if self._error is None:
                self._sample()
        finally:
            self._file.close()
        if self._error is not None:
            if isinstance(self._error, MeterError):
                raise self._error
            raise MeterError(f"reading the meter failed while sampling: {self._error}")
        return self._rows


class PollingMeter(Meter):
    """A meter sampled in Python by a `Sampler`: subclasses give the CSV header and the read,
    and turn the rows `stop_sampling()` returns into a recording."""

    def __init__(self, interval_ms: int = 100) -> None:
        super().__init__(interval_ms)
        self._sampler: Sampler | None = None
        self._out_dir: Path | None = None

    @abstractmethod
    def _header(self) -> list[str]:
        """The raw CSV's columns after time_s."""

    @abstractmethod
    def _read(self) -> Sequence[Value]:
        """One sample, in the header's order."""

    def start(self, out_dir: Path) -> None:
        self._out_dir = out_dir
        self._sampler = Sampler(
            self._read, self._header(), out_dir / f"samples-{self.name}.csv", self.interval_ms
        )
        self._sampler.start()

    def stop_sampling(self) -> tuple[list[Row], Path]:
        """The rows (time_s first) and the folder they were written to."""
        if self._sampler is None or self._out_dir is None:
            raise RuntimeError("stop() before start()")
        sampler, self._sampler = self._sampler, None
        return sampler.stop(), self._out_dir


class RecordingBuilder:
    """The common tail of every meter's `stop()`: collect the domain series (each counter
    kept, bridged or dropped with a note saying which), check the sample times, write
    `power-<meter>.csv` and build the `Recording` with the meter's notes."""

    def __init__(self, meter: str, notes: Sequence[str] = ()) -> None:
        self.meter = meter
        self.notes: list[str] = list(notes)
        self.series: dict[str, DomainSeries] = {}
        self.dropped: dict[str, str] = {}
        self.alternates: dict[str, DomainSeries] = {}
        self.checks: str | None = None

    def add_counter(
        self,
        domain: str,
        counter: Counter,
        what: str,
        method: Method = "counter",
        out_of_total: str | None = None,
    ) -> DomainSeries | None:
        """Keep `counter` as `domain` (`what` names its source in the notes), or drop the
        domain when the counter was lost."""
        if counter.lost is not None:
            self.drop(domain, f"{what}: {counter.lost}")
            return None
        if counter.wraps:
            self.notes.append(
                f"{self.meter}: {domain} ({what}) wrapped {counter.wraps} time(s); corrected"
            )
        if counter.bridged:
            self.notes.append(
                f"{self.meter}: {domain} ({what}): {counter.bridged} sample(s) bridged by "
                f"interpolation ({counter.missing} missing, {counter.misread} misread: "
                "backwards without a plausible wrap, or an impossible jump)"
            )
        series = DomainSeries(
            counter.time_s, counter.energy_j, method, out_of_total, counter.bridged
        )
        self.series[domain] = series
        return series

    def drop(self, domain: str, why: str) -> None:
        self.dropped[domain] = why
        self.notes.append(f"{self.meter}: {domain} DROPPED: {why}")

    def finish(self, out_dir: Path, time_s: np.ndarray, samples_csv: Path | None) -> Recording:
        check_increasing(time_s, self.meter)
        power = write_power_csv(out_dir / f"power-{self.meter}.csv", self.series, time_s)
        return Recording(
            self.meter,
            float(time_s[0]),
            float(time_s[-1]),
            self.series,
            samples_csv,
            power,
            tuple(self.notes),
            self.dropped,
            self.alternates,
            self.checks,
        )


def write_power_csv(
    path: Path, series: dict[str, DomainSeries], time_s: np.ndarray | None = None
) -> Path | None:
    """`power-<meter>.csv`: time_s (end of each sample gap) then `<domain>_power_w`.

    The rows are the meter's sample times (`time_s`, else the first series'). A series
    trimmed at either end (samples lost there) leaves those cells empty; a series on other
    times is left out rather than resampled, because resampling would invent values."""
    if not series:
        return None
    times = np.asarray(next(iter(series.values())).time_s if time_s is None else time_s)
    columns: dict[str, np.ndarray] = {}
    for domain, s in series.items():
        if len(s.time_s) == 0:
            continue
        at = int(np.searchsorted(times, s.time_s[0]))
        if not np.array_equal(times[at : at + len(s.time_s)], s.time_s):
            continue
        column = np.full(max(len(times) - 1, 0), np.nan)
        column[at : at + len(s.time_s) - 1] = power_from_cumulative(s.time_s, s.energy_j)
        columns[f"{domain}_power_w"] = column
    with path.open("w", newline="", encoding="utf-8") as f:
        w = csv.writer(f)
        w.writerow(["time_s", *columns])
        for i in range(1, len(times)):
            w.writerow([f"{times[i]:.6f}", *(_fmt(col[i - 1]) for col in columns.values())])
    return path


def _fmt(x: float) -> str:
    return "" if not np.isfinite(x) else f"{x:.6f}"
