"""A Redfish service for a machine without a BMC: a real HTTP server on 127.0.0.1 serving
the DMTF schema's resources for one chassis (from DMTF's public mockups, trimmed): the
service root, the chassis collection, the chassis, its `Power` resource (the older schema:
`PowerControl[0].PowerConsumedWatts`) and, where asked, its `EnvironmentMetrics`
(`PowerWatts.Reading`, Redfish 2020.4 and later). The reading is `power_w`; during
`fail_s` = (start, length) seconds after start the power resources answer HTTP 500, as a
busy BMC does; with `user` set, every request needs HTTP basic authentication."""

from __future__ import annotations

import base64
import json
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import TracebackType
from typing import Any

CHASSIS = "/redfish/v1/Chassis/1U"


class FakeRedfish:
    def __init__(self, power_w: float, *, environment_metrics: bool = False,
                 fail_s: tuple[float, float] | None = None, user: str | None = None,
                 password: str = "") -> None:  # fmt: skip
        self.power_w = power_w
        self.environment_metrics = environment_metrics
        self.fail_s = fail_s
        self.auth = f"Basic {base64.b64encode(f'{user}:{password}'.encode()).decode()}"
        self.user = user
        self._server: ThreadingHTTPServer | None = None
        self.t0 = time.time()

    @property
    def url(self) -> str:
        assert self._server is not None
        return f"http://127.0.0.1:{self._server.server_address[1]}"

    def resources(self) -> dict[str, dict[str, Any]]:
        chassis: dict[str, Any] = {
            "@odata.type": "#Chassis.v1_23_0.Chassis",
            "@odata.id": CHASSIS,
            "Id": "1U",
            "Name": "Computer System Chassis",
            "ChassisType": "RackMount",
            "Power": {"@odata.id": f"{CHASSIS}/Power"},
        }
        if self.environment_metrics:
            chassis["EnvironmentMetrics"] = {"@odata.id": f"{CHASSIS}/EnvironmentMetrics"}
        return {
            "/redfish/v1": {
                "@odata.type": "#ServiceRoot.v1_15_0.ServiceRoot",
                "@odata.id": "/redfish/v1",
                "Id": "RootService",
                "RedfishVersion": "1.15.0",
                "Chassis": {"@odata.id": "/redfish/v1/Chassis"},
            },
            "/redfish/v1/Chassis": {
                "@odata.type": "#ChassisCollection.ChassisCollection",
                "@odata.id": "/redfish/v1/Chassis",
                "Name": "Chassis Collection",
                "Members@odata.count": 1,
                "Members": [{"@odata.id": CHASSIS}],
            },
            CHASSIS: chassis,
            f"{CHASSIS}/Power": {
                "@odata.type": "#Power.v1_7_1.Power",
                "@odata.id": f"{CHASSIS}/Power",
                "Id": "Power",
                "Name": "Power",
                "PowerControl": [
                    {
                        "@odata.id": f"{CHASSIS}/Power#/PowerControl/0",
                        "MemberId": "0",
                        "Name": "Server Power Control",
                        "PowerConsumedWatts": self.power_w,
                        "PowerCapacityWatts": 800,
                        "PowerMetrics": {"IntervalInMin": 20, "AverageConsumedWatts": 319},
                    }
                ],
            },
            f"{CHASSIS}/EnvironmentMetrics": {
                "@odata.type": "#EnvironmentMetrics.v1_3_0.EnvironmentMetrics",
                "@odata.id": f"{CHASSIS}/EnvironmentMetrics",
                "Id": "EnvironmentMetrics",
                "Name": "Chassis Environment Metrics",
                "PowerWatts": {
                    "DataSourceUri": f"{CHASSIS}/Sensors/TotalPower",
                    "Reading": self.power_w,
                },
            },
        }

    def __enter__(self) -> FakeRedfish:
        fake = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                if fake.user and self.headers.get("Authorization") != fake.auth:
                    return self._reply(401, {"error": {"code": "Base.1.8.NoValidSession"}})
                failing = fake.fail_s is not None and (
                    0 <= time.time() - fake.t0 - fake.fail_s[0] < fake.fail_s[1]
                )
                body = fake.resources().get(self.path)
                if body is None:
                    return self._reply(404, {"error": {"code": "Base.1.8.ResourceMissingAtURI"}})
                if failing and self.path.startswith(f"{CHASSIS}/"):
                    return self._reply(500, {"error": {"code": "Base.1.8.InternalError"}})
                return self._reply(200, body)

            def _reply(self, code: int, body: dict[str, Any]) -> None:
                data = json.dumps(body).encode()
                self.send_response(code)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def log_message(self, *_: object) -> None:
                pass

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        threading.Thread(target=self._server.serve_forever, daemon=True).start()
        self.t0 = time.time()
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:  # fmt: skip
        assert self._server is not None
        self._server.shutdown()
        self._server.server_close()
