"""Reference: the plainest expert Keras training loop for the benchmark's CNN.

    python ref_keras.py --data DIR [--batch-size 64] [--epochs 2] [--threads N] [--limit-train N]

Shares no code with the workload (its own data loading, model and loop), so that
benchmarks/workloads.py can show how close the workload comes to what an expert would write:
`compile` with no metrics, then one `fit` on the arrays with Keras's own shuffling.
Prints one JSON object: the wall and CPU time of each epoch."""

import argparse
import json
import os
import time
from pathlib import Path

parser = argparse.ArgumentParser()
parser.add_argument("--data", type=Path, required=True)
parser.add_argument("--batch-size", type=int, default=64)
parser.add_argument("--epochs", type=int, default=2)
parser.add_argument("--threads", type=int, default=len(os.sched_getaffinity(0)))
parser.add_argument("--limit-train", type=int, default=None)
args = parser.parse_args()
os.sched_setaffinity(0, sorted(os.sched_getaffinity(0))[: args.threads])
os.environ["KERAS_BACKEND"] = "tensorflow"
os.environ["TF_NUM_INTRAOP_THREADS"] = str(args.threads)
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import keras  # noqa: E402
import numpy as np  # noqa: E402
from keras import layers  # noqa: E402

manifest = json.loads((args.data / "dataset.json").read_text())
with np.load(args.data / manifest["file"]) as npz:
    x = npz["x_train"][: args.limit_train].astype(np.float32)[..., None] / 255
    y = npz["y_train"][: args.limit_train].astype(np.int32)

model = keras.Sequential(
    [
        keras.Input((28, 28, 1)),
        layers.Conv2D(64, 3, padding="same", activation="relu"),
        layers.MaxPooling2D(),
        layers.Conv2D(128, 5, padding="same", activation="relu"),
        layers.MaxPooling2D(),
        layers.Flatten(),
        layers.Dense(10),
    ]
)
model.compile(
    optimizer=keras.optimizers.Adam(1e-3),
    loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True),
)


class EpochTimes(keras.callbacks.Callback):
    def on_epoch_begin(self, epoch, logs=None):
        self.start, self.cpu_start = time.perf_counter(), time.process_time()

    def on_epoch_end(self, epoch, logs=None):
        epoch_s.append(time.perf_counter() - self.start)
        cpu_s.append(time.process_time() - self.cpu_start)


epoch_s: list[float] = []
cpu_s: list[float] = []
history = model.fit(
    x, y, batch_size=args.batch_size, epochs=args.epochs, verbose=0, callbacks=[EpochTimes()]
)
print(
    json.dumps(
        {
            "epoch_s": epoch_s,
            "cpu_s": cpu_s,
            "version": keras.__version__,
            "loss": history.history["loss"][-1],
        }
    )
)
