"""The report's content: campaign + study + evidence + figures -> a Document (rendered to
Markdown and HTML by analysis.document)."""

from __future__ import annotations

import json
import math
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import pandas as pd

from analysis import stats
from analysis.document import Bullets, Callout, Document, Figure, Heading, Para, Table
from analysis.evidence import Evidence
from analysis.fmt import number as fmt
from analysis.fmt import p_value as fmt_p
from analysis.load import Campaign, tuples
from analysis.study import Metric, Study


def _flatten(d: Mapping[str, Any], prefix: str = "") -> list[tuple[str, str]]:
    out = []
    for k, v in d.items():
        key = f"{prefix}{k}"
        if isinstance(v, Mapping) and v and len(json.dumps(v)) > 100:
            out += _flatten(v, key + ".")
        else:
            text = v if isinstance(v, str) else json.dumps(v)
            out.append((key, text if len(text) <= 160 else text[:157] + "..."))
    return out


def no_energy(study: Study) -> bool:
    return not any(m.unit in ("J", "J·s", "W") for m in study.metrics)


def build_document(
    campaign: Campaign,
    study: Study,
    evidence: Evidence,
    figures: Mapping[str, Path],
    figure_notes: list[str],
) -> Document:
    meta = campaign.meta
    doc = Document(f"Framework energy report: {meta.get('campaign_id', campaign.path.name)}")
    runs = campaign.runs
    meters = sorted({m for s in runs["meters"].dropna() for m in str(s).split("+") if m})
    doc.add(
        Para(
            f"{len(runs)} runs of {', '.join(study.frameworks)}; {len(study.ok)} finished ok and "
            f"enter the statistics. Meter(s): {', '.join(meters) or 'none recorded'}. "
            f"Bootstrap seed {study.seed}."
        )
    )
    totals = sorted({str(s) for s in runs["energy_domains"].dropna() if s})
    if totals:
        doc.add(
            Para(
                "Energy (gross/net) is the sum of "
                + " or ".join(totals)
                + " (packages, DRAM and GPUs only: psys and core/uncore nest inside them)."
            )
        )
    if no_energy(study):
        doc.add(
            Callout(
                "NO ENERGY WAS MEASURED in this campaign (meter 'none' or no readable domain). "
                "Only time, accuracy and memory are compared; nothing here says anything about "
                "energy or power.",
                loud=True,
            )
        )
    if campaign.imported:
        doc.add(
            Callout(
                "Imported study (EnergiBridge CSVs): there is no result.json, event log or phase "
                "data, so accuracy, memory, identical-work evidence and per-phase energy are "
                f"absent. Source: {json.dumps(meta.get('imported'))[:300]}"
            )
        )
    _conclusions(doc, study)
    if study.warnings:
        doc.add(Heading("Warnings"), Bullets(study.warnings))
    _environment(doc, meta)
    _identical_work(doc, evidence)
    _runs(doc, campaign, study)
    _statistics(doc, study)
    _figures(doc, study, figures, figure_notes)
    _method(doc)
    return doc


def _conclusions(doc: Document, study: Study) -> None:
    doc.add(Heading("Conclusions"))
    doc.add(
        Para(
            f"A difference is stated only when its Holm-corrected p-value is below "
            f"{stats.ALPHA} AND |Cliff's delta| is at least {stats.CONCLUSION_MIN_ABS_DELTA} "
            "(a medium effect, Romano et al. 2006). Everything else is reported in the tables "
            "but not claimed."
        )
    )
    if study.conclusions:
        doc.add(
            Bullets(
                [
                    c.text
                    + ("" if c.holds_without_outliers else " [does NOT hold without outliers]")
                    for c in study.conclusions
                ]
            )
        )
    claimed = {c.metric for c in study.conclusions}
    silent = [m.label for m in study.metrics if m.column not in claimed]
    if silent:
        doc.add(
            Para("No supported difference between any frameworks in: " + ", ".join(silent) + ".")
        )


def _environment(doc: Document, meta: Mapping[str, Any]) -> None:
    doc.add(Heading("Environment and protocol"))
    for key, title in (
        ("protocol", "Protocol"),
        ("workload", "Workload"),
        ("dataset", "Dataset"),
        ("provenance", "Provenance"),
    ):
        block = meta.get(key)
        if isinstance(block, Mapping) and block:
            doc.add(Table(["setting", "value"], _flatten(block), caption=title))
    top = [(k, json.dumps(meta[k])) for k in ("frameworks", "iterations", "seed") if k in meta]
    if top:
        doc.add(Table(["setting", "value"], top, caption="Campaign"))


def _short(v: str) -> str:
    return v[:12] + "…" if len(v) > 16 else v


