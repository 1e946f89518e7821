"""A campaign measured by the RAPL meter on a fake powercap tree at a known power: gross
energy, the idle baseline, net energy and per-phase energy come out as the physics says."""

from __future__ import annotations

from pathlib import Path

import pytest

from orchestrator.data import PreparedDataset
from tests.campaign.helpers import TINY, cli, load, only_campaign, state_lines
from tests.fakes.powercap import FakePowercap, amd_single_socket
from tests.meters.conftest import sysfs_dir  # noqa: F401 (the fixture, shared)

PACKAGE_W = amd_single_socket()[0].power_w
DOMAIN = "cpu-package-0"


@pytest.mark.slow
@pytest.mark.frameworks
def test_energy_gross_baseline_net_and_phases(
    torch_installed: None,
    tiny_dataset: PreparedDataset,
    sysfs_dir: Path,  # noqa: F811 (the imported fixture)
    tmp_path: Path,
) -> None:
    results = tmp_path / "results"
    with FakePowercap(sysfs_dir, amd_single_socket()):
        r = cli(["campaign", "--data", str(tiny_dataset.path), "--results", str(results),
                 "--runtime", "local", "--meter", "rapl", "--powercap-root", str(sysfs_dir),
                 "--interval-ms", "50", "--frameworks", "torch", "--iterations", "2",
                 "--warmup", "0", "--idle", "1", *TINY], tmp_path)  # fmt: skip
    assert r.returncode == 0, r.stderr
    folder = only_campaign(results)
    assert load(folder / "campaign.json")["protocol"]["meters"] == ["rapl"]
    first_id, second_id = (s["run_id"] for s in state_lines(folder))

    first = load(folder / "runs" / first_id / "run.json")
    assert first["meters"] == [{"name": "rapl", "interval_ms": 50, "samples": "samples-rapl.csv"}]
    pkg = first["energy"][DOMAIN]
    assert pkg["mean_power_w"] == pytest.approx(PACKAGE_W, rel=0.05)
    assert pkg["method"] == "counter" and pkg["estimated"] is False
    # The idle gap before the first run gives it a baseline already.
    start = load(folder / "idle" / "000-0-start" / "idle.json")
    assert start["end"] <= first["started_at"]
    assert pkg["baseline_power_w"] == pytest.approx(start["energy"][DOMAIN]["mean_power_w"])
    assert abs(pkg["net_j"]) < 0.05 * pkg["gross_j"]
    assert (folder / "runs" / first_id / "samples-rapl.csv").exists()

    gap = load(folder / "idle" / first_id / "idle.json")
    assert gap["energy"][DOMAIN]["mean_power_w"] == pytest.approx(PACKAGE_W, rel=0.05)
    assert (folder / "idle" / first_id / "samples-rapl.csv").exists()

    second = load(folder / "runs" / second_id / "run.json")["energy"][DOMAIN]
    # Both gaps so far, pooled: total idle energy over total idle time.
    gaps = [start, gap]
    pooled = sum(g["energy"][DOMAIN]["energy_j"] for g in gaps) / sum(
        g["energy"][DOMAIN]["energy_j"] / g["energy"][DOMAIN]["mean_power_w"] for g in gaps
    )
    assert second["baseline_power_w"] == pytest.approx(pooled, rel=0.02)
    # Constant power: the run spends what idle does, so net is about zero.
    assert abs(second["net_j"]) < 0.05 * second["gross_j"]

    for phase in first["phases"]:
        assert phase["energy_j"][DOMAIN] == pytest.approx(PACKAGE_W * phase["duration_s"],
                                                          rel=0.1, abs=0.5)  # fmt: skip
