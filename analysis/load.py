"""Campaign folder -> one tidy table, one row per run (docs/formats.md in, docs/analysis.md
out). Reading files happens here; `tidy_row` is the pure part."""

from __future__ import annotations

import json
import math
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd

from analysis.errors import AnalysisInputError

# Only these domains may be added together: psys contains the packages and a package
# contains its core and uncore, so adding those would count the same joules twice.
SUMMABLE = re.compile(r"^(cpu-package|dram|gpu)-\d+$")

BASE_COLUMNS = [
    "run_id",
    "framework",
    "iteration",
    "position",
    "status",
    "exit_code",
    "error",
    "started_at",
    "ended_at",
    "duration_s",
    "meters",
    "energy_domains",
    "energy_estimated",
    "energy_gross_j",
    "energy_net_j",
    "mean_power_w",
    "edp_j_s",
    "test_accuracy",
    "test_loss",
    "peak_rss_bytes",
    "parameter_count",
]

# counts and ids read as floats (NaN marks a missing value); written back as integers
INTEGER_COLUMNS = ("iteration", "position", "exit_code", "peak_rss_bytes", "parameter_count")


@dataclass(frozen=True)
class Campaign:
    path: Path
    meta: dict[str, Any]  # campaign.json
    runs: pd.DataFrame  # the tidy table, one row per run, sorted by iteration and position
    run_dirs: dict[str, Path]
    run_records: dict[str, dict[str, Any]]  # run.json by run_id
    results: dict[str, dict[str, Any]]  # result.json by run_id, where present
    notes: tuple[str, ...]  # what the folder lacks, told in the report

    @property
    def imported(self) -> bool:
        return "imported" in self.meta

    @property
    def domains(self) -> list[str]:
        return sorted(c[: -len("_gross_j")] for c in self.runs.columns if _is_domain_col(c))


def _is_domain_col(col: str) -> bool:
    return col.endswith("_gross_j") and col != "energy_gross_j"


def read_json(path: Path, schema: str) -> dict[str, Any]:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except json.JSONDecodeError as exc:
        raise AnalysisInputError(
            f"{path}: not valid JSON (line {exc.lineno}: {exc.msg}); repair or remove the file"
        ) from exc
    except (UnicodeDecodeError, OSError) as exc:
        raise AnalysisInputError(f"{path}: unreadable ({exc}); repair or remove the file") from exc
    if not isinstance(data, dict):
        raise AnalysisInputError(f"{path}: expected a JSON object; repair or remove the file")
    if data.get("schema") != schema or data.get("schema_version") != 1:
        raise AnalysisInputError(
            f"{path}: schema {data.get('schema')!r} version {data.get('schema_version')!r} is "
            f"not {schema} version 1; use the fwenergy version that wrote it"
        )
    return data


def _num(value: Any) -> float:
    if value is None or isinstance(value, bool):
        return math.nan
    try:
        return float(value)
    except (TypeError, ValueError):
        return math.nan


def _summable_total(by_domain: dict[str, Any], domains: list[str]) -> float:
    """Sum over `domains`; NaN unless every one of them has a number (never a partial sum)."""
    values = [_num(by_domain.get(d)) for d in domains]
    if not values or any(math.isnan(v) for v in values):
        return math.nan
    return float(sum(values))


