"""`python -m workload train|infer ...`: the identical entrypoint of every image and
environment.

Exit codes: 0 done, 2 bad arguments or input (one line on stderr), 1 anything else."""

from __future__ import annotations

import argparse
import json
import sys
import time
from dataclasses import MISSING, fields
from pathlib import Path
from typing import Any

from workload import IMPLEMENTATIONS
from workload.config import (
    DEVICES,
    INITS,
    PRECISIONS,
    InferConfig,
    RunConfig,
    TrainConfig,
    available_cpus,
)
from workload.errors import WorkloadInputError
from workload.framework import framework_name, load_framework
from workload.models import MODELS

CONFIGS: dict[str, type[RunConfig]] = {"train": TrainConfig, "infer": InferConfig}


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> None:  # type: ignore[override]
        # argparse prints usage plus the message; the contract is one line.
        raise WorkloadInputError(f"{message} (see `{self.prog} --help`)")


def _add_run_options(parser: argparse.ArgumentParser, config: type[RunConfig]) -> None:
    """The flags every task shares (RunConfig), with the defaults declared there once."""
    default = {f.name: f.default for f in fields(config) if f.default is not MISSING}
    parser.add_argument("--model", choices=tuple(MODELS), default=default["model"])
    parser.add_argument("--data", type=Path, required=True, help="prepared dataset folder")
    parser.add_argument("--out", type=Path, required=True, help="folder for events/result")
    parser.add_argument("--batch-size", type=int, default=default["batch_size"])
    parser.add_argument("--seed", type=int, default=default["seed"])
    parser.add_argument("--limit-test", type=int, default=None, help="first N test examples")
    parser.add_argument("--device", choices=DEVICES, default=default["device"])
    parser.add_argument(
        "--threads", type=int, default=None, help="CPU threads (default: every allowed CPU)"
    )
    parser.add_argument("--init", choices=INITS, default=default["init"])
    parser.add_argument(
        "--precision", choices=PRECISIONS, default=default["precision"],
        help="float32 products on a GPU: exact (fp32) or TF32 tensor cores (tf32)",
    )  # fmt: skip
    parser.add_argument(
        "--implementation",
        default=None,
        help="how the framework runs the model: "
        + "; ".join(f"{f}: {', '.join(names)}" for f, names in IMPLEMENTATIONS.items())
        + " (default: the first)",
    )


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(prog="python -m workload", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True, parser_class=_Parser)
    train = commands.add_parser("train", help="train a model (--model) and evaluate it")
    _add_run_options(train, TrainConfig)
    default = {f.name: f.default for f in fields(TrainConfig)}
    train.add_argument("--epochs", type=int, default=default["epochs"])
    train.add_argument("--learning-rate", type=float, default=default["learning_rate"])
    train.add_argument("--limit-train", type=int, default=None, help="first N training examples")
    train.add_argument(
        "--save-weights",
        type=Path,
        default=None,
        help="after evaluation, write the trained weights to this new .npz file (any "
        "framework's `infer --weights` reads it)",
    )
    infer = commands.add_parser(
        "infer", help="run the test set through the model in batches, timing each batch"
    )
    _add_run_options(infer, InferConfig)
    infer.add_argument(
        "--weights",
        type=Path,
        default=None,
        help="a file written by `train --save-weights` (default: --init's weights)",
    )
    commands.add_parser(
        "devices", help="print the GPUs this framework can use, as one JSON object on stdout"
    )
    return parser


def devices() -> int:
    """What the orchestrator asks before a GPU campaign: does this environment's framework
    see a GPU? One JSON object on stdout."""
    name = framework_name()
    print(json.dumps({"framework": name, "gpus": load_framework(name).gpus()}))
    return 0


def _config(args: argparse.Namespace) -> RunConfig:
    """The task's config from the parsed flags: each of its fields is the flag of that name."""
    config = CONFIGS[args.command]
    values: dict[str, Any] = {f.name: getattr(args, f.name) for f in fields(config)}
    if values["threads"] is None:
        values["threads"] = available_cpus()
    return config(**values)


def _summary(result: dict[str, Any]) -> str:
    head = f"{result['framework']} {result['task']} {result['model']}: "
    tail = f"test accuracy {result['test_accuracy']:.4f}, {result['phases']['total_s']:.1f} s"
    if result["task"] == "infer":
        inference = result["inference"]
        return head + (
            f"{inference['examples']} examples in {inference['batches']} batches, "
            f"{inference['examples_per_s']:.0f} examples/s, "
            f"p50 {inference['latency_ms']['p50']:.2f} ms per batch, " + tail
        )
    epochs = result["epochs"]
    return head + f"{len(epochs)} epochs, loss {epochs[-1]['mean_loss']:.4f}, " + tail


def main(argv: list[str] | None = None, process_start: float | None = None) -> int:
    process_start = time.time() if process_start is None else process_start
    try:
        args = build_parser().parse_args(argv)
        if args.command == "devices":
            return devices()
        config = _config(args)
        from workload import runner

        if isinstance(config, InferConfig):
            result = runner.infer(config, process_start)
        else:
            assert isinstance(config, TrainConfig)
            result = runner.train(config, process_start)
    except WorkloadInputError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    print(_summary(result))
    return 0
