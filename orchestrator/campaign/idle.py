"""Idle gaps: the machine measured doing nothing after every run. The settled (second) half
of the gaps just before and just after a run gives its baseline (meters/energy.py,
`bracketing_baseline`), which run.json's net energy subtracts."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

from orchestrator.campaign.folder import CampaignFolder, write_json_atomic
from orchestrator.campaign.records import IDLE_SCHEMA, SCHEMA_VERSION
from orchestrator.campaign.validate import idle_from_json, read_json_file
from orchestrator.meters import clock
from orchestrator.meters.base import Meter, Recording
from orchestrator.meters.energy import Gap, Settled, settled_half
from orchestrator.meters.window import MeterWindow


def idle_record(
    recordings: list[Recording], start_s: float, end_s: float, notes: list[str] | None = None
) -> dict[str, Any]:
    energy: dict[str, dict[str, Any]] = {}
    for rec in recordings:
        if rec.checks is not None:
            continue  # a check of another meter's domains (same names): never a baseline
        for domain, energy_j in rec.energy_j.items():
            entry: dict[str, Any] = {
                "energy_j": energy_j,
                "mean_power_w": energy_j / rec.duration_s if rec.duration_s > 0 else None,
                "meter": rec.meter,
            }
            settled = settled_half(rec.series[domain], start_s, end_s)
            if settled is not None:
                entry |= {
                    "settled_start": settled.start_s,
                    "settled_energy_j": settled.energy_j,
                    "settled_duration_s": settled.duration_s,
                    "settled_power_sd_w": settled.power_sd_w,
                }
            energy[domain] = entry
    return {
        "schema": IDLE_SCHEMA,
        "schema_version": SCHEMA_VERSION,
        "start": start_s,
        "end": end_s,
        "duration_s": end_s - start_s,
        "energy": energy,
        "notes": [n for rec in recordings for n in rec.notes] + (notes or []),
    }


def gap_of(name: str, record: dict[str, Any]) -> Gap:
    """What the baseline rule needs of one idle.json: gaps written before the settled
    fields existed give nothing to it (their whole window includes the previous run's
    tail)."""
    settled = {
        (e["meter"], domain): Settled(
            e["settled_start"], e["settled_energy_j"], e["settled_duration_s"],
            e["settled_power_sd_w"],
        )
        for domain, e in record.get("energy", {}).items()
        if e.get("settled_duration_s")
    }  # fmt: skip
    return Gap(name, record["start"], record["end"], settled)


def read_gaps(folder: CampaignFolder) -> list[Gap]:
    return [gap_of(name, record) for name, record in read_idle_records(folder).items()]


def read_idle_records(folder: CampaignFolder) -> dict[str, dict[str, Any]]:
    """The complete idle gaps on disk by folder name; an incomplete one (no idle.json) is
    removed."""
    out = {}
    for d in sorted((folder.root / "idle").glob("*")):
        path = d / "idle.json"
        if path.exists():
            out[d.name] = idle_from_json(read_json_file(path), str(path))
        elif d.is_dir():
            CampaignFolder.fresh(d).rmdir()
    return out


def measure_idle(meters: list[Meter], out_dir: Path, duration_s: float) -> dict[str, Any]:
    """Sample the idle machine for `duration_s`; on interruption the folder is removed."""
    CampaignFolder.fresh(out_dir)
    window = MeterWindow(meters, out_dir)
    try:
        window.start()
        slept = (clock.now(), clock.now() + duration_s)
        time.sleep(duration_s)
    except BaseException:
        window.abort()
        CampaignFolder.fresh(out_dir).rmdir()
        raise
    # A meter failing to stop costs this gap its domains (the runs beside it take their
    # baseline from their other gap, and say so), not the campaign.
    stopped, failed = window.stop_each()
    recordings = [rec for _, rec in stopped]
    # The gap is the meters' window (the none meter has one too).
    start_s = min((r.start_s for r in recordings), default=slept[0])
    end_s = max((r.end_s for r in recordings), default=slept[1])
    lost = [f"meter {m.name} failed when stopped: {e}" for m, e in failed]
    record = idle_record(recordings, start_s, end_s, lost)
    write_json_atomic(out_dir / "idle.json", record)
    return record
