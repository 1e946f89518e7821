"""JAX + Flax (Linen) + Optax: the training data lives on the device and a jitted step
picks its batch there, so the host only dispatches steps (asynchronously) and reads the
loss once per epoch. The last partial batch, if any, has its own jitted step.

Implementations: `step` (the default) dispatches one jitted step per batch; `scan` runs the
epoch's full batches as one jitted `lax.scan` (one dispatch per epoch, the loop inside XLA),
then the partial batch with the same last step. On XLA:CPU the scan ran about 100x slower
per step than separately jitted steps when it was tried as the default (the convolutions
inside the loop body lost their fast path); on a GPU it is the fast one. Its first step is
the ahead-of-time compilation of the scan, so `compile_s` stays compilation only.

A model with BatchNorm keeps its running statistics in Flax's "batch_stats" collection: the
steps carry them next to the parameters (updated by the training-mode forward pass), and
the logits and the evaluation use them (`train=False`); a model without any carries `{}`."""

from __future__ import annotations

import os
from collections.abc import Callable
from functools import partial
from typing import Any

import flax
import flax.linen as nn
import jax
import jax.numpy as jnp
import numpy as np
import optax
from workload.batches import batch_slices
from workload.framework import Framework, Setup, no_gpu
from workload.models import IMAGE, model_spec
from workload.training import (
    ADAM_BETA_1,
    ADAM_BETA_2,
    ADAM_EPSILON,
    EPSILON_CORRECTED,
    LOSS_REDUCTION,
    Training,
)
from workload.weights import Weights

from workload_jax.models import MODELS
from workload_jax.models.base import PARAMS, STATS


def _variables(params: Any, stats: Any) -> dict[str, Any]:
    return {PARAMS: params, STATS: stats} if stats else {PARAMS: params}


def _loss(
    params: Any, stats: Any, model: nn.Module, x: jax.Array, y: jax.Array
) -> tuple[jax.Array, Any]:
    """The batch's mean loss, and the statistics updated by the training-mode pass. `stats`
    is `{}` for a model without any: its emptiness is structure, fixed when jit traces."""
    if stats:
        logits, updated = model.apply(_variables(params, stats), x, train=True, mutable=[STATS])
        stats = updated[STATS]
    else:
        logits = model.apply(_variables(params, stats), x, train=True)
    return optax.softmax_cross_entropy_with_integer_labels(logits, y).mean(), stats


