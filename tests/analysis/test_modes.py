"""The bimodality test (analysis.modes) and its warning in the report: a campaign whose
runs of one framework fall into two populations says so and names the runs of each."""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pytest

from analysis.analyze import analyze
from analysis.modes import MIN_RUNS, two_modes
from tests.analysis.conftest import QUIET
from tests.analysis.synth import write_campaign


def _keras_like(rng: np.random.Generator, n: int) -> np.ndarray:
    """Steady epochs of 3,840 images at about 1,085 or 740 images/s, 3% noise each."""
    fast = rng.random(n) < 0.6
    return np.where(fast, 3.54, 5.19) * (1 + 0.03 * rng.standard_normal(n))


UNIMODAL = {
    "normal": lambda rng, n: rng.normal(10.0, 0.5, n),
    "lognormal": lambda rng, n: np.exp(rng.normal(0.0, 0.3, n)),
    "heavy tails (t, 3 df)": lambda rng, n: 10 + 0.5 * rng.standard_t(3, n),
    "uniform": lambda rng, n: rng.uniform(0.0, 1.0, n),
    "linear drift": lambda rng, n: np.linspace(10, 12, n) + rng.normal(0, 0.1, n),
}


def test_two_clear_modes_are_found_and_each_run_assigned() -> None:
    rng = np.random.default_rng(0)
    x = _keras_like(rng, 35)
    m = two_modes(x)
    assert m.bimodal and m.tested
    assert m.low_mean == pytest.approx(3.54, rel=0.03)
    assert m.high_mean == pytest.approx(5.19, rel=0.03)
    assert np.array_equal(np.asarray(m.high), x > 4.3)
    assert m.ashman_d > 2 and m.delta_bic > 10


@pytest.mark.parametrize("n", [12, 20, 35])
def test_clear_modes_are_found_in_almost_every_campaign(n: int) -> None:
    found = [two_modes(_keras_like(np.random.default_rng(s), n)).bimodal for s in range(200)]
    assert np.mean(found) >= 0.95


@pytest.mark.parametrize("shape", sorted(UNIMODAL))
@pytest.mark.parametrize("n", [12, 35, 100])
def test_one_population_is_rarely_called_bimodal(shape: str, n: int) -> None:
    called = [two_modes(UNIMODAL[shape](np.random.default_rng(s), n)).bimodal for s in range(200)]
    assert np.mean(called) <= 0.05


def test_one_stray_run_is_an_outlier_not_a_mode() -> None:
    x = np.random.default_rng(1).normal(10.0, 0.2, 20)
    x[3] = 20.0
    assert not two_modes(x).bimodal


def test_too_few_runs_are_not_tested_and_nan_is_ignored() -> None:
    few = two_modes([3.5, 3.6, 5.2, 5.3, 3.5, 5.2, 3.4])
    assert not few.tested and not few.bimodal
    x = [*_keras_like(np.random.default_rng(2), 20), float("nan")]
    m = two_modes(x)
    assert m.tested and m.bimodal and m.n == 20 and len(m.high) == 21 and not m.high[-1]
    assert MIN_RUNS <= 20
    assert not two_modes([4.0] * 12).bimodal  # a constant sample


@pytest.fixture(scope="module")
def bimodal_campaign(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = write_campaign(
        tmp_path_factory.mktemp("bimodal") / "campaign", iterations=12, slow={"keras": 1.45}, seed=4
    )
    analyze(root, console=QUIET, figures=False)
    return root


def test_report_warns_of_a_bimodal_framework_and_names_the_runs(bimodal_campaign: Path) -> None:
    md = (bimodal_campaign / "report" / "report.md").read_text()
    warning = next(
        line for line in md.splitlines() if "keras: steady-state epoch time is bimodal" in line
    )
    fast = [f"{it:03d}-" for it in range(1, 13, 2)]
    slow = [f"{it:03d}-" for it in range(2, 13, 2)]
    head, tail = warning.split(" and ", 1)
    assert "6 around" in head and all(p in head for p in fast) and not any(p in head for p in slow)
    assert "6 around" in tail and all(p in tail for p in slow)
    # the slow mode waited for a CPU: the same CPU time per epoch in both modes
    cpu = re.search(r"median ([\d.]+) s in the first mode, ([\d.]+) s in the second", warning)
    assert cpu and float(cpu[1]) == pytest.approx(float(cpu[2]), rel=0.1)
    # same power in both modes: only the time is bimodal; torch and jax are one population
    assert "steady-state power is bimodal" not in md
    assert "torch: steady-state" not in md and "jax: steady-state" not in md


def test_one_population_raises_no_bimodality_warning(null_campaign: Path) -> None:
    assert "bimodal" not in (null_campaign / "report" / "report.md").read_text()


def test_the_bimodality_warning_is_on_the_first_screen(bimodal_campaign: Path) -> None:
    # it changes how keras's primary verdicts read: the Answer says it, not only Warnings
    md = (bimodal_campaign / "report" / "report.md").read_text()
    answer = md.split("## Answer")[1].split("\n## ")[0]
    assert "keras: steady-state epoch time is bimodal" in answer
