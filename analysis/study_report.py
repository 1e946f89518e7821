"""A study folder -> every cell's report (analysis.analyze, unchanged) and one report across
cells: how each primary ratio (energy, time) moves along each factor, with intervals, as a
table (report/study.csv) and figures, and where the ranking of two frameworks flips.

Reads only files: study.json and, per cell, campaign.json and the cell report's summary.csv
(the tidy table, docs/analysis.md). The intervals come from analysis.precision through
`cell_ratios`, the one place that turns a cell into ratios. Never imports the orchestrator.
"""

from __future__ import annotations

import json
import math
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import matplotlib

matplotlib.use("Agg")  # no display on measurement hosts or in CI

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
from matplotlib.ticker import FuncFormatter
from rich.console import Console

from analysis.analyze import _staging, analyze
from analysis.document import (
    Bullets,
    Callout,
    Document,
    Figure,
    Heading,
    Para,
    Table,
    to_html,
    to_markdown,
)
from analysis.errors import AnalysisInputError
from analysis.inference import family_confidence, verdict
from analysis.load import read_json
from analysis.precision import RatioPrecision
from analysis.precision_text import METRIC_NAMES, campaign_ratios, rule_lines
from analysis.study import MIN_EFFECT

STUDY_SCHEMA = "fwenergy.study"
# report/study.csv, documented in docs/studies.md
COLUMNS = ["cell_id", "metric", "framework_a", "framework_b", "n_pairs", "ratio",
           "ratio_ci_low", "ratio_ci_high", "precision", "claim_ci_low", "claim_ci_high",
           "claim_confidence", "direction"]  # fmt: skip
STUDY_REPORT_FILES = frozenset({"study.csv", "report.md", "report.html", "figures"})


@dataclass(frozen=True)
class CellResult:
    cell_id: str
    factors: dict[str, str]  # factor -> its value as text
    meta: dict[str, Any]  # campaign.json
    ratios: list[RatioPrecision]  # 95%: the cell's own precision, as its report shows it
    report: Path
    # the same ratios with the study's simultaneous intervals (study_confidence), the ones
    # a direction and a flip are read from
    claims: list[RatioPrecision] = field(default_factory=list)


def study_confidence(results: Sequence[CellResult]) -> float:
    """Every ratio of every cell (cells x pairs x metrics) is one comparison of the study's
    family: each claim interval is at 1 - 0.05/m, so that no direction in the whole study
    is wrong with more than 5% chance."""
    return family_confidence(sum(len(c.ratios) for c in results))


def direction(r: RatioPrecision, min_effect: float = MIN_EFFECT) -> str:
    """Which framework is lower, where the (study-wide simultaneous) interval lies wholly
    beyond the relevance band; "equivalent" where it lies inside; "unclear" otherwise."""
    decided = verdict(r.ratio_ci_low, r.ratio_ci_high, min_effect)
    if decided == "lower":
        return f"{r.framework_b} lower"
    if decided == "higher":
        return f"{r.framework_a} lower"
    return "equivalent" if decided == "equivalent" else "unclear"


def _text(value: Any) -> str:
    return ",".join(map(str, value)) if isinstance(value, list) else str(value)


def cell_ratios(
    cell_dir: Path, meta: dict[str, Any], confidence: float = 0.95
) -> list[RatioPrecision]:
    """A cell's primary ratios, from its report's tidy table."""
    summary = pd.read_csv(cell_dir / "report" / "summary.csv")
    return campaign_ratios(meta, summary, confidence)


def cell_nodes(root: Path, meta_by_cell: dict[str, dict[str, Any]]) -> dict[str, list[str]]:
    """Cell -> the machines that measured it, in order: the nodes its Slurm jobs started on
    (slurm/jobs.jsonl), else the host its campaign.json was written on."""
    nodes: dict[str, list[str]] = {}
    jobs = root / "slurm" / "jobs.jsonl"
    if jobs.is_file():
        for raw in jobs.read_text(encoding="utf-8", errors="replace").splitlines():
            try:
                entry = json.loads(raw)
            except ValueError:
                continue  # a torn last line
            if isinstance(entry, dict) and entry.get("event") == "started" and entry.get("node"):
                seen = nodes.setdefault(str(entry.get("cell")), [])
                if str(entry["node"]) not in seen:
                    seen.append(str(entry["node"]))
    for cell_id, meta in meta_by_cell.items():
        if cell_id not in nodes:
            host = ((meta.get("provenance") or {}).get("host") or {}).get("hostname")
            nodes[cell_id] = [str(host)] if host else []
    return nodes


