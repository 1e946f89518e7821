"""A campaign measured by the RAPL meter on a fake powercap tree at a known power: gross
energy, the idle baseline, net energy and per-phase energy come out as the physics says."""

from __future__ import annotations

from pathlib import Path

import pytest

from orchestrator.data import PreparedDataset
from tests.campaign.helpers import TINY, cli, load, only_campaign, phase_energy, state_lines
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
    # The idle gaps that bracket the first run give its baseline: their settled halves.
    start = load(folder / "idle" / "000-0-start" / "idle.json")
    gap = load(folder / "idle" / first_id / "idle.json")
    assert start["end"] <= first["started_at"] and gap["start"] >= first["ended_at"]
    assert pkg["baseline_gaps"] == ["000-0-start", first_id]

    def settled_w(gaps: list[dict]) -> float:  # type: ignore[type-arg]
        energy = sum(g["energy"][DOMAIN]["settled_energy_j"] for g in gaps)
        return energy / sum(g["energy"][DOMAIN]["settled_duration_s"] for g in gaps)

    assert pkg["baseline_power_w"] == pytest.approx(settled_w([start, gap]))
    assert abs(pkg["net_j"]) < 0.05 * pkg["gross_j"]
    assert (folder / "runs" / first_id / "samples-rapl.csv").exists()
    assert gap["energy"][DOMAIN]["mean_power_w"] == pytest.approx(PACKAGE_W, rel=0.05)
    assert (folder / "idle" / first_id / "samples-rapl.csv").exists()

    second = load(folder / "runs" / second_id / "run.json")["energy"][DOMAIN]
    last = load(folder / "idle" / second_id / "idle.json")
    assert second["baseline_power_w"] == pytest.approx(settled_w([gap, last]))
    # Constant power: the run spends what idle does, so net is about zero.
    assert abs(second["net_j"]) < 0.05 * second["gross_j"]

    # The phases, remainder included (compile lies inside epoch_1), add up to the run.
    names = [p["name"] for p in first["phases"]]
    assert names[:3] == ["startup", "data_to_device", "compile"] and names[-1] == "remainder"

    # A phase shorter than RAPL's 0.2 s window guard keeps its value apart, labelled.
    parts = [phase_energy(p, DOMAIN) for p in first["phases"] if p["name"] != "compile"]
    assert sum(parts) == pytest.approx(pkg["gross_j"], rel=1e-6)
    for phase in first["phases"]:
        assert ("below_resolution" in phase) == (phase["duration_s"] < 0.2)
        assert phase_energy(phase, DOMAIN) == pytest.approx(PACKAGE_W * phase["duration_s"],
                                                            rel=0.1, abs=0.5)  # fmt: skip
