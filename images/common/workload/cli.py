"""`python -m workload train ...`: the identical entrypoint of every image and environment.

Exit codes: 0 done, 2 bad arguments or input (one line on stderr), 1 anything else."""

from __future__ import annotations

import argparse
import json
import sys
import time
from dataclasses import fields
from pathlib import Path

from workload import IMPLEMENTATIONS
from workload.config import DEVICES, INITS, PRECISIONS, TrainConfig, available_cpus
from workload.errors import WorkloadInputError
from workload.framework import framework_name, load_framework
from workload.models import MODELS


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> None:  # type: ignore[override]
        # argparse prints usage plus the message; the contract is one line.
        raise WorkloadInputError(f"{message} (see `python -m workload train --help`)")


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(prog="python -m workload", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True, parser_class=_Parser)
    train = commands.add_parser("train", help="train a model (--model) and evaluate it")
    # The defaults are TrainConfig's: declared there once.
    default = {f.name: f.default for f in fields(TrainConfig)}
    train.add_argument(
        "--model", choices=tuple(MODELS), default=default["model"], help="the model to train"
    )
    train.add_argument("--data", type=Path, required=True, help="prepared dataset folder")
    train.add_argument("--out", type=Path, required=True, help="folder for events/result")
    train.add_argument("--epochs", type=int, default=default["epochs"])
    train.add_argument("--batch-size", type=int, default=default["batch_size"])
    train.add_argument("--learning-rate", type=float, default=default["learning_rate"])
    train.add_argument("--seed", type=int, default=default["seed"])
    train.add_argument("--limit-train", type=int, default=None, help="first N training images")
    train.add_argument("--limit-test", type=int, default=None, help="first N test images")
    train.add_argument("--device", choices=DEVICES, default=default["device"])
    train.add_argument(
        "--threads", type=int, default=None, help="CPU threads (default: every allowed CPU)"
    )
    train.add_argument("--init", choices=INITS, default=default["init"])
    train.add_argument(
        "--precision", choices=PRECISIONS, default=default["precision"],
        help="float32 products on a GPU: exact (fp32) or TF32 tensor cores (tf32)",
    )  # fmt: skip
    train.add_argument(
        "--implementation",
        default=None,
        help="how the framework runs the training loop: "
        + "; ".join(f"{f}: {', '.join(names)}" for f, names in IMPLEMENTATIONS.items())
        + " (default: the first)",
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


def main(argv: list[str] | None = None, process_start: float | None = None) -> int:
    process_start = time.time() if process_start is None else process_start
    try:
        args = build_parser().parse_args(argv)
        if args.command == "devices":
            return devices()
        config = TrainConfig(
            data=args.data,
            out=args.out,
            epochs=args.epochs,
            batch_size=args.batch_size,
            learning_rate=args.learning_rate,
            seed=args.seed,
            limit_train=args.limit_train,
            limit_test=args.limit_test,
            device=args.device,
            threads=args.threads if args.threads is not None else available_cpus(),
            init=args.init,
            precision=args.precision,
            implementation=args.implementation,
            model=args.model,
        )
        from workload.runner import train

        result = train(config, process_start)
    except WorkloadInputError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    print(
        f"{result['framework']}: {len(result['epochs'])} epochs, "
        f"loss {result['epochs'][-1]['mean_loss']:.4f}, "
        f"test accuracy {result['test_accuracy']:.4f}, {result['phases']['total_s']:.1f} s"
    )
    return 0
