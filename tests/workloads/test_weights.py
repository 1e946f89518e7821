"""Canonical weights (workload.weights): every framework loads the shared initial weights of
every model into its own layout and gives back exactly the same arrays, in the same order,
with the same hash; the .npz a run saves is read back whole, and anything else is refused in
one line."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import numpy as np
import pytest
from workload.errors import WorkloadInputError
from workload.models import MODELS
from workload.weights import Weights, check_shapes, load_weights

from tests.conftest import FRAMEWORKS, framework_python, require, workload_env

# Runs in the framework's environment: load the shared weights, export them, compare.
ROUND_TRIP = """
import json, sys
from pathlib import Path
import numpy as np
from workload.config import TrainConfig
from workload.framework import load_framework
from workload.models import model_spec

name, model = sys.argv[1], sys.argv[2]
spec = model_spec(model)
shared = spec.shared_weights(5)
fw = load_framework(name)(TrainConfig(data=Path("."), out=Path("."), model=model, threads=1))
fw.setup()
count = fw.build(shared)
back = fw.weights()
print(json.dumps({
    "count": count,
    "names": list(back.arrays),
    "state": sorted(back.state),
    "sha256": back.sha256(),
    "exact": all(np.array_equal(back.arrays[n], shared.arrays[n]) for n in shared.arrays),
}))
"""


@pytest.mark.frameworks
@pytest.mark.parametrize("model", list(MODELS))
@pytest.mark.parametrize("framework", FRAMEWORKS)
def test_every_framework_gives_back_the_shared_weights_it_loaded(framework: str, model: str):
    python = framework_python(framework)
    require(python.exists(), f"{python} missing (make venvs)")
    proc = subprocess.run(
        [str(python), "-c", ROUND_TRIP, framework, model],
        capture_output=True, text=True, timeout=600, check=False, env=workload_env(framework),
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr[-3000:]
    out = json.loads(proc.stdout.strip().splitlines()[-1])
    shared = MODELS[model].shared_weights(5)
    assert out["count"] == MODELS[model].parameter_count == shared.parameter_count()
    assert out["names"] == list(shared.arrays)
    assert out["state"] == sorted(shared.state)
    assert out["exact"] and out["sha256"] == shared.sha256()


def test_saved_weights_read_back_whole(tmp_path: Path):
    weights = Weights(
        {
            "a/kernel": np.arange(6, dtype=np.float32).reshape(2, 3),
            "bn/mean": np.ones(3, np.float32),
        },
        frozenset({"bn/mean"}),
    )
    path = tmp_path / "w.npz"
    weights.save(path)
    back = load_weights(path)
    assert list(back.arrays) == list(weights.arrays) and back.state == weights.state
    assert back.sha256() == weights.sha256() and back.parameter_count() == 6
    assert not list(tmp_path.glob(".*partial"))


def test_a_file_that_is_not_saved_weights_is_one_line(tmp_path: Path):
    garbage = tmp_path / "garbage.npz"
    garbage.write_bytes(b"not a zip")
    plain = tmp_path / "plain.npz"
    np.savez(plain, x=np.zeros(2, np.float32))
    for path, says in ((garbage, "cannot be read"), (plain, "not written by")):
        with pytest.raises(WorkloadInputError, match=says) as exc:
            load_weights(path)
        assert "\n" not in str(exc.value)


def test_weights_of_another_model_are_refused_by_name_and_shape():
    cnn = MODELS["mnist-cnn"].shared_weights(0)
    other = Weights({**cnn.arrays, "dense/bias": np.zeros(4, np.float32)})
    with pytest.raises(WorkloadInputError, match=r"wrong shapes \['dense/bias'\]"):
        check_shapes(other, cnn, "--weights w.npz")
