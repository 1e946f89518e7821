"""The per-epoch batch order: one seeded permutation per epoch, the same in every framework."""

from __future__ import annotations

import hashlib

import numpy as np


def epoch_order(seed: int, epoch: int, n: int) -> np.ndarray:
    """The order in which the n training examples are visited in `epoch` (1-based).

    Seeded by (seed, epoch) rather than by a running generator, so any epoch can be
    reproduced on its own."""
    return np.random.default_rng([seed, epoch]).permutation(n).astype(np.int64)


def batch_slices(n: int, batch_size: int) -> list[slice]:
    """Batches in order; the last one is partial when batch_size does not divide n (as Keras
    `fit` does), so every example is seen exactly once per epoch."""
    return [slice(i, min(i + batch_size, n)) for i in range(0, n, batch_size)]


def orders_sha256(seed: int, epochs: int, n: int) -> str:
    digest = hashlib.sha256()
    for epoch in range(1, epochs + 1):
        digest.update(epoch_order(seed, epoch, n).tobytes())
    return digest.hexdigest()
