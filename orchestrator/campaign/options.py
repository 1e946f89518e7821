"""The options of `orchestrator campaign` and `orchestrator run`, defined once: key, flag,
type, help, lower bound and which commands take them. cli.py builds both commands from this
table, the plan checks bounds and names flags from it, and help texts take their defaults
from plan.DEFAULTS, so no default is ever copied by hand.

Adding an option is one entry here (and, for a workload option, a field of
plan.WorkloadSettings).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from orchestrator.meters.registry import METER_NAMES
from orchestrator.runtimes.variants import REGISTRY
from orchestrator.workloads import MODELS, TASKS

BOTH = ("campaign", "run")
DAY_S = 86_400.0
CAMPAIGN = ("campaign",)


@dataclass(frozen=True)
class Option:
    key: str  # the key in the options dict and plan.DEFAULTS
    flag: str
    type: type
    help: str
    commands: tuple[str, ...] = BOTH
    # Where the settings come from: a plan setting (checked, recorded in campaign.json), or
    # an input at the edge (a folder, a binary) that is not part of the plan.
    setting: bool = True
    # Bounds, checked before anything is written (plan.check_bounds): inclusive, or both
    # exclusive with `strict`. Every number has an upper bound too: a huge value is a typo
    # that would otherwise allocate gigabytes or wait for years (and nan, inf are refused).
    minimum: float | None = None
    maximum: float | None = None
    strict: bool = False
    default_text: str | None = None  # said instead of the default value, e.g. "all but CPU 0"
    required: bool = False
    # A workload setting only `python -m workload train` takes: an inference campaign does
    # not pass it, and refuses it when given (plan.check_task).
    train_only: bool = False

    def help_text(self, defaults: dict[str, Any]) -> str:
        """The help with its default in brackets, taken from the plan's defaults."""
        if self.default_text is not None:
            return f"{self.help} [{self.default_text}]"
        default = defaults.get(self.key)
        if default is None:
            return self.help
        shown = f"{default:g}" if isinstance(default, float) else str(default)
        return f"{self.help} [{shown}]"


_FRAMEWORKS = ", ".join(REGISTRY)
_METERS = ", ".join(METER_NAMES)

OPTIONS: tuple[Option, ...] = (
    Option("iterations", "--iterations", int, "repetitions of every framework", CAMPAIGN,
           minimum=1, maximum=10_000),
    Option("until_precision", "--until-precision", float,
           "stop once every energy and time ratio's 95% interval is within +-P, e.g. 0.02; "
           "--iterations is then the maximum", CAMPAIGN, minimum=0, maximum=1, strict=True,
           default_text="off: every iteration"),
    Option("min_iterations", "--min-iterations", int,
           "with --until-precision: iterations before the first check (6 or more: fewer "
           "have no bounded interval)", CAMPAIGN, minimum=6, maximum=10_000),
    Option("frameworks", "--frameworks", str, f"comma-separated, of {_FRAMEWORKS}", CAMPAIGN),
    Option("framework", "--framework", str, f"one of {_FRAMEWORKS}", ("run",), setting=False,
           required=True),
    Option("warmup_s", "--warmup", float, "seconds of every core busy before the first run",
           CAMPAIGN, minimum=0, maximum=DAY_S),
    Option("idle_s", "--idle", float, "seconds of measured idle after every run", CAMPAIGN,
           minimum=0, maximum=DAY_S),
    Option("runtime", "--runtime", str, "auto, docker, local or apptainer"),
    Option("meter", "--meter", str, f"{_METERS}, or a comma list"),
    Option("interval_ms", "--interval-ms", int, "meter sampling interval in milliseconds",
           minimum=1, maximum=60_000),
    Option("resume", "--resume", Path, "continue the campaign folder DIR where it stopped",
           CAMPAIGN, setting=False),
    Option("profile", "--profile", str, "paper (the reference study) or quick (minutes)",
           CAMPAIGN, setting=False),
    Option("seed", "--seed", int, "seeds the run order and the workload", CAMPAIGN, minimum=0,
           maximum=2**31 - 1),
    Option("model", "--model", str, f"the model: {', '.join(MODELS)}"),
    Option("task", "--task", str, f"the workload's task: {' or '.join(TASKS)}"),
    Option("data", "--data", Path, "a prepared dataset folder (orchestrator data prepare)",
           setting=False),
    Option("dataset", "--dataset", str, "a dataset the model reads, prepared on the fly",
           setting=False, default_text="the model's first: mnist for mnist-cnn"),
    Option("source", "--source", Path, "folder with the dataset's IDX files (with --dataset)",
           setting=False),
    Option("epochs", "--epochs", int, "passed to the workload (train)", minimum=1,
           maximum=1000, train_only=True),
    Option("batch_size", "--batch-size", int, "passed to the workload", minimum=1,
           maximum=2**16),
    # The workload's own bounds (images/common/workload/config.py), checked here first.
    Option("learning_rate", "--learning-rate", float, "passed to the workload (train)",
           CAMPAIGN, minimum=0, maximum=1, strict=True, train_only=True),
    # Upper bounds: the dataset's counts (plan.check_against_dataset); threads: the CPUs.
    Option("limit_train", "--limit-train", int, "passed to the workload (train): the first N "
           "images", minimum=1, train_only=True),
    Option("limit_test", "--limit-test", int, "passed to the workload: the first N images",
           minimum=1),
    Option("threads", "--threads", int, "CPU threads of every framework", minimum=1,
           default_text="CPUs of --cpuset"),
    Option("device", "--device", str, "cpu or gpu"),
    Option("precision", "--precision", str, "float32 products on a GPU: fp32 (exact) or tf32 "
           "(TF32 tensor cores), set alike in every framework"),
    Option("cpuset", "--cpuset", str, "CPUs for the workload, e.g. 1-7",
           default_text="all but CPU 0 on 4 or more CPUs"),
    Option("memory_limit", "--memory-limit", str, "docker memory limit, e.g. 8g"),
    Option("gpu", "--gpu", int, "the one GPU (NVML index) a --device gpu run sees and is "
           "metered on", minimum=0, maximum=1023),
    Option("run_timeout_s", "--run-timeout", float, "seconds before a run is stopped",
           minimum=0, maximum=7 * DAY_S, strict=True),
    Option("max_failures", "--max-failures", int, "stop after this many failed runs", CAMPAIGN,
           minimum=1, maximum=1_000_000),
    Option("results", "--results", Path, "folder that holds campaign folders", setting=False,
           default_text="results"),
    Option("powercap_root", "--powercap-root", Path, "powercap tree for the rapl meter",
           setting=False, default_text="/sys/class/powercap"),
    Option("energibridge", "--energibridge", Path, "the energibridge executable",
           setting=False, default_text="from PATH"),
    Option("reap", "--reap", bool, "remove running containers that a killed orchestrator left "
           "(of any campaign) instead of refusing to measure beside them", setting=False),
)  # fmt: skip

BY_KEY: dict[str, Option] = {o.key: o for o in OPTIONS}


def flag(key: str) -> str:
    return BY_KEY[key].flag


def for_command(command: str) -> list[Option]:
    return [o for o in OPTIONS if command in o.commands]
