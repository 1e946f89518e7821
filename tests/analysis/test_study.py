"""analysis.study on small hand-built tables: which metrics, which families, which verdicts,
which warnings."""

from __future__ import annotations

import dataclasses

import numpy as np
import pandas as pd
import pytest

from analysis import inference, stats
from analysis.study import (
    ROW_TYPES,
    STATS_COLUMNS,
    build_study,
    metrics_present,
    phase_medians,
)


def _runs(
    energy: dict[str, list[float]],
    status: dict[int, str] | None = None,
    domains: dict[tuple[str, int], str] | None = None,
) -> pd.DataFrame:
    rows = []
    for fw, values in energy.items():
        for i, e in enumerate(values):
            rows.append({"run_id": f"{i + 1:03d}-{fw}", "framework": fw, "iteration": i + 1,
                         "position": 1 + (i + (fw == "b")) % 2,
                         "status": (status or {}).get(i, "ok") if fw == "a" else "ok",
                         "duration_s": 10.0 + 0.01 * i, "energy_gross_j": e,
                         "mean_power_w": e / (10.0 + 0.01 * i), "edp_j_s": e * (10.0 + 0.01 * i),
                         "net_negative": False,
                         "energy_domains": (domains or {}).get((fw, i), "cpu-package-0")},
                        )  # fmt: skip
    return pd.DataFrame(rows)


def _row(study, metric: str, a: str = "a", b: str = "b"):  # type: ignore[no-untyped-def]
    r = study.comparison(metric, a, b)
    assert r is not None
    return r


def test_stats_columns_are_the_dataclass_fields() -> None:
    # a field added to a statistic's dataclass becomes a stats.csv column by itself
    for t in ROW_TYPES:
        assert {f.name for f in dataclasses.fields(t)} <= set(STATS_COLUMNS)
    assert len(STATS_COLUMNS) == len(set(STATS_COLUMNS))
    study = build_study(_runs({"a": [100.0] * 8, "b": [150.0] * 8}), ["a", "b"], [])
    assert list(study.table.columns) == STATS_COLUMNS
    assert {"ratio", "ratio_ci_low", "verdict", "p_tost", "against"} <= set(STATS_COLUMNS)


def test_separated_samples_are_higher_with_an_interval() -> None:
    a = list(np.linspace(100, 110, 12))
    b = [v * 1.5 for v in a]
    study = build_study(_runs({"a": a, "b": b}), ["a", "b"], ["cpu-package-0"])
    r = _row(study, "energy_gross_j")
    assert r.verdict == "higher" and r.design == "paired" and r.n_pairs == 12
    assert r.ratio == pytest.approx(1.5) and r.pct_change == pytest.approx(50)
    # identical durations (10 + 0.01 i in both): an interval inside the band
    assert _row(study, "duration_s").verdict == "equivalent"


def test_holm_runs_over_the_primary_family_only() -> None:
    rng = np.random.default_rng(0)
    a = list(rng.normal(100, 1, 10))
    study = build_study(_runs({"a": a, "b": [v * 1.2 for v in a], "c": a}), ["a", "b", "c"], [])
    c = study.rows("compare")
    primary = c[c["family"] == "primary"]
    assert set(primary["metric"]) == {"energy_gross_j", "duration_s"} and len(primary) == 2 * 3
    assert list(primary["p_holm"]) == pytest.approx(stats.holm(list(primary["p_value"])))
    secondary = c[c["family"] == "secondary"]
    assert set(secondary["metric"]) >= {"mean_power_w", "edp_j_s"}
    assert list(secondary["p_holm"]) == pytest.approx(stats.holm(list(secondary["p_value"])))


def test_reference_is_compared_first() -> None:
    runs = _runs({"a": [100.0 + i for i in range(8)], "b": [300.0 + i for i in range(8)]})
    study = build_study(runs, ["a", "b"], [], reference="b")
    assert study.frameworks == ["b", "a"] and study.pairs == [("b", "a")]
    r = _row(study, "energy_gross_j", "b", "a")
    assert r.verdict == "lower" and r.pct_change < -60


def test_non_ok_runs_are_excluded_counted_and_named() -> None:
    runs = _runs({"a": [100.0] * 7 + [1e6], "b": [200.0] * 8}, status={7: "incomplete"})
    study = build_study(runs, ["a", "b"], ["cpu-package-0"])
    desc = study.rows("describe")
    desc = desc[desc["metric"] == "energy_gross_j"].set_index("framework")
    assert desc.loc["a", "n"] == 7 and desc.loc["a", "max"] == 100.0
    assert int(study.status_counts.loc["a", "incomplete"]) == 1
    assert any("did not finish ok (incomplete: 1)" in w and "008-a" in w for w in study.warnings)


