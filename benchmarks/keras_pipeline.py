"""Keras's stall at the end of an epoch: tf.data's autotuning on (TensorFlow's default, and
what `fit` on arrays uses) against off (the workload's pipelines), side by side.

    python benchmarks/keras_pipeline.py [--repeat 3] [--epochs 5] [--images 3840]
        [--batch-size 128] [--threads 2] [--environment keras] [--json]

Each repetition runs two processes from a Keras environment (.venvs/keras; `--environment
keras-2.18` for the version variant), one per setting, the order alternating from one
repetition to the next. Each trains the workload's `mnist-cnn` Keras model on random
MNIST-shaped images, one `fit` per epoch over the workload's tf.data gather of the epoch's
permutation (`gather_batches`, with the setting under test), and times two
things per epoch: the whole `fit`, and its **stall**, from the end of the last batch to
`fit`'s return, where the epoch's iterator is destroyed. It prints, per setting, the
epochs after the first (median [min-max] seconds), the stalls, and how many epochs stalled
for more than 0.1 s. Each process runs on the first `--threads` CPUs it may use.
docs/workloads.md ("Keras's two speeds") explains the stall."""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent
SETTINGS = ("autotune-on", "autotune-off")
STALLED_S = 0.1
PASSED = ("epochs", "images", "batch_size", "threads")  # to each process


def child(setting: str, args: argparse.Namespace) -> None:
    """One process: time each epoch's `fit` and its stall; print them as JSON."""
    # As many CPUs as threads, as the references run: on one CPU every epoch stalls.
    os.sched_setaffinity(0, sorted(os.sched_getaffinity(0))[: args.threads])
    os.environ["KERAS_BACKEND"] = "tensorflow"
    os.environ["TF_NUM_INTRAOP_THREADS"] = str(args.threads)
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    import time

    import keras
    import numpy as np
    import tensorflow as tf

    rng = np.random.default_rng(0)
    x = tf.convert_to_tensor(rng.random((args.images, 28, 28, 1), dtype=np.float32))
    y = tf.convert_to_tensor(rng.integers(0, 10, args.images))
    # The workload's own model and pipeline, with the setting under test.
    from workload_keras.models.mnist_cnn import MnistCnn
    from workload_keras.trainer import gather_batches, pipeline_options

    options = pipeline_options(autotune=setting == "autotune-on")

    model = MnistCnn().make()
    model.compile(
        optimizer=keras.optimizers.Adam(1e-3),
        loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True),
    )

    class LastBatch(keras.callbacks.Callback):
        def on_train_batch_end(self, batch: int, logs: Any = None) -> None:
            self.end = time.perf_counter()

    epochs = []
    for _ in range(args.epochs):
        batches = gather_batches(x, y, rng.permutation(args.images), args.batch_size, options)
        last = LastBatch()
        start = time.perf_counter()
        model.fit(batches, epochs=1, verbose=0, callbacks=[last])
        end = time.perf_counter()
        epochs.append({"fit_s": end - start, "stall_s": end - last.end})
    print(json.dumps(epochs))


def summary(values: list[float]) -> str:
    return f"{statistics.median(values):.2f} [{min(values):.2f}-{max(values):.2f}]"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--epochs", type=int, default=5)
    parser.add_argument("--images", type=int, default=3840)
    parser.add_argument("--batch-size", type=int, default=128)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--environment", default="keras", help="a folder of .venvs")
    parser.add_argument("--json", action="store_true")
    parser.add_argument("--child", choices=SETTINGS, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        child(args.child, args)
        return
    if args.epochs < 2 or args.repeat < 1:
        parser.error("--epochs must be at least 2 (the first compiles) and --repeat at least 1")
    venvs = Path(os.environ.get("FWENERGY_VENVS", REPO / ".venvs"))
    python = venvs / args.environment / "bin/python"
    if not python.exists():
        parser.error(f"{python} missing: run `make venvs` (or `make version-venvs`) first")
    passed = [f"--{k.replace('_', '-')}={v}" for k, v in vars(args).items() if k in PASSED]
    sys.path.insert(0, str(REPO))  # the host's side only: the children run in Keras's venv
    from orchestrator.paths import workload_pythonpath

    # The checkout's workload code first, as the local runtime runs it: its model.
    env = os.environ | {"PYTHONPATH": workload_pythonpath("keras")}
    steady: dict[str, list[dict[str, float]]] = {s: [] for s in SETTINGS}
    for repetition in range(args.repeat):
        order = SETTINGS if repetition % 2 == 0 else SETTINGS[::-1]
        for setting in order:
            cmd = [str(python), __file__, "--child", setting, *passed]
            out = subprocess.run(cmd, capture_output=True, text=True, check=True, env=env)
            # The first epoch compiles the step: the steady state is the epochs after it.
            steady[setting] += json.loads(out.stdout.splitlines()[-1])[1:]
    if args.json:
        print(json.dumps(steady))
        return
    print(f"{args.environment}: {args.images} images, batch {args.batch_size}, ", end="")
    print(f"{args.threads} threads, ", end="")
    print(f"{args.repeat} processes x {args.epochs - 1} steady epochs per setting")
    print(f"{'setting':14} {'epoch s':20} {'stall s':20} stalled > {STALLED_S} s")
    for setting, epochs in steady.items():
        stalls = [e["stall_s"] for e in epochs]
        stalled = sum(s > STALLED_S for s in stalls)
        fits = summary([e["fit_s"] for e in epochs])
        print(f"{setting:14} {fits:20} {summary(stalls):20} {stalled} of {len(epochs)}")


if __name__ == "__main__":
    main()
