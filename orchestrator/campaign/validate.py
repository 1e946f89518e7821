"""Checks on what is read back from a campaign folder, beyond the records' own field types
(records.py): the recorded settings against the same bounds a new campaign must meet, and
idle.json. Resume acts on these values (CPU sets, memory limits, workload flags, baselines
for net energy), so a damaged or crafted file is one clear line, never a traceback and never
a setting no user could have given."""

from __future__ import annotations

import json
import math
from dataclasses import asdict, fields
from pathlib import Path
from typing import Any

from orchestrator.campaign.plan import (
    PlanError,
    ProtocolSettings,
    WorkloadSettings,
    check_bounds,
    check_cpuset,
    parse_size_bytes,
)
from orchestrator.campaign.records import IDLE_SCHEMA, SCHEMA_VERSION, RecordError, typed
from orchestrator.workloads import MODELS, TASKS


def _damaged(where: str, what: str) -> RecordError:
    return RecordError(f"{where}: {what}; the file is damaged (restore it or start again)")


# Settings added after the first campaigns were recorded: absent, they mean what those
# campaigns ran (the one model, training, fp32, GPU 0). Any other absent setting is damage:
# its default would run the redone runs differently from the recorded ones.
ADDED_LATER = frozenset({"model", "task", "precision", "gpu"})


def _check_present(block: dict[str, Any], cls: type, where: str) -> None:
    missing = [f.name for f in fields(cls) if f.name not in block and f.name not in ADDED_LATER]
    if missing:
        raise _damaged(where, f"the recorded setting {', '.join(missing)} is missing")


def recorded_settings(
    workload: dict[str, Any], protocol: dict[str, Any], where: str
) -> tuple[WorkloadSettings, ProtocolSettings]:
    """campaign.json's workload and protocol blocks, every setting present (ADDED_LATER
    aside), typed and within every bound."""
    _check_present(workload, WorkloadSettings, f"{where} workload")
    _check_present(protocol, ProtocolSettings, f"{where} protocol")
    w = typed(WorkloadSettings, workload, f"{where} workload")
    known = {f.name for f in fields(ProtocolSettings)}
    p = typed(ProtocolSettings, {k: v for k, v in protocol.items() if k in known},
              f"{where} protocol")  # fmt: skip
    try:
        check_bounds({**asdict(w), **asdict(p)})
        if p.cpuset is not None:
            check_cpuset(p.cpuset)
        if p.memory_limit is not None and parse_size_bytes(p.memory_limit) is None:
            raise PlanError(f"memory_limit {p.memory_limit!r} is not a size")
    except PlanError as exc:
        raise _damaged(where, str(exc)) from None
    if w.device not in ("cpu", "gpu") or w.init not in ("shared", "native"):
        raise _damaged(where, f"device {w.device!r} or init {w.init!r} is unknown")
    if w.precision not in ("fp32", "tf32"):
        raise _damaged(where, f"precision {w.precision!r} is unknown")
    # The task becomes the workload's sub-command and the model its --model: names from
    # the registry only (a campaign written before they existed has the defaults).
    if w.model not in MODELS or w.task not in TASKS:
        raise _damaged(where, f"model {w.model!r} or task {w.task!r} is unknown")
    return w, p


def _number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)


def read_json_file(path: Path) -> Any:
    """A campaign file's JSON; unreadable, non-UTF-8 or invalid is a RecordError."""
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, ValueError) as exc:
        raise RecordError(f"cannot read {path}: {exc}; restore it or start again") from None


SETTLED = ("settled_start", "settled_energy_j", "settled_duration_s", "settled_power_sd_w")


def idle_from_json(data: Any, where: str) -> dict[str, Any]:
    """idle.json, checked field by field: its settled powers become the baseline of the
    runs beside it."""
    if not isinstance(data, dict):
        raise _damaged(where, "not a JSON object")
    if data.get("schema") != IDLE_SCHEMA or data.get("schema_version") != SCHEMA_VERSION:
        raise _damaged(where, f"not a {IDLE_SCHEMA} v{SCHEMA_VERSION} file")
    for key in ("start", "end", "duration_s"):
        if not _number(data.get(key)):
            raise _damaged(where, f"{key} is not a number")
    energy = data.get("energy")
    if not isinstance(energy, dict):
        raise _damaged(where, "energy is not an object")
    for domain, e in energy.items():
        if not isinstance(e, dict):
            raise _damaged(where, f"energy.{domain} is not an object")
        power = e.get("mean_power_w")
        if power is not None and not _number(power):
            raise _damaged(where, f"energy.{domain}.mean_power_w is not a number")
        if e.get("settled_duration_s"):  # what the baseline of the runs beside it uses
            if not isinstance(e.get("meter"), str):
                raise _damaged(where, f"energy.{domain}.meter is not a name")
            for key in SETTLED:
                if not _number(e.get(key)):
                    raise _damaged(where, f"energy.{domain}.{key} is not a number")
    return data
