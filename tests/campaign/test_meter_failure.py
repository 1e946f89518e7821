"""A meter that fails when stopped fails its run, not the campaign: the run is finished,
cleaned up and recorded `failed` with the meter's reason, and the next run goes on; in an
idle gap it costs the gap that meter's domains."""

from __future__ import annotations

import io
import json
import threading
import time
from pathlib import Path

import pytest
from rich.console import Console

from orchestrator.campaign import protocol
from orchestrator.campaign.folder import CampaignFolder
from orchestrator.campaign.idle import measure_idle
from orchestrator.campaign.plan import ProtocolSettings, WorkloadSettings, make_plan
from orchestrator.campaign.progress import CampaignProgress
from orchestrator.data import PreparedDataset
from orchestrator.meters.none import NoneMeter
from orchestrator.meters.rapl import RaplMeter
from orchestrator.runtimes.local import LocalRuntime
from tests.conftest import FRAMEWORKS, stand_in_venvs
from tests.fakes.powercap import amd_single_socket, build_tree

# The first run's workload makes the counter unreadable for a few samples (as an unloaded
# module does), then restores it: the meter's sampler has failed, and says so at stop().
STAND_IN = """#!/bin/sh
while [ $# -gt 0 ]; do [ "$1" = --out ] && out="$2"; shift; done
echo "{{\\"event\\": \\"process_start\\", \\"t\\": $(date +%s.%N)}}" > "$out/events.jsonl"
if [ ! -e {marker} ]; then
    touch {marker}
    cp {energy} {energy}.kept && echo n/a > {energy}
    sleep 0.3
    mv {energy}.kept {energy}
fi
echo "{{}}" > "$out/result.json"
"""


def test_a_meter_failing_at_stop_fails_the_run_and_the_campaign_goes_on(
    tiny_dataset: PreparedDataset, tmp_path: Path
) -> None:
    pc = tmp_path / "pc"
    build_tree(pc, amd_single_socket())
    energy = pc / "_devices/intel-rapl/intel-rapl:0/energy_uj"
    script = STAND_IN.format(marker=tmp_path / "corrupted", energy=energy)
    venvs = stand_in_venvs(tmp_path / "venvs", dict.fromkeys(FRAMEWORKS, script))
    plan = make_plan(("torch",), 2, 0)
    (root := tmp_path / "campaign").mkdir()
    ctx = protocol.Context(
        CampaignFolder(root), "c", plan, WorkloadSettings(),
        ProtocolSettings(warmup_s=0, idle_s=0), Path(tiny_dataset.path), LocalRuntime(venvs),
        [RaplMeter(50, powercap_root=pc, vendor="AuthenticAMD")],
    )  # fmt: skip
    progress = CampaignProgress(Console(file=io.StringIO()), 2, 0, 0)
    protocol.execute(ctx, progress)  # before: MeterError out of the campaign
    first, second = (json.loads((root / "runs" / r.run_id / "run.json").read_text())
                     for r in plan.runs())  # fmt: skip
    assert first["status"] == "failed"
    assert "meter rapl failed when stopped" in first["error"] and "n/a" in first["error"]
    assert first["energy"] == {} and first["exit_code"] == 0  # the workload itself ended
    assert second["status"] == "ok" and "cpu-package-0" in second["energy"]
    states = [json.loads(line) for line in (root / "state.jsonl").read_text().splitlines()]
    assert [s["status"] for s in states] == ["failed", "ok"]


def test_a_meter_failing_at_the_end_of_an_idle_gap_costs_the_gap_its_domains_only(
    tmp_path: Path,
) -> None:
    pc = tmp_path / "pc"
    build_tree(pc, amd_single_socket())
    energy = pc / "_devices/intel-rapl/intel-rapl:0/energy_uj"
    kept = energy.read_text()

    def unload_for_a_moment() -> None:  # as an unloaded module, during the gap
        time.sleep(0.1)
        energy.write_text("n/a\n")
        time.sleep(0.15)
        energy.write_text(kept)

    glitch = threading.Thread(target=unload_for_a_moment)
    glitch.start()
    record = measure_idle([RaplMeter(50, powercap_root=pc, vendor="AuthenticAMD"),
                           NoneMeter(50)], tmp_path / "idle" / "gap", 0.4)  # fmt: skip
    glitch.join()
    assert record["energy"] == {}  # the RAPL domains of this gap: lost, not invented
    assert any("meter rapl failed when stopped" in n for n in record["notes"])
    assert record["duration_s"] == pytest.approx(0.4, abs=0.2)  # the none meter's window
    assert (tmp_path / "idle" / "gap" / "idle.json").exists()
