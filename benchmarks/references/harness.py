"""What the three reference loops share, and nothing of the workload: their command line,
the CPU pinning, reading the prepared dataset, the epoch clock and the one line of output.

    python ref_<framework>.py --data DIR [--batch-size 64] [--epochs 2] [--threads N]
        [--limit-train N]

prints one JSON object: the wall and CPU time of each epoch, the framework's version and
the last loss."""

from __future__ import annotations

import argparse
import json
import os
import time
from pathlib import Path
from typing import Any


def arguments() -> argparse.Namespace:
    parser = argparse.ArgumentParser()
    parser.add_argument("--data", type=Path, required=True)
    parser.add_argument("--batch-size", type=int, default=64)
    parser.add_argument("--epochs", type=int, default=2)
    parser.add_argument("--threads", type=int, default=len(os.sched_getaffinity(0)))
    parser.add_argument("--limit-train", type=int, default=None)
    args = parser.parse_args()
    # Before the framework is imported: XLA sizes its thread pool from the allowed CPUs.
    os.sched_setaffinity(0, sorted(os.sched_getaffinity(0))[: args.threads])
    return args


def training_set(args: argparse.Namespace) -> tuple[Any, Any]:
    """Images as float32 in [0, 1], shape (N, 28, 28); labels as int64."""
    import numpy as np

    manifest = json.loads((args.data / "dataset.json").read_text())
    with np.load(args.data / manifest["file"]) as npz:
        x = npz["x_train"][: args.limit_train].astype(np.float32) / 255
        y = npz["y_train"][: args.limit_train].astype(np.int64)
    return x, y


class EpochClock:
    """Wall and CPU time (every thread of the process) of each epoch."""

    def __init__(self) -> None:
        self.epoch_s: list[float] = []
        self.cpu_s: list[float] = []

    def start(self) -> None:
        self._wall, self._cpu = time.perf_counter(), time.process_time()

    def stop(self) -> None:
        self.epoch_s.append(time.perf_counter() - self._wall)
        self.cpu_s.append(time.process_time() - self._cpu)

    def report(self, version: str, loss: float) -> None:
        out = {"epoch_s": self.epoch_s, "cpu_s": self.cpu_s, "version": version, "loss": loss}
        print(json.dumps(out))
