"""What a campaign's repetitions bought, in words for the reports: the stopping rule and
where it stopped (campaign.json's `stopping` block), the precision each primary ratio
reached, and the iterations another precision would need (analysis.precision)."""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import pandas as pd

from analysis.precision import RatioPrecision, primary_ratios, values_from_rows

# The precisions the report prices: one that a quick look needs, the example, a strict one.
OTHER_PRECISIONS = (0.05, 0.02, 0.01)
METRIC_NAMES = {"energy_gross_j": "energy", "duration_s": "time"}


def campaign_ratios(
    meta: dict[str, Any], runs: pd.DataFrame, confidence: float = 0.95
) -> list[RatioPrecision]:
    frameworks = [str(f) for f in meta.get("frameworks") or []]
    rows = runs.to_dict("records")
    return primary_ratios(values_from_rows(rows), frameworks, confidence)  # type: ignore[arg-type]


def rule_lines(meta: dict[str, Any]) -> list[str]:
    block = meta.get("stopping")
    if not isinstance(block, dict) or block.get("rule") != "precision":
        return [f"Fixed repetitions: {meta.get('iterations')} iterations were planned."]
    rule = (
        f"Adaptive repetitions: stop once every energy and time ratio is within "
        f"+-{block['precision']:.1%} ({block['confidence']:.0%} interval of the paired "
        f"per-iteration ratios), after at least {block['min_iterations']} and at most "
        f"{block['max_iterations']} iterations; never on a p-value"
        + (
            f", and never below {block['claim_floor']} iterations, the fewest at which the "
            "corrected intervals allow any claim."
            if block.get("claim_floor")
            else "."
        )
    )
    after = block.get("stopped_after_iteration")
    if after is None:
        return [rule, "The campaign has not ended yet: no stopping decision is recorded."]
    if block.get("reason") == "precision":
        return [rule, f"It stopped after iteration {after}: the precision was reached."]
    return [rule, f"It ran all {after} iterations without reaching the precision."]


def ratio_lines(ratios: Sequence[RatioPrecision]) -> list[str]:
    out = []
    for r in ratios:
        name = f"{METRIC_NAMES.get(r.metric, r.metric)} {r.framework_b}/{r.framework_a}"
        if not math.isfinite(r.precision):
            out.append(
                f"{name}: {r.ratio:.4g} from {r.n_pairs} paired iterations; too few for a "
                f"bounded interval; {_needs(r)}."
            )
            continue
        out.append(
            f"{name}: {r.ratio:.4g} (95% CI {r.ratio_ci_low:.4g} to {r.ratio_ci_high:.4g}), "
            f"known to +-{r.precision:.1%} from {r.n_pairs} paired iterations; {_needs(r)}."
        )
    return out


def _needs(r: RatioPrecision) -> str:
    """What other precisions would cost, from the spread seen (none from a single pair)."""
    needs = ", ".join(f"+-{p:.0%} {_iterations(r.iterations_for(p))}" for p in OTHER_PRECISIONS)
    return f"iterations needed for {needs}"


def _iterations(n: int | None) -> str:
    return "-" if n is None else str(n)


def precision_lines(meta: dict[str, Any], runs: pd.DataFrame) -> list[str]:
    """The rule (or the fixed count), then one line per primary ratio."""
    return rule_lines(meta) + ratio_lines(campaign_ratios(meta, runs))
