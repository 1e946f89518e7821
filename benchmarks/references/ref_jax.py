"""Reference: the plainest expert JAX (Flax + Optax) training loop for the benchmark's CNN.

    python ref_jax.py --data DIR [--batch-size 64] [--epochs 2] [--threads N] [--limit-train N]

Shares no code with the workload (its own data loading, model and loop), so that
benchmarks/workloads.py can show how close the workload comes to what an expert would write.
Batches are gathered in NumPy and fed to one jitted step, as in Flax's MNIST example.
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
# XLA:CPU sizes its thread pool from the CPUs the process may use.
os.sched_setaffinity(0, sorted(os.sched_getaffinity(0))[: args.threads])
os.environ["JAX_PLATFORMS"] = "cpu"

import flax.linen as nn  # noqa: E402
import jax  # noqa: E402
import jax.numpy as jnp  # noqa: E402
import numpy as np  # noqa: E402
import optax  # noqa: E402

manifest = json.loads((args.data / "dataset.json").read_text())
with np.load(args.data / manifest["file"]) as npz:
    x = npz["x_train"][: args.limit_train].astype(np.float32)[..., None] / 255
    y = npz["y_train"][: args.limit_train].astype(np.int32)


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
epoch_s = []
cpu_s = []
for _ in range(args.epochs):
    start, cpu_start = time.perf_counter(), time.process_time()
    order = rng.permutation(len(y))
    for i in range(0, len(y), args.batch_size):
        idx = order[i : i + args.batch_size]
        params, opt_state, loss = train_step(params, opt_state, x[idx], y[idx])
    jax.block_until_ready(params)
    epoch_s.append(time.perf_counter() - start)
    cpu_s.append(time.process_time() - cpu_start)
print(
    json.dumps(
        {"epoch_s": epoch_s, "cpu_s": cpu_s, "version": jax.__version__, "loss": float(loss)}
    )
)