def _read_study(root: Path) -> dict[str, Any]:
    if not (root / "study.json").is_file():
        raise AnalysisInputError(f"{root}: no study.json; pass a folder of `orchestrator study`")
    doc = read_json(root / "study.json", STUDY_SCHEMA)
    cells = doc.get("cells")
    if not isinstance(cells, list) or not all(
        isinstance(c, dict)
        and isinstance(c.get("cell_id"), str)
        and isinstance(c.get("factors"), dict)
        for c in cells
    ):
        raise AnalysisInputError(f"{root / 'study.json'}: its cell list is damaged")
    for c in cells:
        if not c["cell_id"].startswith("cell-") or not c["cell_id"][5:].isdigit():
            raise AnalysisInputError(f"{root / 'study.json'}: {c['cell_id']!r} is not a cell id")
    return doc


def _check_cell(cell_dir: Path, meta: dict[str, Any], doc: dict[str, Any],
                cell: dict[str, Any]) -> None:  # fmt: skip
    """The campaign in the cell's folder is the study's own cell, not one copied in: it is
    reported under the factors study.json gives the cell."""
    study = meta.get("study")
    recorded: dict[str, Any] = study if isinstance(study, dict) else {}
    if (recorded.get("study_id"), recorded.get("cell_id"), recorded.get("factors")) != (
        doc.get("study_id"), cell["cell_id"], cell["factors"]
    ):  # fmt: skip
        raise AnalysisInputError(
            f"{cell_dir} holds a campaign of study {recorded.get('study_id')!r}, cell "
            f"{recorded.get('cell_id')!r}, not this study's {cell['cell_id']} with its factors: "
            "it would be reported under the wrong factors; restore the cell or remove it"
        )


def analyze_study(
    campaign_dir: Path,
    out_dir: Path | None = None,
    seed: int = 0,
    console: Console | None = None,
    figures: bool = True,
    **options: Any,
) -> Path:
    """Every cell's report (cells/<cell>/report/, analysis.analyze with these arguments and
    `options`: reference, min_effect, accuracy_margin), then the study report (default
    STUDY/report/); returns the study report's folder. `campaign_dir` is the study folder;
    `figures`: draw the cells' and the study's figures."""
    root = Path(campaign_dir)
    console = console or Console(stderr=True)
    doc = _read_study(root)
    results: list[CellResult] = []
    missing: list[str] = []
    for c in doc["cells"]:
        cell_dir = root / "cells" / c["cell_id"]
        if cell_dir.is_symlink() or (root / "cells").is_symlink():
            raise AnalysisInputError(f"{cell_dir} is a symbolic link, not the study's own cell")
        if not (cell_dir / "runs").is_dir() or not any((cell_dir / "runs").iterdir()):
            missing.append(c["cell_id"])
            continue
        meta = read_json(cell_dir / "campaign.json", "fwenergy.campaign")
        _check_cell(cell_dir, meta, doc, c)
        console.print(f"{c['cell_id']}:", highlight=False)
        report = analyze(cell_dir, seed=seed, console=console, figures=figures, **options)
        factors = {k: _text(v) for k, v in c["factors"].items()}
        results.append(CellResult(c["cell_id"], factors, meta, cell_ratios(cell_dir, meta), report))
    if not results:
        raise AnalysisInputError(f"{root}: no cell has runs yet; run the study first")
    confidence = study_confidence(results)
    results = [
        replace(c, claims=cell_ratios(root / "cells" / c.cell_id, c.meta, confidence))
        for c in results
    ]
    out = Path(out_dir) if out_dir is not None else root / "report"
    min_effect = options.get("min_effect")
    table = study_table(
        results, list(doc["factors"]), MIN_EFFECT if min_effect is None else min_effect
    )
    flips = ranking_flips(table, list(doc["factors"]))
    with _staging(out, STUDY_REPORT_FILES) as tmp:
        table.to_csv(tmp / "study.csv", index=False)
        drawn = _figures(table, list(doc["factors"]), tmp / "figures") if figures else {}
        document = _document(doc, results, table, flips, drawn, missing, root)
        (tmp / "report.md").write_text(to_markdown(document, tmp))
        (tmp / "report.html").write_text(to_html(document))
    for line in flips or ["no ranking flips between cells"]:
        console.print(f"  {line}", highlight=False, soft_wrap=True)
    return out