class JaxFramework(Framework):
    name = "jax"

    def versions(self) -> dict[str, str]:
        import jaxlib

        return {
            "jax": jax.__version__,
            "jaxlib": jaxlib.__version__,
            "flax": flax.__version__,
            "optax": optax.__version__,
        }

    @staticmethod
    def gpus() -> list[str]:
        try:
            return [str(d.device_kind) for d in jax.devices("gpu")]
        except RuntimeError:  # no GPU backend: a CPU build, or no driver
            return []

    def setup(self) -> Setup:
        # Read when the GPU backend starts (the first jax.devices()): no preallocation of 75%
        # of the GPU's memory, as torch and TensorFlow (memory growth) do not preallocate.
        os.environ["XLA_PYTHON_CLIENT_PREALLOCATE"] = "false"
        try:
            self.device = jax.devices(self.config.device)[0]
        except RuntimeError as exc:
            raise no_gpu("JAX") from exc  # JAX always has a CPU
        # JAX's GPU default for float32 dots and convolutions is TF32 ("default" precision):
        # "highest" is exact float32.
        matmul = "tensorfloat32" if self.config.precision == "tf32" else "highest"
        jax.config.update("jax_default_matmul_precision", matmul)
        gpu = self.device.platform == "gpu"
        return Setup(
            device_used=self.device.platform,
            device_name=self.device.device_kind,
            # XLA:CPU sizes its pool from the CPU affinity set by the common code.
            intra_op_threads=self.config.threads,
            inter_op_threads=None,
            numerics={
                "precision": self.config.precision if gpu else "fp32",
                "tf32_matmul": gpu and jax.config.jax_default_matmul_precision != "highest",
                "tf32_conv": gpu and jax.config.jax_default_matmul_precision != "highest",
                "conv_autotune": gpu,  # XLA:GPU autotunes convolutions by default
                "gpu_memory_preallocated": gpu
                and os.environ.get("XLA_PYTHON_CLIENT_PREALLOCATE", "true") != "false",
            },
        )

    def _make(self, weights: Weights | None) -> dict[str, Any]:
        """config.model's module and its variables on the device, from the given weights or
        Flax's init seeded by config.seed."""
        self.spec = model_spec(self.config.model)
        self.arch = MODELS[self.spec.name]()
        self.model = self.arch.make()
        dtype = jnp.float32 if self.spec.input_kind == IMAGE else jnp.int32
        self._example = jnp.zeros((1, *self.spec.input_shape), dtype)
        if weights is None:
            key = jax.random.PRNGKey(self.config.seed)
            variables = self.model.init(key, self._example, train=False)
        else:
            # Flax's layout is the canonical one: kernels HWIO, dense (in, out), NHWC flatten.
            variables = self.arch.to_variables(weights)
        variables = dict(jax.device_put(variables, self.device))
        self.params = variables[PARAMS]
        self.stats = variables.get(STATS, {})  # {} for a model without statistics
        # The model in inference mode, jitted (BatchNorm reads its running statistics): the
        # probe logits and inference. A batch of another size compiles once more.
        self._logits = jax.jit(partial(self.model.apply, train=False))
        return variables

    def build(self, weights: Weights | None) -> int:
        self._make(weights)
        # inject_hyperparams keeps the hyperparameters in the optimizer state, where
        # `training` reads them back (optax.adam alone closes over them).
        self.tx = optax.inject_hyperparams(optax.adam)(
            learning_rate=self.config.learning_rate,
            b1=ADAM_BETA_1,
            b2=ADAM_BETA_2,
            eps=ADAM_EPSILON,
        )
        # On the device like everything the step returns: an argument that is not committed
        # to a device differs from the step's own outputs, and the step would be compiled
        # again for its second call (and the first of each later epoch).
        self.opt_state = jax.device_put(self.tx.init(self.params), self.device)
        step = partial(_train_step, self.model, self.tx, self.config.batch_size)
        self._step = jax.jit(step, donate_argnums=(0, 1, 2, 3))
        last = partial(_last_step, self.model, self.tx)
        self._last = jax.jit(last, donate_argnums=(0, 1, 2, 3))
        scan = partial(_scan_epoch, self.model, self.tx, self.config.batch_size)
        self._scan = jax.jit(scan, donate_argnums=(0, 1, 2))
        self._scan_compiled: Any = None
        return _count(self.params)

    def weights(self) -> Weights:
        variables = {PARAMS: self.params, STATS: self.stats}
        return self.arch.from_variables(jax.device_get(variables), self.spec.layout())

    def model_settings(self) -> dict[str, Any]:
        return self.arch.settings(self.model, _variables(self.params, self.stats), self._example)

    def training(self) -> Training:
        hyper = self.opt_state.hyperparams
        return Training(
            learning_rate=float(hyper["learning_rate"]),
            beta_1=float(hyper["b1"]),
            beta_2=float(hyper["b2"]),
            epsilon=float(hyper["eps"]),
            weight_decay=0.0,  # optax.adam has none (adamw would)
            amsgrad=False,  # optax.adam is not amsgrad (optax.amsgrad would be)
            epsilon_added_to=EPSILON_CORRECTED,  # optax.scale_by_adam: mu_hat/(sqrt(nu_hat)+eps)
            loss_from_logits=True,  # softmax_cross_entropy_with_integer_labels takes logits
            loss_reduction=LOSS_REDUCTION,  # `.mean()` over the batch in _loss
            training_metrics=(),  # the step computes the loss only
            objects={
                "optimizer": "optax.inject_hyperparams(optax.adam)",
                "loss": "optax.softmax_cross_entropy_with_integer_labels",
            },
        )

    def logits(self, x: np.ndarray) -> np.ndarray:
        return np.asarray(self._logits(_variables(self.params, self.stats), x))

    def to_device(self, x: np.ndarray, y: np.ndarray) -> None:
        self._x_train, self._y_train = jax.block_until_ready(jax.device_put((x, y), self.device))

    def train_epoch(self, order: np.ndarray, first_step_done: Callable[[], Any]) -> float:
        batch = self.config.batch_size
        full = len(order) // batch
        order_d = jax.device_put(order, self.device)
        loss_sum = jax.device_put(jnp.zeros((), jnp.float32), self.device)
        if self.implementation == "scan":
            self.params, self.stats, self.opt_state, loss_sum = self._scan_full(
                order_d[: full * batch].reshape(full, batch), first_step_done
            )
        else:
            # One jitted step per batch, dispatched asynchronously: the host never waits
            # for a step except the first, which is timed as compilation.
            for step in range(full):
                self.params, self.stats, self.opt_state, loss_sum = self._step(
                    self.params,
                    self.stats,
                    self.opt_state,
                    loss_sum,
                    self._x_train,
                    self._y_train,
                    order_d,
                    step,
                )
                if step == 0:
                    loss_sum.block_until_ready()
                    first_step_done()
        if full * batch < len(order):
            self.params, self.stats, self.opt_state, loss_sum = self._last(
                self.params,
                self.stats,
                self.opt_state,
                loss_sum,
                self._x_train,
                self._y_train,
                order_d[full * batch :],
            )
        return float(loss_sum) / len(order)

    def _scan_full(self, batches: jax.Array, first_step_done: Callable[[], Any]) -> Any:
        """The epoch's full batches as one compiled scan; compiled ahead of time the first
        time, which is the first step of the `scan` implementation."""
        args = (self.params, self.stats, self.opt_state, self._x_train, self._y_train, batches)
        if self._scan_compiled is None:
            self._scan_compiled = self._scan.lower(*args).compile()
            first_step_done()
        return self._scan_compiled(*args)

    def build_inference(self, weights: Weights | None) -> int:
        # The implementations differ in training only: inference is `_make`'s jitted apply.
        self._variables = self._make(weights)
        return _count(self.params)

    def inference_to_device(self, batches: list[np.ndarray]) -> None:
        self._test_batches = jax.block_until_ready(jax.device_put(batches, self.device))

    def infer_batch(self, index: int) -> np.ndarray:
        # np.asarray waits for the device and copies the logits to the host.
        return np.asarray(self._logits(self._variables, self._test_batches[index]))

    def evaluate(self, x: np.ndarray, y: np.ndarray) -> tuple[float, float]:
        xs, ys = jax.device_put(x, self.device), jax.device_put(y, self.device)
        # Dispatch is asynchronous: the sums stay on the device until the end.
        sums = [
            _eval_batch(self.model, _variables(self.params, self.stats), xs[b], ys[b])
            for b in batch_slices(len(y), self.config.batch_size)
        ]
        loss_sum = sum(float(s[0]) for s in sums)
        correct = sum(int(s[1]) for s in sums)
        return loss_sum / len(y), correct / len(y)


