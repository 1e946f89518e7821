"""JAX's training step compiles once per run. The optimizer state and each epoch's loss sum
were once left uncommitted, so the jitted step compiled three times (the first call, the
second with committed arguments, the first of epoch 2), two compilations hidden inside the
timed epochs: about 9% of epoch 2's CPU time on the CNN (docs/workloads.md, Speed)."""

from __future__ import annotations

import json
import subprocess

import pytest

from tests.conftest import framework_python, require, workload_env

pytestmark = pytest.mark.frameworks

# In the JAX environment: three epochs of 4 full batches through the real trainer.
DRIVER = """
import json
from pathlib import Path
import numpy as np
from workload.batches import epoch_order
from workload.config import TrainConfig
from workload.framework import load_framework
from workload.models import model_spec

spec = model_spec("mnist-cnn")
fw = load_framework("jax")(TrainConfig(data=Path("."), out=Path("."), batch_size=8, threads=1))
fw.setup()
fw.build(spec.shared_weights(0))
rng = np.random.default_rng(0)
fw.to_device(rng.random((32, *spec.input_shape), dtype=np.float32),
             rng.integers(0, 10, 32).astype(np.int32))
for epoch in (1, 2, 3):
    fw.train_epoch(epoch_order(0, epoch, 32), lambda: None)
print(json.dumps({"compilations": fw._step._cache_size()}))
"""


@pytest.mark.parametrize("environment", ["jax", "jax-0.5"])
def test_the_jitted_step_compiles_once_in_three_epochs(environment: str) -> None:
    python = framework_python(environment)
    require(python.exists(), f"{python} missing (make venvs version-venvs)")
    r = subprocess.run(
        [str(python), "-c", DRIVER], capture_output=True, text=True, timeout=600, check=False,
        env=workload_env(environment),
    )  # fmt: skip
    assert r.returncode == 0, r.stderr[-3000:]
    assert json.loads(r.stdout.strip().splitlines()[-1]) == {"compilations": 1}
