"""result.json's `model_settings`: the settings of the model's layers that frameworks
default differently, as each framework's own layer objects hold them after the model was
built (so the identical-work check compares what ran, not what we meant). Today: BatchNorm.
A model without such layers records `{}`."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from workload.training import held

# How a framework updates BatchNorm's running variance from a training batch: PyTorch with
# the unbiased batch variance (n / (n - 1) times the biased one), Keras and Flax with the
# biased one. A property of each framework's implementation, not a setting any of them
# exposes; documented in docs/models.md and expected to differ across frameworks.
BIASED = "biased"
UNBIASED = "unbiased"


def batchnorm_settings(
    layers: Iterable[tuple[float, float]], running_variance: str
) -> dict[str, Any]:
    """From each BatchNorm layer's (epsilon, share of the running statistics kept per step)
    as the framework holds them: one record for the model, or {} when it has none."""
    seen = {(held(eps), held(kept)) for eps, kept in layers}
    if not seen:
        return {}
    if len(seen) > 1:
        # every layer is built from the same constants: different ones are a bug
        raise RuntimeError(f"BatchNorm layers differ in (epsilon, momentum kept): {sorted(seen)}")
    ((epsilon, kept),) = seen
    return {
        "batchnorm": {
            "epsilon": epsilon,
            "momentum_kept": kept,
            "running_variance": running_variance,
        }
    }
