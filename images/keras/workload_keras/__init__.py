"""The Keras 3 (TensorFlow backend) implementation of the workload."""

from workload_keras.trainer import KerasFramework as FRAMEWORK

__all__ = ["FRAMEWORK"]
