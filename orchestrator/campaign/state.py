"""state.jsonl: one line per finished run, what resume reads.

Each line goes out in ONE write on an O_APPEND descriptor, then fsync: a crash leaves either
the whole line or (at worst) a torn last line without its newline, which is read as absent.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

DONE = frozenset({"ok", "failed", "timeout", "oom"})  # aborted or missing runs are redone


def append_state(path: Path, record: dict[str, Any]) -> None:
    line = (json.dumps(record, sort_keys=True) + "\n").encode()
    fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
    try:
        written = os.write(fd, line)
        if written != len(line):
            raise OSError(f"short write to {path}: {written} of {len(line)} bytes")
        os.fsync(fd)
    finally:
        os.close(fd)


def read_state(path: Path) -> dict[str, dict[str, Any]]:
    """run_id -> its last complete record."""
    if not path.exists():
        return {}
    out: dict[str, dict[str, Any]] = {}
    for raw in path.read_bytes().split(b"\n"):
        # The last element is b"" after a final newline, or a torn line after a crash.
        try:
            rec = json.loads(raw)
        except ValueError:
            continue
        if isinstance(rec, dict) and "run_id" in rec:
            out[rec["run_id"]] = rec
    return out


def finished_runs(path: Path) -> dict[str, dict[str, Any]]:
    return {k: v for k, v in read_state(path).items() if v.get("status") in DONE}
