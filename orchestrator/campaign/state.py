"""state.jsonl: one line per finished run, what resume reads.

Each line goes out in ONE write on an O_APPEND descriptor, then fsync: a crash leaves either
the whole line or (at worst) a torn last line without its newline, which is read as absent.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

from orchestrator.campaign.records import StateLine

# Aborted or missing runs are redone; an incomplete one (a domain lost) was measured as far
# as the hardware allowed, and redoing it would change the plan's order of events.
DONE = frozenset({"ok", "failed", "timeout", "oom", "incomplete"})


def append_state(path: Path, line: StateLine) -> None:
    append_line(path, line.to_json())


def append_line(path: Path, obj: dict[str, Any]) -> None:
    """One JSON object as one line, in one write on an O_APPEND descriptor, then fsync."""
    data = (json.dumps(obj, sort_keys=True) + "\n").encode()
    # Never through a link: a planted one would append to the file it names.
    fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT | os.O_NOFOLLOW, 0o644)
    try:
        written = os.write(fd, data)
        if written != len(data):
            raise OSError(f"short write to {path}: {written} of {len(data)} bytes")
        os.fsync(fd)
    finally:
        os.close(fd)


def repair_state(path: Path) -> str | None:
    """Cut a torn last line (no newline: the orchestrator died mid-write, or the power
    went), so that the next record starts a line of its own instead of being glued to the
    fragment and lost with it. Called on open, under the folder's lock. Returns a note."""
    if not path.is_file():
        return None
    with path.open("r+b") as f:
        data = f.read()
        if not data or data.endswith(b"\n"):
            return None
        keep = data.rfind(b"\n") + 1
        f.truncate(keep)
        f.flush()
        os.fsync(f.fileno())
    return (
        f"{path.name} ended in a torn line ({len(data) - keep} bytes without a newline, "
        "left by a crash): removed; that run is redone"
    )


def read_state(path: Path) -> dict[str, StateLine]:
    """run_id -> its last complete line. A line that is JSON but not a state line is an
    error (RecordError), not something to skip: the file was damaged or written by another
    tool."""
    if not path.exists():
        return {}
    out: dict[str, StateLine] = {}
    for number, raw in enumerate(path.read_bytes().split(b"\n"), start=1):
        # The last element is b"" after a final newline, or a torn line after a crash.
        try:
            data = json.loads(raw)
        except ValueError:
            continue
        line = StateLine.from_json(data, f"{path} line {number}")
        out[line.run_id] = line
    return out


def finished_runs(path: Path) -> dict[str, StateLine]:
    return {k: v for k, v in read_state(path).items() if v.status in DONE}
