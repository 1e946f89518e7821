"""The tidy table -> the study: declared estimands, one comparison per framework pair and
metric on the ratio scale, Holm within declared families, verdicts, equivalence of accuracy,
drift and order tests, warnings. Numbers come from analysis.stats and analysis.inference;
this module decides what is compared with what, and what may be claimed."""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import asdict, dataclass, field, fields
from itertools import combinations
from typing import Any

import numpy as np
import pandas as pd

from analysis import inference, modes, stats
from analysis.load import MEASURED, tuples

VARIANTS = ("all", "without-outliers")
MIN_EFFECT = 0.05  # the smallest relevant ratio change, --min-effect (docs/analysis.md)
ACCURACY_MARGIN = 0.005  # +-0.5 percentage points, --accuracy-margin
# Columns that only make sense when every run sums the same energy domains.
ENERGY_COLUMNS = (
    "energy_gross_j",
    "energy_net_j",
    "mean_power_w",
    "edp_j_s",
    "steady_epoch_energy_j",
    "steady_step_energy_j",
)


@dataclass(frozen=True)
class Metric:
    column: str
    label: str
    unit: str
    role: str  # "primary", "secondary" (exploratory), "check" (accuracy), "descriptive"


PRIMARY = (
    Metric("energy_gross_j", "Energy", "J", "primary"),
    Metric("duration_s", "Time", "s", "primary"),
)
SECONDARY = (
    Metric("mean_power_w", "Power", "W", "secondary"),
    Metric("edp_j_s", "EDP", "J·s", "secondary"),
    Metric("energy_net_j", "Energy net of idle", "J", "secondary"),
    Metric("steady_epoch_energy_j", "Energy per steady epoch", "J", "secondary"),
    Metric("steady_epoch_duration_s", "Time per steady epoch", "s", "secondary"),
    Metric("steady_step_energy_j", "Energy per training step", "J", "secondary"),
    # Inference runs only (NaN in training runs, so absent from a training campaign's tables)
    Metric("examples_per_s", "Inference throughput", "examples/s", "secondary"),
    Metric("latency_p50_ms", "Batch latency p50", "ms", "secondary"),
    Metric("latency_p99_ms", "Batch latency p99", "ms", "secondary"),
)
CHECKS = (
    Metric("test_accuracy", "Accuracy", "", "check"),
    Metric("peak_rss_bytes", "Peak memory", "bytes", "descriptive"),
)


# --- the rows of report/stats.csv: its columns are these dataclasses' fields, in order ----


@dataclass(frozen=True)
class RowKey:
    variant: str  # "all" or "without-outliers"
    metric: str
    unit: str
    role: str
    kind: str  # "describe", "compare", "equivalence" or "trend"
    framework: str  # A for a comparison
    framework_b: str | None = None


@dataclass(frozen=True)
class OutlierCount:
    outliers: int  # values of this framework and metric flagged by Tukey's fences


@dataclass(frozen=True)
class Decision:
    family: str  # the Holm family: "primary", "secondary", "accuracy", "drift" or "none"
    p_holm: float
    verdict: str  # inference.VERDICTS, "equivalent"/"not shown equivalent", "descriptive"
    pct_change: float  # (ratio - 1) x 100, and its interval (the family's simultaneous one)
    pct_ci_low: float
    pct_ci_high: float
    median_a: float
    median_b: float
    cliffs_delta: float  # overlap, not size
    cliffs_magnitude: str
    cles: float
    # comparison rows only: m, the family's comparisons (each interval at 1 - 0.05/m); the
    # fewest iterations (runs per framework, unpaired) with a bounded interval at that m; the
    # unadjusted 95% interval, behind "too few to claim"
    comparisons: int = 0
    min_n_claim: int = 0
    pct_ci95_low: float = math.nan
    pct_ci95_high: float = math.nan


ROW_TYPES = (
    RowKey,
    stats.Describe,
    OutlierCount,
    inference.RatioEstimate,
    Decision,
    inference.Equivalence,
    stats.Trend,
)
STATS_COLUMNS = list(dict.fromkeys(f.name for t in ROW_TYPES for f in fields(t)))


