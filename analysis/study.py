"""The tidy table -> the study: statistics per metric and framework, pairwise comparisons
with Holm's correction, outlier flags, conclusions and warnings. Everything numeric is
delegated to analysis.stats; this module decides what is compared with what."""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass
from itertools import combinations
from typing import Any

import numpy as np
import pandas as pd

from analysis import stats
from analysis.fmt import number
from analysis.load import tuples

VARIANTS = ("all", "without-outliers")
# report/stats.csv, documented column by column in docs/analysis.md
STATS_COLUMNS = [
    "variant", "metric", "unit", "kind", "framework", "framework_b",
    # kind == describe
    "n", "mean", "median", "variance", "sd", "min", "max", "q1", "q3", "iqr", "cv",
    "median_ci_low", "median_ci_high", "shapiro_w", "shapiro_p", "outliers",
    # kind == compare
    "n_a", "n_b", "test", "test_reason", "statistic", "p_value", "p_holm", "cohens_d",
    "cliffs_delta", "cliffs_magnitude", "cles", "median_a", "median_b", "median_diff",
    "pct_change", "supported",
]  # fmt: skip


@dataclass(frozen=True)
class Metric:
    column: str
    label: str
    unit: str


CORE_METRICS = (
    Metric("energy_gross_j", "Energy (gross)", "J"),
    Metric("energy_net_j", "Energy (net of idle)", "J"),
    Metric("duration_s", "Time", "s"),
    Metric("mean_power_w", "Mean power", "W"),
    Metric("edp_j_s", "EDP (E x t)", "J·s"),
    Metric("test_accuracy", "Accuracy", ""),
    Metric("peak_rss_bytes", "Peak memory", "bytes"),
)


@dataclass(frozen=True)
class Conclusion:
    metric: str
    framework_a: str
    framework_b: str
    text: str
    holds_without_outliers: bool


@dataclass(frozen=True)
class Study:
    frameworks: list[str]
    metrics: list[Metric]
    ok: pd.DataFrame  # the runs with status ok, the only ones statistics use
    status_counts: pd.DataFrame  # framework x status
    outliers: pd.DataFrame  # run_id, framework, metric, value: every flagged value
    table: pd.DataFrame  # report/stats.csv
    conclusions: list[Conclusion]
    warnings: list[str]
    seed: int


def frameworks_in_order(runs: pd.DataFrame, declared: list[str]) -> list[str]:
    seen = [f for f in declared if f in set(runs["framework"])]
    return seen + sorted(set(runs["framework"]) - set(seen))


def metrics_present(ok: pd.DataFrame, domains: list[str]) -> list[Metric]:
    """The core metrics that have data, plus each domain's own energy when the total adds
    several domains (or there is no legitimate total, e.g. psys alone)."""
    out = [m for m in CORE_METRICS if m.column in ok and ok[m.column].notna().any()]
    total_parts = {
        p
        for s in ok.get("energy_domains", pd.Series(dtype=str)).dropna()
        for p in str(s).split("+")
        if p
    }
    if len(total_parts) > 1 or not total_parts:
        for d in domains:
            col = f"{d}_gross_j"
            if col in ok and ok[col].notna().any():
                out.append(Metric(col, f"Energy {d} (gross)", "J"))
    return out


def _describe_row(
    variant: str, metric: Metric, fw: str, values: np.ndarray, *, n_out: int, seed: int
) -> dict[str, Any]:
    d = stats.describe(values, seed=seed)
    return {
        "variant": variant,
        "metric": metric.column,
        "unit": metric.unit,
        "kind": "describe",
        "framework": fw,
        "outliers": n_out,
        **asdict(d),
    }


def build_study(
    runs: pd.DataFrame, declared: list[str], domains: list[str], seed: int = 0
) -> Study:
    frameworks = frameworks_in_order(runs, declared)
    ok = runs[runs["status"] == "ok"].copy()
    status_counts = (
        runs.groupby(["framework", "status"]).size().unstack(fill_value=0).reindex(frameworks)
    )
    metrics = metrics_present(ok, domains)
    # flag per framework and metric: an outlier is judged against its own framework's runs
    flags: dict[str, pd.Series] = {}
    outlier_rows = []
    for m in metrics:
        mask = pd.Series(False, index=ok.index)
        for fw in frameworks:
            sub = ok[ok["framework"] == fw][m.column]
            fw_mask = stats.tukey_outliers(sub.to_numpy(dtype=float))
            mask.loc[sub.index] = fw_mask
            for idx in sub.index[fw_mask]:
                outlier_rows.append(
                    {
                        "run_id": ok.at[idx, "run_id"],
                        "framework": fw,
                        "metric": m.column,
                        "value": ok.at[idx, m.column],
                    }
                )
        flags[m.column] = mask
    rows: list[dict[str, Any]] = []
    for variant in VARIANTS:
        compare_rows = []
        for m in metrics:
            keep = ~flags[m.column] if variant == "without-outliers" else ~(flags[m.column] & False)
            samples = {
                fw: ok[(ok["framework"] == fw) & keep][m.column].dropna().to_numpy(dtype=float)
                for fw in frameworks
            }
            for fw in frameworks:
                n_out = int((flags[m.column] & (ok["framework"] == fw)).sum())
                rows.append(_describe_row(variant, m, fw, samples[fw], n_out=n_out, seed=seed))
            for a, b in combinations(frameworks, 2):
                c = stats.compare(samples[a], samples[b])
                r = {
                    "variant": variant,
                    "metric": m.column,
                    "unit": m.unit,
                    "kind": "compare",
                    "framework": a,
                    "framework_b": b,
                    **asdict(c),
                }
                r["test_reason"] = r.pop("reason")
                compare_rows.append(r)
        # one family per variant: every pair of every metric, so the 5% error rate holds
        # for the whole set of claims the report makes
        adjusted = stats.holm([r["p_value"] for r in compare_rows])
        for r, p in zip(compare_rows, adjusted, strict=True):
            r["p_holm"] = p
            r["cliffs_magnitude"] = stats.cliff_magnitude(r["cliffs_delta"])
            r["supported"] = bool(
                math.isfinite(p)
                and p < stats.ALPHA
                and abs(r["cliffs_delta"]) >= stats.CONCLUSION_MIN_ABS_DELTA
            )
        rows.extend(compare_rows)
    table = pd.DataFrame(rows, columns=STATS_COLUMNS)
    for col in ("n", "outliers", "n_a", "n_b"):
        table[col] = table[col].astype("Float64").astype("Int64")
    outliers = pd.DataFrame(outlier_rows, columns=["run_id", "framework", "metric", "value"])
    conclusions = _conclusions(table, metrics)
    warnings = _warnings(runs, ok, table, frameworks, outliers)
    return Study(
        frameworks, metrics, ok, status_counts, outliers, table, conclusions, warnings, seed
    )


