"""The report's content: campaign + study + evidence + figures -> a Document (rendered to
Markdown and HTML by analysis.document). The first screen is the answer: scope, the verdict
table and the forest plot; then limitations, warnings and the detail, each figure next to
the numbers it illustrates."""

from __future__ import annotations

import json
import math
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from analysis import inference, stats, variants
from analysis.document import Block, Bullets, Callout, Document, Figure, Heading, Para, Table
from analysis.evidence import Evidence, short
from analysis.fmt import decimals_for, level, p_relation, pct, pct_interval, quantity
from analysis.fmt import number as fmt
from analysis.fmt import p_floor as fmt_p
from analysis.load import MEASURED, Campaign, tuples
from analysis.measurement import measurement_blocks
from analysis.study import PRIMARY, SECONDARY, Metric, Study

# the reference study's Tables 1-3, now with intervals and verdicts
# (an inference campaign's throughput and median latency too; training runs have neither)
ANSWER_METRICS = ("duration_s", "energy_gross_j", "mean_power_w", "edp_j_s", "examples_per_s",
                  "latency_p50_ms")  # fmt: skip
MIN_EFFECT_REASON = (
    "RAPL's own error is of the order of a few percent (Khan et al. 2018), and identical "
    "machines differ by more than that, so a smaller difference would not carry over to "
    "anyone else's hardware"
)


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


def label(m: Metric) -> str:
    return f"{m.label} ({m.unit})" if m.unit else m.label


def no_energy(study: Study) -> bool:
    return not any(m.column == "energy_gross_j" for m in study.metrics)


def _band_text(study: Study) -> str:
    return f"±{study.min_effect:.0%}"


def _design(study: Study) -> str:
    if study.paired:
        return f"paired by iteration (at least {study.min_pairs} per pair)"
    return "independent samples (an imported study has no iterations)"


def build_document(
    campaign: Campaign,
    study: Study,
    evidence: Evidence,
    figures: Mapping[str, Path],
    figure_notes: list[str],
) -> Document:
    meta = campaign.meta
    kind = "inference" if task_of_campaign(campaign) == "infer" else "training"
    title = (
        f"Framework energy report ({kind})" if not campaign.imported else "Framework energy report"
    )
    doc = Document(f"{title}: {meta.get('campaign_id', campaign.path.name)}")
    doc.add(Para(_scope(campaign, study, evidence)))
    if no_energy(study):
        doc.add(
            Callout(
                "NO ENERGY WAS MEASURED in this campaign (meter 'none' or no readable domain). "
                "Only time, accuracy and memory are compared; nothing here says anything about "
                "energy or power.",
                loud=True,
            )
        )
    _answer(doc, study, evidence, figures)
    _inference(doc, campaign, study)
    _variants(doc, study)
    _limitations(doc, campaign, study)
    doc.add(*measurement_blocks(campaign.run_records))
    if study.warnings:
        doc.add(Heading("Warnings"), Bullets(study.warnings))
    _sample_size(doc, study)
    _decomposed(doc, study, figures)
    _baseline(doc, campaign, study, figures)
    _drift(doc, study, figures)
    _identical_work(doc, evidence, campaign.imported)
    _details(doc, study, figures)
    _runs(doc, campaign, study)
    _environment(doc, meta)
    _other_figures(doc, figures, figure_notes)
    _method(doc, study)
    return doc


def _scope(campaign: Campaign, study: Study, ev: Evidence | None = None) -> str:
    meta = campaign.meta
    prov = meta.get("provenance") or {}
    cpu = (prov.get("cpu") or {}).get("model") or "an unrecorded CPU"
    host = (prov.get("host") or {}).get("hostname") or "one machine"
    device = (meta.get("workload") or {}).get("device") or "unrecorded"
    runs = campaign.runs
    meters = sorted({m for s in runs["meters"].dropna() for m in str(s).split("+") if m})
    domain_sets = sorted({str(s) for s in study.ok["energy_domains"].dropna() if s})
    energy = (
        f"energy = {' or '.join(domain_sets)} measured by {', '.join(meters)}"
        if domain_sets
        else "no energy measured"
    )
    imported = " Imported EnergiBridge study." if campaign.imported else ""
    workload = meta.get("workload") or {}
    model = workload.get("model") or _one(runs, "model") or "an unrecorded model"
    if campaign.imported:  # the study's own workload: neither model nor task is recorded
        work = "the imported study's workload"
    elif task_of_campaign(campaign) == "infer":
        work = f"inference (the test split, once) with {model}"
    else:
        work = f"training of {model}"
    return (
        f"Scope: {work}; this machine only ({cpu}, host {host}), device {device}; {energy}. "
        f"{len(study.ok)} of {len(runs)} runs ok; {_design(study)}; compared with the "
        f"reference, {study.reference}; relevant beyond {_band_text(study)}.{imported}"
        + _work_scope(study, ev)
    )


