"""The one entry point: campaign folder -> report folder (summary.csv, stats.csv, report.md,
report.html, figures/). Files are written into a temporary sibling folder and moved into
place at the end, so an interrupted analysis never leaves a half report behind."""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pandas as pd
from rich.console import Console
from rich.markup import escape
from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn

from analysis import evidence, inference, plots
from analysis.baseline import gpu_idle_warnings
from analysis.document import Bullets, Heading, to_html, to_markdown
from analysis.errors import AnalysisInputError
from analysis.load import MEASURED, Campaign, load_campaign, phase_names, read_power, tuples
from analysis.precision_text import precision_lines
from analysis.report import build_document, label, verdict_lines
from analysis.study import (
    ACCURACY_MARGIN,
    MIN_EFFECT,
    PRIMARY,
    Study,
    build_study,
    comparable_domains,
    phase_medians,
)

# one violin per framework for these; the rest are in the tables
VIOLIN_METRICS = (
    "energy_gross_j",
    "duration_s",
    "mean_power_w",
    "edp_j_s",
    "energy_net_j",
    "peak_rss_bytes",
)

REPORT_FILES = frozenset({"summary.csv", "stats.csv", "report.md", "report.html", "figures"})


def _typical_traces(campaign: Campaign, study: Study) -> dict[str, plots.PowerTrace]:
    """Per framework, the ok run closest to the framework's median energy (time when no
    energy was measured) among the runs that have a power series."""
    ok = study.ok
    key = "energy_gross_j" if ok["energy_gross_j"].notna().any() else "duration_s"
    traces = {}
    for fw in study.frameworks:
        sub = ok[(ok["framework"] == fw) & ok[key].notna()]
        if sub.empty:
            continue
        distance = (sub[key] - sub[key].median()).abs().sort_values()
        for idx in distance.index:
            run_id = str(sub.at[idx, "run_id"])
            if run_id not in campaign.run_dirs:
                continue
            started = float(sub["started_at"].loc[idx])
            power = read_power(campaign.run_dirs[run_id], started)
            if power is None:
                continue
            phases = [
                (str(p["name"]), float(p["start"]) - started, float(p["end"]) - started)
                for p in campaign.run_records[run_id].get("phases") or []
                if p.get("start") is not None and p.get("end") is not None
            ]
            traces[fw] = plots.PowerTrace(run_id, power, phases)
            break
    return traces


def idle_series(campaign: Campaign, domain_set: str) -> pd.DataFrame:
    """time_s (middle of the settled half) and power_w (summed over the compared domains) of
    every idle gap that measured all of them."""
    domains = [d for d in domain_set.split("+") if d]
    rows = []
    for g in campaign.gaps:
        by_domain = {d: lv.mean_w for (_, d), lv in g.levels.items()}
        if domains and all(d in by_domain for d in domains):
            rows.append(
                {"time_s": (g.start + 3 * g.end) / 4, "power_w": sum(by_domain[d] for d in domains)}
            )
    return pd.DataFrame(rows, columns=["time_s", "power_w"])


def _forest_rows(study: Study) -> list[plots.ForestRow]:
    rows = []
    for m in PRIMARY:
        for a, b in study.pairs:
            r = study.comparison(m.column, a, b)
            if r is not None:
                rows.append(
                    plots.ForestRow(
                        f"{m.label}: {b} / {a}", r.ratio, r.ratio_ci_low, r.ratio_ci_high, r.verdict
                    )
                )
    return rows