def _update(model, tx, params, stats, opt_state, x, y):  # type: ignore[no-untyped-def]
    (loss, stats), grads = jax.value_and_grad(_loss, has_aux=True)(params, stats, model, x, y)
    updates, opt_state = tx.update(grads, opt_state, params)
    return optax.apply_updates(params, updates), stats, opt_state, loss


def _train_step(model, tx, batch, params, stats, opt_state, loss_sum, xs, ys, order, step):  # type: ignore[no-untyped-def]
    idx = jax.lax.dynamic_slice_in_dim(order, step * batch, batch)
    params, stats, opt_state, loss = _update(model, tx, params, stats, opt_state, xs[idx], ys[idx])
    return params, stats, opt_state, loss_sum + loss * batch


def _scan_epoch(model, tx, batch, params, stats, opt_state, xs, ys, batches):  # type: ignore[no-untyped-def]
    def body(carry, idx):  # type: ignore[no-untyped-def]
        params, stats, opt_state, loss_sum = carry
        params, stats, opt_state, loss = _update(
            model, tx, params, stats, opt_state, xs[idx], ys[idx]
        )
        return (params, stats, opt_state, loss_sum + loss * batch), None

    start = (params, stats, opt_state, jnp.zeros((), jnp.float32))
    (params, stats, opt_state, loss_sum), _ = jax.lax.scan(body, start, batches)
    return params, stats, opt_state, loss_sum


def _last_step(model, tx, params, stats, opt_state, loss_sum, xs, ys, idx):  # type: ignore[no-untyped-def]
    params, stats, opt_state, loss = _update(model, tx, params, stats, opt_state, xs[idx], ys[idx])
    return params, stats, opt_state, loss_sum + loss * idx.shape[0]


@partial(jax.jit, static_argnums=(0,))
def _eval_batch(model, variables, x, y):  # type: ignore[no-untyped-def]
    logits = model.apply(variables, x, train=False)  # BatchNorm: the running statistics
    loss = optax.softmax_cross_entropy_with_integer_labels(logits, y).sum()
    return loss, (logits.argmax(-1) == y).sum()


def _count(params: Any) -> int:
    return sum(int(np.prod(p.shape)) for p in jax.tree_util.tree_leaves(params))
