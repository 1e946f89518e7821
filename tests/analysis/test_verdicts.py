"""What the report lets a user claim, end to end on synthetic campaigns with a known truth
(issue 11, "What must hold")."""

from __future__ import annotations

import io
import json
from pathlib import Path

import pandas as pd
import pytest
from rich.console import Console

from analysis import inference
from analysis.analyze import analyze
from analysis.load import load_campaign
from tests.analysis.conftest import QUIET
from tests.analysis.synth import write_campaign

FWS = ("keras", "torch")


def _analysed(root: Path, **kwargs: object) -> tuple[pd.DataFrame, str]:
    write_campaign(root, frameworks=FWS, **kwargs)  # type: ignore[arg-type]
    analyze(root, console=QUIET, figures=False)
    t = pd.read_csv(root / "report" / "stats.csv")
    return t, (root / "report" / "report.md").read_text()


def _primary(t: pd.DataFrame) -> pd.DataFrame:
    c = t[(t["kind"] == "compare") & (t["variant"] == "all") & (t["family"] == "primary")]
    return c.set_index("metric")


def test_half_a_percent_at_low_noise_is_never_higher(tmp_path: Path) -> None:
    # a 0.5% difference at 0.2% noise: significant, but below any relevant effect
    t, md = _analysed(
        tmp_path / "c", iterations=20, cv=0.002, seed=11,
        energy_j={"keras": 1000.0, "torch": 1005.0}, duration_s={"keras": 20.0, "torch": 20.1},
    )  # fmt: skip
    p = _primary(t)
    assert set(p["verdict"]) <= {"equivalent", "inconclusive"}
    assert p.loc["energy_gross_j", "p_value"] < 0.05  # the old rule would have claimed it
    # the interval shown is the one the verdict reads: 97.5% each, two comparisons
    assert "- Energy: torch vs keras +0.4% (97.5% CI +0.3% to +0.6%): equivalent" in md


def test_forty_percent_is_higher_with_an_interval_holding_the_truth(tmp_path: Path) -> None:
    t, md = _analysed(tmp_path / "c", iterations=12, cv=0.03, seed=12,
                      energy_j={"keras": 1000.0, "torch": 1400.0})  # fmt: skip
    e = _primary(t).loc["energy_gross_j"]
    assert e["verdict"] == "higher"
    assert e["ratio_ci_low"] < 1.4 < e["ratio_ci_high"]
    # the printed change carries its interval, rounded to what the interval supports
    assert f"+{e['pct_change']:.0f}% (97.5% CI +{e['pct_ci_low']:.0f}% to" in md


def test_two_iterations_are_not_testable(tmp_path: Path) -> None:
    t, md = _analysed(tmp_path / "c", iterations=2, seed=13,
                      energy_j={"keras": 1000.0, "torch": 1400.0})  # fmt: skip
    assert set(_primary(t)["verdict"]) == {"not testable"}
    assert "Energy: torch vs keras: not testable at n = 2 paired iterations" in md
    # report.md escapes "<" (it renders as "<"): untrusted names never become HTML
    assert "With 2 paired iterations no primary claim is possible" in md
    assert "needs at least 7 paired iterations" in md
    assert " higher: " not in md


def test_drift_is_cancelled_by_pairing_and_warned_about(tmp_path: Path) -> None:
    # every framework 60% slower and hungrier by the end of the campaign; torch 10% more
    root = tmp_path / "c"
    t, md = _analysed(root, iterations=20, cv=0.01, drift=0.6, seed=14,
                      energy_j={"keras": 1000.0, "torch": 1100.0})  # fmt: skip
    e = _primary(t).loc["energy_gross_j"]
    assert e["design"] == "paired" and e["verdict"] == "higher"
    assert e["ratio_ci_low"] < 1.1 < e["ratio_ci_high"]
    assert "Drift: keras's energy_gross_j changes over the campaign" in md
    # the same runs as independent samples: the drift swamps the difference
    ok = load_campaign(root).runs
    unpaired = inference.compare_unpaired(
        ok[ok["framework"] == "keras"]["energy_gross_j"],
        ok[ok["framework"] == "torch"]["energy_gross_j"],
    )
    assert unpaired.ratio_ci_low < 1.05


def test_an_unrelated_domain_changes_no_primary_verdict(tmp_path: Path) -> None:
    truth = {"energy_j": {"keras": 1000.0, "torch": 1080.0}, "iterations": 10, "seed": 15}
    base, _ = _analysed(tmp_path / "a", **truth)  # type: ignore[arg-type]
    more, md = _analysed(tmp_path / "b", extra_domains={"psys": 1.4, "cpu-core-0": 0.6}, **truth)  # type: ignore[arg-type]
    cols = ["ratio", "ratio_ci_low", "ratio_ci_high", "p_value", "p_holm", "verdict"]
    pd.testing.assert_frame_equal(_primary(base)[cols], _primary(more)[cols])
    assert "Energy cpu-core-0" in md  # the new domain is there, as an exploratory metric


