"""What a campaign will do, decided before the first run: settings, profiles, the order.

Pure: options in, frozen dataclasses out. Every check a user can fail happens here, before
anything is written, so bad input never leaves a folder that looks like a result.
"""

from __future__ import annotations

import math
import os
import random
import re
from dataclasses import dataclass, fields
from typing import Any, TypeVar

from orchestrator.campaign.options import BY_KEY, OPTIONS, Option, flag
from orchestrator.errors import UserError
from orchestrator.runtimes.process import parse_cpuset
from orchestrator.runtimes.variants import FRAMEWORKS, VariantError, parse_variants
from orchestrator.workloads import (
    DEFAULT_MODEL,
    DEFAULT_TASK,
    WorkloadError,
    check_reads,
    default_dataset,
)
from orchestrator.workloads import model as known_model
from orchestrator.workloads import task as known_task

T = TypeVar("T")


class PlanError(UserError):
    """A campaign option is out of range or contradicts another."""


@dataclass(frozen=True)
class WorkloadSettings:
    """Passed through unchanged to `python -m workload TASK --model MODEL`; an inference
    campaign records the training settings but does not pass them (options.train_only)."""

    model: str = DEFAULT_MODEL
    task: str = DEFAULT_TASK
    epochs: int = 3
    batch_size: int = 64
    learning_rate: float = 1e-3
    seed: int = 0
    limit_train: int | None = None
    limit_test: int | None = None
    threads: int = 1
    device: str = "cpu"
    init: str = "shared"
    precision: str = "fp32"  # float32 products on a GPU: exact, or TF32 tensor cores

    def args(self) -> tuple[str, ...]:
        """The arguments after `python -m workload TASK --data D --out O`."""
        given: list[tuple[str, str, Any]] = [
            ("model", "--model", self.model),
            ("epochs", "--epochs", self.epochs),
            ("batch_size", "--batch-size", self.batch_size),
            ("learning_rate", "--learning-rate", repr(self.learning_rate)),
            ("seed", "--seed", self.seed),
            ("threads", "--threads", self.threads),
            ("device", "--device", self.device),
            ("init", "--init", self.init),
            ("precision", "--precision", self.precision),
            ("limit_train", "--limit-train", self.limit_train),
            ("limit_test", "--limit-test", self.limit_test),
        ]
        out: list[str] = []
        for key, name, value in given:
            if value is not None and (self.task == "train" or not _train_only(key)):
                out += [name, str(value)]
        return tuple(out)


def _train_only(key: str) -> bool:
    option = BY_KEY.get(key)
    return option is not None and option.train_only


@dataclass(frozen=True)
class ProtocolSettings:
    warmup_s: float = 300.0
    idle_s: float = 60.0
    run_timeout_s: float = 3600.0
    max_failures: int = 10
    runtime: str = "auto"  # as asked; campaign.json records the one chosen
    meter: str = "auto"
    interval_ms: int = 100
    cpuset: str | None = None
    memory_limit: str | None = None
    gpu: int = 0  # the one GPU a GPU run sees and is billed for (NVML index)


# Adaptive repetitions (docs/campaign.md): the fewest iterations before the first precision
# check. The paired interval (exact signed-rank, analysis/inference.py) is unbounded below 6
# pairs at 95% (2 / 2^6 is the smallest p it can reach there), and a sequential rule that
# stops on a spread that is low by chance undercovers; benchmarks/adaptive_stopping.py
# measures the coverage at this floor. tests/study/test_adaptive.py pins it to the analysis.
MIN_ITERATIONS = 6


@dataclass(frozen=True)
class StoppingRule:
    """Stop once every primary ratio's interval is within +-precision, checked after each
    full iteration from min_iterations on; the plan's iterations are the maximum. Never a
    p-value: stopping on significance inflates false positives (docs/campaign.md)."""

    precision: float
    min_iterations: int = MIN_ITERATIONS
    confidence: float = 0.95


@dataclass(frozen=True)
class PlannedRun:
    iteration: int  # 1-based
    position: int  # 1-based place in that iteration's order
    framework: str

    @property
    def run_id(self) -> str:
        return f"{self.iteration:03d}-{self.position}-{self.framework}"


