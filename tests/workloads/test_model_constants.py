"""Every trainer builds its model from images/common/workload/models/mnist_cnn.py, the one
definition of the layer sizes: in a copy of the tree with other sizes there, each framework's
model has the other sizes too. A trainer that declares a size of its own fails here, in its native
initialisation (parameter count), its loading of the shared weights (shapes) or its output.
"""

from __future__ import annotations

import json
import math
import os
import re
import shutil
import subprocess
from pathlib import Path

import pytest

from tests.conftest import FRAMEWORKS, REPO, framework_python, require

pytestmark = [pytest.mark.frameworks, pytest.mark.slow]

# Other sizes everywhere a trainer could read one: input shape, classes, pooling, and each
# convolution's kernel size and filters (hence the dense layer's input too).
OTHER_SIZES = {
    "IMAGE_SHAPE": "(20, 20, 1)",
    "NUM_CLASSES": "7",
    "POOL": "3",
    "CONV1": 'ConvLayer("conv1", size=5, in_channels=IMAGE_SHAPE[-1], filters=16)',
    "CONV2": 'ConvLayer("conv2", size=3, in_channels=CONV1.filters, filters=24)',
}
# Worked out by hand: 20 -> pool 3 -> 6 -> pool 3 -> 2, so the dense layer sees 2 * 2 * 24.
OTHER_PARAMETER_COUNT = (5 * 5 * 1 * 16 + 16) + (3 * 3 * 16 * 24 + 24) + (2 * 2 * 24 * 7 + 7)

# Runs in the framework's environment with the modified copy first on the path.
DRIVER = """
import json, sys
from pathlib import Path
import numpy as np
import workload.models.mnist_cnn as model
from workload.config import TrainConfig
from workload.framework import load_framework

name = sys.argv[1]
cls = load_framework(name)
config = TrainConfig(data=Path("."), out=Path("."), batch_size=4, threads=1)
counts = {}
for init, weights in (("native", None), ("shared", model.shared_weights(0))):
    fw = cls(config)
    fw.setup()
    counts[init] = fw.build(weights)
x = np.random.default_rng(0).random((10, *model.IMAGE_SHAPE), dtype=np.float32)
y = np.arange(10, dtype=np.uint8) % model.NUM_CLASSES
fw.to_device(x, y)
loss = fw.train_epoch(np.arange(10), lambda: None)  # two full batches and a partial one
print(json.dumps({
    "model_file": model.__file__,
    "trainer_file": sys.modules[cls.__module__].__file__,
    "counts": counts,
    "shared_weights_count": model.shared_weights(0).parameter_count(),
    "logits_shape": list(fw.logits(x[:2]).shape),
    "loss": loss,
}))
"""


def _with_other_sizes(source: str) -> str:
    for name, value in OTHER_SIZES.items():
        source, n = re.subn(rf"^{name} = .*$", f"{name} = {value}", source, flags=re.M)
        assert n == 1, f"mnist_cnn.py no longer defines {name} on one line: update this test"
    return source


@pytest.fixture(scope="module")
def other_tree(tmp_path_factory: pytest.TempPathFactory) -> Path:
    tree = tmp_path_factory.mktemp("other-sizes")
    shutil.copytree(REPO / "images", tree / "images", ignore=shutil.ignore_patterns("__pycache__"))
    model = tree / "images/common/workload/models/mnist_cnn.py"
    model.write_text(_with_other_sizes(model.read_text()))
    return tree / "images"


@pytest.mark.parametrize("framework", FRAMEWORKS)
def test_the_trainer_builds_the_sizes_of_the_shared_constants(framework, other_tree):
    python = framework_python(framework)
    require(python.exists(), f"{python} missing: run `make venvs`")
    env = {
        **os.environ,
        # Ahead of the environment's .pth entries, which point at the checkout's images/.
        "PYTHONPATH": f"{other_tree / 'common'}{os.pathsep}{other_tree / framework}",
        "WORKLOAD_FRAMEWORK": framework,
    }
    proc = subprocess.run(
        [str(python), "-c", DRIVER, framework],
        capture_output=True,
        text=True,
        env=env,
        timeout=600,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    out = json.loads(proc.stdout.strip().splitlines()[-1])
    assert Path(out["model_file"]).is_relative_to(other_tree)
    assert Path(out["trainer_file"]).is_relative_to(other_tree)
    assert out["shared_weights_count"] == OTHER_PARAMETER_COUNT
    assert out["counts"] == {"native": OTHER_PARAMETER_COUNT, "shared": OTHER_PARAMETER_COUNT}
    assert out["logits_shape"] == [2, 7]
    assert math.isfinite(out["loss"])