def _work_scope(study: Study, ev: Evidence | None) -> str:
    """The scope's count of pairs that did not do the same work (Identical work)."""
    other = [f"{b} vs {a}" for a, b in study.pairs if not_same_work(ev, a, b)]
    if not other:
        return ""
    return (
        f" {len(other)} of {len(study.pairs)} pair(s) did NOT do the same work "
        f"({', '.join(other)}): their verdicts compare different work."
    )


def _one(runs: Any, column: str) -> str | None:
    """The one value a column has in every run that has it, else None."""
    values = set(runs[column].dropna()) if column in runs else set()
    return str(values.pop()) if len(values) == 1 else None


def task_of_campaign(campaign: Campaign) -> str:
    """`train` or `infer`: campaign.json's workload task, else its runs' (one campaign runs
    one task), else train: campaigns written before tasks existed trained."""
    task = (campaign.meta.get("workload") or {}).get("task")
    return str(task or _one(campaign.runs, "task") or "train")


def _inference(doc: Document, campaign: Campaign, study: Study) -> None:
    """An inference campaign's own numbers: throughput and per-batch latency per framework,
    medians over the ok runs (result.json's `inference`)."""
    if task_of_campaign(campaign) != "infer":
        return
    doc.add(Heading("Inference: throughput and latency"))
    ok = study.ok
    columns = ["examples_per_s", "latency_mean_ms", "latency_p50_ms", "latency_p90_ms",
               "latency_p99_ms", "latency_max_ms", "first_batch_s"]  # fmt: skip
    if not any(c in ok and ok[c].notna().any() for c in columns):
        doc.add(Para("No ok run recorded its inference figures (result.json's inference)."))
        return
    batch = (campaign.meta.get("workload") or {}).get("batch_size")
    doc.add(
        Para(
            "Each run passes the test split once through the model in batches, in order, "
            "pulling every batch's logits to the host. Throughput = examples / wall time of "
            "all batches but the first; latency per batch, first batch (tracing and "
            "compilation) excluded; the first batch is shown apart. Medians over the ok runs"
            + (f"; batch size {batch}." if batch else ".")
        )
    )
    rows = []
    for fw in study.frameworks:
        sub = ok[ok["framework"] == fw]
        if sub.empty:
            continue
        rows.append([fw, str(len(sub)), *(fmt(float(sub[c].median())) for c in columns)])
    doc.add(
        Table(
            [
                "framework",
                "runs",
                "examples/s",
                "mean (ms)",
                "p50 (ms)",
                "p90 (ms)",
                "p99 (ms)",
                "max (ms)",
                "first batch (s)",
            ],
            rows,
            caption="Inference per framework: throughput and per-batch latency",
        )
    )


def change_text(r: Any) -> str:
    """A comparison's change with the interval its verdict was read from (the family's
    simultaneous one); the unadjusted 95% interval only beside "too few to claim", named so."""
    if r.verdict == "too few to claim":
        return pct_interval(r.pct_change, r.pct_ci95_low, r.pct_ci95_high) + ", unadjusted"
    return pct_interval(r.pct_change, r.pct_ci_low, r.pct_ci_high, r.confidence)


def not_same_work(ev: Evidence | None, a: str, b: str) -> str:
    """ "not the same work: config.batch_size 64 vs 128; ..." for a pair whose result.json
    files differ in a flagged check (Identical work), else ""."""
    diffs = ev.differences(a, b) if ev is not None else []
    return "not the same work: " + "; ".join(diffs) if diffs else ""