def study_table(
    results: Sequence[CellResult], factors: list[str], min_effect: float = MIN_EFFECT
) -> pd.DataFrame:
    rows = []
    for cell in results:
        claims = {(c.metric, c.framework_a, c.framework_b): c for c in cell.claims}
        for r in cell.ratios:
            c = claims.get((r.metric, r.framework_a, r.framework_b))
            rows.append({
                "cell_id": cell.cell_id, **{f: cell.factors.get(f, "") for f in factors},
                "metric": METRIC_NAMES.get(r.metric, r.metric), "framework_a": r.framework_a,
                "framework_b": r.framework_b, "n_pairs": r.n_pairs, "ratio": r.ratio,
                "ratio_ci_low": r.ratio_ci_low, "ratio_ci_high": r.ratio_ci_high,
                "precision": r.precision,
                "claim_ci_low": c.ratio_ci_low if c else math.nan,
                "claim_ci_high": c.ratio_ci_high if c else math.nan,
                "claim_confidence": c.confidence if c else math.nan,
                "direction": direction(c, min_effect) if c else "unclear",
            })  # fmt: skip
    columns = ["cell_id", *factors, *COLUMNS[1:]]
    return pd.DataFrame(rows, columns=columns)


def ranking_flips(table: pd.DataFrame, factors: list[str]) -> list[str]:
    """Per metric and pair: cells where A is decided lower and cells where B is (a supported
    flip: each a claim interval wholly beyond the band, simultaneous over every ratio of the
    study), named along the factor that differs; point estimates that cross 1 without two
    such decided cells are said too, as not supported."""
    out = []
    for (metric, a, b), sub in table.groupby(["metric", "framework_a", "framework_b"], sort=False):
        lower_a = sub[sub["direction"] == f"{a} lower"]
        lower_b = sub[sub["direction"] == f"{b} lower"]
        if not lower_a.empty and not lower_b.empty:
            out.append(
                f"{metric}: the ranking of {a} and {b} flips: {a} is lower in "
                f"{_cells(lower_a, factors)}, {b} is lower in {_cells(lower_b, factors)}"
            )
        elif (sub["ratio"] > 1).any() and (sub["ratio"] < 1).any():
            out.append(
                f"{metric}: the estimate of {b}/{a} crosses 1 between cells, but no two "
                "cells decide opposite directions beyond the band (study-wide simultaneous "
                "intervals): not a supported flip"
            )
    return out


def _cells(rows: pd.DataFrame, factors: list[str]) -> str:
    varying = [f for f in factors if f in rows.columns]
    return "; ".join(
        f"{r['cell_id']} ({', '.join(f'{f}={r[f]}' for f in varying)})"
        for r in rows.to_dict("records")
    )


def _levels(values: pd.Series) -> list[str]:
    """A factor's levels in order: numerically when every level is a number."""
    levels = list(dict.fromkeys(values.astype(str)))
    try:
        return sorted(levels, key=float)
    except ValueError:
        return levels


def _figures(table: pd.DataFrame, factors: list[str], out: Path) -> dict[str, Path]:
    """One figure per metric and factor with two or more levels: the ratio with its interval
    against the factor's levels, one line per pair and combination of the other factors."""
    figures: dict[str, Path] = {}
    for metric, by_metric in table.groupby("metric", sort=False):
        for factor in factors:
            if table[factor].nunique() < 2:
                continue
            levels = _levels(by_metric[factor])
            others = [f for f in factors if f != factor and table[f].nunique() > 1]
            fig, ax = plt.subplots(figsize=(7, 4))
            keys = ["framework_a", "framework_b", *others]
            for n, (key, group) in enumerate(by_metric.groupby(keys, sort=False)):
                a, b, *rest = key
                pos = [levels.index(str(v)) for v in group[factor]]
                line = group.assign(x=pos).sort_values("x")
                x = line["x"] + (n - 0.5) * 0.05  # dodge overlapping intervals
                # an unbounded interval (too few iterations) gets no bar rather than an infinite one
                low = line["ratio_ci_low"].where(line["ratio_ci_low"] > 0)
                high = line["ratio_ci_high"].where(np.isfinite(line["ratio_ci_high"]))
                err = [line["ratio"] - low, high - line["ratio"]]
                label = f"{b}/{a}" + "".join(
                    f", {f}={v}" for f, v in zip(others, rest, strict=True)
                )
                ax.errorbar(x, line["ratio"], yerr=err, marker="o", capsize=3, label=label)
            ax.axhline(1.0, color="grey", linewidth=0.8, linestyle="--")
            ax.set_xticks(range(len(levels)), levels)
            ax.set_xlabel(factor)
            ax.set_ylabel(f"{metric} ratio (95% CI)")
            ax.set_yscale("log")
            plain = FuncFormatter(lambda v, _: f"{v:g}")  # 1.2, not 1.2 x 10^0
            ax.yaxis.set_major_formatter(plain)
            ax.yaxis.set_minor_formatter(plain)
            ax.legend(fontsize="small")
            ax.set_title(f"{metric} ratio against {factor}")
            out.mkdir(parents=True, exist_ok=True)
            png = out / f"ratio-{metric}-{factor}.png"
            fig.savefig(png, dpi=110, bbox_inches="tight", metadata={"Software": None})
            plt.close(fig)
            figures[f"{metric}-{factor}"] = png
    return figures


