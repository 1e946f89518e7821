"""The host-wide measurement lock (orchestrator/campaign/alone.py): one measurement at a time
on the host, whatever its runtime, released when its holder dies (issue 24, major 4); and
what precedes a resumed campaign's first run."""

from __future__ import annotations

import io
import json
import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest
from rich.console import Console

from orchestrator.campaign import protocol
from orchestrator.campaign.alone import LOCK_NAME, MeasurementBusyError, MeasurementLock
from orchestrator.campaign.folder import CampaignFolder
from orchestrator.campaign.idle import measure_idle
from orchestrator.campaign.plan import ProtocolSettings, WorkloadSettings, make_plan
from orchestrator.campaign.progress import CampaignProgress
from orchestrator.data import PreparedDataset
from orchestrator.meters.none import NoneMeter
from orchestrator.runtimes.local import LocalRuntime
from tests.campaign.conftest import failing_venvs, quick_venvs
from tests.campaign.helpers import cli, local_campaign
from tests.conftest import REPO

HOLD = """
import sys, time
from orchestrator.campaign.alone import measuring
with measuring(sys.argv[1]):
    print("held", flush=True)
    time.sleep(120)
"""


def _holder(what: str) -> subprocess.Popen[str]:
    """Another orchestrator process holding the lock (this session's FWENERGY_LOCK_DIR)."""
    proc = subprocess.Popen([sys.executable, "-c", HOLD, what], cwd=REPO, stdout=subprocess.PIPE,
                            text=True, env=os.environ | {"PYTHONPATH": str(REPO)})  # fmt: skip
    assert proc.stdout is not None and proc.stdout.readline() == "held\n"
    return proc


def test_a_second_measurement_is_refused_naming_the_holder_until_it_dies() -> None:
    proc = _holder("/results/20261207-000000-mnist")
    try:
        with pytest.raises(MeasurementBusyError) as refused:
            MeasurementLock("/results/mine").acquire()
        assert f"pid {proc.pid}, /results/20261207-000000-mnist" in str(refused.value)
        assert "\n" not in str(refused.value)
        proc.send_signal(signal.SIGKILL)  # no cleanup: the kernel drops the lock
        proc.wait(timeout=10)
        lock = MeasurementLock("/results/mine")
        lock.acquire()
        lock.release()
    finally:
        proc.kill()
        proc.wait(timeout=10)


def test_a_lock_file_replaced_under_its_holder_is_taken_again_or_refused(tmp_path: Path) -> None:
    path = tmp_path / LOCK_NAME
    mine = MeasurementLock("/results/mine", path)
    mine.acquire()
    try:
        path.unlink()  # a cleaner of /tmp: the next one could lock a new file
        mine.check()  # nobody did: ours again, on the new file
        assert path.exists()
        path.unlink()
        other = MeasurementLock("/results/other", path)
        other.acquire()  # somebody did
        try:
            with pytest.raises(MeasurementBusyError, match="/results/other"):
                mine.check()
        finally:
            other.release()
    finally:
        mine.release()


def test_a_planted_link_is_not_a_lock(tmp_path: Path) -> None:
    victim = tmp_path / "victim"
    victim.write_text("keep\n")
    (tmp_path / LOCK_NAME).symlink_to(victim)
    with pytest.raises(Exception, match="link or not a file"):
        MeasurementLock("x", tmp_path / LOCK_NAME).acquire()
    assert victim.read_text() == "keep\n"


def test_a_local_campaign_beside_a_measurement_is_refused_and_writes_nothing(
    tiny_dataset: PreparedDataset, tmp_path: Path
) -> None:
    """The local runtime has no containers to see: only the lock keeps two apart."""
    results = tmp_path / "results"
    lock = MeasurementLock("/results/a-study/cells/cell-01")
    lock.acquire()
    try:
        r = cli(local_campaign(tiny_dataset.path, results, "--frameworks", "torch",
                               "--iterations", "1", "--warmup", "0", "--idle", "0"),
                tmp_path, venvs=failing_venvs(tmp_path / "venvs"))  # fmt: skip
    finally:
        lock.release()
    assert r.returncode == 2, r.stderr
    assert f"another measurement holds this host (pid {os.getpid()}, " in r.stderr
    assert "/results/a-study/cells/cell-01" in r.stderr
    assert not results.exists() or not any(results.iterdir())


def test_a_resume_before_any_run_was_recorded_still_idles_after_its_warm_up(
    tiny_dataset: PreparedDataset, tmp_path: Path
) -> None:
    """Interrupted after its start gap, before its first run's state line: the resume's
    warm-up is followed by an idle gap of its own too (issue 24, minor), not the first run."""
    plan = make_plan(("torch",), 1, 0)
    (root := tmp_path / "campaign").mkdir()
    folder = CampaignFolder(root)
    ctx = protocol.Context(
        folder, "c", plan, WorkloadSettings(), ProtocolSettings(warmup_s=0, idle_s=0.2),
        Path(tiny_dataset.path), LocalRuntime(quick_venvs(tmp_path / "venvs", 0.1)),
        [NoneMeter()],
    )  # fmt: skip
    measure_idle(ctx.meters, folder.idle_dir(protocol.START_GAP), 0.2)  # the first start
    protocol.execute(ctx, CampaignProgress(Console(file=io.StringIO()), 1, 0, 0.2))
    resume_gap = json.loads((root / "idle" / "000-0-resume-1" / "idle.json").read_text())
    run = json.loads((root / "runs" / "001-1-torch" / "run.json").read_text())
    assert resume_gap["end"] <= run["started_at"]