def _answer_rows(study: Study, ev: Evidence | None) -> list[list[str]]:
    units = {m.column: m.unit for m in (*PRIMARY, *SECONDARY)}
    names = {m.column: m.label for m in (*PRIMARY, *SECONDARY)}
    rows = []
    for a, b in study.pairs:
        for col in ANSWER_METRICS:
            r = study.comparison(col, a, b)
            if r is None:
                continue
            secondary = "" if r.role == "primary" else " (exploratory)"
            other = not_same_work(ev, a, b)
            rows.append(
                [
                    f"{b} vs {a}",
                    names[col] + secondary,
                    f"{fmt(r.median_a)} {units[col]}",
                    f"{fmt(r.median_b)} {units[col]}",
                    change_text(r),
                    # an exploratory verdict never reads as a finding of its own
                    ("" if r.role == "primary" else "exploratory: ")
                    + (f"{r.verdict}; {other}" if other else r.verdict),
                ]
            )
    return rows


def _answer(doc: Document, study: Study, ev: Evidence, figures: Mapping[str, Path]) -> None:
    doc.add(Heading("Answer"))
    rows = _answer_rows(study, ev)
    if rows:
        doc.add(
            Table(
                ["B vs A", "metric", "median A", "median B", "HL change B vs A", "verdict"],
                rows,
                caption="Medians per pair; HL change = the Hodges-Lehmann ratio B/A - 1 (of "
                + ("the per-iteration ratios" if study.paired else "all pairs of runs")
                + ", not the ratio of the medians) with the interval its verdict is read "
                "from: " + family_text(study),
            )
        )
    if "forest" in figures:
        doc.add(
            Figure(
                figures["forest"],
                f"Energy and time ratios B/A with their simultaneous intervals "
                f"({family_text(study)}); grey band: {_band_text(study)}",
            )
        )
    doc.add(Bullets(verdict_lines(study, ev)))
    for w in study.answer_warnings:
        doc.add(Callout(w, loud=True))


def family_text(study: Study) -> str:
    """What the shown intervals control, in one phrase."""
    m = study.primary_comparisons
    if m <= 1:
        return "95% interval"
    return (
        f"each of the {m} primary intervals at {level(inference.family_confidence(m))}, so "
        f"that all {m} hold together with at least 95% (no primary verdict is wrong with "
        "more than 5% chance)"
    )


def _variants(doc: Document, study: Study) -> None:
    """Implementation spreads next to framework spreads, where a framework has variants."""
    if not variants.has_variants(study):
        return
    doc.add(Heading("Frameworks or implementations?"))
    doc.add(
        Para(
            "Within a framework, its slowest variant over its fastest (an implementation "
            "or a version effect); between frameworks, each framework's fastest variant "
            "against the others' (a framework effect). Ratios >= 1 by the medians, with the "
            "95% interval of the paired estimate; an interval that excludes 1 is a clear "
            "difference."
        )
    )
    names = {m.column: m.label for m in (*PRIMARY, *SECONDARY)}
    for col in ("duration_s", "energy_gross_j"):
        found = variants.spreads(study, col)
        if not found:
            continue
        rows = [
            [
                s.kind,
                f"{s.slow} / {s.fast}",
                f"{fmt(s.ratio, 3)}x",
                f"{fmt(s.ratio_ci_low, 3)} – {fmt(s.ratio_ci_high, 3)}"
                if s.ratio_ci_low > 0 and math.isfinite(s.ratio_ci_high)
                else "unbounded (too few iterations)",
                s.verdict,
            ]
            for s in found
        ]
        doc.add(
            Table(
                ["spread", "slow / fast", "ratio", "95% interval", "verdict"],
                rows,
                caption=f"{names[col]}: implementation spreads and framework spreads",
            ),
            Bullets(variants.effects(found)),
        )


def _unit(study: Study) -> str:
    return "paired iterations" if study.paired else "runs per framework"


def _claim(study: Study, r: Any, name: str) -> str:
    head = f"{name}: {r.framework_b} vs {r.framework}"
    n_text = f"n = {r.n_pairs} paired iterations" if study.paired else f"n = {r.n_a} and {r.n_b}"
    floor = (
        f"at least {r.min_n_claim} {_unit(study)} are needed for any claim over "
        f"{r.comparisons} primary comparison(s)"
    )
    if r.verdict == "not testable":
        return f"{head}: not testable at {n_text}: {floor}."
    if r.verdict == "too few to claim":
        return (
            f"{head} {change_text(r)}: beyond the ±{study.min_effect:.0%} band, but "
            f"too few iterations for a claim after the correction ({n_text}; {floor})."
        )
    change = change_text(r)
    test = f"{r.test}, Holm p {p_relation(r.p_holm)}"
    band = _band_text(study)
    low = (1 / (1 + study.min_effect) - 1) * 100
    text = {
        "higher": f"higher: the whole interval lies above +{study.min_effect:.0%}",
        "lower": f"lower: the whole interval lies below {low:.2f}% (1/{1 + study.min_effect:g})",
        "equivalent": f"equivalent: no difference larger than {band} (the whole interval "
        "lies inside the band)",
        "inconclusive": f"inconclusive: the interval reaches into or across the {band} band, "
        "so neither a relevant difference nor equivalence is shown",
    }.get(r.verdict, r.verdict)
    return f"{head} {change}: {text} ({test})."