def _figures(
    campaign: Campaign, study: Study, idle: pd.DataFrame, fig_dir: Path, progress: Progress
) -> tuple[dict[str, Path], list[str]]:
    ok, fws = study.ok, study.frameworks
    figures: dict[str, Path] = {}
    notes: list[str] = []
    shown = [m for m in study.metrics if m.column in VIOLIN_METRICS]
    task = progress.add_task("figures", total=len(shown) + 7)
    forest = _forest_rows(study)
    if forest:
        figures["forest"] = plots.forest(forest, inference.band(study.min_effect), fig_dir)
    progress.advance(task)
    for m in shown:
        memory = m.column == "peak_rss_bytes"
        figures[f"violin-{m.column}"] = plots.violin_box(
            ok,
            m.column,
            "Peak memory (MiB)" if memory else label(m),
            fws,
            fig_dir,
            log=not memory,
            scale=2**20 if memory else 1.0,
        )
        progress.advance(task)
    if study.paired:
        for m in PRIMARY:
            if m.column in ok and ok[m.column].notna().any():
                figures[f"drift-{m.column}"] = plots.drift(ok, m.column, label(m), fws, fig_dir)
    progress.advance(task)
    if len(idle) >= 2:
        figures["idle-power"] = plots.idle_power(idle, fig_dir)
    progress.advance(task)
    traces = _typical_traces(campaign, study)
    if traces:
        figures["power-series"] = plots.power_series(traces, fws, fig_dir)
    else:
        notes.append(
            "No power time series in this campaign (meter none, or an imported study): "
            "the power-over-time figure is left out."
        )
    progress.advance(task)
    phases = phase_names(ok)
    for unit, stem, axis in (
        ("energy_j", "phase-energy", "energy (J)"),
        ("duration_s", "phase-time", "time (s)"),
    ):
        med = phase_medians(ok, fws, phases, unit)
        if not med.empty:
            figures[stem] = plots.phase_stack(med, axis, fig_dir, stem)
        elif unit == "energy_j":
            notes.append(
                "No per-phase energy (no phases or no energy): the phase-energy figure is left out."
            )
        progress.advance(task)
    if ok["position"].notna().any():
        for col, axis in (("energy_gross_j", "Energy (J)"), ("duration_s", "Time (s)")):
            if ok[col].notna().any():
                figures[f"order-{col}"] = plots.order_effects(ok, col, axis, fws, fig_dir)
    else:
        notes.append("Runs have no position in an iteration: the order-effect figure is left out.")
    progress.advance(task)
    if ok["test_accuracy"].notna().any():
        figures["accuracy"] = plots.accuracy(ok, fws, fig_dir)
    progress.advance(task)
    return figures, notes


@contextmanager
def _staging(out: Path, allowed: frozenset[str] = REPORT_FILES) -> Iterator[Path]:
    if out.exists() and not out.is_dir():
        raise AnalysisInputError(f"{out} is a file; pass --out a folder")
    if out.is_dir() and any(out.iterdir()) and not {p.name for p in out.iterdir()} <= allowed:
        raise AnalysisInputError(
            f"{out} holds files that are not a report; pass --out an empty or new folder"
        )
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.parent / f".{out.name}.partial-{os.getpid()}"
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir()
    try:
        yield tmp
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    old = out.parent / f".{out.name}.old-{os.getpid()}"
    if out.exists():
        out.rename(old)
    tmp.rename(out)
    shutil.rmtree(old, ignore_errors=True)


NO_FIGURES = (
    "Figures not drawn (--no-figures): `orchestrator analyze` without it draws them; the "
    "numbers and the text are the same."
)


