"""`doctor --device gpu` judges the GPU a campaign would use from what NVML reports (the
provenance reads it, doctor judges it): each setting that changes a GPU's energy is named
with its fix."""

from __future__ import annotations

import json
from pathlib import Path

from orchestrator.machine import provenance
from orchestrator.machine.doctor import Subject, check_gpu
from tests.campaign.helpers import cli
from tests.fakes.pynvml_fake import FakeGpu, make_fake_pynvml


def _findings(gpus: list[FakeGpu], index: int = 0) -> dict[str, tuple[str, str, str | None]]:
    subject = Subject(["torch"], device="gpu", gpu=index, nvml_module=make_fake_pynvml(gpus))
    return {f.check: (f.level, f.detail, f.fix) for f in check_gpu(subject)}


def test_the_provenance_records_what_changes_a_gpus_energy() -> None:
    (g,) = provenance.gpus(make_fake_pynvml([FakeGpu(100.0, power_limit_mw=500_000)]))
    assert g["name"] == "NVIDIA H100 80GB HBM3" and g["driver"] == "580.95.05"
    assert g["cuda_driver"] == "13.0"
    assert (g["power_limit_w"], g["default_power_limit_w"]) == (500.0, 700.0)
    assert g["persistence_mode"] is True and g["energy_counter"] is True
    assert g["ecc"] == {"current": True, "pending": True} and g["processes"] == []


def test_a_gpu_ready_to_measure_is_ok() -> None:
    found = _findings([FakeGpu(100.0)])
    assert found["gpu 0 settings"][0] == "ok"
    assert [level for level, _, _ in found.values()] == ["info", "ok"]


def test_each_setting_that_spoils_a_measurement_is_named_with_its_fix() -> None:
    spoiled = FakeGpu(
        100.0, has_counter=False, persistence=False, power_limit_mw=400_000,
        sm_clock_mhz=1410, temperature_c=71, ecc=(0, 1), mig=(1, 1), processes=(4242,),
    )  # fmt: skip
    found = _findings([FakeGpu(100.0), spoiled], index=1)
    assert found["gpu 1 persistence"] == ("warn", found["gpu 1 persistence"][1],
                                          "sudo nvidia-smi -pm 1")  # fmt: skip
    assert "4242" in found["gpu 1 processes"][1]
    assert "400 W (default 700 W)" in found["gpu 1 power limit"][1]
    assert found["gpu 1 power limit"][2] == "sudo nvidia-smi -i 1 -pl 700"
    assert "1410 MHz" in found["gpu 1 clocks"][1]
    assert "71 C" in found["gpu 1 temperature"][1]
    assert "reboot" in found["gpu 1 ecc"][1]
    assert found["gpu 1 mig"][2] == "sudo nvidia-smi -i 1 -mig 0"
    assert "estimated" in found["gpu 1 energy"][1]
    assert "gpu 1 settings" not in found
    assert all(level == "warn" for c, (level, _, _) in found.items() if c != "gpu 1")


def test_no_gpu_or_the_wrong_index_fails() -> None:
    assert _findings([])["gpu"][0] == "fail"
    assert _findings([FakeGpu(100.0)], index=1)["gpu"][1] == "--gpu 1: the machine has 1 GPUs"


def test_doctor_device_gpu_from_the_command_line(tmp_path: Path) -> None:
    r = cli(["doctor", "--device", "gpu", "--json"], tmp_path)
    report = json.loads(r.stdout)
    gpu_findings = [f for f in report["findings"] if f["check"].startswith("gpu")]
    assert gpu_findings  # here: no driver, so one failing finding
    if gpu_findings[0]["level"] == "fail":
        assert report["ok"] is False
    bad = cli(["doctor", "--device", "tpu"], tmp_path)
    assert bad.returncode == 2 and "--device must be cpu or gpu" in bad.stderr
    assert len(bad.stderr.strip().splitlines()) == 1
