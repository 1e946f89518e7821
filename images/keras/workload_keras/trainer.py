"""Keras 3 on TensorFlow: `Sequential` + `compile` + `fit`, Keras's own fast path (a traced
train step, XLA-compiled where Keras's `jit_compile="auto"` allows; the implementations `xla`
and `no-xla` force it on or off). The training set becomes
tensors once; each epoch `fit` gets a tf.data pipeline that gathers the batches of the shared
permutation from those tensors (what `fit` builds from arrays itself, without converting
the arrays again every epoch)."""

from __future__ import annotations

import os
from collections.abc import Callable
from typing import Any

os.environ.setdefault("KERAS_BACKEND", "tensorflow")

import keras
import numpy as np
import tensorflow as tf
from workload.framework import Framework, Setup, no_gpu
from workload.models import model_spec
from workload.training import (
    ADAM_BETA_1,
    ADAM_BETA_2,
    ADAM_EPSILON,
    EPSILON_CORRECTED,
    EPSILON_UNCORRECTED,
    LOSS_REDUCTION,
    Training,
)
from workload.weights import Weights

from workload_keras.models import MODELS

# The implementations (workload.IMPLEMENTATIONS): Keras's `jit_compile` for the train step.
# "auto" is Keras's default (XLA where Keras judges the model supports it).
JIT_COMPILE: dict[str, bool | str] = {"auto": "auto", "xla": True, "no-xla": False}
# Keras names the batch mean "sum_over_batch_size".
_REDUCTIONS = {"sum_over_batch_size": LOSS_REDUCTION}


def pipeline_options(autotune: bool = False) -> tf.data.Options:
    """The options of every tf.data pipeline the workload gives Keras (recorded in
    result.json's `input_pipeline`, read back from the pipelines themselves).
    benchmarks/keras_pipeline.py asks for `autotune=True` to show what it costs."""
    options = tf.data.Options()
    # Off, as in Keras's own array pipeline: tf.data's default rewrites serialize the
    # pipeline's graph, the captured training tensors with it, whenever an iterator is made
    # (each `fit`), and a gather gains nothing from them.
    options.experimental_optimization.apply_default_optimizations = False
    # Off: a gather from tensors in memory has nothing to tune, and tf.data's autotuning
    # thread costs whole seconds. An iterator's destructor (at the end of every `fit`, and of
    # every epoch of a multi-epoch `fit`) joins that thread, which at times wakes only at its
    # next scheduled round, about 20 * (2**k - 1) ms after the iterator began: Keras's "two
    # speeds" were epochs of 3.4 s that stalled to 5.1 s or 10.2 s (docs/workloads.md,
    # "Keras's two speeds"). AUTOTUNE then keeps the starting value (the map: min(16, the
    # CPUs tf.data may use)).
    options.autotune.enabled = autotune
    return options


_PIPELINE_OPTIONS = pipeline_options()


def gather_batches(
    xs: tf.Tensor, ys: tf.Tensor, order: np.ndarray, batch_size: int, options: tf.data.Options
) -> tf.data.Dataset:
    """Batches of indices in the epoch's order (the last one partial, as `fit` makes them),
    each gathered from tensors made once: no per-epoch copy of the data. The pipeline Keras
    builds from arrays, less its conversion of the arrays."""
    return (
        tf.data.Dataset.from_tensor_slices(order)
        .batch(batch_size)
        .map(lambda i: (tf.gather(xs, i), tf.gather(ys, i)), num_parallel_calls=tf.data.AUTOTUNE)
        .with_options(options)
        .prefetch(tf.data.AUTOTUNE)
    )


class Adam(keras.optimizers.Adam):
    """Keras's Adam with epsilon added to the bias-corrected sqrt(v), as torch.optim.Adam and
    optax.adam add it (workload.training.EPSILON_CORRECTED); Keras's adds it to the
    uncorrected sqrt(v). Everything else (state, schedules, XLA) is Keras's own.

    An embedding's gradient comes as tf.IndexedSlices, one slice per token of the batch:
    Keras's Adam squares each slice before the repeated rows are summed (its sparse
    update), so a token seen k times gets k small squares in v instead of one large one, a
    different update from the dense Adam of torch (nn.Embedding's default dense gradient)
    and optax. The slices are summed into the dense gradient first, as theirs are."""

    EPSILON_ADDED_TO = EPSILON_CORRECTED

    def update_step(self, gradient: Any, variable: Any, learning_rate: Any) -> None:
        ops = keras.ops
        lr = ops.cast(learning_rate, variable.dtype)
        if isinstance(gradient, tf.IndexedSlices):
            gradient = tf.convert_to_tensor(gradient)  # repeated rows summed, as in torch
        gradient = ops.cast(gradient, variable.dtype)
        step = ops.cast(self.iterations + 1, variable.dtype)
        correction_1 = 1 - ops.power(ops.cast(self.beta_1, variable.dtype), step)
        correction_2 = 1 - ops.power(ops.cast(self.beta_2, variable.dtype), step)
        m = self._momentums[self._get_variable_index(variable)]
        v = self._velocities[self._get_variable_index(variable)]
        self.assign_add(m, ops.multiply(ops.subtract(gradient, m), 1 - self.beta_1))
        self.assign_add(v, ops.multiply(ops.subtract(ops.square(gradient), v), 1 - self.beta_2))
        # torch: denom = sqrt(v) / sqrt(correction_2) + eps; param -= lr / correction_1 * m / denom
        denominator = ops.add(ops.divide(ops.sqrt(v), ops.sqrt(correction_2)), self.epsilon)
        self.assign_sub(variable, ops.divide(ops.multiply(m, lr / correction_1), denominator))


