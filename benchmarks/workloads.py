"""Training speed of each framework on the same data with the same threads, side by side.

    python benchmarks/workloads.py [--frameworks keras,torch,jax] [--threads N]
        [--limit-train 8192] [--epochs 2] [--repeat 1] [--data DIR]

Runs the real entrypoint from each framework's environment (.venvs/<framework>), one run
at a time so they do not compete for the CPU, and reads the throughput from the run's own
events: images/second of the steady state (epochs after the first; within the first epoch,
after its first step when there is only one), the first step (compilation), the copy of
the training set to the device, start-up and peak memory. Prints a table; `--json` prints
the figures as one object instead."""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))


def steady_images_per_s(result: dict[str, Any], events: list[dict[str, Any]]) -> float:
    n = result["dataset"]["train_count"]
    batch = result["config"]["batch_size"]
    epochs = result["epochs"]
    if len(epochs) > 1:
        later = epochs[1:]
        return n * len(later) / sum(e["duration_s"] for e in later)
    first_step = next(e["t"] for e in events if e["event"] == "first_step_end")
    end = next(e["t"] for e in events if e["event"] == "epoch_end")
    return (n - batch) / (end - first_step)


def run_once(framework: str, data: Path, args: argparse.Namespace) -> dict[str, Any]:
    python = Path(os.environ.get("FWENERGY_VENVS", REPO / ".venvs")) / framework / "bin/python"
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "out"
        cmd = [str(python), "-m", "workload", "train", "--data", str(data), "--out", str(out)]
        cmd += ["--epochs", str(args.epochs), "--limit-train", str(args.limit_train)]
        cmd += ["--limit-test", str(args.limit_test), "--batch-size", str(args.batch_size)]
        cmd += ["--device", args.device]
        if args.threads:
            cmd += ["--threads", str(args.threads)]
        proc = subprocess.run(cmd, capture_output=True, text=True, check=False)
        if proc.returncode != 0:
            raise SystemExit(f"{framework} failed ({proc.returncode}): {proc.stderr[-2000:]}")
        result = json.loads((out / "result.json").read_text())
        events = [json.loads(line) for line in (out / "events.jsonl").open()]
    return {
        "images_per_s": steady_images_per_s(result, events),
        "first_step_s": result["phases"]["compile_s"],
        "to_device_s": result["phases"]["data_to_device_s"],
        "startup_s": result["phases"]["startup_s"],
        "epoch_s": [e["duration_s"] for e in result["epochs"]],
        "peak_rss_mib": result["peak_rss_bytes"] / 2**20,
        "loss": result["epochs"][-1]["mean_loss"],
        "threads": result["threads"]["intra_op"],
        "version": result["framework_version"],
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--frameworks", default="keras,torch,jax")
    parser.add_argument("--threads", type=int, default=None)
    parser.add_argument("--limit-train", type=int, default=8192)
    parser.add_argument("--limit-test", type=int, default=1024)
    parser.add_argument("--batch-size", type=int, default=64)
    parser.add_argument("--epochs", type=int, default=2)
    parser.add_argument("--repeat", type=int, default=1)
    parser.add_argument("--device", default="cpu")
    parser.add_argument(
        "--data", type=Path, default=None, help="prepared dataset (default: synthetic)"
    )
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()

    data = args.data
    if data is None:
        from orchestrator.data import prepare_dataset

        data = Path(tempfile.mkdtemp()) / "synthetic"
        prepare_dataset(
            "synthetic",
            data,
            progress=False,
            train_count=args.limit_train,
            test_count=args.limit_test,
        )
    rows: dict[str, list[dict[str, Any]]] = {}
    for _ in range(args.repeat):
        for framework in args.frameworks.split(","):
            rows.setdefault(framework, []).append(run_once(framework, data, args))

    summary = {
        f: {
            "images_per_s": statistics.median(r["images_per_s"] for r in runs),
            "first_step_s": statistics.median(r["first_step_s"] for r in runs),
            "to_device_s": statistics.median(r["to_device_s"] for r in runs),
            "startup_s": statistics.median(r["startup_s"] for r in runs),
            "peak_rss_mib": max(r["peak_rss_mib"] for r in runs),
            "loss": runs[-1]["loss"],
            "threads": runs[-1]["threads"],
            "version": runs[-1]["version"],
            "runs": len(runs),
        }
        for f, runs in rows.items()
    }
    if args.json:
        print(json.dumps(summary, indent=2))
        return
    print(
        f"{args.limit_train} images x {args.epochs} epochs, batch {args.batch_size}, "
        f"device {args.device}, {args.repeat} run(s) each (median)"
    )
    header = f"{'framework':<10}{'version':<14}{'threads':>8}{'images/s':>10}"
    header += f"{'1st step s':>11}{'to device s':>12}{'startup s':>10}{'peak MiB':>9}{'loss':>8}"
    print(header)
    for f, s in summary.items():
        print(
            f"{f:<10}{s['version']:<14}{s['threads']:>8}{s['images_per_s']:>10.0f}"
            f"{s['first_step_s']:>11.2f}{s['to_device_s']:>12.3f}{s['startup_s']:>10.2f}"
            f"{s['peak_rss_mib']:>9.0f}"
            f"{s['loss']:>8.4f}"
        )


if __name__ == "__main__":
    main()
