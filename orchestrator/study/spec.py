"""The study file (docs/studies.md): defaults and a [matrix], read with tomllib and checked
strictly, key by key, before anything is written. Every allowed key, its type and its lower
bound come from the campaign's options table (orchestrator/campaign/options.py); frameworks,
models, tasks and datasets are checked against their registries. Each combination of the
matrix is a cell, and every cell's settings pass the campaign's own plan check here too, so a
study that starts never fails later on a setting.

Pure apart from reading the file: text in, a frozen Study out, or one StudyFileError line
naming the key and what is allowed.
"""

from __future__ import annotations

import math
import random
import re
import tomllib
from dataclasses import dataclass, fields
from functools import cached_property
from itertools import product
from pathlib import Path
from typing import Any

from orchestrator.campaign.options import OPTIONS, Option
from orchestrator.campaign.plan import (
    PlanError,
    ProtocolSettings,
    WorkloadSettings,
    bounds_text,
    in_bounds,
)
from orchestrator.campaign.plan import settings_from_options as check_campaign
from orchestrator.data import DATASETS
from orchestrator.errors import UserError
from orchestrator.meters.registry import METER_NAMES
from orchestrator.runtimes.select import RUNTIME_KINDS
from orchestrator.runtimes.variants import REGISTRY, VariantError, parse_variants
from orchestrator.workloads import (
    DEFAULT_MODEL,
    DEFAULT_TASK,
    MODELS,
    TASKS,
    WorkloadError,
    check_reads,
    default_dataset,
)


class StudyFileError(UserError):
    """A study file that cannot be run as written; the message names the key."""


NAME = re.compile(r"^[a-z0-9][a-z0-9._-]{0,63}$")
# Like --iterations' bound: a matrix of more cells is a typo (a study of 10^6 cells wrote a
# 675 MB study.json before its first run); a real one is split into studies.
MAX_CELLS = 10_000
RUNTIMES = RUNTIME_KINDS
# The campaign inputs a study may set besides the plan settings (paths relative to the file).
INPUTS = ("data", "dataset", "source")
# Keys of the study, not of a campaign.
STUDY_KEYS = ("name", "description")
SECTIONS = ("protocol", "workload", "matrix")


@dataclass(frozen=True)
class Key:
    """One key a study file may set: where it lives, what it takes."""

    name: str
    section: str  # "" (top level), "protocol" or "workload"
    kind: str  # bool, int, float, str, path, frameworks, model, task, dataset, runtime, meter
    option: Option  # the campaign option it sets


def _kind(o: Option) -> str:
    special = {"frameworks": "frameworks", "dataset": "dataset", "runtime": "runtime",
               "meter": "meter", "model": "model", "task": "task"}  # fmt: skip
    if o.key in special:
        return special[o.key]
    return {bool: "bool", int: "int", float: "float", str: "str", Path: "path"}[o.type]


def _keys() -> dict[str, Key]:
    protocol = {f.name for f in fields(ProtocolSettings)}
    workload = {f.name for f in fields(WorkloadSettings)} - {"seed"}
    keys: dict[str, Key] = {}
    for o in OPTIONS:
        if "campaign" not in o.commands or not (o.setting or o.key in INPUTS):
            continue
        section = "protocol" if o.key in protocol else ""
        if o.key in workload or o.key in INPUTS:
            section = "workload"
        keys[o.key] = Key(o.key, section, _kind(o), o)
    return keys


KEYS = _keys()


def _allowed(section: str) -> str:
    names = [k.name for k in KEYS.values() if k.section == section]
    if section == "":
        names = [*STUDY_KEYS, *names, *(f"[{s}]" for s in SECTIONS)]
    return ", ".join(names)


@dataclass(frozen=True)
class Cell:
    cell_id: str  # cell-01, ...: the cell's campaign folder under cells/
    factors: dict[str, Any]  # the matrix values of this cell
    values: dict[str, Any]  # every key the study sets, defaults and factors together

    @property
    def label(self) -> str:
        return ", ".join(f"{k}={_show(v)}" for k, v in self.factors.items())


def _show(value: Any) -> str:
    return value if isinstance(value, str) else str(value)


