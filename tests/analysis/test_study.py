"""analysis.study on small hand-built tables: which metrics, which claims, which warnings."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from analysis.study import build_study, metrics_present, phase_medians


def _runs(energy: dict[str, list[float]], status: dict[int, str] | None = None) -> pd.DataFrame:
    rows = []
    for fw, values in energy.items():
        for i, e in enumerate(values):
            rows.append({"run_id": f"{i:03d}-{fw}", "framework": fw, "position": 1 + i % 2,
                         "status": (status or {}).get(i, "ok") if fw == "a" else "ok",
                         "duration_s": 10.0 + 0.01 * i, "energy_gross_j": e,
                         "energy_domains": "cpu-package-0"})  # fmt: skip
    return pd.DataFrame(rows)


def test_separated_samples_give_one_supported_conclusion() -> None:
    a = list(np.linspace(100, 110, 12))
    b = list(np.linspace(150, 160, 12))
    study = build_study(_runs({"a": a, "b": b}), ["a", "b"], ["cpu-package-0"])
    energy = [c for c in study.conclusions if c.metric == "energy_gross_j"]
    assert len(energy) == 1
    # medians 105 and 155: (155 - 105) / 105 = 47.6%
    assert energy[0].text.startswith("Energy (gross): b is 47.6% higher than a (median 155 J")
    assert energy[0].holds_without_outliers
    # durations are identical across frameworks: nothing claimed
    assert not [c for c in study.conclusions if c.metric == "duration_s"]


def test_overlapping_samples_give_no_conclusion() -> None:
    rng = np.random.default_rng(0)
    runs = _runs({"a": list(rng.normal(100, 5, 15)), "b": list(rng.normal(100, 5, 15))})
    study = build_study(runs, ["a", "b"], ["cpu-package-0"])
    assert study.conclusions == []


def test_non_ok_runs_are_excluded_and_warned_about() -> None:
    runs = _runs({"a": [100.0] * 5 + [1e6], "b": [200.0] * 6}, status={5: "timeout"})
    study = build_study(runs, ["a", "b"], ["cpu-package-0"])
    t = study.table
    desc = t[(t["kind"] == "describe") & (t["variant"] == "all")
             & (t["metric"] == "energy_gross_j")].set_index("framework")  # fmt: skip
    assert desc.loc["a", "n"] == 5 and desc.loc["a", "max"] == 100.0
    assert int(study.status_counts.loc["a", "timeout"]) == 1
    assert any("did not finish ok (timeout: 1)" in w for w in study.warnings)
    assert any("a: only 5 successful run(s)" in w for w in study.warnings)


def test_noisy_sample_is_warned_about() -> None:
    runs = _runs({"a": [100.0, 130.0, 80.0, 120.0] * 3, "b": [100.0, 101.0, 99.0] * 4})
    study = build_study(runs, ["a", "b"], ["cpu-package-0"])
    assert any(w.startswith("a: energy_gross_j varies a lot") for w in study.warnings)
    assert not any(w.startswith("b: energy_gross_j varies") for w in study.warnings)


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
