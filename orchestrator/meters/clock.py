"""The one clock every meter, run span and `measure` window is stamped with: the monotonic
clock, labelled with wall time.

Durations and intervals must not move when the wall clock does (an NTP step, a manual
`date -s`, a VM resumed with a stale clock): a +3600 s step mid-run would otherwise add
an hour to a run and take it from its mean power. So stamps are `time.monotonic()` plus an
offset to wall time taken once, when a meter window opens (`anchor()`): within a window
every interval is monotonic, and each window's labels still match the wall-clock stamps a
workload writes in events.jsonl. A step inside a window shows as the wall clock
disagreeing with these stamps at its end (`drift_note()`).
"""

from __future__ import annotations

import time

# A step smaller than this is scheduling noise between the two reads, or NTP slewing.
DRIFT_NOTE_S = 0.5

# Wall time minus monotonic time at the last anchor (one per process, set by anchor()).
_offset = [time.time() - time.monotonic()]


def anchor() -> float:
    """Align the stamps with the wall clock now (a meter window opens); returns now()."""
    _offset[0] = time.time() - time.monotonic()
    return now()


def now() -> float:
    """Unix seconds that advance with the monotonic clock since the last anchor()."""
    return time.monotonic() + _offset[0]


def drift_s() -> float:
    """How far the wall clock has moved against the monotonic stamps since anchor()."""
    return time.time() - now()


def drift_note(what: str) -> str | None:
    """A note when the wall clock stepped during `what`, None otherwise."""
    d = drift_s()
    if abs(d) < DRIFT_NOTE_S:
        return None
    return (
        f"the wall clock moved {d:+.1f} s against the monotonic clock during {what} (an NTP "
        "step or a clock change): durations and energies use the monotonic clock; stamps "
        "written by the workload (events.jsonl, phases) may be off by that much"
    )