def verdict_lines(study: Study, ev: Evidence | None = None) -> list[str]:
    """One sentence per primary comparison, then accuracy: what the report lets one claim.
    A pair that did not do the same work says so in its sentence (`ev`, Identical work)."""
    lines = []
    for m in PRIMARY:
        for a, b in study.pairs:
            r = study.comparison(m.column, a, b)
            if r is not None:
                claim, other = _claim(study, r, m.label), not_same_work(ev, a, b)
                # the sentence ends in "."; the warning goes inside it, loud
                lines.append(f"{claim[:-1]}; NOT {other[4:]}." if other else claim)
    eq = study.rows("equivalence")
    margin_pp = study.accuracy_margin * 100
    for r in tuples(eq):
        d = decimals_for(r.diff_ci_low * 100, r.diff_ci_high * 100)
        diff = (
            f"{pct(r.diff * 100, d)[:-1]} pp (90% CI {pct(r.diff_ci_low * 100, d)[:-1]} to "
            f"{pct(r.diff_ci_high * 100, d)[:-1]} pp)"
            if math.isfinite(r.diff_ci_low)
            else f"{pct(r.diff * 100, 2)[:-1]} pp (no interval: too few runs)"
        )
        if r.verdict == "equivalent":
            tail = f"equivalent within ±{margin_pp:g} pp (TOST, Holm p {p_relation(r.p_holm)})"
        else:
            tail = (
                f"NOT shown equivalent within ±{margin_pp:g} pp (TOST, Holm p "
                f"{p_relation(r.p_holm)}); this is no evidence of the same accuracy"
            )
        lines.append(f"Accuracy: {r.framework_b} - {r.framework} = {diff}: {tail}.")
    return lines


def _limitations(doc: Document, campaign: Campaign, study: Study) -> None:
    meta = campaign.meta
    prov = meta.get("provenance") or {}
    protocol = meta.get("protocol") or {}
    cpu = prov.get("cpu") or {}
    items = [
        f"One machine ({cpu.get('model') or 'CPU not recorded'}): other CPUs, GPUs, "
        "frameworks versions or configurations may rank differently."
    ]
    domains = sorted(
        {d for s in study.ok["energy_domains"].dropna() for d in str(s).split("+") if d}
    )
    if domains:
        interval = protocol.get("interval_ms")
        resolution = (
            f"; sampled every {interval} ms, so a phase boundary is uncertain by about one interval"
            if interval
            else ""
        )
        items.append(
            f"Meter scope: only {', '.join(domains)} are counted; the rest of the machine "
            f"(fans, disks, memory not covered, power-supply losses) is not{resolution}."
        )
        packages = [d for d in domains if d.startswith("cpu-package-")]
        sockets = cpu.get("sockets") or cpu.get("packages")
        if isinstance(sockets, int) and packages and len(packages) < sockets:
            items.append(f"Socket coverage: {len(packages)} of {sockets} CPU packages measured.")
        elif packages and not isinstance(sockets, int):
            items.append(
                f"Socket coverage: {len(packages)} CPU package(s) measured; the provenance does "
                "not say how many sockets the machine has."
            )
    notes = [str(n) for r in campaign.run_records.values() for n in r.get("notes") or []]
    for word, text in (
        ("wrap", "energy-counter wrap-arounds corrected"),
        ("socket 0", "runs measured on socket 0 only"),
    ):
        hits = [n for n in notes if word in n.lower()]
        if hits:
            items.append(f"Run notes: {len(hits)} note(s) of {text} (e.g. {hits[0][:160]}).")
    runtime = protocol.get("runtime")
    if runtime == "docker":
        items.append("Runs in Docker containers: the container runtime's own energy is counted.")
    elif runtime == "apptainer":
        items.append(
            "Runs in Apptainer containers: each run's container set-up (apptainer exec "
            "mounting the .sif) is inside the measured window and its energy is counted."
        )
    governor, boost = prov.get("governor"), prov.get("boost")
    if governor is not None or boost is not None:
        scaling = (
            ""
            if governor == "performance" and boost in ("off", False)
            else (" Frequency scaling adds variance and can favour short runs.")
        )
        items.append(f"CPU governor {governor}, boost {boost}.{scaling}")
    if campaign.imported:
        items.append(
            "Imported study: no idle baseline (net energy absent), no result.json (identical "
            "work cannot be shown), runs compared as independent samples."
        )
    doc.add(Heading("Limitations"), Bullets(items))