def _identical_work(doc: Document, ev: Evidence) -> None:
    doc.add(Heading("Identical work"))
    if not ev.has_results:
        doc.add(
            Para("No result.json in any ok run: no evidence that the frameworks did the same work.")
        )
        return
    rows = []
    for c in ev.checks:
        rows.append(
            [
                c.name,
                *(", ".join(_short(v) for v in c.values[f]) or "–" for f in ev.frameworks),
                "yes" if c.identical else "NO",
            ]
        )
    rows.append(["framework version", *(ev.versions[f] for f in ev.frameworks), ""])
    doc.add(
        Table(
            ["check", *ev.frameworks, "identical"],
            rows,
            caption="From result.json of the ok runs (hashes shortened)",
        )
    )
    if ev.probe_max_abs_diff:
        doc.add(
            Table(
                ["pair", "max |logit difference| before training"],
                [[f"{a} vs {b}", fmt(d)] for (a, b), d in ev.probe_max_abs_diff.items()],
                caption="Probe logits of the first 8 test images (same weights give about 1e-4)",
            )
        )
    n_epochs = max((len(v) for v in ev.epoch_loss_median.values()), default=0)
    if n_epochs:
        doc.add(
            Table(
                ["framework", *(f"epoch {k}" for k in range(1, n_epochs + 1))],
                [[f, *(fmt(x) for x in v)] for f, v in ev.epoch_loss_median.items()],
                caption="Median training loss per epoch",
            )
        )


def _runs(doc: Document, campaign: Campaign, study: Study) -> None:
    doc.add(Heading("Runs"))
    counts = study.status_counts
    doc.add(
        Table(
            ["framework", *counts.columns],
            [[str(f), *(str(int(v)) for v in counts.loc[f])] for f in counts.index],
            caption="Runs by status (only ok runs enter the statistics)",
        )
    )
    bad = campaign.runs[campaign.runs["status"] != "ok"]
    if len(bad):
        doc.add(
            Table(
                ["run", "status", "error"],
                [
                    [r.run_id, r.status, str(r.error) if isinstance(r.error, str) else "–"]
                    for r in tuples(bad)
                ],
                caption="Excluded runs",
            )
        )
    if campaign.notes:
        doc.add(Bullets(list(campaign.notes)))


def label(m: Metric) -> str:
    return f"{m.label} ({m.unit})" if m.unit else m.label


def _statistics(doc: Document, study: Study) -> None:
    t = study.table
    doc.add(Heading("Statistics"))
    doc.add(
        Para(
            "All values from report/stats.csv (variant 'all'). CI: bootstrap 95% interval "
            "of the median. SW p: Shapiro-Wilk."
        )
    )
    for m in study.metrics:
        d = t[(t["kind"] == "describe") & (t["variant"] == "all") & (t["metric"] == m.column)]
        doc.add(Heading(label(m), 3))
        doc.add(
            Table(
                [
                    "framework",
                    "n",
                    "mean",
                    "median",
                    "95% CI of median",
                    "sd",
                    "variance",
                    "min",
                    "max",
                    "IQR",
                    "CV",
                    "SW p",
                    "outliers",
                ],
                [
                    [
                        r.framework,
                        str(int(r.n)),
                        fmt(r.mean),
                        fmt(r.median),
                        f"[{fmt(r.median_ci_low)}, {fmt(r.median_ci_high)}]",
                        fmt(r.sd),
                        fmt(r.variance),
                        fmt(r.min),
                        fmt(r.max),
                        fmt(r.iqr),
                        f"{r.cv:.1%}" if math.isfinite(r.cv) else "–",
                        fmt_p(r.shapiro_p),
                        str(int(r.outliers)),
                    ]
                    for r in tuples(d)
                ],
            )
        )
        doc.add(_compare_table(t, m, "all", ""))
    _pair_tables(doc, study)
    _outliers(doc, study)


def _compare_table(t: pd.DataFrame, m: Metric, variant: str, caption: str) -> Table:
    c = t[(t["kind"] == "compare") & (t["variant"] == variant) & (t["metric"] == m.column)]
    return Table(
        [
            "A vs B",
            "test",
            "p",
            "Holm p",
            "Cohen's d",
            "Cliff's delta",
            "CLES",
            "median A",
            "median B",
            "B - A",
            "change",
            "supported",
        ],
        [
            [
                f"{r.framework} vs {r.framework_b}",
                r.test,
                fmt_p(r.p_value),
                fmt_p(r.p_holm),
                fmt(r.cohens_d, 3),
                f"{r.cliffs_delta:+.3f} ({r.cliffs_magnitude})"
                if math.isfinite(r.cliffs_delta)
                else "–",
                fmt(r.cles, 3),
                fmt(r.median_a),
                fmt(r.median_b),
                fmt(r.median_diff),
                f"{r.pct_change:+.2f}%" if math.isfinite(r.pct_change) else "–",
                "yes" if r.supported else "no",
            ]
            for r in tuples(c)
        ],
        caption=caption,
    )


