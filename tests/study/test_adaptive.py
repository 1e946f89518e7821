"""Adaptive repetitions end to end: `orchestrator campaign --until-precision` on campaigns
whose runs have a known spread (stand-in workloads that sleep), through the real CLI."""

from __future__ import annotations

import math
from pathlib import Path

import pytest

from analysis.precision import PRIMARY_METRICS, iterations_needed, paired_ratio
from orchestrator.campaign.stopping import METRICS
from orchestrator.data import PreparedDataset
from tests.campaign.helpers import cli, load, only_campaign, state_lines
from tests.study.conftest import NOISY, simulated_venvs


def _campaign(ds: PreparedDataset, results: Path, *extra: str) -> list[str]:
    return ["campaign", "--data", str(ds.path), "--results", str(results), "--meter", "none",
            "--runtime", "local", "--frameworks", "torch,jax", "--warmup", "0", "--idle", "0",
            "--threads", "1", "--seed", "1", *extra]  # fmt: skip


def test_low_noise_campaign_stops_at_the_first_check(
    tiny_dataset: PreparedDataset, tmp_path: Path
) -> None:
    # 2 s against 3 s: the only spread is the start of a process on a shared machine (about
    # 0.1 s here), against a rule of +-10%: it stops long before the maximum of 10.
    venvs = simulated_venvs(tmp_path / "venvs", {"torch": "2.0", "jax": "3.0"})
    results = tmp_path / "results"
    args = _campaign(tiny_dataset, results, "--iterations", "10", "--min-iterations", "3",
                     "--until-precision", "0.1")  # fmt: skip
    r = cli(args, tmp_path, venvs=venvs)
    assert r.returncode == 0, r.stderr
    folder = only_campaign(results)
    stopping = load(folder / "campaign.json")["stopping"]
    assert stopping["rule"] == "precision" and stopping["precision"] == 0.1
    assert (stopping["min_iterations"], stopping["max_iterations"]) == (3, 10)
    stopped_after = stopping["stopped_after_iteration"]
    assert stopping["reason"] == "precision" and 3 <= stopped_after <= 5, stopping
    assert len(state_lines(folder)) == 2 * stopped_after  # no run after the stop
    assert stopping["precision_reached"] <= 0.1
    assert f"reached the precision after iteration {stopped_after}" in r.stderr

    # Resume has nothing left to do: the decision is recorded.
    again = cli(["campaign", "--resume", str(folder)], tmp_path, venvs=venvs)
    assert again.returncode == 0, again.stderr
    assert "already stopped under its rule" in again.stderr
    assert len(state_lines(folder)) == 2 * stopped_after

    # The report says the rule, where it stopped, and what another precision would cost.
    report = cli(["analyze", str(folder)], tmp_path)
    assert report.returncode == 0, report.stderr
    text = (folder / "report" / "report.md").read_text()
    assert "Adaptive repetitions: stop once every energy and time ratio is within +-10.0%" in text
    assert f"It stopped after iteration {stopped_after}: the precision was reached." in text
    assert "time jax/torch: 1.4" in text or "time jax/torch: 1.5" in text
    assert "paired iterations; iterations needed for +-5%" in text


def test_noisy_campaign_runs_to_the_maximum(tiny_dataset: PreparedDataset, tmp_path: Path) -> None:
    # Durations drawn anew for every run: the ratio's spread is far above +-10% in 4
    # iterations.
    venvs = simulated_venvs(tmp_path / "venvs", {"torch": NOISY, "jax": NOISY})
    results = tmp_path / "results"
    args = _campaign(tiny_dataset, results, "--iterations", "4", "--min-iterations", "2",
                     "--until-precision", "0.1")  # fmt: skip
    r = cli(args, tmp_path, venvs=venvs)
    assert r.returncode == 0, r.stderr
    folder = only_campaign(results)
    assert len(state_lines(folder)) == 8
    stopping = load(folder / "campaign.json")["stopping"]
    assert (stopping["stopped_after_iteration"], stopping["reason"]) == (4, "maximum")
    assert stopping["precision_reached"] > 0.1
    assert "not yet +-10.0%" in r.stderr  # the checks after iterations 2 and 3 said why


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--until-precision", "0"], "--until-precision is a relative half-width"),
        (["--until-precision", "1.5"], "between 0 and 1"),
        (["--min-iterations", "3"], "--min-iterations only applies with --until-precision"),
        (["--until-precision", "0.02", "--iterations", "3"], "--min-iterations 5 is more than"),
        (["--until-precision", "0.02", "--min-iterations", "1"], "--min-iterations must be at"),
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


def test_iterations_needed_is_the_smallest_n_whose_interval_is_narrow_enough() -> None:
    from analysis.precision import half_width_log

    for sd, p in ((0.01, 0.02), (0.05, 0.02), (0.2, 0.05), (0.003, 0.01)):
        n = iterations_needed(sd, p)
        assert n is not None and n >= 2
        assert half_width_log(sd, n) <= math.log1p(p)
        assert n == 2 or half_width_log(sd, n - 1) > math.log1p(p)
    assert iterations_needed(0.0, 0.02) == 2


def test_paired_ratio_pairs_by_iteration_and_skips_missing_runs() -> None:
    a = {1: 10.0, 2: 20.0, 3: 40.0, 4: 5.0}
    b = {1: 15.0, 2: 30.0, 3: 60.0}  # iteration 4 failed for b: not paired
    r = paired_ratio("duration_s", "a", "b", a, b)
    assert r is not None and r.n_pairs == 3
    # Drift common to both (10 -> 40) cancels: the ratio is exactly 1.5 with no spread.
    assert r.ratio == pytest.approx(1.5) and r.precision == pytest.approx(0.0, abs=1e-12)