def _sample_size(doc: Document, study: Study) -> None:
    c = study.rows("compare")
    c = c[c["role"] == "primary"]
    if c.empty:
        return
    doc.add(Heading("Sample size"))
    unit = _unit(study)
    n, floor, m_family = study.min_pairs, study.claim_floor, study.primary_comparisons
    if n < floor:
        doc.add(
            Para(
                f"With {n} {unit} no primary claim is possible: each of the {m_family} primary "
                f"intervals is at {level(inference.family_confidence(m_family))} (95% "
                f"together), which needs at least {floor} {unit}; the power for any claim is "
                f"0. Run at least {floor} iterations (the reference protocol runs 35)."
            )
        )
        return
    items = []
    for m in PRIMARY:
        sub = c[c["metric"] == m.column]
        if sub.empty or not sub["detectable_ratio"].notna().any():
            continue
        worst = float(sub["detectable_ratio"].max())
        needs = worst * (1 + study.min_effect)
        items.append(
            f"{m.label}: from the observed spread, this campaign ({n} {unit}) detects a "
            f"ratio of about {worst:.4g} (±{(worst - 1) * 100:.2g}%) from 1 with 80% power at "
            f"the corrected level (two-sided {1 - inference.family_confidence(m_family):.2g}, "
            f"{m_family} comparisons); a higher/lower verdict needs the true ratio beyond "
            f"about {needs:.4g} or {1 / needs:.4g} (the band edge times that amount)."
        )
    doc.add(Bullets(items))


def _decomposed(doc: Document, study: Study, figures: Mapping[str, Path]) -> None:
    if no_energy(study):
        return
    doc.add(Heading("Energy decomposed: time x power"))
    items = []
    for a, b in study.pairs:
        e, t, p = (
            study.comparison(c, a, b) for c in ("energy_gross_j", "duration_s", "mean_power_w")
        )
        if e is None or t is None or p is None or not (e.ratio > 0 and t.ratio > 0 and p.ratio > 0):
            continue
        if e.verdict in ("higher", "lower"):
            by_time = abs(math.log(t.ratio)) >= abs(math.log(p.ratio))
            source = "time (how long it runs)" if by_time else "power (how hard it runs)"
            why = f"the difference comes mostly from {source}"
        else:
            why = f"no relevant energy difference to attribute ({e.verdict})"
        items.append(
            f"{b} vs {a}: energy x{e.ratio:.3g} = time x{t.ratio:.3g} x power x{p.ratio:.3g} "
            f"(E = P x t); {why}."
        )
    doc.add(Bullets(items) if items else Para("No pair has energy, time and power."))
    steady = [m for m in study.metrics if m.column.startswith("steady_")]
    if steady:
        doc.add(
            Para(
                "Steady state (epochs 2 onwards, without start-up and compilation): what "
                "carries over to longer trainings."
            )
        )
        doc.add(_compare_table(study, steady, "Steady-state energy and time per epoch and step"))
    for key, caption in (
        (
            "phase-energy",
            "Energy per phase, median over ok runs (compile is split out of epoch_1 or infer)",
        ),
        ("phase-time", "Time per phase, median over ok runs"),
    ):
        if key in figures:
            doc.add(Figure(figures[key], caption))