@dataclass(frozen=True)
class Plan:
    frameworks: tuple[str, ...]
    iterations: int
    seed: int
    order: tuple[tuple[str, ...], ...]

    def runs(self) -> list[PlannedRun]:
        return [
            PlannedRun(i, p, fw)
            for i, row in enumerate(self.order, start=1)
            for p, fw in enumerate(row, start=1)
        ]


def shuffled_order(
    frameworks: tuple[str, ...], iterations: int, seed: int
) -> tuple[tuple[str, ...], ...]:
    """A seeded random order per iteration, so no framework always runs first (or hot).

    The order is recorded in campaign.json; resume reads it from there, never recomputes it."""
    rng = random.Random(seed)
    order = []
    for _ in range(iterations):
        row = list(frameworks)
        rng.shuffle(row)
        order.append(tuple(row))
    return tuple(order)


def make_plan(frameworks: tuple[str, ...], iterations: int, seed: int) -> Plan:
    return Plan(frameworks, iterations, seed, shuffled_order(frameworks, iterations, seed))


# Profiles fill in options the user did not give; explicit options always win.
PROFILES: dict[str, dict[str, Any]] = {
    # The reference study (seeds/000): 35 iterations, 3 epochs, batch 64, 5 min warm-up,
    # 1 min idle after every run, the full MNIST.
    # The dataset is the model's first (mnist for the reference CNN): workloads.py.
    "paper": {"iterations": 35, "epochs": 3, "batch_size": 64, "warmup_s": 300.0,
              "idle_s": 60.0, "limit_train": None, "limit_test": None},
    # A first look in minutes: same protocol, a slice of the data, short gaps.
    "quick": {"iterations": 2, "epochs": 1, "batch_size": 64, "warmup_s": 10.0,
              "idle_s": 5.0, "limit_train": 5000, "limit_test": 1000},
}  # fmt: skip

DEFAULTS: dict[str, Any] = {
    "iterations": 35,
    "frameworks": ",".join(FRAMEWORKS),
    "seed": 0,
    "dataset": None,  # the model's first (resolve_options)
    **{f.name: f.default for f in fields(ProtocolSettings)},
    **{f.name: f.default for f in fields(WorkloadSettings) if f.name not in ("seed", "threads")},
    "threads": None,
    "until_precision": None,
    "min_iterations": MIN_ITERATIONS,
}

_MEMORY = re.compile(r"^[1-9][0-9]*[bkmg]?$", re.IGNORECASE)
DOCKER_MIN_MEMORY_BYTES = 6 * 2**20  # the engine refuses less


@dataclass(frozen=True)
class CampaignSettings:
    plan: Plan
    workload: WorkloadSettings
    protocol: ProtocolSettings
    profile: str | None
    stopping: StoppingRule | None = None


def resolve_options(options: dict[str, Any], profile: str | None) -> dict[str, Any]:
    """Defaults, overlaid by the profile, overlaid by every option the user gave (not None)."""
    if profile is not None and profile not in PROFILES:
        raise PlanError(f"unknown profile {profile!r}; choose from {', '.join(PROFILES)}")
    merged = dict(DEFAULTS)
    merged.update(PROFILES.get(profile or "", {}))
    merged.update({k: v for k, v in options.items() if v is not None})
    if merged["dataset"] is None:
        merged["dataset"] = default_dataset(merged["model"])
    return merged


def in_bounds(opt: Option, value: float) -> bool:
    if not math.isfinite(value):
        return False
    if opt.strict:
        return (opt.minimum is None or value > opt.minimum) and (
            opt.maximum is None or value < opt.maximum
        )
    return (opt.minimum is None or value >= opt.minimum) and (
        opt.maximum is None or value <= opt.maximum
    )


def check_bounds(o: dict[str, Any]) -> None:
    """Every option with bounds in the options table, checked in one place."""
    for opt in OPTIONS:
        value = o.get(opt.key)
        if value is None or (opt.minimum is None and opt.maximum is None):
            continue
        if in_bounds(opt, value):
            continue
        raise PlanError(f"{opt.flag} must be {bounds_text(opt)}, not {value}")