@pytest.fixture(scope="module")
def edited(tmp_path_factory: pytest.TempPathFactory) -> str:
    """torch's result.json says another device, thread count, batch size and TF32."""
    root = write_campaign(tmp_path_factory.mktemp("edited") / "c", frameworks=FWS, iterations=3)
    for path in root.glob("runs/*-torch/result.json"):
        r = json.loads(path.read_text())
        r["device"]["used"] = "gpu"
        r["threads"]["intra_op"] = 8
        r["config"]["batch_size"] = 128
        r["numerics"]["tf32_matmul"] = True  # TF32 on in one framework only
        path.write_text(json.dumps(r))
    analyze(root, console=QUIET, figures=False)
    md = (root / "report" / "report.md").read_text()
    return md.split("## Identical work")[1].split("\n## ")[0]


@pytest.mark.parametrize(
    ("check", "verdict"),
    [("device.used", "no"), ("threads.intra_op", "no"), ("config.batch_size", "no"),
     ("numerics.tf32_matmul", "no"), ("numerics.precision", "yes"),
     ("config.epochs", "yes"), ("dataset.sha256", "yes")],
)  # fmt: skip
def test_identical_work_says_no_for_each_edited_check(
    edited: str, check: str, verdict: str
) -> None:
    row = next(line for line in edited.splitlines() if line.startswith(f"| {check} |"))
    assert row.rstrip().endswith(f"| {verdict} |")


def test_folders_without_the_summable_flag_fall_back_to_the_naming_rule(tmp_path: Path) -> None:
    root = write_campaign(tmp_path / "c", frameworks=FWS, iterations=1, summable_flag=False,
                          extra_domains={"psys": 1.4})  # fmt: skip
    runs = load_campaign(root).runs
    assert set(runs["energy_domains"]) == {"cpu-package-0+dram-0"}


@pytest.fixture(scope="module")
def few_other_work(tmp_path_factory: pytest.TempPathFactory) -> tuple[str, str]:
    """Three frameworks, 7 iterations, torch +362% energy; torch's result.json says batch
    128 and another batch order: (report.md, console)."""
    root = write_campaign(tmp_path_factory.mktemp("few") / "c", iterations=7, seed=21,
                          energy_j={"keras": 1000.0, "torch": 4620.0, "jax": 1000.0})  # fmt: skip
    for path in root.glob("runs/*-torch/result.json"):
        r = json.loads(path.read_text())
        r["config"]["batch_size"] = 128
        r["identical_work"]["batch_order_sha256"] = "f" * 64
        path.write_text(json.dumps(r))
    buf = io.StringIO()
    analyze(root, console=Console(file=buf, width=400))
    return (root / "report" / "report.md").read_text(), buf.getvalue()


def test_too_few_iterations_for_the_correction_is_its_own_verdict(
    few_other_work: tuple[str, str],
) -> None:
    md, console = few_other_work
    answer = md.split("## Answer")[1].split("\n## ")[0]
    for text in (answer, console):
        assert "Energy: torch vs keras +" in text
        assert (
            "beyond the ±5% band, but too few iterations for a claim after the correction "
            "(n = 7 paired iterations; at least 8 paired iterations are needed for any claim "
            "over 6 primary comparison(s))" in text
        )
        assert "reaches into or across" not in text.split("Energy: torch vs keras")[1][:300]
    sample = md.split("## Sample size")[1].split("\n## ")[0]
    assert "With 7 paired iterations no primary claim is possible" in sample
    assert "needs at least 8 paired iterations" in sample and "80% power" not in sample


def test_a_pair_that_did_other_work_says_so_in_the_answer_and_on_the_console(
    few_other_work: tuple[str, str],
) -> None:
    md, console = few_other_work
    scope, answer = md.split("## Answer")[0], md.split("## Answer")[1].split("\n## ")[0]
    assert "2 of 3 pair(s) did NOT do the same work (torch vs keras, jax vs torch)" in scope
    row = next(line for line in answer.splitlines() if line.startswith("| torch vs keras | Energy"))
    assert "too few to claim; not the same work: identical_work.batch_order_sha256 " in row
    assert "config.batch_size 64 vs 128" in row
    power = next(line for line in answer.splitlines() if "| Power (exploratory) |" in line)
    assert "| exploratory: " in power  # an exploratory verdict is never read as a finding
    # the too-few warning, which changes how every primary verdict reads, is on screen one
    assert "Only 7 paired iterations: too few for any claim over 6 primary" in answer
    jax_keras = next(line for line in answer.splitlines() if line.startswith("| jax vs keras |"))
    assert "not the same work" not in jax_keras
    line = next(x for x in console.splitlines() if "Energy: torch vs keras" in x)
    assert "; NOT the same work: identical_work.batch_order_sha256" in line
    assert "config.batch_size 64 vs 128" in line