def _workload(cell: dict[str, Any]) -> str:
    """What a cell's workload does, from study.json's cell (`model`, `task`; a study written
    before them trained the reference CNN)."""
    task = "inference" if cell.get("task") == "infer" else "training"
    return f"{task} of {cell.get('model') or 'mnist-cnn'}"


def _fmt(x: float) -> str:
    return "–" if not math.isfinite(x) else f"{x:.4g}"


def _document(doc: dict[str, Any], results: Sequence[CellResult], table: pd.DataFrame,
              flips: list[str], figures: dict[str, Path], missing: list[str],
              root: Path) -> Document:  # fmt: skip
    factors = list(doc["factors"])
    d = Document(f"Study {doc.get('name')}: {doc.get('study_id')}")
    work = sorted({_workload(c) for c in doc["cells"]})
    d.add(Para(
        f"{len(doc['cells'])} cells, each one campaign (ratios paired by iteration within a "
        f"cell); factors: {', '.join(factors)}. A ratio is B/A: below 1, B uses less. "
        + (f"Every cell: {work[0]}." if len(work) == 1 else f"Workloads: {'; '.join(work)}.")
    ))  # fmt: skip
    if missing:
        d.add(Callout(f"Cells without runs yet (not in this report): {', '.join(missing)}", True))
    nodes = cell_nodes(root, {c.cell_id: c.meta for c in results})
    machines = sorted({n for ns in nodes.values() for n in ns})
    mixed = {c: ns for c, ns in nodes.items() if len(ns) > 1}
    if len(machines) > 1:
        d.add(Para(
            f"Cells were measured on {len(machines)} machines ({', '.join(machines)}). Every "
            "comparison stays within its cell, paired by iteration on one machine; no ratio "
            "pools runs of different machines, and ratios of cells on different machines "
            "differ by the machines too."
        ))  # fmt: skip
    for cell_id, ns in mixed.items():
        d.add(Callout(
            f"{cell_id} was measured on {len(ns)} machines ({', '.join(ns)}): it was resumed "
            "on another node, so its comparisons mix machines; rerun it on one node (or pin "
            "the node with --sbatch-arg=--nodelist=NODE) before trusting its ratios.", True
        ))  # fmt: skip
    d.add(Heading("Where the ranking flips"))
    d.add(Bullets(flips) if flips else Para("No ranking flips between cells."))
    d.add(Heading("Ratios across cells"))
    header = ["cell", *factors, "metric", "B/A", "ratio", "95% CI", "+-", "n", "lower"]
    rows = [
        [r["cell_id"], *(str(r[f]) for f in factors), r["metric"],
         f"{r['framework_b']}/{r['framework_a']}", _fmt(r["ratio"]),
         f"{_fmt(r['ratio_ci_low'])} to {_fmt(r['ratio_ci_high'])}",
         f"{r['precision']:.1%}" if math.isfinite(r["precision"]) else "–", str(r["n_pairs"]),
         r["direction"]]
        for r in table.to_dict("records")
    ]  # fmt: skip
    d.add(Table(header, rows, "every primary ratio of every cell (report/study.csv)"))
    if figures:
        d.add(Heading("Figures"))
        for key, png in figures.items():
            metric, factor = key.split("-", 1)
            d.add(Figure(png, f"{metric} ratio (95% interval; none where too few iterations "
                              f"bound it) against {factor}"))  # fmt: skip
    d.add(Heading("Cells"))
    for cell in results:
        link = Path("..") / cell.report.relative_to(root) / "report.md"
        factors_text = ", ".join(f"{k}={v}" for k, v in cell.factors.items())
        where = ", ".join(nodes.get(cell.cell_id) or ["unknown machine"])
        does = _workload(next(c for c in doc["cells"] if c["cell_id"] == cell.cell_id))
        d.add(Para(f"{cell.cell_id} ({factors_text}; {does}), measured on {where}: report "
                   f"{link.as_posix()}"))  # fmt: skip
        d.add(Bullets(rule_lines(cell.meta)))
    return d