def test_runs_summing_other_domains_are_left_out_of_energy_and_named() -> None:
    a = [100.0 + i for i in range(8)]
    odd = {("b", 2): "cpu-package-0+gpu-0", ("b", 5): "cpu-package-0+gpu-0"}
    runs = _runs({"a": a, "b": [v * 1.3 for v in a]}, domains=odd)
    study = build_study(runs, ["a", "b"], ["cpu-package-0"])
    desc = study.rows("describe").set_index(["metric", "framework"])
    assert desc.loc[("energy_gross_j", "b"), "n"] == 6  # the two odd runs are out
    assert desc.loc[("duration_s", "b"), "n"] == 8  # time is still comparable
    assert _row(study, "energy_gross_j").n_pairs == 6
    assert any(
        "2 run(s) sum other energy domains than cpu-package-0" in w and "003-b, 006-b" in w
        for w in study.warnings
    )


def test_a_run_without_summable_energy_is_named() -> None:
    runs = _runs({"a": [100.0 + i for i in range(8)], "b": [130.0 + i for i in range(8)]})
    runs.loc[(runs["framework"] == "b") & (runs["iteration"] == 3), "energy_gross_j"] = np.nan
    study = build_study(runs, ["a", "b"], ["cpu-package-0"])
    assert _row(study, "energy_gross_j").n_pairs == 7
    assert any(
        w.startswith("1 run(s) have no summable energy") and w.endswith(": 003-b")
        for w in study.warnings
    )


def test_two_iterations_say_no_inference_is_possible() -> None:
    study = build_study(_runs({"a": [100.0, 101.0], "b": [150.0, 152.0]}), ["a", "b"], [])
    assert _row(study, "energy_gross_j").verdict == "not testable"
    assert any(
        "Only 2 paired iterations: too few for any claim over 2 primary comparison(s)" in w
        and "at least 7" in w
        for w in study.warnings
    )


def test_cv_warning_only_on_primary_metrics() -> None:
    runs = _runs({"a": [100.0, 130.0, 80.0, 120.0] * 3, "b": [100.0, 101.0, 99.0] * 4})
    study = build_study(runs, ["a", "b"], ["cpu-package-0"])
    assert any(w.startswith("a: energy_gross_j varies a lot") for w in study.warnings)
    assert not any("edp_j_s varies" in w or "mean_power_w varies" in w for w in study.warnings)
    assert not any(w.startswith("b: energy_gross_j varies") for w in study.warnings)


def test_verdicts_use_the_min_effect() -> None:
    a = [100.0 + 0.1 * i for i in range(20)]
    runs = _runs({"a": a, "b": [v * 1.03 for v in a]})
    # exactly 3% more: inside a 5% band, beyond a 1% one
    assert _row(build_study(runs, ["a", "b"], []), "energy_gross_j").verdict == "equivalent"
    strict = build_study(runs, ["a", "b"], [], min_effect=0.01)
    assert _row(strict, "energy_gross_j").verdict == "higher"
    assert inference.band(0.01)[1] == 1.01


def test_metrics_add_domains_only_when_the_total_has_several() -> None:
    one = pd.DataFrame({"energy_gross_j": [1.0], "energy_domains": ["cpu-package-0"],
                        "cpu-package-0_gross_j": [1.0]})  # fmt: skip
    assert [m.column for m in metrics_present(one, ["cpu-package-0"])] == ["energy_gross_j"]
    two = one.assign(energy_domains="cpu-package-0+gpu-0", **{"gpu-0_gross_j": [2.0]})
    cols = [m.column for m in metrics_present(two, ["cpu-package-0", "gpu-0"])]
    assert cols == ["energy_gross_j", "cpu-package-0_gross_j", "gpu-0_gross_j"]
    psys = pd.DataFrame({"energy_gross_j": [np.nan], "energy_domains": [""], "psys_gross_j": [5.0]})
    assert [m.column for m in metrics_present(psys, ["psys"])] == ["psys_gross_j"]


def test_phase_medians_take_compile_out_of_epoch_1() -> None:
    ok = pd.DataFrame({
        "framework": ["a", "a", "b"],
        "phase_startup_energy_j": [10.0, 12.0, 5.0],
        "phase_data_to_device_energy_j": [0.5, 0.5, 0.2],
        "phase_compile_energy_j": [4.0, 6.0, 1.0],
        "phase_epoch_1_energy_j": [50.0, 60.0, 20.0],
        "phase_eval_energy_j": [3.0, 3.0, 1.0],
    })  # fmt: skip
    phases = ["startup", "data_to_device", "compile", "epoch_1", "eval"]
    med = phase_medians(ok, ["b", "a"], phases, "energy_j")
    assert list(med.index) == ["b", "a"]
    assert list(med.columns) == [
        "startup",
        "data_to_device",
        "compile",
        "epoch_1 after compile",
        "eval",
    ]
    assert med.loc["a"].tolist() == pytest.approx([11.0, 0.5, 5.0, 50.0, 3.0])
    assert med.loc["b", "epoch_1 after compile"] == 19.0
