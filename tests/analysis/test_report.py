"""End to end: synthetic campaign folders with a known truth -> report folder."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest

from analysis.analyze import analyze
from analysis.errors import AnalysisInputError
from tests.analysis.conftest import QUIET
from tests.analysis.synth import write_imported
from tests.conftest import REPO


def _stats(root: Path) -> pd.DataFrame:
    return pd.read_csv(root / "report" / "stats.csv")


def _pair(t: pd.DataFrame, metric: str, a: str, b: str, variant: str = "all") -> pd.Series:
    sel = t[(t["kind"] == "compare") & (t["variant"] == variant) & (t["metric"] == metric)
            & (t["framework"] == a) & (t["framework_b"] == b)]  # fmt: skip
    assert len(sel) == 1
    return sel.iloc[0]


def test_report_folder_has_every_output(effect_campaign: Path) -> None:
    report = effect_campaign / "report"
    assert {p.name for p in report.iterdir()} == {
        "summary.csv", "stats.csv", "report.md", "report.html", "figures"}  # fmt: skip
    pngs = sorted(p.stem for p in (report / "figures").glob("*.png"))
    svgs = sorted(p.stem for p in (report / "figures").glob("*.svg"))
    assert pngs == svgs
    for stem in ("forest", "violin-energy_gross_j", "violin-duration_s", "power-series",
                 "phase-energy", "phase-time", "order-energy_gross_j", "drift-energy_gross_j",
                 "idle-power", "accuracy"):  # fmt: skip
        assert stem in pngs
    for png in (report / "figures").glob("*.png"):
        assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert not list(effect_campaign.glob(".report.*"))  # no staging folder left behind


def test_known_effect_is_found_in_the_right_direction(effect_campaign: Path) -> None:
    t = _stats(effect_campaign)
    kt = _pair(t, "energy_gross_j", "keras", "torch")
    assert kt["verdict"] == "lower" and kt["p_holm"] < 0.05 and kt["design"] == "paired"
    assert kt["ratio_ci_low"] < 0.6 < kt["ratio_ci_high"] < 1 / 1.05
    assert -45 < kt["pct_change"] < -35
    assert _pair(t, "energy_gross_j", "torch", "jax")["verdict"] == "higher"
    # keras and jax do the same: never a relevant difference
    assert _pair(t, "energy_gross_j", "keras", "jax")["verdict"] in ("equivalent", "inconclusive")
    # equal durations: no time difference claimed for any pair
    comp = t[(t["kind"] == "compare") & (t["metric"] == "duration_s")]
    assert not comp["verdict"].isin(["higher", "lower"]).any()
    md = (effect_campaign / "report" / "report.md").read_text()
    assert "- Energy: torch vs keras -40% (99.17% CI " in md
    assert ": lower: the whole interval lies below -4.76% (1/1.05) (wilcoxon-signed-rank" in md


def test_holm_runs_over_the_primary_family(effect_campaign: Path) -> None:
    t = _stats(effect_campaign)
    comp = t[(t["kind"] == "compare") & (t["variant"] == "all")]
    primary = comp[comp["family"] == "primary"]
    assert set(primary["metric"]) == {"energy_gross_j", "duration_s"} and len(primary) == 6
    smallest = primary.loc[primary["p_value"].idxmin()]
    assert smallest["p_holm"] == pytest.approx(min(1.0, 6 * smallest["p_value"]))
    assert (comp["p_holm"].dropna() >= comp["p_value"][comp["p_holm"].notna()] - 1e-15).all()
    assert set(comp["family"]) == {"primary", "secondary", "none"}  # memory: descriptive


def test_failed_run_is_counted_and_excluded(effect_campaign: Path) -> None:
    summary = pd.read_csv(effect_campaign / "report" / "summary.csv")
    assert len(summary) == 30
    assert (summary["status"] == "failed").sum() == 1
    t = _stats(effect_campaign)
    keras = t[(t["kind"] == "describe") & (t["variant"] == "all") & (t["framework"] == "keras")
              & (t["metric"] == "energy_gross_j")]  # fmt: skip
    assert keras["n"].iloc[0] == 9
    md = (effect_campaign / "report" / "report.md").read_text()
    assert "1 run(s) did not finish ok (failed: 1); they are excluded" in md
    assert "| Excluded runs" in md or "*Excluded runs*" in md


def test_outlier_is_flagged_reported_and_analysed_both_ways(effect_campaign: Path) -> None:
    summary = pd.read_csv(effect_campaign / "report" / "summary.csv")
    tripled = summary[summary["energy_gross_j"] > 2000]
    assert list(tripled["framework"]) == ["jax"]
    assert tripled["run_id"].iloc[0].startswith("007-")
    assert "energy_gross_j" in tripled["outlier_metrics"].iloc[0]
    t = _stats(effect_campaign)
    desc = t[(t["kind"] == "describe") & (t["metric"] == "energy_gross_j")
             & (t["framework"] == "jax")].set_index("variant")  # fmt: skip
    n_out = desc.loc["all", "outliers"]
    assert n_out >= 1
    assert desc.loc["all", "n"] == 10 and desc.loc["without-outliers", "n"] == 10 - n_out
    assert desc.loc["without-outliers", "max"] < 2000 < desc.loc["all", "max"]
    md = (effect_campaign / "report" / "report.md").read_text()
    assert tripled["run_id"].iloc[0] in md
    clean = _pair(t, "energy_gross_j", "keras", "jax", variant="without-outliers")
    assert clean["n_pairs"] < _pair(t, "energy_gross_j", "keras", "jax")["n_pairs"]


def test_no_effect_claims_nothing(null_campaign: Path) -> None:
    t = _stats(null_campaign)
    comp = t[(t["kind"] == "compare") & (t["variant"] == "all")]
    assert not comp["verdict"].isin(["higher", "lower"]).any()
    md = (null_campaign / "report" / "report.md").read_text()
    answer = md.split("## Answer")[1].split("\n## ")[0]
    assert " higher: " not in answer and " lower: " not in answer
    # "no difference" is said only of an equivalence
    for line in md.splitlines():
        if "no difference" in line:
            assert "equivalent" in line


def test_identical_work_evidence(effect_campaign: Path) -> None:
    md = (effect_campaign / "report" / "report.md").read_text()
    section = md.split("## Identical work")[1].split("\n## ")[0]
    assert "| identical_work.initial_weights_sha256 |" in section and "| yes |" in section
    assert "| no |" not in section
    for check in ("device.used", "threads.intra_op", "config.batch_size", "config.epochs",
                  "config.learning_rate", "dataset.sha256", "versions.python"):  # fmt: skip
        assert f"| {check} |" in section
    assert "keras vs torch" in section  # probe logits compared per pair
    assert "| epoch 1 | epoch 2 | epoch 3 |" in section


def test_meter_none_says_loudly_that_no_energy_was_measured(none_campaign: Path) -> None:
    md = (none_campaign / "report" / "report.md").read_text()
    assert "WARNING: **NO ENERGY WAS MEASURED" in md
    assert "power-over-time figure is left out" in md
    t = _stats(none_campaign)
    assert not t["metric"].str.contains("energy|power|edp").any()
    assert "duration_s" in set(t["metric"])
    html = (none_campaign / "report" / "report.html").read_text()
    assert '<div class="loud">WARNING: NO ENERGY WAS MEASURED' in html


def test_imported_study_is_analysed_without_workload_files(imported_campaign: Path) -> None:
    md = (imported_campaign / "report" / "report.md").read_text()
    assert "Imported EnergiBridge study." in md and "- Imported study: no idle baseline" in md
    assert "No result.json in any ok run" in md
    # 2200 J vs 3200 J, 6 runs each, independent samples
    assert "- Energy: torch vs keras +4" in md and "(brunner-munzel, Holm p" in md
    t = _stats(imported_campaign)
    assert _pair(t, "energy_gross_j", "keras", "torch")["design"] == "unpaired"
    figures = {p.stem for p in (imported_campaign / "report" / "figures").glob("*.png")}
    assert {"violin-energy_gross_j", "forest"} <= figures
    assert not figures & {"accuracy", "power-series", "phase-energy", "order-energy_gross_j",
                          "drift-energy_gross_j", "idle-power"}  # fmt: skip


def test_bootstrap_makes_stats_reproducible(imported_campaign: Path, tmp_path: Path) -> None:
    again = analyze(imported_campaign, tmp_path / "again", console=QUIET)
    assert (again / "stats.csv").read_bytes() == (
        imported_campaign / "report" / "stats.csv"
    ).read_bytes()


def test_failed_analysis_leaves_the_previous_report_untouched(tmp_path: Path) -> None:
    root = write_imported(tmp_path / "c", runs_per_framework=4)
    out = analyze(root, console=QUIET)
    before = (out / "report.md").read_text()
    (root / "runs" / "001-keras" / "power-x.csv").write_bytes(b"time_s,a\n\xff\xfe\xfa\n")
    with pytest.raises(AnalysisInputError, match=r"power-x\.csv: unreadable CSV"):
        analyze(root, console=QUIET)
    assert (out / "report.md").read_text() == before
    assert sorted(p.name for p in root.iterdir()) == ["campaign.json", "report", "runs"]


def test_out_folder_with_foreign_files_is_refused(tmp_path: Path) -> None:
    root = write_imported(tmp_path / "c", runs_per_framework=3)
    out = tmp_path / "mine"
    out.mkdir()
    (out / "thesis.tex").write_text("precious")
    with pytest.raises(AnalysisInputError, match="not a report"):
        analyze(root, out, console=QUIET)
    assert [p.name for p in out.iterdir()] == ["thesis.tex"]


def _cli(*args: str) -> subprocess.CompletedProcess[str]:
    env = os.environ | {"PYTHONPATH": str(REPO)}
    return subprocess.run([sys.executable, *args], capture_output=True, text=True, env=env,
                          cwd=REPO, check=False, timeout=300)  # fmt: skip


def test_cli_bad_folder_is_one_line_and_exit_2(tmp_path: Path) -> None:
    for args in (
        ["-m", "analysis", str(tmp_path)],
        ["-m", "orchestrator", "analyze", str(tmp_path)],
    ):
        proc = _cli(*args)
        assert proc.returncode == 2, proc.stderr
        assert proc.stderr.strip().count("\n") == 0
        assert "no campaign.json" in proc.stderr


def test_orchestrator_analyze_writes_the_report(tmp_path: Path) -> None:
    root = write_imported(tmp_path / "c", runs_per_framework=3)
    proc = _cli("-m", "orchestrator", "analyze", str(root), "--out", str(tmp_path / "r"))
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout == ""  # human output goes to stderr
    assert (tmp_path / "r" / "report.html").is_file()
    assert pd.read_csv(tmp_path / "r" / "summary.csv")["run_id"].nunique() == 6


def test_orchestrator_analyze_without_a_folder_says_what_to_give() -> None:
    proc = _cli("-m", "orchestrator", "analyze")
    assert proc.returncode == 2
    assert "give a campaign folder, or --energibridge-csvs DIR" in proc.stderr


def test_no_figures_gives_the_same_numbers_and_text_and_says_so(
    effect_campaign: Path, tmp_path: Path
) -> None:
    """`--no-figures` (figures=False): the statistics and the report's words are those of
    the full analysis; the figures are left out, and the report says so."""
    out = analyze(effect_campaign, tmp_path / "plain", console=QUIET, figures=False)
    assert {p.name for p in out.iterdir()} == {"summary.csv", "stats.csv", "report.md",
                                               "report.html"}  # fmt: skip
    full = effect_campaign / "report"
    pd.testing.assert_frame_equal(pd.read_csv(out / "stats.csv"), pd.read_csv(full / "stats.csv"))
    plain_md = (out / "report.md").read_text()
    assert "Figures not drawn (--no-figures)" in plain_md
    assert "](figures/" not in plain_md
    # Every line of the full report that is not a figure or its caption (in italics) is in
    # the plain one.
    for line in (full / "report.md").read_text().splitlines():
        caption = line.startswith("*") and line.endswith("*") and not line.startswith("**")
        if "figures/" not in line and "figure" not in line.lower() and not caption:
            assert line in plain_md, line