def tidy_row(run: dict[str, Any], result: dict[str, Any] | None) -> dict[str, Any]:
    """One run.json (and its result.json, when the run wrote one) -> one row of the table."""
    energy: dict[str, dict[str, Any]] = run.get("energy") or {}
    summable = sorted(d for d in energy if SUMMABLE.match(d))
    duration_s = _num(run.get("duration_s"))
    gross = _summable_total({d: e.get("gross_j") for d, e in energy.items()}, summable)
    net = _summable_total({d: e.get("net_j") for d, e in energy.items()}, summable)
    row: dict[str, Any] = {
        "run_id": run["run_id"],
        "framework": run["framework"],
        "iteration": _num(run.get("iteration")),
        "position": _num(run.get("position")),
        "status": run["status"],
        "exit_code": _num(run.get("exit_code")),
        "error": run.get("error"),
        "started_at": _num(run.get("started_at")),
        "ended_at": _num(run.get("ended_at")),
        "duration_s": duration_s,
        "meters": "+".join(m.get("name", "?") for m in run.get("meters") or []),
        "energy_domains": "+".join(summable),
        "energy_estimated": any(bool(energy[d].get("estimated")) for d in summable)
        if summable
        else None,
        "energy_gross_j": gross,
        "energy_net_j": net,
        "mean_power_w": gross / duration_s if duration_s > 0 else math.nan,
        "edp_j_s": gross * duration_s,
        "test_accuracy": math.nan,
        "test_loss": math.nan,
        "peak_rss_bytes": math.nan,
        "parameter_count": math.nan,
    }
    if result is not None:
        for key in ("test_accuracy", "test_loss", "peak_rss_bytes", "parameter_count"):
            row[key] = _num(result.get(key))
    for domain, e in sorted(energy.items()):
        row[f"{domain}_gross_j"] = _num(e.get("gross_j"))
        row[f"{domain}_net_j"] = _num(e.get("net_j"))
        row[f"{domain}_mean_power_w"] = _num(e.get("mean_power_w"))
        row[f"{domain}_method"] = e.get("method")
    for phase in run.get("phases") or []:
        name = phase.get("name")
        if not name:
            continue
        row[f"phase_{name}_duration_s"] = _num(phase.get("duration_s"))
        row[f"phase_{name}_energy_j"] = _summable_total(phase.get("energy_j") or {}, summable)
    return row


def _phase_order(col: str) -> tuple[int, int, str]:
    name = col[len("phase_") :].rsplit("_", 2)[0]
    fixed = {"startup": 0, "compile": 1, "eval": 3}
    if name.startswith("epoch_") and name[6:].isdigit():
        return (2, int(name[6:]), col)
    return (fixed.get(name, 4), 0, col)


def phase_names(runs: pd.DataFrame) -> list[str]:
    """Phase names in the order they happen (startup, compile, epoch_1.., eval)."""
    cols = sorted(
        (c for c in runs.columns if c.endswith("_duration_s") and c.startswith("phase_")),
        key=_phase_order,
    )
    return [c[len("phase_") : -len("_duration_s")] for c in cols]


def _read_state(path: Path, notes: list[str]) -> list[dict[str, Any]]:
    if not path.exists():
        return []
    lines = path.read_text(errors="replace").split("\n")
    # A crash mid-write leaves a last line without its newline: that run never finished
    # recording, so it is skipped (with a note); any other bad line is damage.
    if lines[-1].strip():
        notes.append("state.jsonl ends in an unterminated line (a crash mid-write); skipped")
    rows = []
    for lineno, line in enumerate(lines[:-1], 1):
        if not line.strip():
            continue
        try:
            rows.append(json.loads(line))
        except json.JSONDecodeError as exc:
            raise AnalysisInputError(
                f"{path}:{lineno}: not valid JSON ({exc.msg}); repair or remove the line"
            ) from exc
    return rows


def _check_run(run: dict[str, Any], path: Path) -> None:
    """The fields the table is built from, present and of their type (docs/formats.md)."""
    for key in ("run_id", "framework", "status"):
        if not run.get(key) or not isinstance(run[key], str):
            raise AnalysisInputError(f"{path}: {key!r} missing or not text; repair or remove it")
    shapes = {"energy": (dict, dict), "phases": (list, dict), "meters": (list, dict)}
    for key, (outer, inner) in shapes.items():
        value = run.get(key)
        items = value.values() if isinstance(value, dict) else value
        if value is not None and not (
            isinstance(value, outer) and all(isinstance(v, inner) for v in items or ())
        ):
            raise AnalysisInputError(
                f"{path}: {key!r} is not a {outer.__name__} of objects; repair or remove the run"
            )


