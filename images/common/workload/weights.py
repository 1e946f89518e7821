"""A model's weights in the canonical, framework-neutral form: named float32 arrays in the
canonical layout (Keras's and Flax's: convolution kernels HWIO, dense kernels (in, out)), in
the model's order. The shared initial weights are drawn in it, each framework converts them
to its own layout, and `train --save-weights` writes trained weights back in it (NumPy .npz),
so that any framework can load what another trained."""

from __future__ import annotations

import hashlib
import io
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
        """An uncompressed .npz with the names in order; the state names in `__state__`."""
        arrays = {name: np.asarray(a, dtype=np.float32) for name, a in self.arrays.items()}
        state = np.array(sorted(self.state), dtype=np.str_)
        partial = path.with_name(f".{path.name}.partial")
        with partial.open("wb") as f:
            np.savez(f, __state__=state, **arrays)  # type: ignore[arg-type]
        partial.replace(path)


def load_weights(path: Path) -> Weights:
    """Read a .npz written by `Weights.save`, refusing anything else in one line."""
    if not path.is_file():
        raise WorkloadInputError(
            f"--weights {path} not found; give a file written by `train --save-weights`"
        )
    try:
        with np.load(path, allow_pickle=False) as npz:
            names = [n for n in npz.files if n != "__state__"]
            arrays = {n: npz[n] for n in names}
            state = frozenset(str(s) for s in npz["__state__"]) if "__state__" in npz else None
    except (OSError, ValueError, KeyError, zipfile.BadZipFile, io.UnsupportedOperation) as exc:
        raise WorkloadInputError(
            f"--weights {path} cannot be read as a weights file ({exc})"
        ) from exc
    if state is None:
        raise WorkloadInputError(f"--weights {path} was not written by `train --save-weights`")
    for name, a in arrays.items():
        if a.dtype != np.float32:
            raise WorkloadInputError(f"--weights {path}: {name} is {a.dtype}, not float32")
    return Weights(arrays, state)


def check_shapes(weights: Weights, expected: Weights, source: str) -> None:
    """Names and shapes of `weights` against the model's own (e.g. its shared weights)."""
    got = {n: a.shape for n, a in weights.arrays.items()}
    want = {n: a.shape for n, a in expected.arrays.items()}
    if got != want:
        missing = sorted(set(want) - set(got))
        wrong = sorted(n for n in set(want) & set(got) if got[n] != want[n])
        extra = sorted(set(got) - set(want))
        raise WorkloadInputError(
            f"{source} does not fit this model (missing {missing[:3]}, wrong shapes "
            f"{wrong[:3]}, unknown {extra[:3]}); use weights saved from the same --model"
        )
