"""A deterministic, learnable stand-in for AG News: int32 token ids (N, SEQUENCE_LENGTH),
4 balanced classes, no download.

Every document draws its words from a mixture: with probability TOPIC_SHARE from its class's
own topic words (TOPIC_WORDS ids drawn from the seed per class), else from a background
shared by all classes (Zipf-like frequencies over the whole vocabulary, as in real text),
with a few UNKNOWN_ID; its length is uniform in MIN_LENGTH..SEQUENCE_LENGTH, padded with
PAD_ID. A bag-of-words model, let alone a transformer, beats chance after one epoch.
"""

from __future__ import annotations

import numpy as np

from orchestrator.data.registry import (
    PAD_ID,
    SEQUENCE_LENGTH,
    TEXT_CLASSES,
    UNKNOWN_ID,
    VOCAB_SIZE,
)
from orchestrator.data.splits import Splits
from orchestrator.data.synthetic import check_request

GENERATOR = "fwenergy.synthetic-text v1 (numpy PCG64)"
DEFAULT_TRAIN_COUNT = 120000
DEFAULT_TEST_COUNT = 7600
TOPIC_WORDS = 200
TOPIC_SHARE = 0.3
UNKNOWN_SHARE = 0.02
MIN_LENGTH = 8
# Generated in fixed-size chunks to bound memory; part of the stream, like synthetic's.
CHUNK = 8192
_FIRST_WORD_ID = 2


def _vocabulary_model(rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """(TEXT_CLASSES, TOPIC_WORDS) topic ids and the background's cumulative probabilities."""
    topics = np.stack(
        [
            rng.choice(np.arange(_FIRST_WORD_ID, VOCAB_SIZE), TOPIC_WORDS, replace=False)
            for _ in range(TEXT_CLASSES)
        ]
    )
    ranks = np.arange(1, VOCAB_SIZE - _FIRST_WORD_ID + 1, dtype=np.float64)
    weights = 1.0 / ranks
    return topics, np.cumsum(weights / weights.sum())


def _split(
    rng: np.random.Generator, topics: np.ndarray, background: np.ndarray, count: int
) -> tuple[np.ndarray, np.ndarray]:
    labels = rng.permutation(np.arange(count) % TEXT_CLASSES).astype(np.uint8)
    tokens = np.empty((count, SEQUENCE_LENGTH), dtype=np.int32)
    for start in range(0, count, CHUNK):
        y = labels[start : start + CHUNK]
        n, shape = len(y), (len(y), SEQUENCE_LENGTH)
        kind = rng.random(shape)
        topic = topics[y[:, None], rng.integers(0, TOPIC_WORDS, size=shape)]
        common = _FIRST_WORD_ID + np.minimum(
            np.searchsorted(background, rng.random(shape), side="right"), len(background) - 1
        )
        ids = np.where(kind < TOPIC_SHARE, topic, common)
        ids = np.where(kind > 1.0 - UNKNOWN_SHARE, UNKNOWN_ID, ids)
        lengths = rng.integers(MIN_LENGTH, SEQUENCE_LENGTH + 1, size=n)
        ids[np.arange(SEQUENCE_LENGTH)[None, :] >= lengths[:, None]] = PAD_ID
        tokens[start : start + n] = ids
    return tokens, labels


def make_synthetic_text(
    seed: int = 0, train_count: int = DEFAULT_TRAIN_COUNT, test_count: int = DEFAULT_TEST_COUNT
) -> Splits:
    """The same seed and counts give the same arrays; the test split ignores train_count."""
    check_request(seed, train_count, test_count)
    model_seq, train_seq, test_seq = np.random.SeedSequence(seed).spawn(3)
    topics, background = _vocabulary_model(np.random.default_rng(model_seq))
    x_train, y_train = _split(np.random.default_rng(train_seq), topics, background, train_count)
    x_test, y_test = _split(np.random.default_rng(test_seq), topics, background, test_count)
    return Splits(x_train, y_train, x_test, y_test)
