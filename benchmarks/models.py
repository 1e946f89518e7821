"""Training speed of one model in each framework: examples (images or texts) per second.

    python benchmarks/models.py --model text-transformer [--frameworks keras,torch,jax]
        [--threads 1,2] [--batch-size 64] [--limit-train 2048] [--epochs 2] [--data DIR]

Runs the real entrypoint (`python -m workload train --model ...`) from each framework's
environment (.venvs/<framework>, or $FWENERGY_VENVS), one process at a time, on the model's
synthetic dataset (prepared here) or a prepared --data. Throughput is that of the steady
state, the epochs after the first (benchmarks/workloads.py's `steady`), per second of wall
time and per second of CPU time; the first step (compilation) and the 1-minute load average
before each run are printed beside it, since this machine's cores are shared."""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(REPO / "benchmarks"))

from workloads import steady  # noqa: E402

from orchestrator.paths import workload_pythonpath  # noqa: E402
from orchestrator.workloads import model  # noqa: E402


def run(framework: str, threads: int, data: Path, args: argparse.Namespace) -> dict[str, Any]:
    python = Path(os.environ.get("FWENERGY_VENVS", REPO / ".venvs")) / framework / "bin/python"
    env = os.environ | {"PYTHONPATH": workload_pythonpath(framework)}
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "out"
        cmd = [str(python), "-m", "workload", "train", "--model", args.model]
        cmd += ["--data", str(data), "--out", str(out), "--epochs", str(args.epochs)]
        cmd += ["--batch-size", str(args.batch_size), "--limit-train", str(args.limit_train)]
        cmd += ["--limit-test", str(args.limit_test), "--threads", str(threads)]
        load = os.getloadavg()[0]
        proc = subprocess.run(cmd, capture_output=True, text=True, env=env, check=False)
        if proc.returncode != 0:
            raise SystemExit(f"{framework} failed ({proc.returncode}): {proc.stderr[-2000:]}")
        result = json.loads((out / "result.json").read_text())
    return {
        "framework": framework,
        "version": result["framework_version"],
        "threads": threads,
        **steady(result["dataset"]["train_count"], result["epochs"]),
        "first_step_s": result["phases"]["compile_s"],
        "load_avg_1min": load,
        "loss": result["epochs"][-1]["mean_loss"],
    }


def synthetic(model_name: str, train_count: int, test_count: int) -> Path:
    """The model's synthetic dataset, prepared in a temporary folder."""
    from orchestrator.data import prepare_dataset

    name = next(d for d in model(model_name).datasets if d.startswith("synthetic"))
    out = Path(tempfile.mkdtemp()) / name
    prepare_dataset(name, out, progress=False, train_count=train_count, test_count=test_count)
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", required=True)
    parser.add_argument("--frameworks", default="keras,torch,jax")
    parser.add_argument("--threads", default="1,2", help="thread counts, comma-separated")
    parser.add_argument("--batch-size", type=int, default=64)
    parser.add_argument("--limit-train", type=int, default=2048)
    parser.add_argument("--limit-test", type=int, default=256)
    parser.add_argument("--epochs", type=int, default=2)
    parser.add_argument("--data", type=Path, default=None, help="prepared dataset folder")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    if args.epochs < 2:
        parser.error("--epochs must be at least 2: the steady state is the epochs after the first")
    data = args.data or synthetic(args.model, args.limit_train, args.limit_test)
    rows = [
        run(f, int(t), data, args)
        for t in args.threads.split(",")
        for f in args.frameworks.split(",")
    ]
    if args.json:
        print(json.dumps(rows, indent=2))
        return
    print(
        f"{args.model}: {args.limit_train} examples x {args.epochs} epochs, batch {args.batch_size}"
    )
    header = f"{'framework':<10}{'version':<14}{'thr':>4}{'ex/s':>9}{'ex/CPU-s':>10}"
    print(f"{header}{'1st step s':>11}{'load':>6}")
    for r in rows:
        print(
            f"{r['framework']:<10}{r['version']:<14}{r['threads']:>4}{r['images_per_s']:>9.0f}"
            f"{r['images_per_cpu_s']:>10.0f}{r['first_step_s']:>11.1f}{r['load_avg_1min']:>6.1f}"
        )


if __name__ == "__main__":
    main()