@dataclass(frozen=True)
class Study:
    name: str
    description: str | None
    seed: int  # seeds the order of the cells (and, unless a factor, every cell's campaign)
    defaults: dict[str, Any]
    matrix: dict[str, list[Any]]
    cells: tuple[Cell, ...]

    @cached_property
    def by_id(self) -> dict[str, Cell]:
        """Cells by id: `status` looks up every cell, which a scan made quadratic."""
        return {c.cell_id: c for c in self.cells}

    def order(self) -> list[str]:
        """The cells in a seeded random order, so no level of a factor always runs first
        (or on a machine that has warmed up all day). Recorded in study.json."""
        ids = [c.cell_id for c in self.cells]
        random.Random(self.seed).shuffle(ids)
        return ids

    def cell(self, cell_id: str) -> Cell:
        found = self.by_id.get(cell_id)
        if found is not None:
            return found
        raise StudyFileError(
            f"the study has no cell {cell_id!r}; its cells are "
            f"{', '.join(c.cell_id for c in self.cells)}"
        )


class _Checker:
    def __init__(self, where: str, base_dir: Path) -> None:
        self.where = where
        self.base_dir = base_dir

    def fail(self, place: str, message: str) -> StudyFileError:
        return StudyFileError(f"{self.where}: {place}: {message}")

    def value(self, key: Key, value: Any, place: str) -> Any:
        """One value of `key`, checked and normalised (paths absolute, frameworks a list)."""
        kind = key.kind
        if kind == "int" or (kind == "float" and isinstance(value, int)):
            if not isinstance(value, int) or isinstance(value, bool):
                raise self.fail(place, f"expected an integer, found {_found(value)}")
            value = float(value) if kind == "float" else value
        elif kind == "float":
            if not isinstance(value, float):
                raise self.fail(place, f"expected a number, found {_found(value)}")
            if not math.isfinite(value):
                raise self.fail(place, f"expected a finite number, not {value}")
        elif kind == "bool":
            if not isinstance(value, bool):
                raise self.fail(place, f"expected true or false, found {_found(value)}")
        elif kind == "frameworks":
            value = self.frameworks(value, place)
        else:
            if not isinstance(value, str):
                raise self.fail(place, f"expected a string, found {_found(value)}")
            value = self.named(kind, value, place)
        option = key.option
        if (option.minimum, option.maximum) == (None, None):
            return value
        if isinstance(value, int | float) and not in_bounds(option, value):
            raise self.fail(place, f"must be {bounds_text(option)}, not {value}")
        return value

    def named(self, kind: str, value: str, place: str) -> str:
        choices: tuple[str, ...] | None = {
            "model": tuple(MODELS), "task": TASKS, "dataset": DATASETS, "runtime": RUNTIMES,
        }.get(kind)  # fmt: skip
        if choices is not None and value not in choices:
            raise self.fail(place, f"unknown {kind} {value!r}; choose from {', '.join(choices)}")
        if kind == "meter":
            unknown = [m for m in value.split(",") if m.strip() not in METER_NAMES]
            if unknown:
                raise self.fail(
                    place,
                    f"unknown meter {', '.join(unknown)}; choose from {', '.join(METER_NAMES)}",
                )
        if kind == "path":
            return str((self.base_dir / value).resolve())
        return value

    def frameworks(self, value: Any, place: str) -> list[str]:
        if isinstance(value, list) and all(isinstance(v, str) for v in value):
            text = ",".join(value)
        elif isinstance(value, str):
            text = value
        else:
            raise self.fail(
                place, f'expected a list of framework names such as ["torch", "jax"], '
                f"found {_found(value)}"
            )  # fmt: skip
        try:
            return list(parse_variants(text))
        except VariantError:
            raise self.fail(
                place, f"unknown or repeated framework in {value!r}; choose from "
                f"{', '.join(REGISTRY)}, each once"
            ) from None  # fmt: skip


def _found(value: Any) -> str:
    kinds = {bool: "a boolean", int: "an integer", float: "a number", str: "a string",
             list: "a list", dict: "a table"}  # fmt: skip
    return f"{kinds.get(type(value), type(value).__name__)} ({str(value)[:40]!r})"


