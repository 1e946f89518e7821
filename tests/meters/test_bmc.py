"""The whole-machine meters: Redfish against a real HTTP server on 127.0.0.1 serving the
DMTF schema's JSON, IPMI DCMI through a stand-in `ipmitool` printing its real format."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from orchestrator.errors import MeterError
from orchestrator.meters.bmc import IpmiMeter, RedfishMeter
from orchestrator.meters.crosscheck import cross_checks
from orchestrator.meters.rapl import RaplMeter
from orchestrator.meters.window import MeterWindow
from tests.fakes import FAKES
from tests.fakes.powercap import FakePowercap, amd_single_socket
from tests.fakes.redfish import FakeRedfish

IPMITOOL = str(FAKES / "ipmitool")


@pytest.mark.parametrize("environment_metrics", [False, True])
def test_redfish_chassis_power_is_integrated_into_machine(
    tmp_path: Path, environment_metrics: bool
) -> None:
    with FakeRedfish(340.0, environment_metrics=environment_metrics) as bmc:
        meter = RedfishMeter(50, url=bmc.url)
        meter.start(tmp_path)
        time.sleep(0.5)
        rec = meter.stop()
    machine = rec.series["machine"]
    assert machine.method == "power-integration" and machine.estimated
    assert rec.energy_j["machine"] == pytest.approx(340.0 * rec.duration_s, rel=1e-6)
    header = (tmp_path / "samples-redfish.csv").read_text().splitlines()[0]
    assert header == "time_s,machine_power_w"


def test_redfish_basic_auth_and_a_busy_bmc_is_bridged(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("FWENERGY_REDFISH_USER", "root")
    monkeypatch.setenv("FWENERGY_REDFISH_PASSWORD", "calvin")
    with FakeRedfish(200.0, fail_s=(0.3, 0.12), user="root", password="calvin") as bmc:
        monkeypatch.setenv("FWENERGY_REDFISH_URL", bmc.url)
        meter = RedfishMeter(50)
        meter.start(tmp_path)
        time.sleep(0.8)
        rec = meter.stop()
    assert rec.energy_j["machine"] == pytest.approx(200.0 * rec.duration_s, rel=1e-6)
    assert any("machine" in n and "bridged" in n for n in rec.notes)


def test_redfish_refusals_say_what_is_missing(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("FWENERGY_REDFISH_URL", raising=False)
    with pytest.raises(MeterError, match="FWENERGY_REDFISH_URL"):
        RedfishMeter(1000)
    with FakeRedfish(200.0, user="root") as bmc, pytest.raises(MeterError, match="401"):
        RedfishMeter(1000, url=bmc.url)  # no credentials given


def test_ipmi_dcmi_power_reading(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("FAKE_IPMI_W", "412")
    meter = IpmiMeter(50, ipmitool=IPMITOOL)
    meter.start(tmp_path)
    time.sleep(0.5)
    rec = meter.stop()
    assert rec.energy_j["machine"] == pytest.approx(412.0 * rec.duration_s, rel=1e-6)
    monkeypatch.setenv("FAKE_IPMI_MODE", "unsupported")
    with pytest.raises(MeterError, match=r"Invalid command \(c1\).*DCMI power enabled"):
        IpmiMeter(50, ipmitool=IPMITOOL)


def test_the_share_of_the_machine_that_rapl_saw(sysfs_dir: Path, tmp_path: Path) -> None:
    # RAPL's package draws 45 W of a machine the BMC reads at 150 W: RAPL saw 30%.
    with FakePowercap(sysfs_dir, amd_single_socket()), FakeRedfish(150.0) as bmc:
        meters = [RaplMeter(50, powercap_root=sysfs_dir, vendor="AuthenticAMD"),
                  RedfishMeter(50, url=bmc.url)]  # fmt: skip
        with MeterWindow(meters, tmp_path) as window:
            time.sleep(0.8)
    span = (window.recordings[1].start_s + 0.1, window.recordings[1].end_s - 0.1)
    (share,) = cross_checks(window.recordings, span)
    assert share["check"].startswith("machine >=") and share["agree"] is True
    assert share["ratio"] == pytest.approx(45.0 / 150.0, rel=0.03)
    assert share["b"] == "rapl:cpu-package-0"
