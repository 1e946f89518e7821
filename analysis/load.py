"""Campaign folder -> one tidy table, one row per run (docs/formats.md in, docs/analysis.md
out). Reading files happens here; `tidy_row` is the pure part."""

from __future__ import annotations

import json
import math
import re
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd

from analysis import baseline as bl
from analysis.errors import AnalysisInputError
from analysis.jsonio import read_json

# For folders written before run.json carried a `summable` flag per domain: only these may
# be added together (psys contains the packages and a package its core and uncore, so
# adding those would count the same joules twice).
# The runs that enter the statistics: a campaign's run that ended well and was completely
# measured (`ok`), and an imported study's run (`imported`: its CSV cannot say whether the
# run succeeded; the study kept it). Every other status is counted and named, never analysed.
MEASURED = ("ok", "imported")
SUMMABLE = re.compile(r"^(cpu-package|dram|gpu)-\d+$")

# An inference run's throughput and per-batch latency (result.json's `inference`): column ->
# key path in it. NaN for training runs.
INFERENCE = {
    "examples_per_s": ("examples_per_s",),
    "latency_mean_ms": ("latency_ms", "mean"),
    "latency_p50_ms": ("latency_ms", "p50"),
    "latency_p90_ms": ("latency_ms", "p90"),
    "latency_p99_ms": ("latency_ms", "p99"),
    "latency_max_ms": ("latency_ms", "max"),
    "first_batch_s": ("first_batch_s",),
}
INFERENCE_COLUMNS = tuple(INFERENCE)
# What a run without `task` or `model` did: results and runs written before they existed
# were all the reference CNN's training (docs/formats.md).
DEFAULT_TASK = "train"
DEFAULT_MODEL = "mnist-cnn"

