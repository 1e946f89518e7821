"""Training speed of each framework's workload next to an expert's plain loop, side by side.

    python benchmarks/workloads.py [--frameworks keras,torch,jax] [--threads N]
        [--batch-sizes 64,128] [--limit-train 3840] [--epochs 2] [--repeat 3] [--data DIR]

Runs the real entrypoint from each framework's environment (.venvs/<framework>), and after
(or before: the order alternates from one repetition to the next, so slow drift of the
machine's load cancels) each workload run the framework's reference in
benchmarks/references/: the shortest, plainest training loop an expert would write for the
same model on the same data, sharing no code with the workload. One process at a time, so
they do not compete for the CPU. Throughput is images/second of the steady state (epochs
after the first; with one epoch, epoch 1 after its first step). For each framework and batch
size it prints the workload's and the reference's images/second (median and range over the
repetitions) and the workload/reference ratio of each repetition's pair (median and range),
with the load average the runs saw; the workload's first step (compilation), the copy of
the training set to the device, start-up and peak memory come from its result.json.
`--json` prints the figures as one object instead."""

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
REFERENCES = REPO / "benchmarks" / "references"
sys.path.insert(0, str(REPO))

from analysis.modes import two_modes  # noqa: E402


def steady(n: int, epochs: list[dict[str, float]]) -> dict[str, float]:
    """Images per second of wall time and per second of CPU time (every thread of the
    process) over the epochs after the first. CPU time does not count time spent waiting for
    a CPU, so on a shared machine its ratio is far steadier than the wall-time one; it does
    not see a loop that leaves a thread idle, which the wall time and `cpu_use` do."""
    later = epochs[1:]
    wall = sum(e["duration_s"] for e in later)
    cpu = sum(e["cpu_s"] for e in later)
    return {
        "images_per_s": n * len(later) / wall,
        "images_per_cpu_s": n * len(later) / cpu,
        "cpu_use": cpu / wall,  # CPUs busy on average, at most --threads
    }


def _python(framework: str) -> Path:
    return Path(os.environ.get("FWENERGY_VENVS", REPO / ".venvs")) / framework / "bin/python"


def run_reference(
    framework: str, data: Path, args: argparse.Namespace, batch: int
) -> dict[str, float]:
    """Steady-state speed of the framework's reference loop."""
    cmd = [str(_python(framework)), str(REFERENCES / f"ref_{framework}.py"), "--data", str(data)]
    cmd += ["--batch-size", str(batch), "--epochs", str(args.epochs)]
    cmd += ["--limit-train", str(args.limit_train)]
    if args.threads:
        cmd += ["--threads", str(args.threads)]
    proc = subprocess.run(cmd, capture_output=True, text=True, check=False)
    if proc.returncode != 0:
        raise SystemExit(f"reference {framework} failed ({proc.returncode}): {proc.stderr[-2000:]}")
    out = json.loads(proc.stdout.strip().splitlines()[-1])
    epochs = [
        {"duration_s": w, "cpu_s": c} for w, c in zip(out["epoch_s"], out["cpu_s"], strict=True)
    ]
    return steady(args.limit_train, epochs)


def run_once(framework: str, data: Path, args: argparse.Namespace, batch: int) -> dict[str, Any]:
    python = _python(framework)
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "out"
        cmd = [str(python), "-m", "workload", "train", "--data", str(data), "--out", str(out)]
        cmd += ["--epochs", str(args.epochs), "--limit-train", str(args.limit_train)]
        cmd += ["--limit-test", str(args.limit_test), "--batch-size", str(batch)]
        cmd += ["--device", args.device]
        if args.threads:
            cmd += ["--threads", str(args.threads)]
        proc = subprocess.run(cmd, capture_output=True, text=True, check=False)
        if proc.returncode != 0:
            raise SystemExit(f"{framework} failed ({proc.returncode}): {proc.stderr[-2000:]}")
        result = json.loads((out / "result.json").read_text())
    return {
        **steady(result["dataset"]["train_count"], result["epochs"]),
        "first_step_s": result["phases"]["compile_s"],
        "to_device_s": result["phases"]["data_to_device_s"],
        "startup_s": result["phases"]["startup_s"],
        "epoch_s": [e["duration_s"] for e in result["epochs"]],
        "peak_rss_mib": result["peak_rss_bytes"] / 2**20,
        "loss": result["epochs"][-1]["mean_loss"],
        "threads": result["threads"]["intra_op"],
        "version": result["framework_version"],
    }


def _spread(values: list[float]) -> dict[str, float]:
    return {"median": statistics.median(values), "min": min(values), "max": max(values)}