def load_campaign(folder: Path) -> Campaign:
    folder = Path(folder)
    meta_path = folder / "campaign.json"
    if not meta_path.is_file():
        raise AnalysisInputError(
            f"{folder}: no campaign.json; pass a campaign folder written by "
            "`orchestrator campaign` (results/<campaign-id>/)"
        )
    meta = read_json(meta_path, "fwenergy.campaign")
    notes: list[str] = []
    rows: list[dict[str, Any]] = []
    run_dirs: dict[str, Path] = {}
    records: dict[str, dict[str, Any]] = {}
    results: dict[str, dict[str, Any]] = {}
    runs_dir = folder / "runs"
    for run_dir in sorted(p for p in runs_dir.glob("*") if p.is_dir()):
        run_path = run_dir / "run.json"
        if not run_path.is_file():
            notes.append(f"runs/{run_dir.name} has no run.json (interrupted run); not counted")
            continue
        run = read_json(run_path, "fwenergy.run")
        _check_run(run, run_path)
        result = None
        result_path = run_dir / "result.json"
        if result_path.is_file():
            result = read_json(result_path, "fwenergy.result")
            results[run["run_id"]] = result
        rows.append(tidy_row(run, result))
        run_dirs[run["run_id"]] = run_dir
        records[run["run_id"]] = run
    # a run that state.jsonl records but whose folder is gone still counts as a non-ok run
    for state in _read_state(folder / "state.jsonl", notes):
        run_id = state.get("run_id")
        if run_id and run_id not in records and state.get("framework"):
            rows.append(
                {
                    "run_id": run_id,
                    "framework": state["framework"],
                    "iteration": _num(state.get("iteration")),
                    "position": _num(state.get("position")),
                    "status": state.get("status", "unknown"),
                }
            )
            notes.append(f"{run_id} is in state.jsonl but has no run folder")
    if not rows:
        raise AnalysisInputError(
            f"{folder}: no runs under runs/; run (or resume) the campaign before analysing it"
        )
    table = pd.DataFrame(rows)
    for col in BASE_COLUMNS:
        if col not in table.columns:
            table[col] = math.nan
    other = [c for c in table.columns if c not in BASE_COLUMNS]
    domain_cols = sorted(c for c in other if not c.startswith("phase_"))
    phase_cols = sorted((c for c in other if c.startswith("phase_")), key=_phase_order)
    table = table[BASE_COLUMNS + domain_cols + phase_cols]
    for col in INTEGER_COLUMNS:
        table[col] = table[col].astype("Float64").round().astype("Int64")
    table = table.sort_values(["iteration", "position", "run_id"], na_position="last")
    return Campaign(
        path=folder,
        meta=meta,
        runs=table.reset_index(drop=True),
        run_dirs=run_dirs,
        run_records=records,
        results=results,
        notes=tuple(notes),
    )


def read_power(run_dir: Path, started_at: float) -> pd.DataFrame | None:
    """The run's derived power series (power-<meter>.csv), time in seconds since the run
    started; None when the run has none (meter none, imported study)."""
    paths = sorted(run_dir.glob("power-*.csv"))
    if not paths:
        return None
    try:
        frame = pd.read_csv(paths[0])
    except (pd.errors.ParserError, pd.errors.EmptyDataError, UnicodeDecodeError) as exc:
        raise AnalysisInputError(
            f"{paths[0]}: unreadable CSV ({exc}); repair or remove it"
        ) from exc
    if "time_s" not in frame.columns or frame.empty:
        return None
    frame = frame[["time_s", *(c for c in frame.columns if c.endswith("_power_w"))]].copy()
    # the contract says wall-clock Unix seconds; a series that starts near 0 is already relative
    if frame["time_s"].iloc[0] > 1e8 and math.isfinite(started_at):
        frame["time_s"] = frame["time_s"] - started_at
    return frame


def tuples(frame: pd.DataFrame) -> list[Any]:
    """Rows as namedtuples, typed as Any: pandas-stubs cannot know the column attributes."""
    return list(frame.itertuples())