class _FirstStep(keras.callbacks.Callback):
    """Reports the end of the first training step of the epoch, then does nothing."""

    # Keras may run batch-end hooks on a worker thread once the step's outputs exist;
    # that is exactly when the first step has finished, and keeps the loop asynchronous.
    async_safe = True

    def __init__(self, done: Callable[[], Any]) -> None:
        super().__init__()
        self._done: Callable[[], Any] | None = done

    def on_train_batch_end(self, batch: int, logs: dict[str, Any] | None = None) -> None:
        if self._done is not None:
            self._done()
            self._done = None


class KerasFramework(Framework):
    name = "keras"
    # The options of the last tf.data pipeline given to Keras (`input_pipeline`).
    _pipeline: tf.data.Options | None = None

    def versions(self) -> dict[str, str]:
        return {"keras": keras.__version__, "tensorflow": tf.__version__}

    @staticmethod
    def gpus() -> list[str]:
        return [
            tf.config.experimental.get_device_details(d).get("device_name", d.name)
            for d in tf.config.list_physical_devices("GPU")
        ]

    def setup(self) -> Setup:
        tf.config.threading.set_intra_op_parallelism_threads(self.config.threads)
        # TensorFlow's default is TF32 on Ampere and newer: set, not assumed.
        tf.config.experimental.enable_tensor_float_32_execution(self.config.precision == "tf32")
        for device in tf.config.list_physical_devices("GPU"):
            # Grow on demand instead of mapping nearly all GPU memory, as torch and JAX here.
            tf.config.experimental.set_memory_growth(device, True)
        gpus = tf.config.list_physical_devices("GPU")
        if self.config.device == "gpu":
            if not gpus:
                raise no_gpu("TensorFlow")
            self.device_name = "/GPU:0"
            name = tf.config.experimental.get_device_details(gpus[0]).get("device_name", "gpu")
        else:
            self.device_name = "/CPU:0"
            name = "cpu"
        return Setup(
            device_used=self.config.device,
            device_name=name,
            intra_op_threads=tf.config.threading.get_intra_op_parallelism_threads(),
            inter_op_threads=tf.config.threading.get_inter_op_parallelism_threads(),
            numerics={
                "precision": self.config.precision if self.config.device == "gpu" else "fp32",
                "tf32_matmul": self.config.device == "gpu"
                and tf.config.experimental.tensor_float_32_execution_enabled(),
                "tf32_conv": self.config.device == "gpu"
                and tf.config.experimental.tensor_float_32_execution_enabled(),
                # cuDNN autotuning is TensorFlow's default (TF_CUDNN_USE_AUTOTUNE unset or 1).
                "conv_autotune": self.config.device == "gpu"
                and os.environ.get("TF_CUDNN_USE_AUTOTUNE", "1") != "0",
                "gpu_memory_preallocated": self.config.device == "gpu"
                and not all(
                    tf.config.experimental.get_memory_growth(d)
                    for d in tf.config.list_physical_devices("GPU")
                ),
            },
        )

    def _make(self, weights: Weights | None) -> None:
        """config.model on the device, with the given weights or Keras's seeded init."""
        keras.utils.set_random_seed(self.config.seed)
        self.spec = model_spec(self.config.model)
        self.arch = MODELS[self.spec.name]()
        with tf.device(self.device_name):
            self.model = self.arch.make()
            if weights is not None:
                self.arch.load(self.model, weights)

    def _parameter_count(self) -> int:
        # Trainable only: count_params() would add BatchNorm's running statistics.
        return sum(int(np.prod(v.shape)) for v in self.model.trainable_weights)

    def build(self, weights: Weights | None) -> int:
        self._make(weights)
        with tf.device(self.device_name):
            # No training metrics: torch and JAX compute only the loss on a training batch
            # (accuracy is computed in `evaluate`, outside training).
            self.model.compile(
                optimizer=Adam(
                    learning_rate=self.config.learning_rate,
                    beta_1=ADAM_BETA_1,
                    beta_2=ADAM_BETA_2,
                    epsilon=ADAM_EPSILON,
                ),
                loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True),
                jit_compile=JIT_COMPILE[self.implementation],
            )
        return self._parameter_count()

    def weights(self) -> Weights:
        return self.arch.export(self.model, self.spec.layout())

    def training(self) -> Training:
        opt, loss = self.model.optimizer, self.model.loss
        return Training(
            learning_rate=float(np.asarray(opt.learning_rate)),
            beta_1=float(opt.beta_1),
            beta_2=float(opt.beta_2),
            epsilon=float(opt.epsilon),
            weight_decay=float(opt.weight_decay or 0.0),
            amsgrad=bool(opt.amsgrad),
            epsilon_added_to=getattr(opt, "EPSILON_ADDED_TO", EPSILON_UNCORRECTED),
            loss_from_logits=bool(loss.get_config()["from_logits"]),
            loss_reduction=_REDUCTIONS.get(loss.reduction, loss.reduction),
            # Keras tracks the loss as a metric of its own; anything else is extra work.
            training_metrics=tuple(m.name for m in self.model.metrics if m.name != "loss"),
            objects={
                "optimizer": type(opt).__module__ + "." + type(opt).__qualname__,
                "loss": type(loss).__module__ + "." + type(loss).__qualname__,
                "jit_compile": str(JIT_COMPILE[self.implementation]),
            },
        )

    def model_settings(self) -> dict[str, Any]:
        return self.arch.settings(self.model)

    def logits(self, x: np.ndarray) -> np.ndarray:
        with tf.device(self.device_name):
            return np.asarray(self.model(x, training=False))

    def to_device(self, x: np.ndarray, y: np.ndarray) -> None:
        # In host memory even for a GPU: tf.data gathers the batches on the host, and `fit`
        # copies each batch to the GPU, as it does for arrays. What happens once here is the
        # conversion that `fit` would otherwise repeat every epoch.
        with tf.device("/CPU:0"):
            self._x_train = tf.convert_to_tensor(x)
            self._y_train = tf.convert_to_tensor(y)

    def train_epoch(self, order: np.ndarray, first_step_done: Callable[[], Any]) -> float:
        batches = gather_batches(
            self._x_train, self._y_train, order, self.config.batch_size, _PIPELINE_OPTIONS
        )
        self._pipeline = batches.options()
        with tf.device(self.device_name):
            history = self.model.fit(
                batches,
                epochs=1,
                shuffle=False,  # the order is the dataset's
                verbose=0,
                callbacks=[_FirstStep(first_step_done)],
            )
        return float(history.history["loss"][-1])

    def input_pipeline(self) -> dict[str, Any]:
        # Read back from the last pipeline given to Keras; inference feeds tensors directly.
        if self._pipeline is None:
            return {}
        return {
            "tf_data_autotune": self._pipeline.autotune.enabled,
            "tf_data_default_optimizations": (
                self._pipeline.experimental_optimization.apply_default_optimizations
            ),
        }

    def evaluate(self, x: np.ndarray, y: np.ndarray) -> tuple[float, float]:
        # One pass of logits, loss and accuracy from them: the model has no metrics to ask.
        # Batched by tf.data as `predict` batches arrays, with the training pipeline's options.
        batches = (
            tf.data.Dataset.from_tensor_slices(x)
            .batch(self.config.batch_size)
            .with_options(_PIPELINE_OPTIONS)
        )
        self._pipeline = batches.options()
        with tf.device(self.device_name):
            logits = self.model.predict(batches, verbose=0)
        loss = keras.losses.sparse_categorical_crossentropy(y, logits, from_logits=True)
        accuracy = float(np.mean(np.argmax(logits, axis=-1) == y))
        return float(np.mean(np.asarray(loss))), accuracy

    def build_inference(self, weights: Weights | None) -> int:
        self._make(weights)
        # Compiled for prediction only: `predict_on_batch` runs Keras's traced predict step
        # (`training=False`), XLA-compiled as the implementation says.
        self.model.compile(jit_compile=JIT_COMPILE[self.implementation])
        return self._parameter_count()

    def inference_to_device(self, batches: list[np.ndarray]) -> None:
        with tf.device(self.device_name):
            self._test_batches = [tf.identity(tf.convert_to_tensor(x)) for x in batches]

    def infer_batch(self, index: int) -> np.ndarray:
        # predict_on_batch returns NumPy: the logits are on the host when it returns.
        with tf.device(self.device_name):
            return np.asarray(self.model.predict_on_batch(self._test_batches[index]))