def bounds_text(opt: Option) -> str:
    """The option's bounds in words (the plan's errors, and the study file's)."""
    unit = " seconds" if opt.key.endswith("_s") else ""
    low, high = _number_text(opt.minimum), _number_text(opt.maximum)
    if opt.strict:
        return f"between {low} and {high}{unit}, both excluded"
    if opt.maximum is None:
        return f"at least {low}{unit}"
    return f"from {low} to {high}{unit}"


def _number_text(value: float | None) -> str:
    """2147483647, not 2.14748e+09; 0.5 as 0.5."""
    if value is None:
        return "none"
    if float(value).is_integer():
        return str(int(value))
    return f"{value:g}"


def parse_size_bytes(text: str) -> int | None:
    """Docker's size notation (8g, 512m, 1024k, 100000000) in bytes; None if it is not one."""
    if not _MEMORY.match(text):
        return None
    unit = text[-1].lower() if text[-1].isalpha() else "b"
    return int(text.rstrip("bkmgBKMG")) * {"b": 1, "k": 2**10, "m": 2**20, "g": 2**30}[unit]


def check_cpuset(cpuset: str) -> int:
    """The number of CPUs in a cpuset, checked against the CPUs this process may use."""
    try:
        cpus = parse_cpuset(cpuset)
    except ValueError:
        raise PlanError(f"--cpuset {cpuset!r} is not a CPU list like 1-7 or 0,2,4") from None
    backwards = [p.strip() for p in cpuset.split(",") if not parse_cpuset(p)]
    if backwards:
        raise PlanError(
            f"--cpuset {cpuset!r}: the range {backwards[0]} is empty; write it low-high"
        )
    available = os.sched_getaffinity(0)
    if not cpus or not cpus <= available:
        raise PlanError(
            f"--cpuset {cpuset!r} names CPUs this machine does not offer "
            f"(available: {min(available)}-{max(available)})"
        )
    return len(cpus)


def default_cpuset() -> str | None:
    """Leave CPU 0 to the meter and the orchestrator on machines with cores to spare, as the
    Green Metrics Tool does; small machines share."""
    cpus = sorted(os.sched_getaffinity(0))
    if len(cpus) < 4:
        return None
    return ",".join(str(c) for c in cpus[1:])


def _settings(cls: type[T], o: dict[str, Any], **checked: Any) -> T:
    """A settings dataclass from the resolved options, field by field, with the values that
    checking turned into something else."""
    return cls(**{f.name: o[f.name] for f in fields(cls)} | checked)  # type: ignore[arg-type]


def settings_from_options(options: dict[str, Any], profile: str | None) -> CampaignSettings:
    """Every option checked; raises PlanError with one actionable line."""
    o = resolve_options(options, profile)
    try:
        frameworks = parse_variants(o["frameworks"])
    except VariantError as exc:
        raise PlanError(str(exc)) from None
    check_bounds(o)
    check_workload(o, given={k for k, v in options.items() if v is not None})
    if o["device"] not in ("cpu", "gpu"):
        raise PlanError(f"--device must be cpu or gpu, not {o['device']!r}")
    if o["precision"] not in ("fp32", "tf32"):
        raise PlanError(f"--precision must be fp32 or tf32, not {o['precision']!r}")
    if o["memory_limit"] is not None:
        size = parse_size_bytes(str(o["memory_limit"]))
        if size is None:
            raise PlanError(f"--memory-limit {o['memory_limit']!r} is not a size like 8g or 512m")
        if size < DOCKER_MIN_MEMORY_BYTES:
            raise PlanError(
                f"--memory-limit {o['memory_limit']} is below Docker's minimum of 6m; a "
                "framework needs about 1g or more"
            )
    cpuset = o["cpuset"] if o["cpuset"] is not None else default_cpuset()
    threads = o["threads"]
    usable = check_cpuset(cpuset) if cpuset else len(os.sched_getaffinity(0))
    if threads is None:
        threads = usable if cpuset else max(1, usable - 1)
    elif threads > usable:
        # More threads than CPUs measures contention, not the framework (and the workload
        # itself refuses it, but only after the folder and a container exist).
        where = f"--cpuset {cpuset}" if cpuset else "this process"
        raise PlanError(
            f"{flag('threads')} {threads} exceeds the {usable} CPUs {where} may use; give "
            f"{flag('threads')} {usable} or fewer"
        )
    # Each dataclass lists its own settings: they are taken by name from the resolved
    # options, with the few that checking turned into something else.
    workload = _settings(WorkloadSettings, o, threads=threads,
                         learning_rate=float(o["learning_rate"]))  # fmt: skip
    seconds = {k: float(o[k]) for k in ("warmup_s", "idle_s", "run_timeout_s")}
    protocol = _settings(ProtocolSettings, o, cpuset=cpuset, **seconds)
    return CampaignSettings(
        make_plan(frameworks, o["iterations"], o["seed"]), workload, protocol, profile,
        stopping_rule(o, given_min=options.get("min_iterations") is not None),
    )  # fmt: skip


