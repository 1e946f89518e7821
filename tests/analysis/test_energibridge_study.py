"""`orchestrator analyze --energibridge-csvs DIR`: a study that used EnergiBridge alone,
imported and analysed end to end through the CLI (in this process)."""

from __future__ import annotations

import csv
import os
import subprocess
from pathlib import Path

import pandas as pd
import pytest

from tests import inprocess
from tests.conftest import REPO
from tests.meters.test_import_energibridge import study  # noqa: F401  (fixture)

pytestmark = pytest.mark.slow


def _analyze(source: Path, out: Path, *extra: str) -> subprocess.CompletedProcess[str]:
    """`orchestrator analyze --energibridge-csvs SOURCE --out OUT ...` (in this process)."""
    args = ["analyze", "--energibridge-csvs", str(source), "--out", str(out), *extra]
    return inprocess.run(args, env=dict(os.environ), cwd=REPO)


def test_an_energibridge_study_is_imported_and_analysed(study: Path, tmp_path: Path):  # noqa: F811
    out = tmp_path / "imported"
    proc = _analyze(study, out)
    assert proc.returncode == 0, proc.stderr
    rows = list(csv.DictReader((out / "report" / "summary.csv").open()))
    assert len(rows) == 12
    energy_col = "energy_gross_j"  # the labelled total: packages + DRAM + GPUs
    by_run = {(r["framework"], int(r["iteration"])): r for r in rows}
    # torch's run number 1 crosses the AMD counter's 2^16 J wrap: 40 W for 4 s is still 160 J.
    wrapped = by_run[("torch", 2)]
    assert float(wrapped[energy_col]) == pytest.approx(160.0, rel=1e-6)
    assert float(by_run[("jax", 1)][energy_col]) == pytest.approx(200.0, rel=1e-6)
    stats = (out / "report" / "stats.csv").read_text()
    assert "keras" in stats and "jax" in stats
    assert (out / "report" / "report.html").stat().st_size > 10_000


def test_a_malformed_study_is_one_error_line(study: Path, tmp_path: Path):  # noqa: F811
    bad = study / "keras" / "keras_0.csv"
    lines = bad.read_text().splitlines()
    lines[5] = "200,not-a-time,1,2,3,4"
    bad.write_text("\n".join(lines) + "\n")
    proc = _analyze(study, tmp_path / "x")
    assert proc.returncode == 2
    assert len(proc.stderr.strip().splitlines()) == 1
    assert "keras/keras_0.csv:6: column 'Time'" in proc.stderr
    assert not (tmp_path / "x").exists()


def test_reference_chooses_what_the_others_are_compared_with(study: Path, tmp_path: Path):  # noqa: F811
    # imported frameworks come in alphabetical order (jax first); the reference study's
    # tables compare everything with Keras
    out = tmp_path / "ref"
    proc = _analyze(study, out, "--reference", "keras", "--min-effect", "10", "--no-figures")
    assert proc.returncode == 0, proc.stderr
    t = pd.read_csv(out / "report" / "stats.csv")
    primary = t[(t["kind"] == "compare") & (t["family"] == "primary") & (t["variant"] == "all")]
    pairs = set(zip(primary["framework"], primary["framework_b"], strict=True))
    assert pairs == {("keras", "jax"), ("keras", "torch"), ("jax", "torch")}
    assert set(primary["design"]) == {"unpaired"} and set(primary["test"]) <= {"brunner-munzel"}
    md = (out / "report" / "report.md").read_text()
    assert "compared with the reference, keras" in md and "beyond ±10%" in md
    assert "- Energy: torch vs keras" in md
    # an imported study records neither model nor task: the report claims neither
    assert "Scope: the imported study's workload;" in md and "training of" not in md


def test_an_unknown_reference_is_one_error_line(study: Path, tmp_path: Path):  # noqa: F811
    proc = _analyze(study, tmp_path / "bad", "--reference", "tensorflow")
    assert proc.returncode == 2
    assert proc.stderr.strip().count("\n") == 0
    assert "--reference 'tensorflow' is not a framework of this campaign; pass one of jax" in (
        proc.stderr
    )


def test_a_study_from_energibridge_before_0_0_7_is_refused(study: Path, tmp_path: Path):  # noqa: F811
    old = study / "keras" / "keras_0.csv"
    old.write_text(old.read_text().replace("CPU_ENERGY (J)", "PACAKGE_ENERGY (J)", 1))
    proc = _analyze(study, tmp_path / "old")
    assert proc.returncode == 2
    assert proc.stderr.strip().count("\n") == 0
    assert "keras/keras_0.csv:1: column 'PACAKGE_ENERGY (J)' was written by EnergiBridge" in (
        proc.stderr
    )