def parse_study(data: dict[str, Any], where: str, base_dir: Path) -> Study:
    """A parsed TOML document -> a checked Study (StudyFileError otherwise)."""
    check = _Checker(where, base_dir)
    defaults: dict[str, Any] = {}
    for name, value in data.items():
        if name in SECTIONS:
            if not isinstance(value, dict):
                raise check.fail(name, f"expected a table [{name}], found {_found(value)}")
            if name == "matrix":
                continue
            for key, v in value.items():
                known = KEYS.get(key)
                if known is None or known.section != name:
                    raise check.fail(
                        f"[{name}] {key}",
                        f"unknown key{_elsewhere(known)}; allowed: {_allowed(name)}",
                    )
                defaults[key] = check.value(known, v, f"[{name}] {key}")
            continue
        if name in STUDY_KEYS:
            if not isinstance(value, str):
                raise check.fail(name, f"expected a string, found {_found(value)}")
            continue
        known = KEYS.get(name)
        if known is None or known.section != "":
            raise check.fail(name, f"unknown key{_elsewhere(known)}; allowed: {_allowed('')}")
        defaults[name] = check.value(known, value, name)
    study_name = data.get("name")
    if study_name is None:
        raise check.fail("name", 'missing; give the study a name, e.g. name = "batch-size-sweep"')
    if not NAME.match(study_name):
        raise check.fail(
            "name", f"{study_name!r} is not a name of lower-case letters, digits, '.', '_', '-'"
        )
    matrix = _matrix(check, data.get("matrix"), defaults)
    seed = defaults.get("seed", 0)
    cells = _cells(check, defaults, matrix)
    return Study(study_name, data.get("description"), seed, defaults, matrix, cells)


def _elsewhere(known: Key | None) -> str:
    if known is None:
        return ""
    return f" here (it belongs {'at the top' if not known.section else f'in [{known.section}]'})"


def _matrix(check: _Checker, table: Any, defaults: dict[str, Any]) -> dict[str, list[Any]]:
    if not table:
        raise check.fail(
            "[matrix]", "missing or empty; give at least one factor with its values, e.g. "
            "batch_size = [32, 64]"
        )  # fmt: skip
    matrix: dict[str, list[Any]] = {}
    for key, values in table.items():
        place = f"[matrix] {key}"
        known = KEYS.get(key)
        if known is None:
            raise check.fail(place, f"unknown factor; allowed: {', '.join(KEYS)}")
        if key in defaults:
            raise check.fail(place, f"{key} is also set outside [matrix]; set it in one place")
        if not isinstance(values, list) or not values:
            raise check.fail(place, f"expected a non-empty list of values, found {_found(values)}")
        checked = [check.value(known, v, place) for v in values]
        if len({repr(v) for v in checked}) != len(checked):
            raise check.fail(place, "a value is listed twice; list each once")
        matrix[key] = checked
    return matrix


def _cells(
    check: _Checker, defaults: dict[str, Any], matrix: dict[str, list[Any]]
) -> tuple[Cell, ...]:
    count = math.prod(len(v) for v in matrix.values())
    if count > MAX_CELLS:
        raise check.fail(
            "[matrix]", f"{count:,} cells, more than {MAX_CELLS:,}; split the study or list "
            "fewer values"
        )  # fmt: skip
    combos = list(product(*matrix.values()))
    width = max(2, len(str(len(combos))))
    cells = []
    runs: dict[str, Cell] = {}  # what each cell's campaign runs -> the first cell that runs it
    for n, combo in enumerate(combos, start=1):
        factors = dict(zip(matrix, combo, strict=True))
        cell = Cell(f"cell-{n:0{width}d}", factors, {**defaults, **factors})
        _check_cell(check, cell)
        runs_what = repr((sorted(_condition(cell).items()), inputs_of(cell)))
        same = runs.setdefault(runs_what, cell)
        if same is not cell:
            raise check.fail("[matrix]", _same_campaign(same, cell, matrix))
        cells.append(cell)
    return tuple(cells)


