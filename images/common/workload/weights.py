"""A model's weights in the canonical, framework-neutral form: named float32 arrays in the
canonical layout (Keras's and Flax's: convolution kernels HWIO, dense kernels (in, out)), in
the model's order. The shared initial weights are drawn in it, each framework converts them
to its own layout, and `train --save-weights` writes trained weights back in it (NumPy .npz),
so that any framework can load what another trained."""

from __future__ import annotations

import hashlib
import math
import os
import tempfile
import zipfile
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from workload.errors import WorkloadInputError


@dataclass(frozen=True)
class Weights:
    arrays: dict[str, np.ndarray]  # canonical name ("layer/kernel") -> float32 array
    # Names that are statistics rather than parameters (BatchNorm's running mean and
    # variance): part of a checkpoint and of the hash, not of the parameter count.
    state: frozenset[str] = field(default_factory=frozenset)

    def parameter_count(self) -> int:
        """Trainable parameters, the count every framework must report."""
        return sum(a.size for name, a in self.arrays.items() if name not in self.state)

    def sha256(self) -> str:
        digest = hashlib.sha256()
        for a in self.arrays.values():
            digest.update(np.ascontiguousarray(a, dtype=np.float32).tobytes())
        return digest.hexdigest()

    def save(self, path: Path) -> None:
        """An uncompressed .npz with the names in order; the state names in `__state__`.
        Written to a private temporary file (a name nobody can plant a link at) and linked
        to `path`, which fails if a file appeared there meanwhile instead of replacing it."""
        arrays = {name: np.asarray(a, dtype=np.float32) for name, a in self.arrays.items()}
        state = np.array(sorted(self.state), dtype=np.str_)
        fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".partial", dir=path.parent)
        try:
            os.fchmod(fd, 0o644)  # mkstemp's is private; weights are for reading
            with os.fdopen(fd, "wb") as f:
                np.savez(f, __state__=state, **arrays)  # type: ignore[arg-type]
            try:
                os.link(tmp, path)
            except FileExistsError:
                raise WorkloadInputError(
                    f"--save-weights {path} appeared while the run trained; it is left as it "
                    "is: choose a new file name"
                ) from None
        finally:
            Path(tmp).unlink(missing_ok=True)


# A model has tens of arrays; a file of many more members is not weights (a tar or zip of
# 10^6 members costs memory before anything else could be checked).
MAX_MEMBERS = 4096
Shapes = dict[str, tuple[int, ...]]


def _headers(path: Path) -> tuple[Shapes, bool]:
    """Each member's name and shape from its .npy header alone (no array read): float32
    arrays, and whether the `__state__` list of names is there."""
    shapes: Shapes = {}
    has_state = False
    with zipfile.ZipFile(path) as zf:
        members = zf.infolist()
        if len(members) > MAX_MEMBERS:
            raise WorkloadInputError(
                f"--weights {path} has {len(members)} members, more than a model's weights "
                f"({MAX_MEMBERS} at most)"
            )
        for info in members:
            if not info.filename.endswith(".npy"):
                raise WorkloadInputError(f"--weights {path}: {info.filename!r} is not an array")
            name = info.filename[: -len(".npy")]
            with zf.open(info) as f:
                version = np.lib.format.read_magic(f)
                read = {(1, 0): np.lib.format.read_array_header_1_0,
                        (2, 0): np.lib.format.read_array_header_2_0}.get(version)  # fmt: skip
                if read is None:
                    raise WorkloadInputError(f"--weights {path}: {name} is a .npy v{version}")
                shape, _, dtype = read(f)
            if name == "__state__":
                has_state = dtype.kind == "U" and len(shape) == 1
                continue
            if dtype != np.float32:
                raise WorkloadInputError(f"--weights {path}: {name} is {dtype}, not float32")
            # The stored size must be the header's: no member larger than its array says.
            if info.file_size > math.prod(shape) * 4 + 65536:
                raise WorkloadInputError(f"--weights {path}: {name} is larger than its header")
            shapes[name] = tuple(shape)
    return shapes, has_state


def load_weights(path: Path, expected: Weights | None = None) -> Weights:
    """Read a .npz written by `Weights.save`, refusing anything else in one line. The member
    list and every header are checked (against `expected`'s names and shapes, when given)
    before any array is read, and every value must be finite."""
    if not path.is_file():
        raise WorkloadInputError(
            f"--weights {path} not found; give a file written by `train --save-weights`"
        )
    try:
        shapes, has_state = _headers(path)
        if not has_state:
            raise WorkloadInputError(f"--weights {path} was not written by `train --save-weights`")
        if expected is not None:
            fits(shapes, expected, f"--weights {path}")
        with np.load(path, allow_pickle=False) as npz:
            arrays = {n: npz[n] for n in shapes}
            state = frozenset(str(s) for s in npz["__state__"])
    except WorkloadInputError:
        raise
    except Exception as exc:  # zipfile, NumPy's header parser and np.load raise many kinds
        raise WorkloadInputError(
            f"--weights {path} cannot be read as a weights file "
            f"({type(exc).__name__}: {str(exc)[:200]})"
        ) from None
    for name, a in arrays.items():
        if not np.isfinite(a).all():
            raise WorkloadInputError(
                f"--weights {path}: {name} holds NaN or infinite values; use weights of a "
                "training that converged"
            )
    return Weights(arrays, state)


def check_shapes(weights: Weights, expected: Weights, source: str) -> None:
    """Names and shapes of `weights` against the model's own (e.g. its shared weights)."""
    fits({n: a.shape for n, a in weights.arrays.items()}, expected, source)


def fits(got: Shapes, expected: Weights, source: str) -> None:
    want = {n: a.shape for n, a in expected.arrays.items()}
    if got != want:
        missing = sorted(set(want) - set(got))
        wrong = sorted(n for n in set(want) & set(got) if got[n] != want[n])
        extra = sorted(set(got) - set(want))
        raise WorkloadInputError(
            f"{source} does not fit this model (missing {missing[:3]}, wrong shapes "
            f"{wrong[:3]}, unknown {extra[:3]}); use weights saved from the same --model"
        )
