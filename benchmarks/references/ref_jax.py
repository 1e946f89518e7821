"""Reference: the plainest expert JAX (Flax + Optax) training loop for the benchmark's CNN
(usage and output: harness.py). Shares no code with the workload (its own data loading,
model and loop), so that benchmarks/workloads.py can show how close the workload comes to
it. Batches are gathered in NumPy and fed to one jitted step, as in Flax's MNIST example."""

import os

from harness import EpochClock, arguments, training_set

args = arguments()
os.environ["JAX_PLATFORMS"] = "cpu"

import flax.linen as nn  # noqa: E402
import jax  # noqa: E402
import jax.numpy as jnp  # noqa: E402
import numpy as np  # noqa: E402
import optax  # noqa: E402

x, y = training_set(args)
x, y = x[..., None], y.astype(np.int32)  # NHWC


class CNN(nn.Module):
    @nn.compact
    def __call__(self, x):
        x = nn.max_pool(nn.relu(nn.Conv(64, (3, 3))(x)), (2, 2), strides=(2, 2))
        x = nn.max_pool(nn.relu(nn.Conv(128, (5, 5))(x)), (2, 2), strides=(2, 2))
        return nn.Dense(10)(x.reshape((x.shape[0], -1)))


model = CNN()
params = model.init(jax.random.PRNGKey(0), jnp.zeros((1, 28, 28, 1)))["params"]
tx = optax.adam(1e-3)
opt_state = tx.init(params)


@jax.jit
def train_step(params, opt_state, xb, yb):
    def loss_fn(p):
        logits = model.apply({"params": p}, xb)
        return optax.softmax_cross_entropy_with_integer_labels(logits, yb).mean()

    loss, grads = jax.value_and_grad(loss_fn)(params)
    updates, opt_state = tx.update(grads, opt_state, params)
    return optax.apply_updates(params, updates), opt_state, loss


rng = np.random.default_rng(0)
clock = EpochClock()
for _ in range(args.epochs):
    clock.start()
    order = rng.permutation(len(y))
    for i in range(0, len(y), args.batch_size):
        idx = order[i : i + args.batch_size]
        params, opt_state, loss = train_step(params, opt_state, x[idx], y[idx])
    jax.block_until_ready(params)
    clock.stop()
clock.report(jax.__version__, float(loss))
