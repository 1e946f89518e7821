"""Adaptive repetitions end to end: `orchestrator campaign --until-precision` on campaigns
whose runs have a known spread (stand-in workloads that sleep), through the real CLI."""

from __future__ import annotations

import math
from pathlib import Path

import pytest

from analysis.inference import RANK_ARE
from analysis.precision import (
    PRIMARY_METRICS,
    half_width_log,
    iterations_needed,
    paired_ratio,
    smallest_bounded_n,
)
from orchestrator.campaign.plan import MIN_ITERATIONS
from orchestrator.campaign.stopping import METRICS
from orchestrator.data import PreparedDataset
from tests.campaign.helpers import cli, load, only_campaign, state_lines
from tests.study.conftest import NOISY, simulated_venvs


def _campaign(
    ds: PreparedDataset, results: Path, *extra: str, frameworks: str = "torch,jax"
) -> list[str]:
    return ["campaign", "--data", str(ds.path), "--results", str(results), "--meter", "none",
            "--runtime", "local", "--frameworks", frameworks, "--warmup", "0", "--idle", "0",
            "--threads", "1", "--seed", "1", *extra]  # fmt: skip


def test_low_noise_campaign_stops_at_the_first_check_the_correction_allows(
    tiny_dataset: PreparedDataset, tmp_path: Path
) -> None:
    # 1 s, 1.5 s and 2 s: the only spread is the start of a process on a shared machine
    # (about 0.1 s here), against a rule of +-10%: the 95% intervals are narrow enough at 6,
    # but three frameworks' three time ratios need 7 iterations before the report can claim
    # anything (2 / 2^n <= 0.05 / 3), so it stops at 7, not at 6 and not at 12.
    venvs = simulated_venvs(tmp_path / "venvs", {"torch": "1.0", "jax": "1.5", "keras": "2.0"})
    results = tmp_path / "results"
    args = _campaign(tiny_dataset, results, "--iterations", "12", "--min-iterations", "6",
                     "--until-precision", "0.1", frameworks="torch,jax,keras")  # fmt: skip
    r = cli(args, tmp_path, venvs=venvs)
    assert r.returncode == 0, r.stderr
    folder = only_campaign(results)
    stopping = load(folder / "campaign.json")["stopping"]
    assert stopping["rule"] == "precision" and stopping["precision"] == 0.1
    assert (stopping["min_iterations"], stopping["max_iterations"]) == (6, 12)
    stopped_after = stopping["stopped_after_iteration"]
    assert stopping["reason"] == "precision" and stopped_after == 7, stopping
    assert stopping["claim_floor"] == 7
    assert "after iteration 6: fewer than the 7 iterations any claim over 3 primary" in r.stderr
    assert len(state_lines(folder)) == 3 * stopped_after  # no run after the stop
    assert stopping["precision_reached"] <= 0.1
    assert f"reached the precision after iteration {stopped_after}" in r.stderr

    # Resume has nothing left to do: the decision is recorded.
    again = cli(["campaign", "--resume", str(folder)], tmp_path, venvs=venvs)
    assert again.returncode == 0, again.stderr
    assert "already stopped under its rule" in again.stderr
    assert len(state_lines(folder)) == 3 * stopped_after

    # The report says the rule, where it stopped, and what another precision would cost.
    report = cli(["analyze", str(folder), "--no-figures"], tmp_path)
    assert report.returncode == 0, report.stderr
    text = (folder / "report" / "report.md").read_text()
    assert "Adaptive repetitions: stop once every energy and time ratio is within +-10.0%" in text
    assert f"It stopped after iteration {stopped_after}: the precision was reached." in text
    assert "time jax/torch: 1.4" in text or "time jax/torch: 1.5" in text
    assert "paired iterations; iterations needed for +-5%" in text


def test_noisy_campaign_runs_to_the_maximum(tiny_dataset: PreparedDataset, tmp_path: Path) -> None:
    # Durations drawn anew for every run: the ratio's spread is far above +-10% in 7
    # iterations.
    venvs = simulated_venvs(tmp_path / "venvs", {"torch": NOISY, "jax": NOISY})
    results = tmp_path / "results"
    args = _campaign(tiny_dataset, results, "--iterations", "7", "--min-iterations", "6",
                     "--until-precision", "0.1")  # fmt: skip
    r = cli(args, tmp_path, venvs=venvs)
    assert r.returncode == 0, r.stderr
    folder = only_campaign(results)
    assert len(state_lines(folder)) == 14
    stopping = load(folder / "campaign.json")["stopping"]
    assert (stopping["stopped_after_iteration"], stopping["reason"]) == (7, "maximum")
    assert stopping["precision_reached"] > 0.1
    assert "after iteration 6: duration_s" in r.stderr and "not yet +-10.0%" in r.stderr


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--until-precision", "0"], "--until-precision must be between 0 and 1, both excluded"),
        (["--until-precision", "1.5"], "between 0 and 1, both excluded, not 1.5"),
        (["--min-iterations", "8"], "--min-iterations only applies with --until-precision"),
        (["--until-precision", "0.02", "--iterations", "3"], "--min-iterations 6 is more than"),
        (
            ["--until-precision", "0.02", "--min-iterations", "5"],
            "--min-iterations must be from 6 to 10000, not 5",
        ),
    ],
)
def test_bad_adaptive_options_are_refused_before_anything_is_written(
    tiny_dataset: PreparedDataset, tmp_path: Path, args: list[str], message: str
) -> None:
    results = tmp_path / "results"
    r = cli(_campaign(tiny_dataset, results, *args), tmp_path)
    assert r.returncode == 2
    assert message in r.stderr and len(r.stderr.strip().splitlines()) == 1, r.stderr
    assert not results.exists()


def test_the_rule_names_the_metrics_the_analysis_computes() -> None:
    assert tuple(m for m, _ in PRIMARY_METRICS) == METRICS


def test_iterations_needed_plans_from_the_t_interval_for_the_rank_interval() -> None:
    # Lilja's n for the t-interval, over the rank interval's efficiency 3/pi, and never fewer
    # than the 6 pairs an exact 95% signed-rank interval needs to be bounded at all.
    assert smallest_bounded_n() == 6 == MIN_ITERATIONS
    for sd, p in ((0.05, 0.02), (0.2, 0.05), (0.03, 0.01)):
        n_t = next(n for n in range(2, 10_000) if half_width_log(sd, n) <= math.log1p(p))
        assert iterations_needed(sd, p) == max(6, math.ceil(n_t / RANK_ARE))
    assert iterations_needed(0.0, 0.02) == 6
    assert iterations_needed(math.nan, 0.02) is None


def test_paired_ratio_pairs_by_iteration_and_skips_missing_runs() -> None:
    a = {i: 10.0 * i for i in range(1, 9)}
    b = {i: 15.0 * i for i in range(1, 8)}  # iteration 8 failed for b: not paired
    r = paired_ratio("duration_s", "a", "b", a, b)
    assert r is not None and r.n_pairs == 7
    # Drift common to both (10 -> 80) cancels: the ratio is exactly 1.5 with no spread.
    assert r.ratio == pytest.approx(1.5) and r.precision == pytest.approx(0.0, abs=1e-12)
    few = paired_ratio("duration_s", "a", "b", a, {1: 15.0, 2: 30.0})
    assert few is not None and few.precision == math.inf  # 2 pairs bound no interval
