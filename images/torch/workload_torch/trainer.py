"""PyTorch: the model of workload_torch.models, a plain loop without per-batch host
synchronisation (losses are summed on the device and read once per epoch).

Implementations: `eager` runs the step op by op; `compile` runs the same step function
through `torch.compile` (TorchInductor: forward, backward and the Adam update compiled, the
first step pays for the compilation, a partial last batch for one more)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
import torch
from torch import nn
from workload.batches import batch_slices
from workload.framework import Framework, Setup, no_gpu
from workload.training import ADAM_BETA_1, ADAM_BETA_2, ADAM_EPSILON, EPSILON_CORRECTED, Training
from workload.weights import Weights

from workload_torch.models import MODELS


class TorchFramework(Framework):
    name = "torch"

    def versions(self) -> dict[str, str]:
        return {"torch": torch.__version__}

    @staticmethod
    def gpus() -> list[str]:
        if not torch.cuda.is_available():
            return []
        return [torch.cuda.get_device_name(i) for i in range(torch.cuda.device_count())]

    def setup(self) -> Setup:
        torch.set_num_threads(self.config.threads)
        tf32 = self.config.precision == "tf32"
        torch.backends.cuda.matmul.allow_tf32 = tf32
        torch.backends.cudnn.allow_tf32 = tf32  # torch's default is True: set, not assumed
        # cuDNN picks each convolution's algorithm by timing them, as XLA and TensorFlow do by
        # default: every framework's fast path, set alike.
        torch.backends.cudnn.benchmark = True
        if self.config.device == "gpu":
            if not torch.cuda.is_available():
                raise no_gpu("PyTorch (CUDA)")
            self.device = torch.device("cuda")
            name = torch.cuda.get_device_name(0)
        else:
            self.device = torch.device("cpu")
            name = "cpu"
        return Setup(
            device_used=self.device.type,
            device_name=name,
            intra_op_threads=torch.get_num_threads(),
            inter_op_threads=torch.get_num_interop_threads(),
            numerics={
                "precision": self.config.precision if self.device.type == "cuda" else "fp32",
                "tf32_matmul": self.device.type == "cuda" and torch.backends.cuda.matmul.allow_tf32,
                "tf32_conv": self.device.type == "cuda" and torch.backends.cudnn.allow_tf32,
                "conv_autotune": self.device.type == "cuda" and torch.backends.cudnn.benchmark,
                "gpu_memory_preallocated": False,  # torch's caching allocator grows on demand
            },
        )

    def _make(self, weights: Weights | None) -> int:
        """config.model on the device, with the given weights or torch's seeded init; its
        number of trainable parameters."""
        torch.manual_seed(self.config.seed)
        self.arch = MODELS[self.config.model]()
        self.model = self.arch.make()
        if weights is not None:
            self.arch.load(self.model, weights)
        self.model.to(self.device)
        return sum(p.numel() for p in self.model.parameters() if p.requires_grad)

    def build(self, weights: Weights | None) -> int:
        count = self._make(weights)
        self.optimizer = torch.optim.Adam(
            self.model.parameters(),
            lr=self.config.learning_rate,
            betas=(ADAM_BETA_1, ADAM_BETA_2),
            eps=ADAM_EPSILON,
            weight_decay=0.0,
            amsgrad=False,
        )
        self.loss_fn = nn.CrossEntropyLoss(reduction="mean")
        self._train_step = (
            torch.compile(self._step) if self.implementation == "compile" else self._step
        )
        return count

    def weights(self) -> Weights:
        return self.arch.export(self.model)

    def training(self) -> Training:
        group = self.optimizer.param_groups[0]
        return Training(
            learning_rate=group["lr"],
            beta_1=group["betas"][0],
            beta_2=group["betas"][1],
            epsilon=group["eps"],
            weight_decay=group["weight_decay"],
            amsgrad=group["amsgrad"],
            epsilon_added_to=EPSILON_CORRECTED,  # torch.optim.Adam's documented algorithm
            loss_from_logits=True,  # CrossEntropyLoss takes logits by definition
            loss_reduction=self.loss_fn.reduction,
            training_metrics=(),  # the step computes the loss only
            objects={"optimizer": "torch.optim.Adam", "loss": "torch.nn.CrossEntropyLoss"},
        )

    def _step(self, xb: torch.Tensor, yb: torch.Tensor) -> torch.Tensor:
        self.optimizer.zero_grad(set_to_none=True)
        loss = self.loss_fn(self.model(xb), yb)
        loss.backward()
        self.optimizer.step()
        return loss.detach()

    def _tensor(self, x: np.ndarray) -> torch.Tensor:
        # The model's layout (NHWC -> NCHW for images) once, outside the per-batch work.
        return torch.from_numpy(self.arch.inputs(x)).to(self.device)

    def logits(self, x: np.ndarray) -> np.ndarray:
        self.model.eval()
        with torch.inference_mode():
            out: np.ndarray = self.model(self._tensor(x)).cpu().numpy()
        return out

    def to_device(self, x: np.ndarray, y: np.ndarray) -> None:
        self._x_train = self._tensor(x)
        self._y_train = torch.from_numpy(y.astype(np.int64)).to(self.device)
        if self.device.type == "cuda":
            torch.cuda.synchronize()  # the phase ends when the copy has landed

    def train_epoch(self, order: np.ndarray, first_step_done: Callable[[], Any]) -> float:
        xs, ys = self._x_train, self._y_train
        index = torch.from_numpy(order).to(self.device)
        self.model.train()
        total = torch.zeros((), device=self.device)
        for step, batch in enumerate(batch_slices(len(order), self.config.batch_size)):
            idx = index[batch]
            loss = self._train_step(xs[idx], ys[idx])
            total += loss * len(idx)
            if step == 0:
                if self.device.type == "cuda":
                    torch.cuda.synchronize()
                first_step_done()
        return float(total.item()) / len(order)

    def evaluate(self, x: np.ndarray, y: np.ndarray) -> tuple[float, float]:
        self.model.eval()
        xs, ys = self._tensor(x), torch.from_numpy(y.astype(np.int64)).to(self.device)
        loss_sum = torch.zeros((), device=self.device)
        correct = torch.zeros((), dtype=torch.int64, device=self.device)
        with torch.inference_mode():
            for batch in batch_slices(len(y), self.config.batch_size):
                xb, yb = xs[batch], ys[batch]
                out = self.model(xb)
                loss_sum += nn.functional.cross_entropy(out, yb, reduction="sum")
                correct += (out.argmax(1) == yb).sum()
        return float(loss_sum.item()) / len(y), int(correct.item()) / len(y)

    def build_inference(self, weights: Weights | None) -> int:
        count = self._make(weights)
        self.model.eval()
        # `compile`: TorchInductor compiles the forward pass at the first batch (a partial
        # last batch, a new shape, may compile once more).
        self._forward = (
            torch.compile(self.model) if self.implementation == "compile" else self.model
        )
        return count

    def inference_to_device(self, batches: list[np.ndarray]) -> None:
        self._test_batches = [self._tensor(x) for x in batches]
        if self.device.type == "cuda":
            torch.cuda.synchronize()

    def infer_batch(self, index: int) -> np.ndarray:
        # inference_mode: no autograd recording, no version counters (torch's fastest
        # inference path); `.cpu()` waits for the device.
        with torch.inference_mode():
            out: np.ndarray = self._forward(self._test_batches[index]).cpu().numpy()
        return out