def _row(*parts: Any) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for p in parts:
        out.update(asdict(p))
    return out


@dataclass(frozen=True)
class Study:
    frameworks: list[str]  # the reference first
    reference: str
    pairs: list[tuple[str, str]]  # (A, B): B is compared with A; A is the reference if present
    paired: bool  # per-iteration comparisons (a campaign) or independent samples (imported)
    metrics: list[Metric]
    min_effect: float
    accuracy_margin: float
    ok: pd.DataFrame  # the ok runs as statistics see them (non-comparable energy blanked)
    status_counts: pd.DataFrame  # framework x status
    outliers: pd.DataFrame  # run_id, framework, metric, value
    table: pd.DataFrame  # report/stats.csv
    warnings: list[str]
    excluded: list[str]  # what was left out of which statistic, and why
    seed: int
    # the warnings that change how a primary verdict reads (too few iterations, outliers that
    # flip one, two populations of runs): the Answer repeats them on the first screen
    answer_warnings: list[str] = field(default_factory=list)

    def rows(self, kind: str, variant: str = "all") -> pd.DataFrame:
        t = self.table
        return t[(t["kind"] == kind) & (t["variant"] == variant)]

    def comparison(self, metric: str, a: str, b: str) -> Any | None:
        c = self.rows("compare")
        sel = c[(c["metric"] == metric) & (c["framework"] == a) & (c["framework_b"] == b)]
        return tuples(sel)[0] if len(sel) else None

    @property
    def min_pairs(self) -> int:
        """The smallest number of paired iterations (or of runs, unpaired) behind a
        primary comparison."""
        c = self.rows("compare")
        c = c[c["role"] == "primary"]
        if c.empty:
            return 0
        n = c["n_pairs"] if self.paired else c[["n_a", "n_b"]].min(axis=1)
        return int(n.min())

    @property
    def primary_comparisons(self) -> int:
        """m of the primary family: each primary interval is at confidence 1 - 0.05/m."""
        c = self.rows("compare")
        c = c[c["role"] == "primary"]
        return int(c["comparisons"].max()) if len(c) else 0

    @property
    def claim_floor(self) -> int:
        """The fewest paired iterations (runs per framework, unpaired) at which a primary
        verdict other than "not testable"/"too few to claim" is possible."""
        return inference.min_n_for_claim(self.primary_comparisons, self.paired)


def frameworks_in_order(
    runs: pd.DataFrame, declared: list[str], reference: str | None
) -> list[str]:
    seen = [f for f in declared if f in set(runs["framework"])]
    fws = seen + sorted(set(runs["framework"]) - set(seen))
    if reference is not None:
        fws = [reference] + [f for f in fws if f != reference]
    return fws


def _domain_metrics(ok: pd.DataFrame, domains: list[str]) -> list[Metric]:
    """Each domain's own energy when the total adds several (or there is no total)."""
    parts = {p for s in ok["energy_domains"].dropna() for p in str(s).split("+") if p}
    if len(parts) == 1:
        return []
    return [
        Metric(f"{d}_gross_j", f"Energy {d}", "J", "secondary")
        for d in domains
        if f"{d}_gross_j" in ok and ok[f"{d}_gross_j"].notna().any()
    ]


def metrics_present(ok: pd.DataFrame, domains: list[str]) -> list[Metric]:
    out = [
        m for m in (*PRIMARY, *SECONDARY, *CHECKS) if m.column in ok and ok[m.column].notna().any()
    ]
    return out + _domain_metrics(ok, domains)


def comparable_domains(ok: pd.DataFrame) -> tuple[str, list[str]]:
    """The set of summed domains most ok runs have (ties: the larger set), and the runs that
    sum another set: their totals are not comparable (issue: a dropped GPU makes a total
    CPU-only), so they are left out of every energy statistic, by name."""
    sets = ok["energy_domains"].fillna("").astype(str)
    sets = sets[sets != ""]
    if sets.empty:
        return "", []
    counts = sets.value_counts()
    best = max(counts.index, key=lambda s: (counts[s], len(s.split("+")), s))
    odd = ok.loc[sets.index[sets != best], "run_id"].astype(str).tolist()
    return str(best), odd


