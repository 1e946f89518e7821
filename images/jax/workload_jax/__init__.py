"""The JAX implementation of the workload: Flax (NNX) model, Optax Adam, jitted steps."""

from workload_jax.trainer import JaxFramework as FRAMEWORK

__all__ = ["FRAMEWORK"]
