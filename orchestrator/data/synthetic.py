"""Deterministic, learnable stand-ins for MNIST and CIFAR-10: same shapes and dtypes, no
download.

Each class has its own pattern (a few Gaussian blobs drawn from the seed; coloured for
CIFAR-10's RGB); every image is its class pattern, shifted by up to 2 pixels, with random
contrast and pixel noise. A small CNN separates the classes well above chance within one
epoch, which is what tests of the workloads need, while the noise keeps it from being
trivial. The grey generator's random stream is unchanged since v1: the same seed gives the
same `synthetic` bytes as ever.
"""

from __future__ import annotations

import numpy as np

from orchestrator.data.registry import RGB_32
from orchestrator.data.splits import IMAGE_SHAPE, NUM_CLASSES, Splits
from orchestrator.errors import DataError

GENERATOR = "fwenergy.synthetic v1 (numpy PCG64)"
CIFAR_GENERATOR = "fwenergy.synthetic-cifar10 v1 (numpy PCG64)"
DEFAULT_TRAIN_COUNT = 60000
DEFAULT_TEST_COUNT = 10000
MAX_COUNT = 1_000_000
BLOBS_PER_CLASS = 4
MAX_SHIFT_PX = 2
NOISE_STD = 0.18
# Generated in fixed-size chunks to bound memory; the chunk size is part of the stream, so
# changing it changes the data.
CHUNK = 8192


def _patterns(rng: np.random.Generator, shape: tuple[int, ...] = IMAGE_SHAPE) -> np.ndarray:
    """(classes, shifts, *shape) float32 in [0, 1]: every class pattern at every shift.
    `shape` (rows, cols) is grey; (rows, cols, 3) gives each blob a colour, drawn after its
    amplitude, so the grey stream stays as it was."""
    rows, cols = shape[:2]
    yy, xx = np.mgrid[0:rows, 0:cols].astype(np.float32)
    base = np.zeros((NUM_CLASSES, *shape), dtype=np.float32)
    margin = 6.0 * rows / IMAGE_SHAPE[0]
    for c in range(NUM_CLASSES):
        for _ in range(BLOBS_PER_CLASS):
            cy, cx = rng.uniform(margin, rows - margin, size=2)
            sigma = rng.uniform(1.5, 3.5)
            amplitude = rng.uniform(0.6, 1.0)
            blob = amplitude * np.exp(-((yy - cy) ** 2 + (xx - cx) ** 2) / (2 * sigma**2))
            if len(shape) == 3:
                colour = rng.uniform(0.0, 1.0, size=shape[2]).astype(np.float32)
                blob = blob[..., None] * colour
            base[c] += blob
        base[c] /= base[c].max()
    offsets = range(-MAX_SHIFT_PX, MAX_SHIFT_PX + 1)
    shifted = [np.roll(base, (dy, dx), axis=(1, 2)) for dy in offsets for dx in offsets]
    return np.stack(shifted, axis=1)


def _split(rng: np.random.Generator, patterns: np.ndarray, count: int) -> tuple[np.ndarray, ...]:
    # Balanced classes in a random order, as in MNIST's roughly uniform label counts.
    labels = rng.permutation(np.arange(count) % NUM_CLASSES).astype(np.uint8)
    shape = patterns.shape[2:]
    images = np.empty((count, *shape), dtype=np.uint8)
    for start in range(0, count, CHUNK):
        y = labels[start : start + CHUNK]
        n = len(y)
        shift = rng.integers(0, patterns.shape[1], size=n)
        contrast = rng.uniform(0.6, 1.0, size=(n,) + (1,) * len(shape)).astype(np.float32)
        noise = rng.standard_normal((n, *shape), dtype=np.float32) * np.float32(NOISE_STD)
        pixels = patterns[y, shift] * contrast + noise
        images[start : start + n] = np.clip(np.rint(pixels * 255.0), 0, 255).astype(np.uint8)
    return images, labels


def check_request(seed: int, train_count: int, test_count: int) -> None:
    if seed < 0:
        raise DataError(f"--seed {seed} is negative; give a seed >= 0")
    for flag, count in (("--train-count", train_count), ("--test-count", test_count)):
        if not 1 <= count <= MAX_COUNT:
            raise DataError(f"{flag} {count} is out of range; give 1..{MAX_COUNT}")


def _images(seed: int, train_count: int, test_count: int, shape: tuple[int, ...]) -> Splits:
    check_request(seed, train_count, test_count)
    pattern_seq, train_seq, test_seq = np.random.SeedSequence(seed).spawn(3)
    patterns = _patterns(np.random.default_rng(pattern_seq), shape)
    x_train, y_train = _split(np.random.default_rng(train_seq), patterns, train_count)
    x_test, y_test = _split(np.random.default_rng(test_seq), patterns, test_count)
    return Splits(x_train, y_train, x_test, y_test)


def make_synthetic(
    seed: int = 0, train_count: int = DEFAULT_TRAIN_COUNT, test_count: int = DEFAULT_TEST_COUNT
) -> Splits:
    """The same seed and counts give the same arrays; the test split does not depend on
    train_count, so a smaller training set keeps the same test set."""
    return _images(seed, train_count, test_count, IMAGE_SHAPE)


def make_synthetic_cifar10(
    seed: int = 0, train_count: int = 50000, test_count: int = 10000
) -> Splits:
    """CIFAR-10's shapes: uint8 (N, 32, 32, 3) HWC RGB, 10 balanced classes."""
    return _images(seed, train_count, test_count, RGB_32)