BASE_COLUMNS = [
    "run_id",
    "framework",
    "implementation",
    "framework_version",
    "model",
    "task",
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
    "baseline_power_w",
    "baseline_sd_w",
    "baseline_before_w",
    "baseline_after_w",
    "baseline_gaps",
    "net_negative",
    "mean_power_w",
    "edp_j_s",
    "steady_epoch_energy_j",
    "steady_epoch_duration_s",
    "steady_epoch_cpu_s",
    "steady_step_energy_j",
    "steady_step_duration_s",
    *INFERENCE_COLUMNS,
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
    gaps: tuple[bl.Gap, ...] = ()  # the idle gaps (idle/), in time order

    @property
    def imported(self) -> bool:
        return "imported" in self.meta

    @property
    def domains(self) -> list[str]:
        return sorted(c[: -len("_gross_j")] for c in self.runs.columns if _is_domain_col(c))


def _is_domain_col(col: str) -> bool:
    return col.endswith("_gross_j") and col != "energy_gross_j"


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


def summed_domains(energy: dict[str, dict[str, Any]]) -> list[str]:
    """The domains a total adds: run.json's `summable` flag where the folder has it, the
    naming rule above for folders written before it existed."""
    if any("summable" in e for e in energy.values()):
        return sorted(d for d, e in energy.items() if e.get("summable") is True)
    return sorted(d for d in energy if SUMMABLE.match(d))


def _steady(row: dict[str, Any], result: dict[str, Any] | None) -> None:
    """Energy and time per epoch and per training step in steady state: the mean over
    epochs 2.. (epoch 1 holds compilation and warm caches); with one epoch, epoch 1 without
    its compile phase. This is what carries over to longer trainings."""
    epochs = sorted(
        int(k[len("phase_epoch_") : -len("_duration_s")])
        for k in row
        if k.startswith("phase_epoch_") and k.endswith("_duration_s")
    )
    later = [k for k in epochs if k >= 2]
    for unit in ("energy_j", "duration_s"):
        if later:
            values = [row[f"phase_epoch_{k}_{unit}"] for k in later]
            value = float(sum(values) / len(values))
        elif epochs:
            value = row[f"phase_epoch_1_{unit}"] - row.get(f"phase_compile_{unit}", math.nan)
        else:
            value = math.nan
        row[f"steady_epoch_{unit}"] = value
    # CPU time of the process's threads (result.json's epochs[].cpu_s, where the workload
    # records it): an epoch that took longer for the same CPU time was waiting for a CPU.
    cpu = [
        _num(e.get("cpu_s")) for e in (result or {}).get("epochs") or [] if e.get("epoch", 0) >= 2
    ]
    row["steady_epoch_cpu_s"] = float(sum(cpu) / len(cpu)) if cpu else math.nan
    config = (result or {}).get("config") or {}
    count = _num(((result or {}).get("dataset") or {}).get("train_count"))
    batch = _num(config.get("batch_size"))
    steps = math.ceil(count / batch) if count > 0 and batch > 0 else math.nan
    for unit in ("energy_j", "duration_s"):
        row[f"steady_step_{unit}"] = row[f"steady_epoch_{unit}"] / steps


def tidy_row(run: dict[str, Any], result: dict[str, Any] | None) -> dict[str, Any]:
    """One run.json (and its result.json, when the run wrote one) -> one row of the table.
    Net energy and the baseline are filled in by `apply_baseline` (they need idle/)."""
    energy: dict[str, dict[str, Any]] = run.get("energy") or {}
    summable = summed_domains(energy)
    duration_s = _num(run.get("duration_s"))
    gross = _summable_total({d: e.get("gross_j") for d, e in energy.items()}, summable)
    row: dict[str, Any] = {
        "run_id": run["run_id"],
        "framework": run["framework"],  # the variant's name, e.g. torch:compile
        "implementation": None,
        "framework_version": None,
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
        "energy_net_j": math.nan,
        "baseline_power_w": math.nan,
        "baseline_sd_w": math.nan,
        "baseline_before_w": math.nan,
        "baseline_after_w": math.nan,
        "baseline_gaps": "",
        "net_negative": None,
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
        for key in ("implementation", "framework_version"):
            row[key] = result.get(key)
    row["task"] = task_of(run, result)
    row["model"] = (result or {}).get("model") or run.get("model") or DEFAULT_MODEL
    inference = (result or {}).get("inference")
    for col, path in INFERENCE.items():
        value: Any = inference if isinstance(inference, dict) else None
        for key in path:
            value = value.get(key) if isinstance(value, dict) else None
        row[col] = _num(value)
    for domain, e in sorted(energy.items()):
        row[f"{domain}_gross_j"] = _num(e.get("gross_j"))
        row[f"{domain}_net_j"] = math.nan
        row[f"{domain}_mean_power_w"] = _num(e.get("mean_power_w"))
        row[f"{domain}_method"] = e.get("method")
    for phase in run.get("phases") or []:
        name = phase.get("name")
        if not name:
            continue
        row[f"phase_{name}_duration_s"] = _num(phase.get("duration_s"))
        row[f"phase_{name}_energy_j"] = _summable_total(phase.get("energy_j") or {}, summable)
    _steady(row, result)
    return row


def task_of(run: Mapping[str, Any], result: Mapping[str, Any] | None) -> str:
    """`train` or `infer`: result.json's `task`, else run.json's, else train (compatible)."""
    task = (result or {}).get("task") or run.get("task") or DEFAULT_TASK
    return str(task)


def apply_baseline(row: dict[str, Any], run: dict[str, Any], gaps: list[bl.Gap]) -> None:
    """Fill the row's baseline and net energy from the idle gaps that bracket the run."""
    energy: dict[str, dict[str, Any]] = run.get("energy") or {}
    domains = summed_domains(energy)
    if not domains or not math.isfinite(row["energy_gross_j"]):
        return
    keys = [(str(energy[d].get("meter")), d) for d in domains]
    span = row["ended_at"] - row["started_at"]
    if not math.isfinite(span):
        span = row["duration_s"]
    b = bl.bracketing(row["started_at"], row["ended_at"], keys, gaps)
    row |= {
        "baseline_power_w": b.power_w,
        "baseline_sd_w": b.sd_w,
        "baseline_before_w": b.before_w,
        "baseline_after_w": b.after_w,
        "baseline_gaps": b.gaps,
    }
    if not b.gaps:
        return
    for d, power_w in b.by_domain.items():
        row[f"{d}_net_j"] = _num(energy[d].get("gross_j")) - power_w * span
    row["energy_net_j"] = row["energy_gross_j"] - b.power_w * span
    row["net_negative"] = bool(row["energy_net_j"] < 0)


def _phase_order(col: str) -> tuple[int, int, str]:
    name = col[len("phase_") :].rsplit("_", 2)[0]
    fixed = {"startup": 0, "data_to_device": 1, "compile": 2, "infer": 3, "eval": 4}
    if name.startswith("epoch_") and name[6:].isdigit():
        return (3, int(name[6:]), col)
    return (fixed.get(name, 5), 0, col)


def phase_names(runs: pd.DataFrame) -> list[str]:
    """Phase names in the order they happen (startup, data_to_device, compile, epoch_1..,
    eval; or infer in place of the epochs and eval)."""
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
    gaps = bl.read_gaps(folder)
    for row in rows:
        apply_baseline(row, records[row["run_id"]], gaps)
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
        gaps=tuple(gaps),
    )


def read_power(run_dir: Path, started_at: float) -> pd.DataFrame | None:
    """The run's derived power series (power-<meter>.csv), time in seconds since the run
    started; None when the run has none (meter none, imported study)."""
    paths = sorted(run_dir.glob("power-*.csv"))
    if not paths:
        return None
    frame = bl.read_power_csv(paths[0])
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