def _flags(
    ok: pd.DataFrame, metrics: list[Metric], frameworks: list[str]
) -> tuple[dict[str, pd.Series], pd.DataFrame]:
    flags: dict[str, pd.Series] = {}
    rows = []
    for m in metrics:
        mask = pd.Series(False, index=ok.index)
        for fw in frameworks:
            sub = ok[ok["framework"] == fw][m.column]
            fw_mask = stats.tukey_outliers(sub.to_numpy(dtype=float))
            mask.loc[sub.index] = fw_mask
            rows += [
                {
                    "run_id": ok.at[i, "run_id"],
                    "framework": fw,
                    "metric": m.column,
                    "value": ok.at[i, m.column],
                }
                for i in sub.index[fw_mask]
            ]
        flags[m.column] = mask
    return flags, pd.DataFrame(rows, columns=["run_id", "framework", "metric", "value"])


def _by_block(frame: pd.DataFrame, column: str) -> dict[int, float]:
    sub = frame[frame[column].notna() & frame["iteration"].notna()]
    means = sub.groupby("iteration")[column].mean()
    return {int(str(k)): float(v) for k, v in means.items()}


def _pct(r: float) -> float:
    return (r - 1) * 100 if math.isfinite(r) else math.nan


def _compare(
    frame: pd.DataFrame, m: Metric, a: str, b: str, paired: bool, confidence: float
) -> inference.RatioEstimate:
    fa, fb = frame[frame["framework"] == a], frame[frame["framework"] == b]
    if paired:
        return inference.compare_paired(
            _by_block(fa, m.column), _by_block(fb, m.column), confidence
        )
    return inference.compare_unpaired(
        fa[m.column].to_numpy(dtype=float), fb[m.column].to_numpy(dtype=float), confidence
    )


def _compare_rows(
    variant: str,
    frame: pd.DataFrame,
    metrics: list[Metric],
    pairs: list[tuple[str, str]],
    paired: bool,
    min_effect: float,
) -> list[dict[str, Any]]:
    """Every pair of every compared metric, family by family. A family's m comparisons (those
    with a test) each get an interval at 1 - 0.05/m, and the verdicts are read off those
    intervals: all m cover together with probability >= 95%, so the chance of any false
    higher/lower/equivalent in the family is at most 5% (docs/analysis.md, Method)."""
    out = []
    for family in ("primary", "secondary", "descriptive"):
        members = [(m, a, b) for m in metrics if m.role == family for a, b in pairs]
        unadjusted = [_compare(frame, m, a, b, paired, inference.CONFIDENCE) for m, a, b in members]
        tested = sum(math.isfinite(e.p_value) for e in unadjusted)
        m_family = tested if family != "descriptive" else 1
        confidence = inference.family_confidence(m_family)
        adjusted = (
            stats.holm([e.p_value for e in unadjusted])
            if family != "descriptive"
            else [math.nan] * len(members)
        )
        for (m, a, b), e95, p_holm in zip(members, unadjusted, adjusted, strict=True):
            est = _compare(frame, m, a, b, paired, confidence) if m_family > 1 else e95
            key = RowKey(variant, m.column, m.unit, m.role, "compare", a, b)
            xa = frame[frame["framework"] == a][m.column].to_numpy(dtype=float)
            xb = frame[frame["framework"] == b][m.column].to_numpy(dtype=float)
            delta = stats.cliffs_delta(xa, xb)
            decision = Decision(
                family=family if family != "descriptive" else "none",
                p_holm=p_holm,
                verdict=inference.verdict(
                    est.ratio_ci_low,
                    est.ratio_ci_high,
                    min_effect,
                    (e95.ratio_ci_low, e95.ratio_ci_high),
                )
                if family != "descriptive"
                else "descriptive",
                pct_change=_pct(est.ratio),
                pct_ci_low=_pct(est.ratio_ci_low),
                pct_ci_high=_pct(est.ratio_ci_high),
                comparisons=m_family,
                min_n_claim=inference.min_n_for_claim(m_family, paired),
                pct_ci95_low=_pct(e95.ratio_ci_low),
                pct_ci95_high=_pct(e95.ratio_ci_high),
                median_a=float(np.nanmedian(xa)) if np.isfinite(xa).any() else math.nan,
                median_b=float(np.nanmedian(xb)) if np.isfinite(xb).any() else math.nan,
                cliffs_delta=delta,
                cliffs_magnitude=stats.cliff_magnitude(delta),
                cles=stats.common_language(xa, xb),
            )
            out.append(_row(key, est, decision))
    return out


