"""The report's Measurement section from run.json records: uncertainty next to run-to-run
spread, runs below resolution, cross-checks and the runs that disagree."""

from __future__ import annotations

from typing import Any

from analysis.document import Bullets, Heading, Table
from analysis.measurement import check_rows, measurement_blocks, uncertainty_rows


def _run(fw: str, gross: float, u: float, *, checks: list[dict[str, Any]] | None = None,
         below: str | None = None) -> dict[str, Any]:  # fmt: skip
    pkg: dict[str, Any] = {"gross_j": gross, "summable": True,
                           "uncertainty": {"u_j": u, "components": {}}}  # fmt: skip
    if below:
        pkg["below_resolution"] = below
    core = {"gross_j": gross / 2, "summable": False, "uncertainty": {"u_j": 99.0}}
    return {"framework": fw, "status": "ok", "energy": {"cpu-package-0": pkg, "cpu-core-0": core},
            "cross_checks": checks or []}  # fmt: skip


def _check(ratio: float, agree: bool) -> dict[str, Any]:
    return {"check": "gpu-0: counter vs polled power", "a": "nvml:counter",
            "b": "nvml:power-integration", "a_j": 100.0, "b_j": 100.0 * ratio, "ratio": ratio,
            "u_j": 2.0, "agree": agree}  # fmt: skip


def test_which_limits_measurement_or_noise() -> None:
    records = {
        # torch: runs 100 J apart, each known to 0.5 J: the noise limits.
        "r1": _run("torch", 1000.0, 0.5), "r2": _run("torch", 1100.0, 0.5),
        "r3": _run("torch", 1200.0, 0.5),
        # jax: runs within 1 J, each known to 2 J: the measurement limits.
        "r4": _run("jax", 500.0, 2.0), "r5": _run("jax", 501.0, 2.0),
        "r6": {"framework": "jax", "status": "failed", "energy": {}},
    }  # fmt: skip
    rows = {r[0]: r for r in uncertainty_rows(records)}
    assert rows["torch"][1:] == ["3", "1100.0", "0.500", "100.000", "run-to-run noise"]
    assert rows["jax"][1] == "2" and rows["jax"][5] == "the measurement"


def test_cross_checks_and_disagreeing_runs_are_shown() -> None:
    short = "0.150 s is shorter than the 0.200 s"
    records = {"r1": _run("torch", 10.0, 0.1, checks=[_check(1.02, True)]),
               "r2": _run("torch", 10.0, 0.1, checks=[_check(1.40, False)]),
               "r3": _run("torch", 0.1, 0.1, below=short)}  # fmt: skip
    rows, failed = check_rows(records)
    assert rows == [["gpu-0: counter vs polled power (nvml:power-integration / nvml:counter)",
                     "2", "1.210", "1.020 to 1.400", "1"]]  # fmt: skip
    assert failed == ["r2: gpu-0: counter vs polled power (nvml:power-integration / nvml:counter)"]
    blocks = measurement_blocks(records)
    assert isinstance(blocks[0], Heading) and blocks[0].text == "Measurement"
    bullets = [b for b in blocks if isinstance(b, Bullets)]
    assert any("r3 cpu-package-0: 0.150 s" in i for b in bullets for i in b.items)
    assert any(i.startswith("r2:") for b in bullets for i in b.items)
    assert sum(isinstance(b, Table) for b in blocks) == 2


def test_older_runs_without_budgets_give_no_section() -> None:
    run = {"framework": "torch", "status": "ok", "energy": {"cpu-package-0": {"gross_j": 5.0,
           "summable": True}}}  # fmt: skip
    assert measurement_blocks({"r1": run}) == []
