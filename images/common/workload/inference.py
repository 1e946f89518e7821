"""Inference figures from per-batch latencies and logits: pure functions, no framework.

The first batch is compilation where the framework compiles (tracing, XLA, TorchInductor,
cuDNN's algorithm search), so it is reported alone (`first_batch_s`, the `compile` phase)
and left out of the throughput and the latency percentiles, which describe the steady state
a serving loop sees."""

from __future__ import annotations

from typing import Any

import numpy as np

LATENCY_PERCENTILES = (50, 90, 99)


def summarize(
    latencies_s: list[float], batch_sizes: list[int], steady_wall_s: float
) -> dict[str, Any]:
    """result.json's `inference`: `latencies_s` and `batch_sizes` per batch in order, the
    first one included; `steady_wall_s` the wall time from the end of the first batch to the
    end of the last (the loop's own overhead included, as a serving loop pays it)."""
    steady_ms = np.asarray(latencies_s[1:], dtype=np.float64) * 1e3
    steady_examples = sum(batch_sizes[1:])
    latency_ms = {"mean": float(steady_ms.mean())}
    for p in LATENCY_PERCENTILES:
        latency_ms[f"p{p}"] = float(np.percentile(steady_ms, p))
    latency_ms["max"] = float(steady_ms.max())
    return {
        "batch_size": batch_sizes[0],
        "batches": len(batch_sizes),
        "examples": sum(batch_sizes),
        "examples_per_s": steady_examples / steady_wall_s,
        "latency_ms": latency_ms,
        "first_batch_s": latencies_s[0],
    }


def loss_and_accuracy(logits: np.ndarray, labels: np.ndarray) -> tuple[float, float]:
    """Mean softmax cross-entropy and accuracy of the logits, in float64: the same figures
    whichever framework computed the logits."""
    z = logits.astype(np.float64)
    z = z - z.max(axis=1, keepdims=True)
    log_softmax = z - np.log(np.exp(z).sum(axis=1, keepdims=True))
    loss = -log_softmax[np.arange(len(labels)), labels].mean()
    accuracy = (logits.argmax(axis=1) == labels).mean()
    return float(loss), float(accuracy)
