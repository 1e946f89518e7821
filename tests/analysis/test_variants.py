"""Variants are groups of their own, and the report sets the spread between implementations
of one framework next to the spread between frameworks at their best (issue 13)."""

from __future__ import annotations

import re
from pathlib import Path

import pandas as pd
import pytest

from analysis.analyze import analyze
from analysis.evidence import gather
from tests.analysis.conftest import QUIET
from tests.analysis.synth import write_campaign

# torch:compile halves torch's time; jax:scan is jax's time; torch:compile vs jax is 3x
TRUTH = {"torch": 20.0, "torch:compile": 10.0, "jax": 30.0, "jax:scan": 30.0}


@pytest.fixture(scope="module")
def report(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = write_campaign(
        tmp_path_factory.mktemp("variants") / "campaign",
        frameworks=tuple(TRUTH),
        iterations=10,
        duration_s=TRUTH,
        energy_j={k: 50 * v for k, v in TRUTH.items()},
        cv=0.02,
        seed=4,
    )
    analyze(root, console=QUIET, figures=False)
    return root / "report"


def _rows(section: str) -> dict[tuple[str, str], float]:
    """(kind, "slow / fast") -> ratio, from the section's tables."""
    found = re.findall(r"^\| (implementation|framework) \| (\S+ / \S+) \| ([0-9.]+)x \|", section,
                       re.MULTILINE)  # fmt: skip
    return {(kind, pair): float(ratio) for kind, pair, ratio in found}


def test_every_variant_is_a_group(report: Path) -> None:
    summary = pd.read_csv(report / "summary.csv")
    assert set(summary["framework"]) == set(TRUTH)
    stats = pd.read_csv(report / "stats.csv")
    described = stats[(stats["kind"] == "describe") & (stats["metric"] == "duration_s")]
    assert set(described["framework"]) == set(TRUTH)


def test_implementation_spreads_sit_next_to_framework_spreads(report: Path) -> None:
    text = (report / "report.md").read_text()
    section = text.split("## Frameworks or implementations?", 1)[1].split("\n## ", 1)[0]
    time_part = section.split("Energy: implementation spreads", 1)[0]
    rows = _rows(time_part)
    assert rows[("implementation", "torch / torch:compile")] == pytest.approx(2.0, rel=0.05)
    (jax_pair,) = [p for k, p in rows if k == "implementation" and "jax" in p]
    assert rows[("implementation", jax_pair)] == pytest.approx(1.0, abs=0.05)
    # the cross-framework comparison is between each framework's fastest implementation
    (cross,) = [p for k, p in rows if k == "framework"]
    assert cross.endswith("/ torch:compile") and cross.split(" / ")[0] in ("jax", "jax:scan")
    assert rows[("framework", cross)] == pytest.approx(3.0, rel=0.05)
    assert "an implementation effect within torch" in section
    assert "no clear implementation effect within jax" in section
    assert "a framework effect at each framework's best" in section


def test_a_version_is_told_apart_from_an_implementation() -> None:
    from analysis.variants import _within, framework_of

    assert framework_of("jax@0.5:scan") == framework_of("jax") == "jax"
    assert _within("jax", "jax:scan") == "implementation"
    assert _within("jax", "jax@0.5") == "version"
    assert _within("jax:scan", "jax@0.5") == "implementation and version"


def test_a_version_variant_may_pin_another_numpy_but_not_other_weights() -> None:
    # keras@2.18 needs NumPy < 2.1: what NumPy computes for the work is compared by hashes.
    def result(numpy: str, weights: str) -> dict[str, object]:
        return {
            "parameter_count": 268_298,
            "versions": {"python": "3.11.7", "numpy": numpy},
            "identical_work": {"initial_weights_sha256": weights, "batch_order_sha256": "b"},
        }

    same = gather({"keras": [result("2.4.6", "w")], "keras@2.18": [result("2.0.2", "w")]})
    assert all(c.identical for c in same.checks)
    other = gather({"keras": [result("2.4.6", "w")], "keras@2.18": [result("2.0.2", "v")]})
    assert [c.name for c in other.checks if not c.identical] == [
        "identical_work.initial_weights_sha256"
    ]
