"""Framework effects and implementation effects: the spread between the variants of one
framework (torch vs torch:compile) next to the spread between frameworks, each at its best.

Pure: the study's paired ratio estimates (analysis.inference, through study.comparison) in,
frozen dataclasses out. A variant is named FRAMEWORK[@VERSION][:IMPLEMENTATION]
(docs/formats.md); the framework is the part before `@` and `:`.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from itertools import combinations
from typing import Any

from analysis.study import Study


def framework_of(variant: str) -> str:
    return variant.split(":", 1)[0].split("@", 1)[0]


def _within(a: str, b: str) -> str:
    """What separates two variants of one framework: "implementation", "version" or both."""
    version = a.split(":", 1)[0] != b.split(":", 1)[0]
    implementation = a.partition(":")[2] != b.partition(":")[2]
    if version and implementation:
        return "implementation and version"
    return "version" if version else "implementation"


@dataclass(frozen=True)
class Spread:
    """`slow` over `fast` on one metric: a ratio >= 1 (by the medians) with its interval."""

    # within one framework: "implementation", "version" or "implementation and version";
    # "framework": two frameworks' fastest variants
    kind: str
    metric: str
    fast: str  # variant names
    slow: str
    ratio: float
    ratio_ci_low: float
    ratio_ci_high: float
    verdict: str

    @property
    def clear(self) -> bool:
        """The interval excludes 1: a difference, not noise."""
        return self.ratio_ci_low > 1 or self.ratio_ci_high < 1


def _ratio(study: Study, metric: str, fast: str, slow: str, kind: str) -> Spread | None:
    """slow/fast from the study's comparison of the pair, in whichever order it was made."""
    row: Any = study.comparison(metric, fast, slow)
    if row is not None:
        ratio, low, high = row.ratio, row.ratio_ci_low, row.ratio_ci_high
    else:
        row = study.comparison(metric, slow, fast)
        if row is None:
            return None
        inv = [1 / v if v else math.inf for v in (row.ratio, row.ratio_ci_high, row.ratio_ci_low)]
        ratio, low, high = inv
    return Spread(kind, metric, fast, slow, ratio, low, high, str(row.verdict))


def _medians(study: Study, metric: str) -> dict[str, float]:
    ok = study.ok
    if metric not in ok:
        return {}
    med = ok.groupby("framework")[metric].median()
    return {str(k): float(v) for k, v in med.items() if math.isfinite(v)}


def families(study: Study) -> dict[str, list[str]]:
    """framework -> its variants in the study, in the study's order."""
    out: dict[str, list[str]] = {}
    for v in study.frameworks:
        out.setdefault(framework_of(v), []).append(v)
    return out


def has_variants(study: Study) -> bool:
    return any(len(vs) > 1 for vs in families(study).values())


def spreads(study: Study, metric: str) -> list[Spread]:
    """Each framework's slowest variant over its fastest (by the median of `metric`), then
    each pair of frameworks' fastest variants, the slower over the faster."""
    medians = _medians(study, metric)
    fastest: dict[str, str] = {}
    out: list[Spread] = []
    for fw, variants in families(study).items():
        measured = sorted((v for v in variants if v in medians), key=lambda v: medians[v])
        if not measured:
            continue
        fastest[fw] = measured[0]
        if len(measured) > 1:
            kind = _within(measured[0], measured[-1])
            s = _ratio(study, metric, measured[0], measured[-1], kind)
            if s is not None:
                out.append(s)
    for a, b in combinations(sorted(fastest, key=lambda f: medians[fastest[f]]), 2):
        s = _ratio(study, metric, fastest[a], fastest[b], "framework")
        if s is not None:
            out.append(s)
    return out


def effects(found: list[Spread]) -> list[str]:
    """One sentence per finding: which differences belong to the framework and which to how
    its training loop is written."""
    lines = []
    widest = max((s.ratio for s in found if s.kind != "framework"), default=math.nan)
    for s in found:
        bounded = s.ratio_ci_low > 0 and math.isfinite(s.ratio_ci_high)
        interval = f"{s.ratio_ci_low:.2f}-{s.ratio_ci_high:.2f}" if bounded else "unbounded"
        x = f"{s.ratio:.2f}x ({interval})"
        if s.kind != "framework":
            article = "an" if s.kind.startswith("implementation") else "a"
            what = f"{article} {s.kind} effect" if s.clear else f"no clear {s.kind} effect"
            lines.append(f"{what} within {framework_of(s.fast)}: {s.slow} / {s.fast} = {x}")
        else:
            what = "a framework effect" if s.clear else "no clear framework effect"
            note = (
                "; smaller than the widest spread within a framework, "
                f"{widest:.2f}x: how the loop is written (or which version runs it) matters "
                "more here"
                if math.isfinite(widest) and s.ratio < widest
                else ""
            )
            lines.append(f"{what} at each framework's best: {s.slow} / {s.fast} = {x}{note}")
    return lines
