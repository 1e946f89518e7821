"""The across-cell part of the study report on hand-made cells: where the ranking flips,
and what is only a crossing of point estimates."""

from __future__ import annotations

import ast
import json
from pathlib import Path

from analysis.precision import RatioPrecision
from analysis.study_report import CellResult, ranking_flips, study_confidence, study_table
from tests.conftest import REPO


def _cell(cell_id: str, batch: str, ratio: float, low: float, high: float) -> CellResult:
    r = RatioPrecision("energy_gross_j", "keras", "torch", 10, ratio, low, high,
                       high / ratio - 1, 0.05)  # fmt: skip
    # the claim interval (study-wide simultaneous) is the given one here
    return CellResult(cell_id, {"batch_size": batch}, {}, [r], Path(cell_id), claims=[r])


def test_a_supported_flip_is_named_with_its_cells() -> None:
    table = study_table(
        [_cell("cell-01", "32", 0.8, 0.75, 0.85), _cell("cell-02", "64", 0.97, 0.9, 1.04),
         _cell("cell-03", "256", 1.2, 1.1, 1.3)], ["batch_size"],
    )  # fmt: skip
    assert list(table["direction"]) == ["torch lower", "unclear", "keras lower"]
    (flip,) = ranking_flips(table, ["batch_size"])
    assert flip == (
        "energy: the ranking of keras and torch flips: keras is lower in cell-03 "
        "(batch_size=256), torch is lower in cell-01 (batch_size=32)"
    )


def test_estimates_that_cross_1_inside_their_intervals_are_not_a_flip() -> None:
    table = study_table(
        [_cell("cell-01", "32", 0.95, 0.8, 1.1), _cell("cell-02", "64", 1.05, 0.9, 1.2)],
        ["batch_size"],
    )
    (line,) = ranking_flips(table, ["batch_size"])
    assert "crosses 1 between cells" in line and "not a supported flip" in line
    same = study_table([_cell("cell-01", "32", 0.8, 0.75, 0.85)], ["batch_size"])
    assert ranking_flips(same, ["batch_size"]) == []


def test_cells_that_each_call_the_difference_equivalent_are_no_flip() -> None:
    # 1.004 [1.003, 1.005] and 0.996 [0.995, 0.997]: both exclude 1, both inside the band
    table = study_table(
        [_cell("cell-01", "32", 1.004, 1.003, 1.005), _cell("cell-02", "64", 0.996, 0.995, 0.997)],
        ["batch_size"],
    )
    assert list(table["direction"]) == ["equivalent", "equivalent"]
    (line,) = ranking_flips(table, ["batch_size"])
    assert "not a supported flip" in line and "flips:" not in line
    # beyond a 0.1% band the same cells are decided, and then they do flip
    strict = study_table(
        [_cell("cell-01", "32", 1.004, 1.003, 1.005), _cell("cell-02", "64", 0.996, 0.995, 0.997)],
        ["batch_size"],
        min_effect=0.001,
    )
    assert "the ranking of keras and torch flips" in ranking_flips(strict, ["batch_size"])[0]


def test_the_study_corrects_over_every_ratio_of_every_cell() -> None:
    two = [_cell("cell-01", "32", 0.8, 0.75, 0.85), _cell("cell-02", "64", 0.8, 0.75, 0.85)]
    assert study_confidence(two) == 1 - 0.05 / 2
    assert study_confidence(two * 3) == 1 - 0.05 / 6


def test_the_analysis_never_imports_the_orchestrator() -> None:
    for path in (REPO / "analysis").glob("*.py"):
        tree = ast.parse(path.read_text())
        for node in ast.walk(tree):
            names = [a.name for a in node.names] if isinstance(node, ast.Import) else []
            if isinstance(node, ast.ImportFrom):
                names = [node.module or ""]
            assert not any(n.split(".")[0] == "orchestrator" for n in names), path


def test_the_machines_of_each_cell_come_from_its_jobs_or_its_campaign(tmp_path: Path) -> None:
    from analysis.study_report import cell_nodes

    (tmp_path / "slurm").mkdir()
    lines = [
        {"event": "submitted", "cell": "cell-01", "job_id": "1"},
        {"event": "started", "cell": "cell-01", "job_id": "1", "node": "n1"},
        {"event": "started", "cell": "cell-02", "job_id": "2", "node": "n1"},
        {"event": "started", "cell": "cell-02", "job_id": "3", "node": "n2"},  # resumed
    ]
    (tmp_path / "slurm" / "jobs.jsonl").write_text(
        "".join(json.dumps(x) + "\n" for x in lines) + '{"torn'
    )
    meta = {"provenance": {"host": {"hostname": "laptop"}}}
    nodes = cell_nodes(tmp_path, {"cell-01": meta, "cell-02": meta, "cell-03": meta})
    assert nodes == {"cell-01": ["n1"], "cell-02": ["n1", "n2"], "cell-03": ["laptop"]}
