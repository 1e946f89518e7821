"""Turn a `--meter` spec (auto, none, rapl, nvml, energibridge, or a comma list) into meters."""

from __future__ import annotations

from pathlib import Path

from orchestrator.errors import MeterError
from orchestrator.meters.base import Meter
from orchestrator.meters.none import NoneMeter

METER_NAMES = ("auto", "none", "rapl", "nvml", "energibridge")


def open_meters(
    spec: str = "auto",
    interval_ms: int = 100,
    *,
    powercap_root: Path | None = None,
    energibridge: Path | None = None,
) -> list[Meter]:
    """The meters for `spec`, each checked readable on this machine (MeterError if not)."""
    names = [n.strip() for n in spec.split(",") if n.strip()]
    unknown = [n for n in names if n not in METER_NAMES]
    if unknown or not names:
        raise MeterError(
            f"unknown meter {', '.join(unknown) or repr(spec)}; "
            f"choose from {', '.join(METER_NAMES)}"
        )
    if names in (["none"], ["auto"]):
        return [NoneMeter(interval_ms)]
    raise MeterError(f"meter {spec!r} is not available yet")
