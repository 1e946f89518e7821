"""The report's "Measurement" section, from run.json alone: each framework's energy with
its measurement uncertainty next to its run-to-run spread (and which of the two limits a
comparison), the runs too short for their meters, and the cross-checks between meters
(docs/meters.md: "Uncertainty budget", "Window guard", "Cross-checks")."""

from __future__ import annotations

import math
import statistics
from collections.abc import Mapping
from typing import Any

from analysis.document import Block, Bullets, Heading, Para, Table

# The measurement limits a comparison when its uncertainty is at least this share of the
# run-to-run SD (then it is a quarter or more of the variance).
LIMITS_AT = 0.5


def _ok(records: Mapping[str, dict[str, Any]]) -> list[dict[str, Any]]:
    return [r for r in records.values() if r.get("status") == "ok"]


def _summed(run: dict[str, Any]) -> tuple[float, float] | None:
    """The run's gross energy over its summable domains and its combined uncertainty;
    None when a summable domain carries no budget (a run recorded before budgets)."""
    parts = [e for e in (run.get("energy") or {}).values() if e.get("summable")]
    if not parts or any("uncertainty" not in e for e in parts):
        return None
    total = sum(float(e["gross_j"]) for e in parts)
    u = math.sqrt(sum(float(e["uncertainty"]["u_j"]) ** 2 for e in parts))
    return total, u


def uncertainty_rows(records: Mapping[str, dict[str, Any]]) -> list[list[str]]:
    """framework, runs, median energy, median measurement u, run-to-run SD, what limits."""
    by_fw: dict[str, list[tuple[float, float]]] = {}
    for run in _ok(records):
        s = _summed(run)
        if s is not None:
            by_fw.setdefault(str(run["framework"]), []).append(s)
    rows = []
    for fw, values in sorted(by_fw.items()):
        energies = [e for e, _ in values]
        u = statistics.median(u for _, u in values)
        sd = statistics.stdev(energies) if len(energies) > 1 else math.nan
        if math.isnan(sd):
            limit = "one run: no run-to-run spread"
        elif u >= LIMITS_AT * sd:
            limit = "the measurement"
        else:
            limit = "run-to-run noise"
        rows.append([fw, str(len(values)), f"{statistics.median(energies):.1f}", f"{u:.3f}",
                     "" if math.isnan(sd) else f"{sd:.3f}", limit])  # fmt: skip
    return rows


def below_resolution(records: Mapping[str, dict[str, Any]]) -> list[str]:
    """One line per run whose span (or one of whose domains) a meter could not resolve."""
    out = []
    for run_id, run in sorted(records.items()):
        for domain, e in sorted((run.get("energy") or {}).items()):
            if e.get("below_resolution"):
                out.append(f"{run_id} {domain}: {e['below_resolution']}")
    return out


def check_rows(records: Mapping[str, dict[str, Any]]) -> tuple[list[list[str]], list[str]]:
    """Per cross-check: runs, median ratio b/a, its range, failed runs; and the failures."""
    by_check: dict[str, list[tuple[str, dict[str, Any]]]] = {}
    for run_id, run in sorted(records.items()):
        for c in run.get("cross_checks") or []:
            by_check.setdefault(f"{c['check']} ({c['b']} / {c['a']})", []).append((run_id, c))
    rows, failed = [], []
    for name, checks in sorted(by_check.items()):
        ratios = [float(c["ratio"]) for _, c in checks if c.get("ratio") is not None]
        bad = [run_id for run_id, c in checks if not c["agree"]]
        failed += [f"{run_id}: {name}" for run_id in bad]
        rows.append([
            name, str(len(checks)),
            f"{statistics.median(ratios):.3f}" if ratios else "",
            f"{min(ratios):.3f} to {max(ratios):.3f}" if ratios else "",
            str(len(bad)),
        ])  # fmt: skip
    return rows, failed


def measurement_blocks(records: Mapping[str, dict[str, Any]]) -> list[Block]:
    """The section; empty for a campaign whose runs carry none of it (older, or `none`)."""
    blocks: list[Block] = []
    rows = uncertainty_rows(records)
    if rows:
        blocks.append(
            Table(
                [
                    "framework",
                    "ok runs",
                    "median energy (J)",
                    "median u (J)",
                    "run-to-run SD (J)",
                    "limited by",
                ],
                rows,
                "Gross energy of the summable domains per run: its measurement standard "
                "uncertainty (docs/meters.md) next to the spread between runs. Where the "
                "measurement limits, more runs will not sharpen a verdict; a longer "
                "workload or a finer meter will.",
            )
        )
    short = below_resolution(records)
    if short:
        blocks.append(Para(f"{len(short)} run domain(s) BELOW RESOLUTION (too short for "
                           "their meter; their figures are not a measurement):"))  # fmt: skip
        blocks.append(Bullets(short))
    checks, failed = check_rows(records)
    if checks:
        blocks.append(
            Table(
                ["cross-check", "runs", "median ratio", "range", "disagree"],
                checks,
                "Two readings of one scope per run; they agree within twice their "
                "combined uncertainty.",
            )
        )
    if failed:
        blocks.append(Para("Runs whose readings DISAGREE:"))
        blocks.append(Bullets(failed))
    return [Heading("Measurement"), *blocks] if blocks else []
