"""The identical-work evidence compares result.json's `model_settings` across frameworks and
shows a documented difference (BatchNorm's running variance: unbiased in PyTorch, biased in
Keras and Flax) as such instead of flagging it; any other difference is still flagged."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from analysis.document import Document, to_markdown
from analysis.evidence import gather
from analysis.report import _identical_work

BN = {"epsilon": 1e-05, "momentum_kept": 0.9}


def result(running_variance: str, epsilon: float = 1e-05) -> dict[str, Any]:
    bn = {**BN, "epsilon": epsilon, "running_variance": running_variance}
    return {"framework_version": "1", "parameter_count": 11_173_962,
            "model_settings": {"batchnorm": bn}}  # fmt: skip


def checks(results: dict[str, dict[str, Any]]) -> dict[str, Any]:
    return {c.name: c for c in gather({f: [r] for f, r in results.items()}).checks}


def test_the_running_variance_difference_is_shown_as_documented_not_flagged(tmp_path: Path):
    found = checks({"keras": result("biased"), "torch": result("unbiased"),
                    "jax": result("biased")})  # fmt: skip
    variance = found["model_settings.batchnorm.running_variance"]
    assert not variance.identical and not variance.flagged
    assert variance.verdict == "documented difference"
    assert found["model_settings.batchnorm.epsilon"].verdict == "yes"
    assert found["model_settings.batchnorm.momentum_kept"].verdict == "yes"
    doc = Document("r")
    _identical_work(doc, gather({"keras": [result("biased")], "torch": [result("unbiased")]}),
                    imported=False)  # fmt: skip
    md = to_markdown(doc, tmp_path)
    row = (
        "| model_settings.batchnorm.running_variance | biased | unbiased | documented difference |"
    )
    assert row in md
    assert "| no |" not in md
    assert "PyTorch updates BatchNorm's running variance with the unbiased" in md


def test_other_batchnorm_differences_are_still_flagged():
    # another epsilon is not documented; nor is a running variance of another kind
    found = checks({"keras": result("biased", epsilon=1e-3), "torch": result("unbiased")})
    assert found["model_settings.batchnorm.epsilon"].verdict == "no"
    assert found["model_settings.batchnorm.epsilon"].flagged
    found = checks({"keras": result("none"), "torch": result("unbiased")})
    assert found["model_settings.batchnorm.running_variance"].verdict == "no"


def test_a_model_without_batchnorm_adds_no_check():
    plain = {"framework_version": "1", "model_settings": {}}
    found = checks({"keras": plain, "torch": plain})
    assert not [n for n in found if n.startswith("model_settings")]


def test_one_frameworks_runs_that_differ_in_config_are_warned_of():
    """A resume that trained 3 epochs beside runs of 1 (issue 24, major 5): the analysis says
    so, naming the framework and the setting; runs alike in config give no warning."""
    from analysis.evidence import config_warnings

    def run(epochs: int) -> dict[str, Any]:
        return {"config": {"epochs": epochs, "batch_size": 64}, "framework_version": "1"}

    ev = gather({"torch": [run(1), run(3), run(1)], "jax": [run(1), run(1)]})
    assert config_warnings(ev) == [
        "torch's runs differ in config.epochs (1, 3): they did not all do the same work; "
        "compare only runs of one configuration"
    ]
    assert config_warnings(gather({"torch": [run(1), run(1)], "jax": [run(3)]})) == []
