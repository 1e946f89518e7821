"""Synthetic campaigns analysed once per session: the analysis is the slow part (figures,
left out where a test reads only the numbers and the words)."""

from __future__ import annotations

from pathlib import Path

import pytest
from rich.console import Console

from analysis.analyze import analyze
from tests.analysis.synth import write_campaign, write_imported

QUIET = Console(stderr=True, quiet=True)


@pytest.fixture(scope="session")
def effect_campaign(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """torch uses 40% less energy than keras and jax (which are equal); one keras run failed
    and one jax run's energy is tripled (an outlier)."""
    root = write_campaign(
        tmp_path_factory.mktemp("effect") / "campaign",
        iterations=10,
        energy_j={"keras": 1000.0, "torch": 600.0, "jax": 1000.0},
        failed=[f"004-{p}-keras" for p in (1, 2, 3)],
        outliers=[f"007-{p}-jax" for p in (1, 2, 3)],
        seed=1,
    )
    analyze(root, console=QUIET)
    return root


@pytest.fixture(scope="session")
def null_campaign(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = write_campaign(tmp_path_factory.mktemp("null") / "campaign", iterations=10, seed=2)
    analyze(root, console=QUIET, figures=False)  # read for its numbers and words only
    return root


@pytest.fixture(scope="session")
def none_campaign(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = write_campaign(tmp_path_factory.mktemp("none") / "campaign", iterations=4,
                          meter="none", seed=3)  # fmt: skip
    analyze(root, console=QUIET)
    return root


@pytest.fixture(scope="session")
def imported_campaign(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = write_imported(tmp_path_factory.mktemp("imported") / "campaign")
    analyze(root, console=QUIET)
    return root
