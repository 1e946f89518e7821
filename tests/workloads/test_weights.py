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


def _saved(tmp_path: Path, kernel: np.ndarray, name: str = "w.npz") -> Path:
    path = tmp_path / name
    Weights({"a/kernel": kernel, "bn/mean": np.ones(3, np.float32)},
            frozenset({"bn/mean"})).save(path)  # fmt: skip
    return path


@pytest.mark.parametrize("bad", [np.nan, np.inf, -np.inf])
def test_non_finite_weights_are_refused(tmp_path: Path, bad: float):
    """NaN weights ran at 6% accuracy, exit 0 (issue 24, minor)."""
    kernel = np.zeros((2, 3), np.float32)
    kernel[1, 2] = bad
    with pytest.raises(WorkloadInputError, match="a/kernel holds NaN or infinite values"):
        load_weights(_saved(tmp_path, kernel))


def _zip(path: Path, members: dict[str, bytes]) -> Path:
    import zipfile

    with zipfile.ZipFile(path, "w") as zf:
        for name, data in members.items():
            zf.writestr(name, data)
    return path


def _npy(a: np.ndarray) -> bytes:
    import io

    buf = io.BytesIO()
    np.save(buf, a)
    return buf.getvalue()


STATE = _npy(np.array(["bn/mean"]))


@pytest.mark.parametrize(
    ("members", "says"),
    [
        ({"__state__.npy": STATE, "a.npy": b"\x93NUMPY\x01\x00"}, "cannot be read"),  # torn
        ({"__state__.npy": STATE, "a.npy": b"\x93NUMPY\x01\x00\x10\x00{'descr': <f4'}    \n"},
         "cannot be read"),  # a header that is no dict
        ({"__state__.npy": STATE, "a.npy": _npy(np.zeros(2, object))}, "a is object, not"),
        ({"__state__.npy": STATE, "a.txt": b"x"}, "'a.txt' is not an array"),
        ({"__state__.npy": STATE, "a.npy": _npy(np.zeros(2, np.float64))}, "not float32"),
        ({"__state__.npy": _npy(np.zeros(1, np.float32)), "a.npy": _npy(np.zeros(1, np.float32))},
         "not written by"),
    ],
)  # fmt: skip
def test_malformed_weights_files_are_one_line(tmp_path: Path, members: dict[str, bytes], says: str):
    with pytest.raises(WorkloadInputError, match=says) as exc:
        load_weights(_zip(tmp_path / "w.npz", members))
    assert "\n" not in str(exc.value)


def test_names_and_shapes_are_checked_before_any_array_is_read(tmp_path: Path):
    """A header that claims a huge array is refused by its shape, not allocated: 5 MB of
    input allocated 4.2 GB when every array was read first."""
    cnn = MODELS["mnist-cnn"].shared_weights(0)
    name = next(iter(cnn.arrays))
    header = _npy(np.zeros(1, np.float32)).replace(b"(1,)", b"(100000, 100000)")  # 40 GB
    path = _zip(tmp_path / "w.npz", {"__state__.npy": STATE, f"{name}.npy": header})
    with pytest.raises(WorkloadInputError, match=r"does not fit this model"):
        load_weights(path, cnn)


def test_a_file_with_too_many_members_is_refused_from_its_list(tmp_path: Path):
    path = _zip(tmp_path / "w.npz", {f"m{i}.npy": b"" for i in range(5000)})
    with pytest.raises(WorkloadInputError, match="5000 members, more than"):
        load_weights(path)


def test_saving_follows_no_planted_link_and_replaces_no_file_that_appeared(tmp_path: Path):
    victim = tmp_path / "victim"
    victim.write_text("keep\n")
    (tmp_path / ".w.npz.partial").symlink_to(victim)  # the name saving used to write through
    path = _saved(tmp_path, np.zeros((2, 3), np.float32))
    assert victim.read_text() == "keep\n" and load_weights(path).arrays["a/kernel"].shape == (2, 3)
    (tmp_path / "late.npz").write_text("another run's file\n")
    with pytest.raises(WorkloadInputError, match="appeared while the run trained"):
        _saved(tmp_path, np.zeros((2, 3), np.float32), "late.npz")
    assert (tmp_path / "late.npz").read_text() == "another run's file\n"
    assert sorted(p.name for p in tmp_path.iterdir()) == [".w.npz.partial", "late.npz",
                                                          "victim", "w.npz"]  # fmt: skip
