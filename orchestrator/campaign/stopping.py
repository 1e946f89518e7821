"""Adaptive repetitions: after each full iteration, stop once every primary ratio (energy
and time, every pair of frameworks, paired by iteration) is known to within +-P. The rule is
recorded in campaign.json before the first run, and where and why the campaign stopped is
added when it ends (docs/formats.md), so resume and the report read the same decision.

The numbers come from the analysis: its tidy table (analysis.load, the one definition of a
run's energy and time) and its intervals (analysis.precision), so the rule stops on exactly
the intervals the report shows."""

from __future__ import annotations

import time
from dataclasses import replace
from typing import TYPE_CHECKING, Any

from orchestrator.campaign.folder import CampaignFolder, write_json_atomic
from orchestrator.campaign.plan import StoppingRule

if TYPE_CHECKING:  # the analysis (pandas, SciPy) is imported only by adaptive campaigns
    from analysis.precision import RatioPrecision

# analysis.precision.PRIMARY_METRICS, named here so that writing the plan imports no SciPy;
# tests/campaign/test_stopping.py pins the two together.
METRICS = ("energy_gross_j", "duration_s")

INTERVAL = (
    "Hodges-Lehmann interval (exact signed-rank) of the per-iteration log-ratios B/A, "
    "every pair of frameworks"
)


def rule_json(rule: StoppingRule, max_iterations: int) -> dict[str, Any]:
    """The `stopping` block of campaign.json as written before the first run."""
    return {
        "rule": "precision",
        "precision": rule.precision,
        "confidence": rule.confidence,
        "min_iterations": rule.min_iterations,
        "max_iterations": max_iterations,
        "metrics": list(METRICS),
        "interval": INTERVAL,
    }


def rule_from_json(block: dict[str, Any] | None) -> StoppingRule | None:
    if not block or block.get("rule") != "precision":
        return None
    return StoppingRule(
        float(block["precision"]), int(block["min_iterations"]), float(block["confidence"])
    )


def stopped(block: dict[str, Any] | None) -> bool:
    """The campaign has ended under its rule: nothing is left to run, even on resume."""
    return bool(block) and "stopped_after_iteration" in (block or {})


def assess(
    folder: CampaignFolder, frameworks: list[str], confidence: float
) -> list[RatioPrecision]:
    """Every primary ratio's interval from the runs recorded so far."""
    from analysis.load import load_campaign
    from analysis.precision import primary_ratios, values_from_rows

    runs = load_campaign(folder.root).runs
    rows = runs.to_dict("records")
    return primary_ratios(values_from_rows(rows), frameworks, confidence)  # type: ignore[arg-type]


def precise_enough(rule: StoppingRule, ratios: list[RatioPrecision]) -> bool:
    return bool(ratios) and all(r.precision <= rule.precision for r in ratios)


def claim_floor(ratios: list[RatioPrecision]) -> int:
    """The fewest iterations at which the report can make any claim over these primary
    ratios: its verdicts read simultaneous intervals at 1 - 0.05/m (m ratios), unbounded
    below this n (analysis.inference.min_n_for_claim: 7 for two frameworks with energy and
    time, 8 for three). A campaign never stops below it, however narrow the 95% intervals."""
    from analysis.inference import min_n_for_claim

    return min_n_for_claim(len(ratios), paired=True)


def record_stop(folder: CampaignFolder, iteration: int, reason: str,
                ratios: list[RatioPrecision]) -> dict[str, Any]:  # fmt: skip
    """Add where and why the campaign stopped to campaign.json's `stopping` block."""
    _, doc = CampaignFolder.open(folder.root)
    w = least_precise(ratios)
    block = dict(doc.stopping or {})
    block.update(
        stopped_after_iteration=iteration,
        reason=reason,  # "precision" (the rule was met) or "maximum" (--iterations ran out)
        claim_floor=claim_floor(ratios),
        precision_reached=None if w is None else w.precision,
        least_precise=None if w is None else f"{w.metric} {w.framework_b}/{w.framework_a}",
        stopped_at=time.time(),
    )
    write_json_atomic(folder.campaign_json, replace(doc, stopping=block).to_json())
    return block


def least_precise(ratios: list[RatioPrecision]) -> RatioPrecision | None:
    from analysis.precision import worst

    return worst(ratios)


def describe(block: dict[str, Any]) -> str:
    """One line for the console and the report."""
    rule = (
        f"until every energy and time ratio is within +-{block['precision']:.1%} "
        f"({block['confidence']:.0%} interval; at least {block['min_iterations']}, at most "
        f"{block['max_iterations']} iterations)"
    )
    if not stopped(block):
        return f"stopping rule: {rule}"
    reached = block.get("precision_reached")
    how = "reached the precision" if block["reason"] == "precision" else "ran to the maximum"
    shown = "no interval" if reached is None else f"+-{reached:.1%} ({block['least_precise']})"
    return (
        f"stopping rule: {rule}; {how} after iteration {block['stopped_after_iteration']}, "
        f"least precise ratio {shown}"
    )
