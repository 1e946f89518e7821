"""The four arrays every dataset is made of, checked against the prepared-dataset format."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from orchestrator.errors import DataError

IMAGE_SHAPE = (28, 28)
NUM_CLASSES = 10


@dataclass(frozen=True)
class Splits:
    x_train: np.ndarray  # uint8 (N, 28, 28)
    y_train: np.ndarray  # uint8 (N,)
    x_test: np.ndarray  # uint8 (M, 28, 28)
    y_test: np.ndarray  # uint8 (M,)

    def arrays(self) -> dict[str, np.ndarray]:
        """Name -> array, in the fixed order the dataset file stores them."""
        return {
            "x_train": self.x_train,
            "y_train": self.y_train,
            "x_test": self.x_test,
            "y_test": self.y_test,
        }

    def check(self) -> None:
        for split in ("train", "test"):
            x, y = getattr(self, f"x_{split}"), getattr(self, f"y_{split}")
            if x.dtype != np.uint8 or y.dtype != np.uint8:
                raise DataError(f"{split} arrays must be uint8, got {x.dtype} and {y.dtype}")
            if x.ndim != 3 or x.shape[1:] != IMAGE_SHAPE or y.shape != (len(x),):
                raise DataError(
                    f"{split} arrays have shapes {list(x.shape)} and {list(y.shape)}; "
                    "expected [N, 28, 28] and [N]"
                )
            if len(x) == 0:
                raise DataError(f"the {split} split is empty; it needs at least one image")
            if int(y.max()) >= NUM_CLASSES:
                raise DataError(f"{split} label {int(y.max())} is outside 0..{NUM_CLASSES - 1}")
