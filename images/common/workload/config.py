"""The training configuration: the entrypoint's flags, validated once."""

from __future__ import annotations

import os
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from workload.errors import WorkloadInputError
from workload.models import DEFAULT_MODEL

DEVICES = ("cpu", "gpu")
INITS = ("shared", "native")
# Float32 matrix products and convolutions on GPUs: exactly (fp32), or through TF32 tensor
# cores (tf32, 10-bit mantissa). Frameworks' defaults differ, so it is set explicitly in all;
# CPUs compute fp32 whatever is asked.
PRECISIONS = ("fp32", "tf32")


@dataclass(frozen=True)
class TrainConfig:
    data: Path
    out: Path
    epochs: int = 3
    batch_size: int = 64
    learning_rate: float = 1e-3
    seed: int = 0
    limit_train: int | None = None
    limit_test: int | None = None
    device: str = "cpu"
    threads: int = 1
    init: str = "shared"
    precision: str = "fp32"
    implementation: str | None = None  # None: the framework's default (workload.IMPLEMENTATIONS)
    model: str = DEFAULT_MODEL

    def validate(self) -> TrainConfig:
        positive = {
            "--epochs": self.epochs,
            "--batch-size": self.batch_size,
            "--threads": self.threads,
            "--limit-train": self.limit_train,
            "--limit-test": self.limit_test,
        }
        for flag, value in positive.items():
            if value is not None and value < 1:
                raise WorkloadInputError(f"{flag} must be a positive integer, got {value}")
        if not (0 < self.learning_rate < 1):
            raise WorkloadInputError(
                f"--learning-rate must be between 0 and 1, got {self.learning_rate}"
            )
        if self.seed < 0:
            raise WorkloadInputError(f"--seed must be >= 0, got {self.seed}")
        if self.device not in DEVICES:
            raise WorkloadInputError(f"--device must be one of {', '.join(DEVICES)}")
        if self.init not in INITS:
            raise WorkloadInputError(f"--init must be one of {', '.join(INITS)}")
        if self.precision not in PRECISIONS:
            raise WorkloadInputError(f"--precision must be one of {', '.join(PRECISIONS)}")
        return self

    def record(self) -> dict[str, Any]:
        """What result.json keeps of the configuration (paths are the host's business)."""
        keep = asdict(self)
        # The implementation is result.json's own key: it may differ between runs that do
        # identical work, which is what `config` must show.
        for key in ("data", "out", "threads", "device", "implementation"):
            keep.pop(key)
        return keep


def available_cpus() -> int:
    return len(os.sched_getaffinity(0))
