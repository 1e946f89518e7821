"""The PyTorch implementation of the workload: a plain, efficient eager training loop."""

from workload_torch.trainer import TorchFramework as FRAMEWORK

__all__ = ["FRAMEWORK"]