def analyze(
    campaign_dir: Path,
    out_dir: Path | None = None,
    seed: int = 0,
    console: Console | None = None,
    *,
    reference: str | None = None,
    min_effect: float = MIN_EFFECT,
    accuracy_margin: float = ACCURACY_MARGIN,
    figures: bool = True,
) -> Path:
    """Analyse one campaign folder; returns the report folder (default DIR/report).
    `reference`: the framework the others are compared against (default the first
    declared); `min_effect`: the smallest relevant change as a fraction (0.05 = 5%);
    `accuracy_margin`: the equivalence margin of test accuracy as a fraction (0.005 = 0.5
    percentage points); `figures`: draw the figures (four fifths of the time), or leave
    them out and say so (the numbers and the text are the same)."""
    campaign_dir = Path(campaign_dir)
    out = Path(out_dir) if out_dir is not None else campaign_dir / "report"
    console = console or Console(stderr=True)
    if not (0 < min_effect < 1):
        raise AnalysisInputError(
            f"--min-effect must be a percentage between 0 and 100, got {min_effect * 100:g}"
        )
    if not (0 < accuracy_margin < 1):
        raise AnalysisInputError(
            f"--accuracy-margin must be in percentage points between 0 and 100, got "
            f"{accuracy_margin * 100:g}"
        )
    with Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        TimeElapsedColumn(),
        console=console,
        disable=not console.is_terminal,
        transient=True,
    ) as progress:
        step = progress.add_task("loading runs", total=None)
        campaign = load_campaign(campaign_dir)
        known = sorted(set(campaign.runs["framework"]))
        if reference is not None and reference not in known:
            raise AnalysisInputError(
                f"--reference {reference!r} is not a framework of this campaign; pass one of "
                + ", ".join(known)
            )
        progress.update(step, description="statistics")
        ok = campaign.runs[campaign.runs["status"].isin(MEASURED)]
        domain_set, _ = comparable_domains(ok)
        idle = idle_series(campaign, domain_set)
        study = build_study(
            campaign.runs,
            list(campaign.meta.get("frameworks") or []),
            campaign.domains,
            reference=reference,
            paired=is_paired(campaign),
            min_effect=min_effect,
            accuracy_margin=accuracy_margin,
            idle=idle,
            seed=seed,
        )
        study.warnings.extend(gpu_idle_warnings(campaign.gaps))
        results = {
            fw: [
                campaign.results[r]
                for r in study.ok[study.ok["framework"] == fw]["run_id"]
                if r in campaign.results
            ]
            for fw in study.frameworks
        }
        ev = evidence.gather(results)
        study.warnings.extend(evidence.config_warnings(ev))
        progress.update(step, visible=False)
        with _staging(out) as tmp:
            drawn, notes = (
                _figures(campaign, study, idle, tmp / "figures", progress)
                if figures
                else ({}, [NO_FIGURES])
            )
            summary = campaign.runs.copy()
            summary["outlier_metrics"] = _outlier_labels(summary, study)
            summary.to_csv(tmp / "summary.csv", index=False)
            study.table.to_csv(tmp / "stats.csv", index=False)
            doc = build_document(campaign, study, ev, drawn, notes)
            doc.add(Heading("Repetitions and precision"),
                    Bullets(precision_lines(campaign.meta, campaign.runs)))  # fmt: skip
            (tmp / "report.md").write_text(to_markdown(doc, tmp))
            (tmp / "report.html").write_text(to_html(doc))
    _summarise(console, study, ev)
    return out


def is_paired(campaign: Campaign) -> bool:
    """A campaign runs every framework once per iteration in a shuffled order: compare per
    iteration. An imported study has no such blocks (its run numbers are not iterations)."""
    runs = campaign.runs
    return not campaign.imported and bool(runs["position"].notna().any())


def _summarise(console: Console, study: Study, ev: evidence.Evidence) -> None:
    """The human summary on stderr, hyperfine-style: the answer, then what to distrust."""
    for line in verdict_lines(study, ev):
        console.print(f"  {line}", highlight=False, soft_wrap=True, markup=False)
    for w in study.warnings:
        console.print(
            f"[yellow]warning:[/] {escape(w)}", highlight=False, soft_wrap=True, markup=True
        )


def _outlier_labels(runs: pd.DataFrame, study: Study) -> list[str]:
    by_run: dict[str, list[str]] = {}
    for r in tuples(study.outliers):
        by_run.setdefault(str(r.run_id), []).append(str(r.metric))
    return ["+".join(by_run.get(str(r), [])) for r in runs["run_id"]]
