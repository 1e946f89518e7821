"""Idle gaps: the machine measured doing nothing after every run; their mean power is the
baseline that run.json's net energy subtracts."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

from orchestrator.campaign.folder import CampaignFolder, write_json_atomic
from orchestrator.campaign.records import IDLE_SCHEMA, SCHEMA_VERSION
from orchestrator.campaign.validate import idle_from_json, read_json_file
from orchestrator.meters.base import Meter, Recording
from orchestrator.meters.window import MeterWindow


def idle_record(recordings: list[Recording], start_s: float, end_s: float) -> dict[str, Any]:
    energy = {
        domain: {
            "energy_j": energy_j,
            "mean_power_w": energy_j / rec.duration_s if rec.duration_s > 0 else None,
            "meter": rec.meter,
        }
        for rec in recordings
        for domain, energy_j in rec.energy_j.items()
    }
    return {
        "schema": IDLE_SCHEMA,
        "schema_version": SCHEMA_VERSION,
        "start": start_s,
        "end": end_s,
        "duration_s": end_s - start_s,
        "energy": energy,
        "notes": [n for rec in recordings for n in rec.notes],
    }


def baseline_power_w(idle_records: list[dict[str, Any]]) -> dict[str, float]:
    """Domain -> mean power over every idle gap so far: each gap's mean power (over its own
    meter window) weighted by the gap's length, i.e. total idle energy / total idle time."""
    weighted: dict[str, float] = {}
    duration: dict[str, float] = {}
    for rec in idle_records:
        for domain, e in rec.get("energy", {}).items():
            if e.get("mean_power_w") is None:
                continue
            weighted[domain] = weighted.get(domain, 0.0) + e["mean_power_w"] * rec["duration_s"]
            duration[domain] = duration.get(domain, 0.0) + rec["duration_s"]
    return {d: weighted[d] / duration[d] for d in weighted if duration[d] > 0}


def read_idle_records(folder: CampaignFolder) -> list[dict[str, Any]]:
    """The complete idle gaps on disk; an incomplete one (no idle.json) is removed."""
    out = []
    for d in sorted((folder.root / "idle").glob("*")):
        path = d / "idle.json"
        if path.exists():
            out.append(idle_from_json(read_json_file(path), str(path)))
        elif d.is_dir():
            CampaignFolder.fresh(d).rmdir()
    return out


def measure_idle(meters: list[Meter], out_dir: Path, duration_s: float) -> dict[str, Any]:
    """Sample the idle machine for `duration_s`; on interruption the folder is removed."""
    CampaignFolder.fresh(out_dir)
    try:
        with MeterWindow(meters, out_dir) as window:
            time.sleep(duration_s)
    except BaseException:
        CampaignFolder.fresh(out_dir).rmdir()
        raise
    recordings = window.recordings
    # The gap is the meters' window (the none meter has one too).
    start_s = min(r.start_s for r in recordings)
    end_s = max(r.end_s for r in recordings)
    record = idle_record(recordings, start_s, end_s)
    write_json_atomic(out_dir / "idle.json", record)
    return record
