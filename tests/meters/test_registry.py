"""`--meter` specs: what auto picks, combinations, and refusals."""

from __future__ import annotations

from pathlib import Path

import pytest

from orchestrator.errors import MeterError
from orchestrator.meters.energibridge import EnergiBridgeMeter
from orchestrator.meters.none import NO_ENERGY_NOTE, NoneMeter
from orchestrator.meters.nvml import NvmlMeter
from orchestrator.meters.rapl import RaplMeter
from orchestrator.meters.registry import open_meters
from tests.fakes.powercap import amd_single_socket, build_tree
from tests.fakes.pynvml_fake import NVML_ERROR_DRIVER_NOT_LOADED, FakeGpu, make_fake_pynvml

NO_GPU = make_fake_pynvml([], init_error=NVML_ERROR_DRIVER_NOT_LOADED)


def test_auto_takes_rapl_and_nvml_when_both_read(tmp_path: Path) -> None:
    build_tree(tmp_path, amd_single_socket())
    meters = open_meters(
        "auto", 100, powercap_root=tmp_path, nvml_module=make_fake_pynvml([FakeGpu(100.0)])
    )
    assert [type(m) for m in meters] == [RaplMeter, NvmlMeter]


def test_auto_prefers_rapl_over_energibridge(tmp_path: Path, fake_energibridge: Path) -> None:
    build_tree(tmp_path / "pc", amd_single_socket())
    meters = open_meters(
        "auto",
        100,
        powercap_root=tmp_path / "pc",
        energibridge=fake_energibridge,
        nvml_module=NO_GPU,
    )
    assert [type(m) for m in meters] == [RaplMeter]
    assert any("nvml" in n and "Driver Not Loaded" in n for n in meters[0].notes)


def test_auto_uses_energibridge_when_rapl_cannot_read(
    tmp_path: Path, fake_energibridge: Path
) -> None:
    meters = open_meters(
        "auto",
        100,
        powercap_root=tmp_path / "absent",
        energibridge=fake_energibridge,
        nvml_module=NO_GPU,
    )
    assert [type(m) for m in meters] == [EnergiBridgeMeter]
    assert any(n.startswith("auto left out rapl") for n in meters[0].notes)


def test_auto_with_nothing_readable_is_none_and_says_why(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PATH", str(tmp_path))  # no energibridge anywhere
    meters = open_meters("auto", 100, powercap_root=tmp_path / "absent", nvml_module=NO_GPU)
    assert [type(m) for m in meters] == [NoneMeter]
    meters[0].start(tmp_path)
    rec = meters[0].stop()
    assert rec.series == {} and rec.notes[0] == NO_ENERGY_NOTE
    assert {n.split(":")[0] for n in rec.notes[1:]} == {
        "auto left out rapl",
        "auto left out energibridge",
        "auto left out nvml",
    }


def test_comma_list_gives_each_and_keeps_the_gpu_with_nvml(
    tmp_path: Path, fake_energibridge: Path
) -> None:
    meters = open_meters(
        "energibridge,nvml",
        100,
        energibridge=fake_energibridge,
        nvml_module=make_fake_pynvml([FakeGpu(100.0)]),
    )
    assert [type(m) for m in meters] == [EnergiBridgeMeter, NvmlMeter]
    eb = meters[0]
    assert isinstance(eb, EnergiBridgeMeter) and eb.gpu is False


@pytest.mark.parametrize(
    ("spec", "message"),
    [
        ("watts", "unknown meter watts"),
        ("", "unknown meter"),
        ("auto,nvml", "cannot be combined"),
        ("none,rapl", "cannot be combined"),
        ("rapl,rapl", "twice"),
    ],
)
def test_bad_specs_are_refused(spec: str, message: str) -> None:
    with pytest.raises(MeterError, match=message):
        open_meters(spec, 100)


def test_explicit_meter_that_cannot_read_fails(tmp_path: Path) -> None:
    with pytest.raises(MeterError, match="does not exist"):
        open_meters("rapl", 100, powercap_root=tmp_path / "absent")


def test_auto_for_a_gpu_campaign_needs_a_cpu_meter_too(tmp_path: Path) -> None:
    # No RAPL and no EnergiBridge: the old auto quietly metered the GPU alone.
    gpu = make_fake_pynvml([FakeGpu(100.0)])
    with pytest.raises(MeterError, match=r"GPU campaign needs a CPU meter.*missing a CPU meter"):
        open_meters("auto", 100, powercap_root=tmp_path / "absent", nvml_module=gpu,
                    energibridge=tmp_path / "absent-eb", device="gpu")  # fmt: skip
    build_tree(tmp_path / "pc", amd_single_socket())
    with pytest.raises(MeterError, match=r"missing a GPU meter"):
        open_meters("auto", 100, powercap_root=tmp_path / "pc", nvml_module=NO_GPU,
                    device="gpu")  # fmt: skip
    meters = open_meters("auto", 100, powercap_root=tmp_path / "pc", nvml_module=gpu,
                         device="gpu", gpu=0)  # fmt: skip
    assert [type(m) for m in meters] == [RaplMeter, NvmlMeter]


def test_nvml_alone_in_a_gpu_campaign_says_the_cpu_is_not_measured() -> None:
    gpus = make_fake_pynvml([FakeGpu(100.0), FakeGpu(120.0)])
    (meter,) = open_meters("nvml", 100, nvml_module=gpus, device="gpu", gpu=1)
    assert meter.domains() == ["gpu-1"]  # the run's one GPU, not every GPU
    assert any("CPU is NOT measured" in n for n in meter.notes)


def test_auto_for_a_cpu_campaign_never_measures_the_gpu_alone(tmp_path: Path) -> None:
    gpu = make_fake_pynvml([FakeGpu(100.0)])
    meters = open_meters("auto", 100, powercap_root=tmp_path / "absent", nvml_module=gpu,
                         energibridge=tmp_path / "absent-eb", device="cpu")  # fmt: skip
    assert [type(m) for m in meters] == [NoneMeter]
    assert any("CPU campaign without a CPU meter" in n for n in meters[0].notes)