def _equivalence_rows(
    ok: pd.DataFrame, pairs: list[tuple[str, str]], paired: bool, margin: float
) -> list[dict[str, Any]]:
    """Accuracy: TOST against +-margin per pair; Holm over the pairs (family "accuracy")."""
    col = "test_accuracy"
    if col not in ok or not ok[col].notna().any():
        return []
    tests = []
    for a, b in pairs:
        fa, fb = ok[ok["framework"] == a], ok[ok["framework"] == b]
        if paired:
            eq = inference.tost_paired(_by_block(fa, col), _by_block(fb, col), margin)
        else:
            eq = inference.tost_unpaired(fa[col].to_numpy(float), fb[col].to_numpy(float), margin)
        tests.append((a, b, eq))
    adjusted = stats.holm([eq.p_tost for *_, eq in tests])
    rows = []
    for (a, b, eq), p in zip(tests, adjusted, strict=True):
        inside = (
            math.isfinite(eq.diff_ci_low) and -margin < eq.diff_ci_low and eq.diff_ci_high < margin
        )
        equivalent = bool(inside and math.isfinite(p) and p < stats.ALPHA)
        nan = math.nan
        decision = Decision(
            "accuracy",
            p,
            "equivalent" if equivalent else "not shown equivalent",
            nan,
            nan,
            nan,
            float(np.nanmedian(_values(ok, a, col))),
            float(np.nanmedian(_values(ok, b, col))),
            nan,
            "n/a",
            nan,
        )
        key = RowKey("all", col, "", "check", "equivalence", a, b)
        rows.append(_row(key, eq, decision))
    return rows


def _values(ok: pd.DataFrame, fw: str, col: str) -> np.ndarray:
    """A framework's values of a column (one NaN when it has none, for nanmedian)."""
    v = ok[ok["framework"] == fw][col].to_numpy(dtype=float)
    return v if np.isfinite(v).any() else np.array([math.nan])


def _trend_rows(
    ok: pd.DataFrame, idle: pd.DataFrame, frameworks: list[str], paired: bool
) -> list[dict[str, Any]]:
    """Drift (Spearman against iteration) and order (Kruskal-Wallis across positions) of each
    primary metric per framework, and drift of the idle power over the campaign; one Holm
    family."""
    tests: list[tuple[RowKey, stats.Trend]] = []
    if paired:
        for m in PRIMARY:
            if m.column not in ok or not ok[m.column].notna().any():
                continue
            for fw in frameworks:
                sub = ok[(ok["framework"] == fw) & ok[m.column].notna()]
                y = sub[m.column].to_numpy(dtype=float)
                t = stats.trend(sub["iteration"].to_numpy(dtype=float), y, "iteration")
                tests.append((RowKey("all", m.column, m.unit, m.role, "trend", fw), t))
                groups = [g[m.column].to_numpy(dtype=float) for _, g in sub.groupby("position")]
                tests.append(
                    (
                        RowKey("all", m.column, m.unit, m.role, "trend", fw),
                        stats.order_effect(groups, "position"),
                    )
                )
    if len(idle):
        t = stats.trend(idle["time_s"].to_numpy(float), idle["power_w"].to_numpy(float), "time")
        tests.append((RowKey("all", "idle_power_w", "W", "check", "trend", "idle"), t))
    adjusted = stats.holm([t.p_value for _, t in tests])
    nan = math.nan
    return [
        _row(key, t, Decision("drift", p, "", nan, nan, nan, nan, nan, nan, "n/a", nan))
        for (key, t), p in zip(tests, adjusted, strict=True)
    ]


