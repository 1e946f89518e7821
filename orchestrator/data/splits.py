"""The four arrays every dataset is made of, checked against the prepared-dataset format."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from orchestrator.data.registry import GREY_28, IMAGE_CLASSES, TOKENS, VOCAB_SIZE, DatasetSpec
from orchestrator.errors import DataError

# The MNIST family's, as the IDX reader and the grey synthetic generator use them.
IMAGE_SHAPE = GREY_28
NUM_CLASSES = IMAGE_CLASSES


@dataclass(frozen=True)
class Splits:
    x_train: np.ndarray  # uint8 (N, *image shape) or int32 (N, SEQUENCE_LENGTH)
    y_train: np.ndarray  # uint8 (N,)
    x_test: np.ndarray  # as x_train, (M, ...)
    y_test: np.ndarray  # uint8 (M,)

    def arrays(self) -> dict[str, np.ndarray]:
        """Name -> array, in the fixed order the dataset file stores them."""
        return {
            "x_train": self.x_train,
            "y_train": self.y_train,
            "x_test": self.x_test,
            "y_test": self.y_test,
        }

    def check(self, spec: DatasetSpec) -> None:
        """Refuse arrays that are not what `spec` promises: dtypes, shapes, label and token
        ranges."""
        for split in ("train", "test"):
            x, y = getattr(self, f"x_{split}"), getattr(self, f"y_{split}")
            if x.dtype != np.dtype(spec.x_dtype) or y.dtype != np.uint8:
                raise DataError(
                    f"{split} arrays must be {spec.x_dtype} and uint8, got {x.dtype} and {y.dtype}"
                )
            if x.shape[1:] != spec.shape or y.shape != (len(x),):
                raise DataError(
                    f"{split} arrays have shapes {list(x.shape)} and {list(y.shape)}; "
                    f"expected {['N', *spec.shape]} and ['N']"
                )
            if len(x) == 0:
                raise DataError(f"the {split} split is empty; it needs at least one example")
            if int(y.max()) >= spec.num_classes:
                raise DataError(
                    f"{split} label {int(y.max())} is outside 0..{spec.num_classes - 1}"
                )
            if spec.input == TOKENS and (int(x.min()) < 0 or int(x.max()) >= VOCAB_SIZE):
                raise DataError(
                    f"{split} token ids span {int(x.min())}..{int(x.max())}, "
                    f"outside 0..{VOCAB_SIZE - 1}"
                )