def pairs(framework: str, data: Path, args: argparse.Namespace, batch: int) -> dict[str, Any]:
    """`args.repeat` pairs of (workload, reference) runs, the order alternating."""
    work: list[dict[str, Any]] = []
    ref: list[dict[str, float]] = []
    load: list[float] = []
    for r in range(args.repeat):
        load.append(os.getloadavg()[0])
        if r % 2 == 0:
            work.append(run_once(framework, data, args, batch))
            ref.append(run_reference(framework, data, args, batch))
        else:
            ref.append(run_reference(framework, data, args, batch))
            work.append(run_once(framework, data, args, batch))
        print(
            f"  batch {batch} {framework} #{r + 1}: workload {work[-1]['images_per_s']:.0f}, "
            f"reference {ref[-1]['images_per_s']:.0f} images/s; per CPU-second "
            f"{work[-1]['images_per_cpu_s']:.0f} vs {ref[-1]['images_per_cpu_s']:.0f}; "
            f"load {load[-1]:.1f}",
            file=sys.stderr,
        )
    summary: dict[str, Any] = {"load_avg_1min": _spread(load), "runs": []}
    for key in ("images_per_s", "images_per_cpu_s", "cpu_use"):
        summary[f"workload_{key}"] = _spread([w[key] for w in work])
        summary[f"reference_{key}"] = _spread([r[key] for r in ref])
    summary["ratio"] = _spread(
        [w["images_per_s"] / r["images_per_s"] for w, r in zip(work, ref, strict=True)]
    )
    summary["cpu_ratio"] = _spread(
        [w["images_per_cpu_s"] / r["images_per_cpu_s"] for w, r in zip(work, ref, strict=True)]
    )
    summary["runs"] = [
        {"first": "workload" if i % 2 == 0 else "reference"}
        | {"workload": {k: w[k] for k in r}, "reference": r}
        for i, (w, r) in enumerate(zip(work, ref, strict=True))
    ]
    speeds = [w["images_per_s"] for w in work] + [r["images_per_s"] for r in ref]
    modes = two_modes(speeds)
    summary["bimodal"] = modes.bimodal
    # Which side's runs are slow: the workload and its reference need not share a mode (the
    # plain `fit` reference keeps Keras's tf.data stall, the workload does not).
    slow = [modes.bimodal and not high for high in modes.high]
    summary["slow_mode_runs"] = {
        "workload": sum(slow[: len(work)]),
        "reference": sum(slow[len(work) :]),
    }
    for key in ("first_step_s", "to_device_s", "startup_s"):
        summary[key] = statistics.median(w[key] for w in work)
    summary["peak_rss_mib"] = max(w["peak_rss_mib"] for w in work)
    summary["loss"] = work[-1]["loss"]
    summary["threads"] = work[-1]["threads"]
    summary["version"] = work[-1]["version"]
    return summary


def _range(s: dict[str, float], fmt: str) -> str:
    return f"{s['median']:{fmt}} [{s['min']:{fmt}}-{s['max']:{fmt}}]"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--frameworks", default="keras,torch,jax")
    parser.add_argument("--threads", type=int, default=None)
    parser.add_argument("--limit-train", type=int, default=3840)
    parser.add_argument("--limit-test", type=int, default=512)
    parser.add_argument("--batch-sizes", default="64,128")
    parser.add_argument("--epochs", type=int, default=2)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--device", default="cpu")
    parser.add_argument(
        "--data", type=Path, default=None, help="prepared dataset (default: synthetic)"
    )
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    if args.epochs < 2:
        parser.error("--epochs must be at least 2: the steady state is the epochs after the first")

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
    batches = [int(b) for b in args.batch_sizes.split(",")]
    summary = {
        str(batch): {f: pairs(f, data, args, batch) for f in args.frameworks.split(",")}
        for batch in batches
    }
    if args.json:
        print(json.dumps(summary, indent=2))
        return
    print(
        f"{args.limit_train} images x {args.epochs} epochs, device {args.device}, "
        f"{args.repeat} alternating workload/reference pair(s) each: median [min-max]"
    )
    header = f"{'batch':>5} {'framework':<10}{'version':<13}{'thr':>4}{'workload img/s':>18}"
    header += f"{'reference img/s':>18}{'ratio':>19}{'CPU-time ratio':>19}{'load':>15}"
    header += f"{'1st step s':>11}{'startup s':>10}{'peak MiB':>9}"
    print(header)
    for batch, rows in summary.items():
        for f, s in rows.items():
            print(
                f"{batch:>5} {f:<10}{s['version']:<13}{s['threads']:>4}"
                f"{_range(s['workload_images_per_s'], '.0f'):>18}"
                f"{_range(s['reference_images_per_s'], '.0f'):>18}"
                f"{_range(s['ratio'], '.2f'):>19}{_range(s['cpu_ratio'], '.2f'):>19}"
                f"{_range(s['load_avg_1min'], '.1f'):>15}"
                f"{s['first_step_s']:>11.2f}{s['startup_s']:>10.2f}{s['peak_rss_mib']:>9.0f}"
            )
            if s["bimodal"]:
                slow = s["slow_mode_runs"]
                print(
                    f"      warning: {f}'s images/s at batch {batch} fall into two modes; in the "
                    f"slower: {slow['workload']} workload and {slow['reference']} reference run(s)"
                )
    print(
        "ratio: workload / reference images/s of each pair (wall time); CPU-time ratio: the "
        "same per CPU-second, steady under background load; load: 1-minute load average"
    )


if __name__ == "__main__":
    main()