def check_workload(o: dict[str, Any], given: set[str]) -> None:
    """The model and task exist (orchestrator/workloads.py), and no training setting was
    given to an inference campaign, which would silently not use it. A profile's training
    settings are not `given`: a profile stays meaningful for either task."""
    for key, check in (("model", known_model), ("task", known_task)):
        try:
            check(o[key])
        except WorkloadError as exc:
            raise PlanError(f"{flag(key)}: {exc}") from None
    if o["task"] == "train":
        return
    extra = [flag(k) for k in sorted(given) if _train_only(k)]
    if extra:
        raise PlanError(
            f"{', '.join(extra)} only apply to {flag('task')} train; drop them for "
            f"{flag('task')} {o['task']}"
        )


def stopping_rule(o: dict[str, Any], *, given_min: bool) -> StoppingRule | None:
    """--until-precision and --min-iterations, checked; None for a fixed number of iterations."""
    precision = o["until_precision"]
    if precision is None:
        if given_min:
            raise PlanError(
                f"{flag('min_iterations')} only applies with {flag('until_precision')} P; "
                "add it, or drop --min-iterations"
            )
        return None
    if o["min_iterations"] > o["iterations"]:
        raise PlanError(
            f"{flag('min_iterations')} {o['min_iterations']} is more than {flag('iterations')} "
            f"{o['iterations']} (the maximum with {flag('until_precision')}); lower it or raise "
            "--iterations"
        )
    return StoppingRule(float(precision), o["min_iterations"])


def check_dataset_name(workload: WorkloadSettings, name: str) -> None:
    """The model reads the dataset of this name (--dataset, or a prepared manifest's)."""
    try:
        check_reads(workload.model, name)
    except WorkloadError as exc:
        raise PlanError(str(exc)) from None


def check_against_dataset(
    workload: WorkloadSettings, train_count: int, test_count: int, name: str
) -> None:
    """What only the dataset can bound, checked before the campaign folder exists (the
    workload checks the same, but only after the folder and a container were made): the
    model reads it (by its manifest's `name`), and the limits and the batch fit it."""
    check_dataset_name(workload, name)
    train = workload.task == "train"
    for key, limit, count in (
        ("limit_train", workload.limit_train if train else None, train_count),
        ("limit_test", workload.limit_test, test_count),
    ):
        if limit is not None and limit > count:
            raise PlanError(f"{flag(key)} {limit} exceeds the dataset's {count} images")
    if train:
        n = workload.limit_train or train_count
        if workload.batch_size > n:
            raise PlanError(
                f"{flag('batch_size')} {workload.batch_size} exceeds the {n} training images: "
                "one partial batch per epoch is not the training asked for; give a smaller batch"
            )
        return
    n = workload.limit_test or test_count
    if workload.batch_size >= n:
        # The workload refuses it too (docs/formats.md), but only once the folder exists.
        raise PlanError(
            f"{flag('batch_size')} {workload.batch_size} leaves fewer than two batches of the {n} "
            "test images, and inference times every batch but the first; give a smaller batch "
            f"or a larger {flag('limit_test')}"
        )


def check_resume_options(options: dict[str, Any]) -> None:
    """--resume continues the recorded plan: a plan option beside it would be ignored, so
    it is refused instead."""
    given = sorted(k for k, v in options.items() if v is not None)
    if given:
        names = ", ".join(flag(k) for k in given)
        raise PlanError(
            f"--resume continues the recorded plan; drop {names} (start a new campaign "
            "to change them)"
        )