def _pair_tables(doc: Document, study: Study) -> None:
    """The reference study's presentation: per pair, each metric's medians and % change."""
    t = study.table
    c = t[(t["kind"] == "compare") & (t["variant"] == "all")]
    doc.add(Heading("Percentage change of medians, per pair", 3))
    for (a, b), g in c.groupby(["framework", "framework_b"], sort=False):
        by = g.set_index("metric")
        rows = []
        for m in study.metrics:
            if m.column in by.index:
                r = by.loc[m.column].to_dict()
                pct = f"{r['pct_change']:+.2f}%" if math.isfinite(r["pct_change"]) else "–"
                rows.append(
                    [
                        m.label,
                        f"{fmt(r['median_a'])} {m.unit}".strip(),
                        f"{fmt(r['median_b'])} {m.unit}".strip(),
                        pct + (" *" if r["supported"] else ""),
                    ]
                )
        doc.add(
            Table(
                ["metric", f"{a} (median)", f"{b} (median)", f"{b} vs {a}"],
                rows,
                caption=f"{a} vs {b} (* = supported difference)",
            )
        )


def _outliers(doc: Document, study: Study) -> None:
    doc.add(Heading("Outliers", 3))
    doc.add(
        Para(
            f"Flagged with Tukey's fences ({stats.TUKEY_K} x IQR beyond the quartiles, per "
            "framework and metric). They stay in the main analysis; below, the comparisons "
            "are repeated without them."
        )
    )
    o = study.outliers
    if o.empty:
        doc.add(Para("No value was flagged: the analysis without outliers is the same."))
        return
    doc.add(
        Table(
            ["run", "framework", "metric", "value"],
            [[r.run_id, r.framework, r.metric, fmt(float(r.value))] for r in tuples(o)],
            caption="Flagged values",
        )
    )
    for m in study.metrics:
        if m.column in set(o["metric"]):
            doc.add(
                _compare_table(study.table, m, "without-outliers", f"{label(m)} without outliers")
            )


def _figures(doc: Document, study: Study, figures: Mapping[str, Path], notes: list[str]) -> None:
    doc.add(Heading("Figures"))
    captions = {
        f"violin-{m.column}": f"{label(m)} per framework: violin, box and every run"
        for m in study.metrics
    }
    captions |= {
        "power-series": "Power of one typical run per framework (the run closest to its "
        "framework's median energy), phases shaded; compile is hatched inside epoch_1",
        "phase-energy": "Energy per phase, median over ok runs (compile is split out of epoch_1)",
        "phase-time": "Time per phase, median over ok runs (compile is split out of epoch_1)",
        "accuracy": "Test accuracy per framework",
    }
    for key, png in figures.items():
        caption = captions.get(key)
        if caption is None and key.startswith("order-"):
            caption = f"{key[6:]} against position in the iteration (order effects)"
        doc.add(Figure(png, caption or key))
    for n in notes:
        doc.add(Callout(n))


def _method(doc: Document) -> None:
    doc.add(Heading("Method"))
    doc.add(
        Bullets(
            [
                "Energy (gross) adds only cpu-package-*, dram-* and gpu-* domains: psys contains "
                "the packages and a package its core and uncore, so those are never added.",
                "Net energy subtracts the idle baseline (mean power of the idle gaps x duration); "
                "present only where every summed domain has a baseline.",
                "Mean power = gross energy / duration; EDP = gross energy x duration.",
                f"Per pair: Welch's t-test when both samples pass Shapiro-Wilk (p > {stats.ALPHA}),"
                " otherwise the two-sided Mann-Whitney U test.",
                "Holm's correction runs over every comparison of every metric in one family "
                "(per variant: with and without outliers).",
                "Effect sizes: Cohen's d (pooled sd), Cliff's delta = P(B > A) - P(B < A), "
                "CLES = P(B > A) + P(B = A)/2. Change = (median B - median A) / median A.",
                f"Bootstrap CI: {stats.BOOTSTRAP_RESAMPLES} percentile resamples of the median, "
                "seeded (reproducible).",
                f"Noise warnings: coefficient of variation above {stats.NOISY_CV:.0%}, fewer than "
                f"{stats.SMALL_N} ok runs, any flagged outlier, estimated energy.",
            ]
        )
    )
