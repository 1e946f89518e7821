"""How every framework trains the model: one optimizer, one loss, no training metrics, and
what result.json records of them.

The hyperparameters are set explicitly in every trainer, never left to a framework's
default (Keras's Adam epsilon is 1e-7, torch's and Optax's 1e-8). Each trainer then reads
them back from its own optimizer and loss objects, so that result.json shows what the
framework really holds and the identical-work check compares that, not what we meant."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

ADAM_BETA_1 = 0.9
ADAM_BETA_2 = 0.999
ADAM_EPSILON = 1e-8
# Where Adam adds epsilon: to the bias-corrected sqrt(v), as torch.optim.Adam and optax.adam
# do. Keras's own Adam adds it to the uncorrected sqrt(v), which acts as a step-dependent
# epsilon (1e-8 at step 1 acts as 3.2e-7) and moved Keras's epoch-1 loss by 0.1%.
EPSILON_CORRECTED = "bias-corrected sqrt(v)"
EPSILON_UNCORRECTED = "uncorrected sqrt(v)"

# Sparse categorical cross-entropy from logits, averaged over the batch's examples.
LOSS_FUNCTION = "sparse_categorical_crossentropy"
LOSS_REDUCTION = "mean"


def held(value: float) -> float:
    """A hyperparameter as a float, at the float32 precision some frameworks keep it in
    (Keras's learning rate is a float32 variable: 0.0010000000474974513 is 1e-3)."""
    return float(f"{float(value):.7g}")


@dataclass(frozen=True)
class Training:
    """What a trainer's objects hold: result.json's `optimizer`, `loss` and
    `training_metrics`, compared across frameworks; `objects` names the framework's own
    classes (informative, not compared)."""

    learning_rate: float
    beta_1: float
    beta_2: float
    epsilon: float
    weight_decay: float
    amsgrad: bool
    epsilon_added_to: str  # EPSILON_CORRECTED or EPSILON_UNCORRECTED
    loss_from_logits: bool
    loss_reduction: str  # "mean" or the framework's word for another reduction
    training_metrics: tuple[str, ...]  # computed on every training batch besides the loss
    objects: dict[str, str] = field(default_factory=dict)

    def record(self) -> dict[str, Any]:
        return {
            "optimizer": {
                "algorithm": "adam",
                "learning_rate": held(self.learning_rate),
                "beta_1": held(self.beta_1),
                "beta_2": held(self.beta_2),
                "epsilon": held(self.epsilon),
                "weight_decay": held(self.weight_decay),
                "amsgrad": bool(self.amsgrad),
                "epsilon_added_to": self.epsilon_added_to,
            },
            "loss": {
                "function": LOSS_FUNCTION,
                "from_logits": bool(self.loss_from_logits),
                "reduction": self.loss_reduction,
            },
            "training_metrics": list(self.training_metrics),
            "training_objects": dict(self.objects),
        }
