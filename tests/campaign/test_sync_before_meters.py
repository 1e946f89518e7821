"""The page cache is flushed after a run is prepared and before the meters start, so the
write-back of a freshly copied container image cannot land in the measured run."""

from __future__ import annotations

import csv
import io
import os
import time
from pathlib import Path

import pytest
from rich.console import Console

from orchestrator.campaign import protocol
from orchestrator.campaign.folder import CampaignFolder
from orchestrator.campaign.interrupts import Interrupts
from orchestrator.campaign.plan import ProtocolSettings, WorkloadSettings, make_plan
from orchestrator.campaign.progress import CampaignProgress
from orchestrator.data import PreparedDataset
from orchestrator.meters.rapl import RaplMeter
from orchestrator.runtimes.local import LocalRuntime
from tests.campaign.conftest import quick_venvs
from tests.fakes.powercap import FakePowercap, two_socket_intel
from tests.meters.conftest import sysfs_dir  # noqa: F401 (the fixture, shared)


def test_os_sync_runs_before_the_first_sample(
    tiny_dataset: PreparedDataset,
    sysfs_dir: Path,  # noqa: F811 (the imported fixture)
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    synced: list[float] = []
    real_sync = os.sync

    def sync() -> None:  # the real flush, timed
        real_sync()
        synced.append(time.time())

    monkeypatch.setattr(protocol.os, "sync", sync)
    plan = make_plan(("torch",), 1, 0)
    (root := tmp_path / "campaign").mkdir()
    with FakePowercap(sysfs_dir, two_socket_intel()):
        ctx = protocol.Context(
            CampaignFolder(root), "c", plan, WorkloadSettings(),
            ProtocolSettings(warmup_s=0, idle_s=0), Path(tiny_dataset.path),
            LocalRuntime(quick_venvs(tmp_path / "venvs", 0.1)),
            [RaplMeter(50, powercap_root=sysfs_dir)],
        )  # fmt: skip
        progress = CampaignProgress(Console(file=io.StringIO()), 1, 0, 0)
        with Interrupts() as interrupts:
            record = protocol.measure_run(ctx, plan.runs()[0], interrupts, progress)
    assert record.status == "ok"
    with (root / "runs" / record.run_id / "samples-rapl.csv").open() as f:
        first_sample_s = float(next(csv.DictReader(f))["time_s"])
    assert len(synced) == 1 and synced[0] <= first_sample_s