def build_study(
    runs: pd.DataFrame,
    declared: list[str],
    domains: list[str],
    *,
    reference: str | None = None,
    paired: bool = True,
    min_effect: float = MIN_EFFECT,
    accuracy_margin: float = ACCURACY_MARGIN,
    idle: pd.DataFrame | None = None,
    seed: int = 0,
) -> Study:
    """`reference`: the framework the others are compared against (default: the first
    declared). `paired`: compare per iteration (campaigns) or as independent samples
    (imported studies). `idle`: time_s and power_w of every idle gap, for the drift test."""
    frameworks = frameworks_in_order(runs, declared, reference)
    reference = frameworks[0]
    pairs = list(combinations(frameworks, 2))
    ok = runs[runs["status"].isin(MEASURED)].copy()
    status_counts = (
        runs.groupby(["framework", "status"]).size().unstack(fill_value=0).reindex(frameworks)
    )
    excluded: list[str] = []
    domain_set, odd = comparable_domains(ok)
    if odd:
        blank = [
            c
            for c in ok.columns
            if c in ENERGY_COLUMNS or (c.startswith("phase_") and c.endswith("_energy_j"))
        ]
        ok.loc[ok["run_id"].isin(odd), blank] = math.nan
        excluded.append(
            f"{len(odd)} run(s) sum other energy domains than {domain_set} and are left out of "
            f"every energy statistic (totals over different domains are not comparable): "
            + ", ".join(sorted(odd))
        )
    if "energy_gross_j" in ok and ok["energy_gross_j"].notna().any():
        # a run whose counter was lost (null gross_j, an imported CSV without it) is named
        # like any other left-out run, never dropped silently
        lost = ok[ok["energy_gross_j"].isna() & ~ok["run_id"].isin(odd)]
        if len(lost):
            excluded.append(
                f"{len(lost)} run(s) have no summable energy (no total recorded) and are left "
                "out of every energy statistic: " + ", ".join(lost["run_id"].astype(str))
            )
    negative = ok[ok["net_negative"].eq(True)] if "net_negative" in ok else ok.iloc[:0]
    if len(negative):
        ok.loc[negative.index, "energy_net_j"] = math.nan
        excluded.append(
            f"{len(negative)} run(s) have negative net energy (the baseline exceeds the run's "
            "power: the idle level moved) and are left out of the net-energy statistics: "
            + ", ".join(negative["run_id"].astype(str))
        )
    metrics = metrics_present(ok, domains)
    flags, outliers = _flags(ok, metrics, frameworks)
    rows: list[dict[str, Any]] = []
    compare_by_variant: dict[str, list[dict[str, Any]]] = {}
    for variant in VARIANTS:
        frame = ok.copy()
        for m in metrics:
            if variant == "without-outliers":
                frame.loc[flags[m.column], m.column] = math.nan
            for fw in frameworks:
                values = frame[frame["framework"] == fw][m.column].dropna().to_numpy(dtype=float)
                n_out = int((flags[m.column] & (ok["framework"] == fw)).sum())
                key = RowKey(variant, m.column, m.unit, m.role, "describe", fw)
                rows.append(_row(key, stats.describe(values, seed=seed), OutlierCount(n_out)))
        compare_by_variant[variant] = _compare_rows(
            variant, frame, metrics, pairs, paired, min_effect
        )
        rows += compare_by_variant[variant]
    rows += _equivalence_rows(ok, pairs, paired, accuracy_margin)
    rows += _trend_rows(ok, idle if idle is not None else pd.DataFrame(), frameworks, paired)
    table = pd.DataFrame(rows, columns=STATS_COLUMNS)
    for col in ("n", "outliers", "n_a", "n_b", "n_pairs", "comparisons", "min_n_claim"):
        table[col] = table[col].astype("Float64").round().astype("Int64")
    study = Study(
        frameworks=frameworks,
        reference=reference,
        pairs=pairs,
        paired=paired,
        metrics=metrics,
        min_effect=min_effect,
        accuracy_margin=accuracy_margin,
        ok=ok,
        status_counts=status_counts,
        outliers=outliers,
        table=table,
        warnings=[],
        excluded=excluded,
        seed=seed,
    )
    study.warnings.extend(_warnings(runs, study, compare_by_variant))
    return study