def _baseline(doc: Document, campaign: Campaign, study: Study, figures: Mapping[str, Path]) -> None:
    if no_energy(study):
        return
    doc.add(Heading("Idle baseline and net energy (sensitivity)"))
    runs = study.ok
    measured = runs[runs["energy_gross_j"].notna()]
    without = measured[measured["baseline_gaps"].fillna("") == ""]
    one_side = measured[measured["baseline_gaps"].isin(["before", "after", "nearest", "mixed"])]
    if not campaign.gaps:
        doc.add(Para("No idle/ gaps in this folder: net energy cannot be computed."))
        return
    doc.add(
        Para(
            "Baseline power = mean power over the settled second half of the idle gap before "
            "and the gap after each run (recomputed from idle/, the orchestrator's rule); net = "
            "gross - baseline x duration. Net energy is exploratory: gross vs net shows how "
            "much the verdicts depend on the idle level."
        )
    )
    if len(without):
        doc.add(
            Callout(
                f"{len(without)} run(s) have no bracketing idle gap and so no net "
                "energy: " + ", ".join(without["run_id"].astype(str))
            )
        )
    if len(one_side):
        doc.add(
            Para(
                f"{len(one_side)} run(s) use one gap only (the other is missing): "
                + ", ".join(f"{r.run_id} ({r.baseline_gaps})" for r in tuples(one_side))
            )
        )
    neg = campaign.runs[campaign.runs["net_negative"].eq(True)]
    if len(neg):
        doc.add(Callout("Negative net energy (flagged): " + ", ".join(neg["run_id"].astype(str))))
    by_fw = measured.groupby("framework")
    doc.add(
        Table(
            [
                "framework",
                "median baseline (W)",
                "median spread sd (W)",
                "median gross (J)",
                "median net (J)",
                "net / gross",
            ],
            [
                [
                    str(fw),
                    fmt(g["baseline_power_w"].median()),
                    fmt(g["baseline_sd_w"].median()),
                    fmt(g["energy_gross_j"].median()),
                    fmt(g["energy_net_j"].median()),
                    f"{g['energy_net_j'].median() / g['energy_gross_j'].median():.1%}"
                    if g["energy_net_j"].notna().any()
                    else "–",
                ]
                for fw, g in (
                    (f, by_fw.get_group(f)) for f in study.frameworks if f in by_fw.groups
                )
            ],
            caption="Per framework (per run in summary.csv: baseline_power_w, baseline_sd_w, "
            "baseline_before_w, baseline_after_w, baseline_gaps)",
        )
    )
    rows = []
    for a, b in study.pairs:
        g, n = study.comparison("energy_gross_j", a, b), study.comparison("energy_net_j", a, b)
        if g is not None and n is not None:
            rows.append(
                [
                    f"{b} vs {a}",
                    change_text(g),
                    g.verdict,
                    change_text(n),
                    n.verdict,
                ]
            )
    if rows:
        doc.add(
            Table(
                ["B vs A", "gross change", "gross verdict", "net change", "net verdict"],
                rows,
                caption="Gross vs net energy",
            )
        )
    if "idle-power" in figures:
        doc.add(Figure(figures["idle-power"], "Idle power of every gap over the campaign"))


def _drift(doc: Document, study: Study, figures: Mapping[str, Path]) -> None:
    t = study.rows("trend")
    if t.empty:
        return
    doc.add(Heading("Drift and order effects"))
    doc.add(
        Table(
            ["framework", "metric", "against", "test", "n", "statistic", "Holm p"],
            [
                [
                    r.framework,
                    r.metric,
                    r.against,
                    r.test,
                    str(r.n),
                    fmt(r.statistic, 3),
                    fmt_p(r.p_holm),
                ]
                for r in tuples(t)
            ],
            caption="Spearman's rho against iteration (drift), Kruskal-Wallis across "
            "positions in the iteration (order); one Holm family",
        )
    )
    for key in sorted(figures):
        if key.startswith(("drift-", "order-")):
            what = "over the campaign" if key.startswith("drift-") else "by position"
            doc.add(Figure(figures[key], f"{key.split('-', 1)[1]} {what}"))


