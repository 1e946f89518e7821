"""run.json from what happened (protocol.run_record, pure): a lost domain makes a run
`incomplete`; a CPU run keeps a GPU it recorded out of the total; the energy is the run's."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from orchestrator.campaign.plan import PlannedRun, WorkloadSettings
from orchestrator.campaign.protocol import run_record
from orchestrator.meters.base import DomainSeries, Recording
from orchestrator.meters.nvml import NvmlMeter
from orchestrator.runtimes.base import ExitState, RunSpec
from orchestrator.runtimes.local import run_environment
from tests.fakes.pynvml_fake import FakeGpu, make_fake_pynvml

RUN = PlannedRun(1, 1, "torch")


def _series(power_w: float, start: float = 99.0, end: float = 121.0) -> DomainSeries:
    t = np.arange(start, end + 1e-9, 0.5)
    return DomainSeries(t, power_w * (t - start))


def _record(recordings: list[Recording], meters: list, device: str = "cpu"):  # type: ignore[no-untyped-def]
    return run_record(
        RUN, status="ok", exit_state=ExitState(0), error=None, started_at=100.0,
        ended_at=120.0, runtime_block={"kind": "local"}, meters=meters,
        recordings=recordings, events=[], gaps=[], workload=WorkloadSettings(device=device),
    )  # fmt: skip


def test_a_run_that_lost_a_domain_is_incomplete_not_ok() -> None:
    rec = Recording("nvml", 99.0, 121.0, {}, dropped={"gpu-0": "energy counter: 30 of 40"})
    record = _record([rec], [])
    assert record.status == "incomplete"
    assert record.error is not None and "gpu-0" in record.error


def test_a_meter_domain_missing_from_the_recording_is_lost_too() -> None:
    nvml = NvmlMeter(100, nvml_module=make_fake_pynvml([FakeGpu(100.0)]))
    record = _record([Recording("nvml", 99.0, 121.0, {})], [nvml], device="gpu")
    assert record.status == "incomplete"


def test_cpu_run_keeps_the_gpu_out_of_the_total_and_energy_is_the_runs_span() -> None:
    rec = Recording("rapl", 99.0, 121.0, {"cpu-package-0": _series(30.0)})
    gpu = Recording("nvml", 99.0, 121.0, {"gpu-0": _series(60.0)})
    record = _record([rec, gpu], [])
    assert record.status == "ok"
    assert record.energy["cpu-package-0"]["summable"] is True
    assert record.energy["cpu-package-0"]["gross_j"] == pytest.approx(600.0)  # 20 s, not 22
    assert record.energy["gpu-0"]["summable"] is False
    assert "CPU run" in record.energy["gpu-0"]["out_of_total"]
    assert _record([rec, gpu], [], device="gpu").energy["gpu-0"]["summable"] is True


def test_a_local_gpu_run_sees_only_its_gpu(tmp_path: Path) -> None:
    spec = RunSpec("torch", tmp_path, tmp_path, (), device="gpu", gpu=1)
    env = run_environment(spec)
    assert env["CUDA_VISIBLE_DEVICES"] == "1" and env["CUDA_DEVICE_ORDER"] == "PCI_BUS_ID"
    assert "CUDA_VISIBLE_DEVICES" not in run_environment(RunSpec("torch", tmp_path, tmp_path, ()))
    assert spec.gpu_block() == {"gpu": 1}  # recorded in run.json's runtime