def _changed_by_outliers(compare_by_variant: dict[str, list[dict[str, Any]]]) -> list[str]:
    clean = {
        (r["metric"], r["framework"], r["framework_b"]): r["verdict"]
        for r in compare_by_variant["without-outliers"]
    }
    out = []
    for r in compare_by_variant["all"]:
        other = clean.get((r["metric"], r["framework"], r["framework_b"]))
        if r["role"] == "primary" and other is not None and other != r["verdict"]:
            out.append(
                f"{r['metric']} {r['framework_b']} vs {r['framework']}: {r['verdict']} "
                f"with them, {other} without"
            )
    return out


def _warnings(
    runs: pd.DataFrame, study: Study, compare_by_variant: dict[str, list[dict[str, Any]]]
) -> list[str]:
    out = []
    bad = runs[~runs["status"].isin(MEASURED)]
    if len(bad):
        counts = ", ".join(f"{s}: {n}" for s, n in bad["status"].value_counts().items())
        out.append(
            f"{len(bad)} run(s) did not finish ok ({counts}); they are excluded "
            "from every statistic: " + ", ".join(bad["run_id"].astype(str))
        )
    out += study.excluded
    out += small_n_warnings(study)
    study.answer_warnings.extend(small_n_warnings(study))
    desc = study.rows("describe")
    for r in tuples(desc[(desc["role"] == "primary") & (desc["cv"] > stats.NOISY_CV)]):
        out.append(
            f"{r.framework}: {r.metric} varies a lot (coefficient of variation {r.cv:.1%} > "
            f"{stats.NOISY_CV:.0%}); check for background load, thermal throttling or "
            "frequency scaling."
        )
    changed = _changed_by_outliers(compare_by_variant)
    if changed:
        out.append(
            "Outliers (Tukey fences, 1.5 x IQR) change a primary verdict: " + "; ".join(changed)
        )
        study.answer_warnings.append(out[-1])
    trends = study.rows("trend")
    for r in tuples(trends[trends["p_holm"] < stats.ALPHA]):
        if r.against == "iteration":
            out.append(
                f"Drift: {r.framework}'s {r.metric} changes over the campaign (Spearman rho = "
                f"{r.statistic:+.2f} against iteration, Holm p = {r.p_holm:.2g}). The paired "
                "comparisons cancel drift shared by all frameworks; find its cause (heat, "
                "background load, frequency scaling) before trusting absolute values."
            )
        elif r.against == "position":
            out.append(
                f"Order effect: {r.framework}'s {r.metric} depends on its position in the "
                f"iteration (Kruskal-Wallis H = {r.statistic:.3g}, Holm p = {r.p_holm:.2g}): "
                "the previous run leaks into the measurement; lengthen the idle gap."
            )
        else:
            out.append(
                f"Idle power drifts over the campaign (Spearman rho = {r.statistic:+.2f} "
                f"against time, Holm p = {r.p_holm:.2g}): the machine's baseline moved."
            )
    bimodal = bimodal_warnings(study.ok, study.frameworks)
    out += bimodal
    study.answer_warnings.extend(bimodal)
    est = study.ok.get("energy_estimated")
    if est is not None and est.eq(True).any():
        out.append(
            "Some energy values are estimated by integrating power over time "
            "(method power-integration), not read from an energy counter."
        )
    return out


def small_n_warnings(study: Study) -> list[str]:
    """Too few iterations for any primary claim after the correction over the family."""
    n, floor, m = study.min_pairs, study.claim_floor, study.primary_comparisons
    if not n or n >= floor:
        return []
    unit = "paired iterations" if study.paired else "runs per framework"
    return [
        f"Only {n} {unit}: too few for any claim over {m} primary comparison(s) (each "
        f"interval at {inference.family_confidence(m):.2%} needs at least {floor}); every "
        "primary verdict is 'not testable' or 'too few to claim'. Run at least "
        f"{floor} iterations."
    ]