def _condition(cell: Cell) -> dict[str, Any]:
    """What the cell's campaign measures: its options, the frameworks as a set (each
    campaign shuffles their order anew, so ["torch", "jax"] and ["jax", "torch"] are one)."""
    options = campaign_options(cell)
    if "frameworks" in options:
        options["frameworks"] = sorted(options["frameworks"].split(","))
    return options


def _same_campaign(first: Cell, second: Cell, matrix: dict[str, list[Any]]) -> str:
    """Two cells whose campaigns would be the same: only an inference cell can (the training
    settings it ignores are all that tells them apart)."""
    ignored = [key for key in matrix if KEYS[key].option.train_only]
    both = f"cells {first.cell_id} ({first.label}) and {second.cell_id} ({second.label})"
    if not ignored:  # not seen: other factors' values differ in what the campaign runs
        return f"{both} would run the same campaign; give each factor values that differ"
    names = ", ".join(ignored)
    return (
        f"{both} would run the same campaign: an inference cell ignores {names}; cross "
        f'{names} with task = "train" only (a study of its own, or task = "train" outside '
        "[matrix])"
    )


def _check_cell(check: _Checker, cell: Cell) -> None:
    """What only a whole cell can show: the model reads the dataset, and the campaign's own
    plan check (bounds, combinations, CPU sets) passes."""
    place = f"cell {cell.cell_id} ({cell.label})"
    model, _ = model_and_task(cell)
    dataset = cell.values.get("dataset")
    if dataset is not None and cell.values.get("data") is not None:
        raise check.fail(
            place, "give either data (a prepared folder) or dataset (a name), not both"
        )
    try:
        name = inputs_of(cell)[1]  # a prepared folder's name is checked by its campaign
        if name is not None:
            check_reads(model, name)
        check_campaign(campaign_options(cell), None)
    except (PlanError, WorkloadError) as exc:
        raise check.fail(place, str(exc)) from None


def campaign_options(cell: Cell) -> dict[str, Any]:
    """The cell's settings as `orchestrator campaign` options (the inputs data, dataset and
    source are passed apart, as the CLI does)."""
    out: dict[str, Any] = {}
    _, task = model_and_task(cell)
    for key, value in cell.values.items():
        known = KEYS[key]
        if key in INPUTS:
            continue
        if known.option.train_only and task != "train":
            # A study's defaults apply to every cell: its epochs mean nothing to an
            # inference cell (a campaign refuses them when given for --task infer).
            continue
        out[key] = ",".join(value) if known.kind == "frameworks" else value
    return out


def inputs_of(cell: Cell) -> tuple[Path | None, str | None, Path | None]:
    """The cell's dataset as (data, dataset, source)."""
    data, source = cell.values.get("data"), cell.values.get("source")
    dataset = cell.values.get("dataset")
    if data is None and dataset is None:
        dataset = default_dataset(model_and_task(cell)[0])
    return (Path(data) if data else None, dataset, Path(source) if source else None)


def model_and_task(cell: Cell) -> tuple[str, str]:
    return cell.values.get("model", DEFAULT_MODEL), cell.values.get("task", DEFAULT_TASK)


def parse_text(text: str, where: str, base_dir: Path) -> Study:
    if text.startswith("\ufeff"):
        raise StudyFileError(
            f"{where}: starts with a byte-order mark (BOM), which TOML does not allow; save "
            "it as UTF-8 without BOM"
        )
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise StudyFileError(f"{where}: not valid TOML ({exc}); fix the syntax") from None
    except RecursionError:  # tomllib parses nested arrays and tables recursively
        raise StudyFileError(
            f"{where}: arrays or tables nested too deeply to read; a study file needs two "
            "levels at most"
        ) from None
    return parse_study(data, where, base_dir)


def read_study_file(path: Path) -> tuple[Study, str]:
    """The study file -> (Study, its text, kept in study.json so resume re-reads the same)."""
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise StudyFileError(f"{path}: no such study file") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise StudyFileError(f"{path}: cannot read the study file ({exc})") from None
    return parse_text(text, str(path), path.parent.resolve()), text
