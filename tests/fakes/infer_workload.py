"""A stand-in for `python -m workload infer` (docs/formats.md; the inference contract of
issue 14), for host-side tests until every framework environment has the real one: a real
executable, started by the real runtimes, that takes the entrypoint's arguments and writes
events.jsonl and result.json exactly as the contract specifies.

What it cannot be is a framework: its "model" is a fixed random projection of the pixels
(the same in every framework, so the logits agree as identical work demands), and each
batch takes FAKE_BATCH_S seconds (per framework: the spread a campaign compares). The
framework's name comes from FAKE_FRAMEWORK. Run as `python infer_workload.py infer ...`.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import sys
import time
from pathlib import Path

PROCESS_START = time.time()

import numpy as np  # noqa: E402 (after the process start, as the real entrypoint does)

SCHEMA_VERSION = 1
PARAMETER_COUNTS = {"mnist-cnn": 268_298}
PROBE_SIZE = 8


class InputError(Exception):
    """Exit 2 with one line, as the workload's WorkloadInputError."""


class Parser(argparse.ArgumentParser):
    def error(self, message: str) -> None:  # type: ignore[override]
        raise InputError(f"{message} (see `python -m workload infer --help`)")


def parser() -> argparse.ArgumentParser:
    p = Parser(prog="python -m workload")
    commands = p.add_subparsers(dest="command", required=True, parser_class=Parser)
    infer = commands.add_parser("infer")
    infer.add_argument("--model", choices=tuple(PARAMETER_COUNTS), default="mnist-cnn")
    infer.add_argument("--data", type=Path, required=True)
    infer.add_argument("--out", type=Path, required=True)
    infer.add_argument("--weights", type=Path, default=None)
    infer.add_argument("--batch-size", type=int, default=64)
    infer.add_argument("--limit-test", type=int, default=None)
    infer.add_argument("--seed", type=int, default=0)
    infer.add_argument("--device", choices=("cpu", "gpu"), default="cpu")
    infer.add_argument("--threads", type=int, default=None)
    infer.add_argument("--precision", choices=("fp32", "tf32"), default="fp32")
    infer.add_argument("--implementation", default=None)
    infer.add_argument("--init", choices=("shared", "native"), default="shared")
    return p


class Events:
    def __init__(self, path: Path) -> None:
        self.file = path.open("a", encoding="utf-8")

    def emit(self, event: str, t: float | None = None, **fields: object) -> float:
        now = time.time() if t is None else t
        self.file.write(json.dumps({"event": event, "t": now, **fields}) + "\n")
        self.file.flush()
        return now


def infer(args: argparse.Namespace) -> None:
    framework = os.environ["FAKE_FRAMEWORK"]
    batch_s = float(os.environ.get("FAKE_BATCH_S", "0.002"))
    manifest = json.loads((args.data / "dataset.json").read_text())
    count = min(manifest["test_count"], args.limit_test or manifest["test_count"])
    if not 1 <= args.batch_size < count:
        raise InputError(f"--batch-size {args.batch_size} leaves fewer than two batches")
    args.out.mkdir(parents=True, exist_ok=True)
    events = Events(args.out / "events.jsonl")
    events.emit("process_start", t=PROCESS_START)
    events.emit("imports_done")
    with np.load(args.data / manifest["file"]) as npz:
        x_test, y_test = npz["x_test"], npz["y_test"]
    if args.limit_test is not None:
        x_test, y_test = x_test[: args.limit_test], y_test[: args.limit_test]
    x = x_test.reshape(len(x_test), -1).astype(np.float32) / 255.0
    events.emit("data_loaded", train_count=0, test_count=len(y_test))  # the test split only
    rng = np.random.default_rng(args.seed)
    kernel = rng.standard_normal((x.shape[1], 10)).astype(np.float32) * 0.05
    weights_sha256 = hashlib.sha256(kernel.tobytes()).hexdigest()
    parameter_count = PARAMETER_COUNTS[args.model]
    model_built = events.emit("model_built", parameter_count=parameter_count)
    data_on_device = events.emit("data_on_device")
    probe = x[:PROBE_SIZE] @ kernel
    infer_start = events.emit("infer_start", batches=-(-len(x) // args.batch_size))
    latencies_s, logits = [], []
    for n, first in enumerate(range(0, len(x), args.batch_size)):
        t0 = time.perf_counter()
        logits.append(x[first : first + args.batch_size] @ kernel)
        time.sleep(batch_s * (5 if n == 0 else 1))  # the first batch compiles
        latencies_s.append(time.perf_counter() - t0)
        if n == 0:
            events.emit("first_batch_end")
    infer_end = events.emit("infer_end")
    done = events.emit("done")
    all_logits = np.concatenate(logits)
    shifted = all_logits - all_logits.max(axis=1, keepdims=True)
    log_p = shifted - np.log(np.exp(shifted).sum(axis=1, keepdims=True))
    steady_ms = np.asarray(latencies_s[1:]) * 1000.0
    examples = len(x)
    result = {
        "schema": "fwenergy.result",
        "schema_version": SCHEMA_VERSION,
        "task": "infer",
        "model": args.model,
        "framework": framework,
        "framework_version": "0.0+stand-in",
        "implementation": args.implementation or "default",
        "versions": {"python": sys.version.split()[0], "numpy": np.__version__},
        "device": {"requested": args.device, "used": "cpu", "name": "stand-in"},
        "threads": {"requested": args.threads},
        "numerics": {"precision": "fp32"},
        "input_pipeline": {},
        "config": {
            "model": args.model,
            "batch_size": args.batch_size,
            "seed": args.seed,
            "limit_test": args.limit_test,
            "init": args.init,
            "precision": args.precision,
        },
        "parameter_count": parameter_count,
        "dataset": {
            "name": manifest["name"],
            "sha256": manifest["sha256"],
            "test_count": examples,
        },
        "inference": {
            "batch_size": args.batch_size,
            "batches": len(latencies_s),
            "examples": examples,
            "examples_per_s": (
                (examples - len(logits[0])) / sum(latencies_s[1:]) if len(logits) > 1 else None
            ),
            "latency_ms": {
                "mean": float(steady_ms.mean()) if steady_ms.size else None,
                **{
                    f"p{q}": float(np.percentile(steady_ms, q)) if steady_ms.size else None
                    for q in (50, 90, 99)
                },
                "max": float(steady_ms.max()) if steady_ms.size else None,
            },
            "first_batch_s": latencies_s[0],
        },
        "weights": {"source": "shared", "sha256": weights_sha256},
        "identical_work": {
            "initial_weights_sha256": weights_sha256,
            "batch_order_sha256": None,
            "probe_logits": np.round(probe.astype(np.float64), 6).tolist(),
            "logits_sha256": None,
        },
        "test_accuracy": float((all_logits.argmax(axis=1) == y_test).mean()),
        "test_loss": float(-log_p[np.arange(examples), y_test].mean()),
        "peak_rss_bytes": 50_000_000,
        "phases": {
            "startup_s": model_built - PROCESS_START,
            "data_to_device_s": data_on_device - model_built,
            "compile_s": latencies_s[0],
            "infer_s": infer_end - infer_start,
            "total_s": done - PROCESS_START,
        },
        "started_at": PROCESS_START,
        "ended_at": done,
    }
    partial = args.out / ".result.json.partial"
    partial.write_text(json.dumps(result, indent=2) + "\n")
    partial.replace(args.out / "result.json")


def main(argv: list[str]) -> int:
    try:
        infer(parser().parse_args(argv))
    except InputError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