def _fmt(v: float, unit: str) -> str:
    return f"{number(v, 4)} {unit}".strip()


def _conclusions(table: pd.DataFrame, metrics: list[Metric]) -> list[Conclusion]:
    labels = {m.column: m for m in metrics}
    comp = table[table["kind"] == "compare"]
    main = comp[comp["variant"] == "all"]
    clean = comp[comp["variant"] == "without-outliers"].set_index(
        ["metric", "framework", "framework_b"]
    )
    out = []
    for r in tuples(main[main["supported"]]):
        m = labels[r.metric]
        direction = "higher" if r.median_diff > 0 else "lower"
        pct = f"{abs(r.pct_change):.1f}% {direction}" if math.isfinite(r.pct_change) else direction
        text = (
            f"{m.label}: {r.framework_b} is {pct} than {r.framework} (median "
            f"{_fmt(r.median_b, m.unit)} vs {_fmt(r.median_a, m.unit)}; {r.test}, Holm p = "
            f"{r.p_holm:.2g}; Cliff's delta = {r.cliffs_delta:+.2f}, {r.cliffs_magnitude})"
        )
        key = (r.metric, r.framework, r.framework_b)
        holds = bool(key in clean.index and clean.loc[key, "supported"])
        out.append(Conclusion(r.metric, r.framework, r.framework_b, text, holds))
    return out


def _warnings(
    runs: pd.DataFrame,
    ok: pd.DataFrame,
    table: pd.DataFrame,
    frameworks: list[str],
    outliers: pd.DataFrame,
) -> list[str]:
    out = []
    bad = runs[runs["status"] != "ok"]
    if len(bad):
        counts = ", ".join(f"{s}: {n}" for s, n in bad["status"].value_counts().items())
        out.append(
            f"{len(bad)} run(s) did not finish ok ({counts}); they are excluded "
            "from every statistic."
        )
    desc = table[(table["kind"] == "describe") & (table["variant"] == "all")]
    for fw in frameworks:
        n = int((ok["framework"] == fw).sum())
        if n < stats.SMALL_N:
            out.append(
                f"{fw}: only {n} successful run(s); below {stats.SMALL_N} the tests have "
                "little power and the normality check is unreliable."
            )
    noisy = desc[desc["cv"] > stats.NOISY_CV]
    for r in tuples(noisy):
        out.append(
            f"{r.framework}: {r.metric} varies a lot (coefficient of variation "
            f"{r.cv:.1%} > {stats.NOISY_CV:.0%}); check for background load, thermal "
            "throttling or frequency scaling."
        )
    if len(outliers):
        out.append(
            f"{len(outliers)} value(s) flagged as outliers (Tukey fences, "
            f"{stats.TUKEY_K} x IQR, per framework and metric); statistics are given "
            "with and without them."
        )
    est = ok.get("energy_estimated")
    if est is not None and est.eq(True).any():
        out.append(
            "Some energy values are estimated by integrating power over time "
            "(method power-integration), not read from an energy counter."
        )
    return out


def phase_medians(
    ok: pd.DataFrame, frameworks: list[str], phases: list[str], unit: str
) -> pd.DataFrame:
    """Median per framework of each phase's energy (`unit` "energy_j") or time ("duration_s"),
    one column per phase in order. compile is the first step of epoch_1, so it is taken out
    of epoch_1 to stack without counting it twice. Empty when no phase has data."""
    cols: dict[str, pd.Series] = {}
    for name in phases:
        col = f"phase_{name}_{unit}"
        if col in ok and ok[col].notna().any():
            cols[name] = ok[col]
    if "compile" in cols and "epoch_1" in cols:
        cols["epoch_1 after compile"] = cols.pop("epoch_1") - cols["compile"]
        order = ["startup", "data_to_device", "compile", "epoch_1 after compile"]
        cols = {k: cols[k] for k in order if k in cols} | {
            k: v for k, v in cols.items() if k not in order
        }
    if not cols:
        return pd.DataFrame()
    frame = pd.DataFrame(cols)
    frame["framework"] = ok["framework"]
    med = frame.groupby("framework").median()
    return med.reindex([f for f in frameworks if f in med.index])