def _identical_work(doc: Document, ev: Evidence, imported: bool) -> None:
    doc.add(Heading("Identical work"))
    if not ev.has_results:
        doc.add(
            Para(
                "No result.json in any ok run"
                + (" (an imported study)" if imported else "")
                + ": no evidence that the frameworks did the same work."
            )
        )
        return
    rows = [
        [
            c.name,
            *(", ".join(short(v) for v in c.values[f]) or "–" for f in ev.frameworks),
            c.verdict,
        ]
        for c in ev.checks
    ]
    rows.append(["framework version", *(ev.versions[f] for f in ev.frameworks), ""])
    doc.add(
        Table(
            ["check", *ev.frameworks, "identical"],
            rows,
            caption="From result.json of the ok runs (hashes shortened)",
        )
    )
    known = [f"{c.name}: {c.known.reason}." for c in ev.checks if c.known is not None]
    if known:
        doc.add(Para("Documented differences, expected and not a sign of other work:"))
        doc.add(Bullets(known))
    if ev.probe_max_abs_diff:
        doc.add(
            Table(
                [
                    "pair",
                    "max |logit difference| "
                    + ("of the weights used" if ev.task == "infer" else "before training"),
                ],
                [[f"{a} vs {b}", fmt(d)] for (a, b), d in ev.probe_max_abs_diff.items()],
                caption="Probe logits of the first 8 test examples (same weights give about 1e-4)",
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


def _describe_table(study: Study, m: Metric, variant: str = "all") -> Table:
    t = study.rows("describe", variant)
    d = t[t["metric"] == m.column]
    scale, unit = (2**20, "MiB") if m.unit == "bytes" else (1, m.unit)
    return Table(
        [
            "framework",
            "n",
            "median",
            "95% CI of median",
            "mean",
            "sd",
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
                str(r.n),
                fmt(r.median / scale),
                f"[{fmt(r.median_ci_low / scale)}, {fmt(r.median_ci_high / scale)}]",
                fmt(r.mean / scale),
                fmt(r.sd / scale),
                fmt(r.min / scale),
                fmt(r.max / scale),
                fmt(r.iqr / scale),
                f"{r.cv:.1%}" if math.isfinite(r.cv) else "–",
                fmt_p(r.shapiro_p),
                str(r.outliers),
            ]
            for r in tuples(d)
        ],
        caption=f"{m.label} ({unit})" if unit else m.label,
    )


def _compare_table(study: Study, metrics: list[Metric], caption: str) -> Table:
    c = study.rows("compare")
    rows = []
    for m in metrics:
        for r in tuples(c[c["metric"] == m.column]):
            rows.append(
                [
                    m.label,
                    f"{r.framework_b} vs {r.framework}",
                    change_text(r),
                    r.test,
                    fmt_p(r.p_value),
                    fmt_p(r.p_holm),
                    r.verdict,
                    f"{r.cliffs_delta:+.2f}" if math.isfinite(r.cliffs_delta) else "–",
                ]
            )
    return Table(
        [
            "metric",
            "B vs A",
            "change B vs A",
            "test",
            "p",
            "Holm p",
            "verdict",
            "Cliff's delta (overlap)",
        ],
        rows,
        caption=caption,
    )


def _details(doc: Document, study: Study, figures: Mapping[str, Path]) -> None:
    doc.add(Heading("Details per metric"))
    doc.add(
        Para(
            "Primary: energy and time (one Holm family). Exploratory: power, EDP, net energy, "
            "per-domain and steady-state energy (their own family). Memory is descriptive. "
            "CI of the median: percentile bootstrap; SW p: Shapiro-Wilk, a description only."
        )
    )
    for m in study.metrics:
        if m.column.startswith("steady_"):
            continue
        role = {
            "primary": "primary",
            "secondary": "exploratory",
            "check": "check",
            "descriptive": "descriptive",
        }[m.role]
        doc.add(Heading(f"{label(m)}: {role}", 3))
        doc.add(_describe_table(study, m))
        if m.role != "check":
            doc.add(_compare_table(study, [m], ""))
        key = f"violin-{m.column}"
        if key in figures:
            doc.add(Figure(figures[key], f"{label(m)} per framework: violin, box and every run"))
        if m.column == "test_accuracy" and "accuracy" in figures:
            doc.add(Figure(figures["accuracy"], "Test accuracy per framework"))
    _outliers(doc, study)


def _outliers(doc: Document, study: Study) -> None:
    doc.add(Heading("Outliers", 3))
    o = study.outliers
    units = {m.column: m.unit for m in study.metrics}
    if o.empty:
        doc.add(Para("No value was flagged (Tukey's fences, 1.5 x IQR per framework and metric)."))
        return
    doc.add(
        Para(
            f"Flagged with Tukey's fences ({stats.TUKEY_K} x IQR beyond the quartiles, per "
            "framework and metric). They stay in the analysis; stats.csv repeats every "
            "comparison without them (variant without-outliers), and a warning says when that "
            "changes a primary verdict."
        )
    )
    doc.add(
        Table(
            ["run", "framework", "metric", "value"],
            [
                [r.run_id, r.framework, r.metric, quantity(float(r.value), units.get(r.metric, ""))]
                for r in tuples(o)
            ],
            caption="Flagged values",
        )
    )


def _runs(doc: Document, campaign: Campaign, study: Study) -> None:
    doc.add(Heading("Runs"))
    counts = study.status_counts
    doc.add(
        Table(
            ["framework", *counts.columns],
            [[str(f), *(str(int(v)) for v in counts.loc[f])] for f in counts.index],
            caption="Runs by status (only ok and imported runs enter the statistics)",
        )
    )
    bad = campaign.runs[~campaign.runs["status"].isin(MEASURED)]
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
    notes: list[str] = list(campaign.notes) + study.excluded
    if notes:
        doc.add(Bullets(notes))


def _environment(doc: Document, meta: Mapping[str, Any]) -> None:
    doc.add(Heading("Environment and protocol"))
    for key, title in (
        ("protocol", "Protocol"),
        ("workload", "Workload"),
        ("dataset", "Dataset"),
        ("provenance", "Provenance"),
        ("imported", "Imported from"),
    ):
        block = meta.get(key)
        if isinstance(block, Mapping) and block:
            doc.add(Table(["setting", "value"], _flatten(block), caption=title))
    top = [(k, json.dumps(meta[k])) for k in ("frameworks", "iterations", "seed") if k in meta]
    if top:
        doc.add(Table(["setting", "value"], top, caption="Campaign"))


def _other_figures(doc: Document, figures: Mapping[str, Path], notes: list[str]) -> None:
    blocks: list[Block] = []
    if "power-series" in figures:
        blocks.append(
            Figure(
                figures["power-series"],
                "Power of one typical run per framework (the run closest to its framework's "
                "median energy), phases shaded; compile is hatched inside epoch_1 (infer)",
            )
        )
    blocks += [Callout(n) for n in notes]
    if blocks:
        doc.add(Heading("Power over time"), *blocks)


def _method(doc: Document, study: Study) -> None:
    doc.add(Heading("Method"))
    test = "Wilcoxon signed-rank test" if study.paired else "Brunner-Munzel test"
    estimate = (
        "Hodges-Lehmann estimate of the per-iteration log-ratio with its Walsh-average interval"
        if study.paired
        else "Hodges-Lehmann shift of the log values with the interval that inverts the "
        "Brunner-Munzel test (robust to unequal spreads)"
    )
    doc.add(
        Bullets(
            [
                "Estimands, declared before the data: energy per run and time per run are "
                "primary; power, EDP, net energy, per-domain and steady-state energy are "
                "exploratory; accuracy is tested for equivalence; memory is descriptive.",
                f"Effect: the ratio B/A, {estimate}.",
                f"Test: the {test} for every comparison, declared in advance (no normality "
                "pretest), against ratio = 1; Holm's correction within the primary family "
                "(energy and time x pairs) and, separately, within the exploratory family "
                "(the Holm p column).",
                f"Relevance: --min-effect {study.min_effect:.0%}, because {MIN_EFFECT_REASON}; "
                f"the band is [1/{1 + study.min_effect:g}, {1 + study.min_effect:g}] "
                f"({(1 / (1 + study.min_effect) - 1) * 100:.2f}% to +{study.min_effect:.0%}), "
                "symmetric in log.",
                "Verdicts, read off each comparison's interval: higher/lower when the whole "
                "interval lies beyond the band; equivalent when it lies inside; inconclusive "
                "otherwise. Controlled: within a family of m comparisons every interval is at "
                "1 - 0.05/m (Bonferroni), so the probability that any verdict of the family "
                "(higher, lower or equivalent) is false is at most 5%, whatever the true "
                f"ratios ({family_text(study)}). Below the n at which that interval is bounded: "
                "too few to claim (the unadjusted 95% interval lies beyond the band) or not "
                "testable.",
                f"Accuracy: two one-sided tests (TOST) against ±{study.accuracy_margin * 100:g} "
                "percentage points (--accuracy-margin), with the 90% interval.",
                "Energy (gross) adds only the domains run.json marks summable (packages, DRAM, "
                "GPUs; psys and core/uncore nest inside them); runs summing other domains than "
                "the rest are named and left out of energy statistics.",
                "Cliff's delta and CLES describe the overlap of the two samples, not the size of "
                "a difference. Shapiro-Wilk is reported as a description only.",
                "Sources: docs/analysis.md.",
            ]
        )
    )
