"""The whole machine at the wall, read from its baseboard management controller (BMC):
what RAPL leaves out (power-supply losses, fans, disks, the board). Two ways in, one domain,
`machine` (a total of its own: never added to the CPU's or GPU's domains):

* `redfish`: DMTF Redfish over HTTP(S): the first chassis's power, from its
  EnvironmentMetrics (`PowerWatts.Reading`, Redfish 2020.4 and later) or else its Power
  resource (`PowerControl[0].PowerConsumedWatts`, the older schema). Where: the
  FWENERGY_REDFISH_URL environment variable (e.g. https://bmc.example), with
  FWENERGY_REDFISH_USER / FWENERGY_REDFISH_PASSWORD for HTTP basic authentication.
* `ipmi`: `ipmitool dcmi power reading` (DCMI 1.0+), its "Instantaneous power reading"
  line; FWENERGY_IPMITOOL names the binary where it is not `ipmitool` on PATH.

Both give instantaneous power, polled and integrated (`power-integration`, estimated). A
BMC refreshes its reading about once a second, and a read takes tens of milliseconds to a
second: use --interval-ms 1000 with these meters.
"""

from __future__ import annotations

import base64
import json
import os
import re
import shutil
import subprocess
import urllib.error
import urllib.request
from collections.abc import Sequence
from typing import Any

import numpy as np

from orchestrator.errors import MeterError
from orchestrator.meters import domains
from orchestrator.meters.base import Recording
from orchestrator.meters.counters import integrate_power_bridged
from orchestrator.meters.sampler import PollingMeter, RecordingBuilder, Value

READ_TIMEOUT_S = 5.0
_DCMI_LINE = re.compile(r"^\s*Instantaneous power reading\s*:\s*(\d+(?:\.\d+)?)\s*Watts", re.M)


class _BmcMeter(PollingMeter):
    """Polls one power reading (W, None when the BMC did not give one) into `machine`."""

    def domains(self) -> list[str]:
        return [domains.machine()]

    def _header(self) -> list[str]:
        return ["machine_power_w"]

    def _read(self) -> Sequence[Value]:
        try:
            return [self.power_w()]
        except MeterError:
            return [None]  # a missed reading is bridged, as NVML's are

    def power_w(self) -> float:
        raise NotImplementedError

    def stop(self) -> Recording:
        rows, out_dir = self.stop_sampling()
        time_s = np.asarray([float(r[0]) for r in rows])  # type: ignore[arg-type]
        power = np.asarray([np.nan if r[1] is None else float(r[1]) for r in rows])
        out = RecordingBuilder(self.name, self.notes)
        out.add_counter(domains.machine(), integrate_power_bridged(time_s, power),
                        "BMC power", "power-integration")  # fmt: skip
        return out.finish(out_dir, time_s, out_dir / f"samples-{self.name}.csv")


class RedfishMeter(_BmcMeter):
    name = "redfish"

    def __init__(self, interval_ms: int = 1000, *, url: str | None = None) -> None:
        super().__init__(interval_ms)
        base = url or os.environ.get("FWENERGY_REDFISH_URL")
        if not base:
            raise MeterError(
                "the redfish meter needs the BMC's address: set FWENERGY_REDFISH_URL (e.g. "
                "https://bmc.example) and FWENERGY_REDFISH_USER/FWENERGY_REDFISH_PASSWORD"
            )
        self.base = base.rstrip("/")
        user, password = (
            os.environ.get("FWENERGY_REDFISH_USER"),
            os.environ.get("FWENERGY_REDFISH_PASSWORD", ""),
        )
        self._auth = (
            "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode() if user else None
        )
        self._reading = self._find_reading()
        self.power_w()  # fail now, with the reason, rather than inside the window

    def _get(self, path: str) -> dict[str, Any]:
        url = path if path.startswith("http") else self.base + path
        request = urllib.request.Request(url, headers={"Accept": "application/json"})
        if self._auth:
            request.add_header("Authorization", self._auth)
        try:
            with urllib.request.urlopen(request, timeout=READ_TIMEOUT_S) as reply:
                data = json.loads(reply.read())
        except (urllib.error.URLError, OSError, ValueError) as exc:
            raise MeterError(f"Redfish: cannot read {url}: {exc}") from exc
        if not isinstance(data, dict):
            raise MeterError(f"Redfish: {url} is not a JSON object")
        return data

    def _find_reading(self) -> tuple[str, tuple[str | int, ...]]:
        """The resource and the path inside it of the chassis's power reading."""
        chassis = self._get("/redfish/v1/Chassis").get("Members") or []
        if not chassis:
            raise MeterError(f"Redfish at {self.base} lists no chassis; no power to read")
        first = self._get(chassis[0]["@odata.id"])
        metrics = (first.get("EnvironmentMetrics") or {}).get("@odata.id")
        if metrics:
            return metrics, ("PowerWatts", "Reading")
        power = (first.get("Power") or {}).get("@odata.id")
        if power:
            return power, ("PowerControl", 0, "PowerConsumedWatts")
        raise MeterError(
            f"Redfish chassis {chassis[0]['@odata.id']} has neither EnvironmentMetrics nor "
            "Power: this BMC does not report the machine's power"
        )

    def power_w(self) -> float:
        resource, path = self._reading
        value: Any = self._get(resource)
        for key in path:
            try:
                value = value[key]
            except (KeyError, IndexError, TypeError):
                value = None
                break
        if not isinstance(value, int | float) or isinstance(value, bool):
            raise MeterError(f"Redfish: {resource} gives no power reading ({value!r})")
        return float(value)


class IpmiMeter(_BmcMeter):
    name = "ipmi"

    def __init__(self, interval_ms: int = 1000, *, ipmitool: str | None = None) -> None:
        super().__init__(interval_ms)
        tool = ipmitool or os.environ.get("FWENERGY_IPMITOOL") or shutil.which("ipmitool")
        if not tool:
            raise MeterError(
                "the ipmi meter needs ipmitool (apt install ipmitool) and the BMC's DCMI "
                "power reading; or set FWENERGY_IPMITOOL to its path"
            )
        self.tool = tool
        self.power_w()

    def power_w(self) -> float:
        try:
            proc = subprocess.run(
                [self.tool, "dcmi", "power", "reading"],
                capture_output=True, text=True, timeout=READ_TIMEOUT_S, check=False,
            )  # fmt: skip
        except (OSError, subprocess.TimeoutExpired) as exc:
            raise MeterError(f"ipmitool dcmi power reading failed: {exc}") from exc
        m = _DCMI_LINE.search(proc.stdout)
        if proc.returncode != 0 or m is None:
            said = (proc.stderr.strip().splitlines() or ["no power reading"])[-1]
            raise MeterError(f"ipmitool dcmi power reading: {said} (is DCMI power enabled?)")
        return float(m.group(1))
