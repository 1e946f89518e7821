"""Every trainer builds each model from its one definition of the layer sizes
(images/common/workload/models/<model>.py): in a copy of the tree with other sizes there,
each framework's model has the other sizes too. A trainer that declares a size of its own
fails here, in its native initialisation (parameter count), its loading of the shared
weights (shapes) or its output.
"""

from __future__ import annotations

import json
import math
import os
import re
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.conftest import FRAMEWORKS, REPO, framework_python, require
from tests.workloads.test_cifar_resnet import resnet_parameters

pytestmark = [pytest.mark.frameworks, pytest.mark.slow]


@dataclass(frozen=True)
class OtherSizes:
    module: str  # workload.models.<module>
    sizes: dict[str, str]  # constant -> the other value, each defined on one line
    parameter_count: int  # worked out by hand for the other sizes
    classes: int


OTHER = {
    # Everywhere a trainer could read a size: input shape, classes, pooling, and each
    # convolution's kernel size and filters (hence the dense layer's input too). By hand:
    # 20 -> pool 3 -> 6 -> pool 3 -> 2, so the dense layer sees 2 * 2 * 24.
    "mnist-cnn": OtherSizes(
        "mnist_cnn",
        {
            "IMAGE_SHAPE": "(20, 20, 1)",
            "NUM_CLASSES": "7",
            "POOL": "3",
            "CONV1": 'ConvLayer("conv1", size=5, in_channels=IMAGE_SHAPE[-1], filters=16)',
            "CONV2": 'ConvLayer("conv2", size=3, in_channels=CONV1.filters, filters=24)',
        },
        (5 * 5 * 1 * 16 + 16) + (3 * 3 * 16 * 24 + 24) + (2 * 2 * 24 * 7 + 7),
        7,
    ),
    "cifar-resnet": OtherSizes(
        "cifar_resnet",
        {
            "IMAGE_SHAPE": "(16, 16, 3)",
            "NUM_CLASSES": "5",
            "STEM_FILTERS": "8",
            "STAGE_FILTERS": "(8, 16, 24)",
            "BLOCKS_PER_STAGE": "1",
        },
        resnet_parameters(3, 8, (8, 16, 24), 1, 5),
        5,
    ),
}

# Runs in the framework's environment with the modified copy first on the path.
DRIVER = """
import importlib, json, sys
from pathlib import Path
import numpy as np
from workload.config import TrainConfig
from workload.framework import load_framework

name, model_name, module = sys.argv[1:]
model = importlib.import_module(f"workload.models.{module}")
cls = load_framework(name)
config = TrainConfig(data=Path("."), out=Path("."), model=model_name, batch_size=4, threads=1)
counts = {}
for init, weights in (("native", None), ("shared", model.shared_weights(0))):
    fw = cls(config)
    fw.setup()
    counts[init] = fw.build(weights)
x = np.random.default_rng(0).random((10, *model.IMAGE_SHAPE), dtype=np.float32)
y = np.arange(10, dtype=np.int32) % model.NUM_CLASSES
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


@pytest.fixture(scope="module")
def other_tree(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A copy of images/ with every model's other sizes."""
    tree = tmp_path_factory.mktemp("other-sizes")
    shutil.copytree(REPO / "images", tree / "images", ignore=shutil.ignore_patterns("__pycache__"))
    for other in OTHER.values():
        path = tree / f"images/common/workload/models/{other.module}.py"
        source = path.read_text()
        for name, value in other.sizes.items():
            source, n = re.subn(rf"^{name} = .*$", f"{name} = {value}", source, flags=re.M)
            assert n == 1, f"{path.name} no longer defines {name} on one line: update this test"
        path.write_text(source)
    return tree / "images"


@pytest.mark.parametrize("model", list(OTHER))
@pytest.mark.parametrize("framework", FRAMEWORKS)
def test_the_trainer_builds_the_sizes_of_the_shared_constants(framework, model, other_tree):
    python = framework_python(framework)
    require(python.exists(), f"{python} missing: run `make venvs`")
    other = OTHER[model]
    env = {
        **os.environ,
        # Ahead of the environment's .pth entries, which point at the checkout's images/.
        "PYTHONPATH": f"{other_tree / 'common'}{os.pathsep}{other_tree / framework}",
        "WORKLOAD_FRAMEWORK": framework,
    }
    proc = subprocess.run(
        [str(python), "-c", DRIVER, framework, model, other.module],
        capture_output=True, text=True, env=env, timeout=600, check=False,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr[-3000:]
    out = json.loads(proc.stdout.strip().splitlines()[-1])
    assert Path(out["model_file"]).is_relative_to(other_tree)
    assert Path(out["trainer_file"]).is_relative_to(other_tree)
    assert out["shared_weights_count"] == other.parameter_count
    assert out["counts"] == {"native": other.parameter_count, "shared": other.parameter_count}
    assert out["logits_shape"] == [2, other.classes]
    assert math.isfinite(out["loss"])
