"""The configuration of a run: the entrypoint's flags, validated once. What every task shares
(`RunConfig`) is declared once; `TrainConfig` and `InferConfig` add their own flags."""

from __future__ import annotations

import os
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, ClassVar

from workload.batches import batch_slices
from workload.data import Manifest
from workload.errors import WorkloadInputError
from workload.models import DEFAULT_MODEL

DEVICES = ("cpu", "gpu")
INITS = ("shared", "native")
# Float32 matrix products and convolutions on GPUs: exactly (fp32), or through TF32 tensor
# cores (tf32, 10-bit mantissa). Frameworks' defaults differ, so it is set explicitly in all;
# CPUs compute fp32 whatever is asked.
PRECISIONS = ("fp32", "tf32")


@dataclass(frozen=True)
class RunConfig:
    """The flags of every task (`python -m workload TASK`)."""

    task: ClassVar[str]
    data: Path
    out: Path
    batch_size: int = 64
    seed: int = 0
    limit_test: int | None = None
    device: str = "cpu"
    threads: int = 1
    init: str = "shared"
    precision: str = "fp32"
    implementation: str | None = None  # None: the framework's default (workload.IMPLEMENTATIONS)
    model: str = DEFAULT_MODEL

    def validate(self) -> RunConfig:
        positive = {
            "--batch-size": self.batch_size,
            "--threads": self.threads,
            "--limit-test": self.limit_test,
            **self._positive(),
        }
        for flag, value in positive.items():
            if value is not None and value < 1:
                raise WorkloadInputError(f"{flag} must be a positive integer, got {value}")
        if self.seed < 0:
            raise WorkloadInputError(f"--seed must be >= 0, got {self.seed}")
        if self.device not in DEVICES:
            raise WorkloadInputError(f"--device must be one of {', '.join(DEVICES)}")
        if self.init not in INITS:
            raise WorkloadInputError(f"--init must be one of {', '.join(INITS)}")
        if self.precision not in PRECISIONS:
            raise WorkloadInputError(f"--precision must be one of {', '.join(PRECISIONS)}")
        return self

    def _positive(self) -> dict[str, int | None]:
        """The task's own flags that must be positive when given."""
        return {}

    def check_data(self, manifest: Manifest) -> None:
        """The flags against the dataset's counts, before anything is written."""
        manifest.check_limits(None, self.limit_test)

    def record(self) -> dict[str, Any]:
        """What result.json keeps of the configuration (paths are the host's business)."""
        keep = asdict(self)
        # The implementation is result.json's own key: it may differ between runs that do
        # identical work, which is what `config` must show.
        for key in ("data", "out", "threads", "device", "implementation", *self._paths()):
            keep.pop(key)
        return keep

    def _paths(self) -> tuple[str, ...]:
        """The task's own path flags, left out of `record`."""
        return ()


@dataclass(frozen=True)
class TrainConfig(RunConfig):
    task: ClassVar[str] = "train"
    epochs: int = 3
    learning_rate: float = 1e-3
    limit_train: int | None = None
    save_weights: Path | None = None  # where the trained weights go (.npz), if anywhere

    def validate(self) -> TrainConfig:
        super().validate()
        if not (0 < self.learning_rate < 1):
            raise WorkloadInputError(
                f"--learning-rate must be between 0 and 1, got {self.learning_rate}"
            )
        if self.save_weights is not None:
            # Refused before training: hours of work must not end in a failed save.
            if self.save_weights.exists():
                raise WorkloadInputError(
                    f"--save-weights {self.save_weights} exists; choose a new file name"
                )
            if not self.save_weights.parent.is_dir():
                raise WorkloadInputError(
                    f"--save-weights {self.save_weights}: the folder "
                    f"{self.save_weights.parent} does not exist; create it first"
                )
        return self

    def _positive(self) -> dict[str, int | None]:
        return {"--epochs": self.epochs, "--limit-train": self.limit_train}

    def check_data(self, manifest: Manifest) -> None:
        manifest.check_limits(self.limit_train, self.limit_test, self.batch_size)

    def _paths(self) -> tuple[str, ...]:
        return ("save_weights",)


@dataclass(frozen=True)
class InferConfig(RunConfig):
    task: ClassVar[str] = "infer"
    weights: Path | None = None  # a file of `train --save-weights`; None: --init's weights

    def validate(self) -> InferConfig:
        super().validate()
        if self.weights is not None and self.init == "native":
            raise WorkloadInputError(
                "--weights and --init native both choose the weights; give one of them"
            )
        return self

    def _paths(self) -> tuple[str, ...]:
        return ("weights",)

    def check_data(self, manifest: Manifest) -> None:
        super().check_data(manifest)
        n_test = self.limit_test or manifest.test_count
        if len(batch_slices(n_test, self.batch_size)) < 2:
            raise WorkloadInputError(
                f"--batch-size {self.batch_size} makes one batch of the {n_test} test "
                "examples, and the first batch (compilation) is not timed; give a smaller "
                "batch or more test examples"
            )


def available_cpus() -> int:
    return len(os.sched_getaffinity(0))