def _steady_power_w(ok: pd.DataFrame) -> pd.Series:
    if "steady_epoch_energy_j" not in ok:
        return pd.Series(math.nan, index=ok.index)
    return ok["steady_epoch_energy_j"] / ok["steady_epoch_duration_s"]


def _cpu_of_modes(cpu: pd.Series | None, high: np.ndarray) -> str:
    """What the process's CPU time says of two modes: the same CPU time per epoch in both
    means the slow runs waited (for a CPU taken by other load, or asleep, as plain Keras
    `fit` did for tf.data's autotuning thread), more means they did more work."""
    if cpu is None or cpu.isna().any():
        return ""
    low_cpu, high_cpu = float(cpu[~high].median()), float(cpu[high].median())
    return (
        f" CPU time per steady epoch: median {low_cpu:.4g} s in the first mode, "
        f"{high_cpu:.4g} s in the second."
    )


def bimodal_warnings(ok: pd.DataFrame, frameworks: Iterable[str]) -> list[str]:
    """One warning per framework and quantity whose runs fall into two populations
    (analysis.modes): the steady-state epoch time and the steady-state mean power. A
    campaign that mixes two modes (plain Keras `fit` lands at either of two speeds from one
    epoch to the next: docs/workloads.md) must say so and name the runs of each mode, not
    average them."""
    quantities = {
        "steady-state epoch time": (ok.get("steady_epoch_duration_s"), "s"),
        "steady-state power": (_steady_power_w(ok), "W"),
    }
    out = []
    for fw in frameworks:
        mine = ok["framework"] == fw
        for what, (column, unit) in quantities.items():
            if column is None:
                continue
            m = modes.two_modes(column[mine].to_numpy(dtype=float))
            if not m.bimodal:
                continue
            ids = ok.loc[mine, "run_id"].astype(str).to_numpy()
            high = np.asarray(m.high)
            cpu = ok.loc[mine, "steady_epoch_cpu_s"] if "steady_epoch_cpu_s" in ok else None
            out.append(
                f"{fw}: {what} is bimodal, two populations of runs: {int((~high).sum())} "
                f"around {m.low_mean:.4g} {unit} ({', '.join(ids[~high])}) and "
                f"{int(high.sum())} around {m.high_mean:.4g} {unit} ({', '.join(ids[high])}) "
                f"(two-normal mixture: BIC lower by {m.delta_bic:.1f}, Ashman's D "
                f"{m.ashman_d:.1f}). Its median and intervals mix two modes; find the cause "
                "(docs/workloads.md) before comparing." + _cpu_of_modes(cpu, high)
            )
    return out


def phase_medians(
    ok: pd.DataFrame, frameworks: Iterable[str], phases: list[str], unit: str
) -> pd.DataFrame:
    """Median per framework of each phase's energy (`unit` "energy_j") or time ("duration_s"),
    one column per phase in order. compile is the first step of epoch_1 (the first batch of
    infer), so it is taken out of it to stack without counting it twice. Empty when no phase
    has data."""
    cols: dict[str, pd.Series] = {}
    for name in phases:
        col = f"phase_{name}_{unit}"
        if col in ok and ok[col].notna().any():
            cols[name] = ok[col]
    # An inference run's compile is its first batch, inside `infer` in the same way.
    outer = next((name for name in ("epoch_1", "infer") if name in cols), None)
    if "compile" in cols and outer is not None:
        cols[f"{outer} after compile"] = cols.pop(outer) - cols["compile"]
        order = ["startup", "data_to_device", "compile", f"{outer} after compile"]
        cols = {k: cols[k] for k in order if k in cols} | {
            k: v for k, v in cols.items() if k not in order
        }
    if not cols:
        return pd.DataFrame()
    frame = pd.DataFrame(cols)
    frame["framework"] = ok["framework"]
    med = frame.groupby("framework").median()
    return med.reindex([f for f in frameworks if f in med.index])
