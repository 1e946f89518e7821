"""events.jsonl: one JSON object per phase boundary, flushed at once, wall-clock times.

Events logged before the output folder is known (the process start) are held in memory and
written when the log is opened, so a run rejected for bad input leaves no file behind."""

from __future__ import annotations

import json
import os
import time
from pathlib import Path
from typing import IO, Any


class EventLog:
    def __init__(self) -> None:
        self._pending: list[dict[str, Any]] = []
        self._file: IO[str] | None = None
        self.records: list[dict[str, Any]] = []

    def emit(self, event: str, t: float | None = None, **fields: Any) -> float:
        record = {"event": event, "t": time.time() if t is None else t, **fields}
        self.records.append(record)
        if self._file is None:
            self._pending.append(record)
        else:
            self._write(record)
        return float(record["t"])

    def open(self, path: Path) -> None:
        self._file = path.open("w", encoding="utf-8")
        for record in self._pending:
            self._write(record)
        self._pending.clear()

    def _write(self, record: dict[str, Any]) -> None:
        assert self._file is not None
        self._file.write(json.dumps(record) + "\n")
        # The host lines meter samples up with these times while the run is going on,
        # and a crashed run must still show how far it got.
        self._file.flush()
        os.fsync(self._file.fileno())

    def close(self) -> None:
        if self._file is not None:
            self._file.close()
            self._file = None

    def first(self, event: str, **match: Any) -> float | None:
        for r in self.records:
            if r["event"] == event and all(r.get(k) == v for k, v in match.items()):
                return float(r["t"])
        return None
