"""Reference: the plainest expert Keras training loop for the benchmark's CNN (usage and
output: harness.py): `compile` with no metrics, then one `fit` on the arrays with Keras's
own shuffling. Shares no code with the workload (its own data loading, model and loop), so
that benchmarks/workloads.py can show how close the workload comes to it."""

import os

from harness import EpochClock, arguments, training_set

args = arguments()
os.environ["KERAS_BACKEND"] = "tensorflow"
os.environ["TF_NUM_INTRAOP_THREADS"] = str(args.threads)
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import keras  # noqa: E402
from keras import layers  # noqa: E402

x, y = training_set(args)
x = x[..., None]  # NHWC

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
clock = EpochClock()


class EpochTimes(keras.callbacks.Callback):
    def on_epoch_begin(self, epoch, logs=None):
        clock.start()

    def on_epoch_end(self, epoch, logs=None):
        clock.stop()


history = model.fit(
    x, y, batch_size=args.batch_size, epochs=args.epochs, verbose=0, callbacks=[EpochTimes()]
)
clock.report(keras.__version__, history.history["loss"][-1])
