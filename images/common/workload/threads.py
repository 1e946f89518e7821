"""Give every framework the same CPU threads and the same device.

Thread pools are sized when a framework is imported, so the environment is set before the
import. XLA (JAX, and Keras's compiled steps) has no intra-op thread setting of its own and
sizes its pool from the CPUs the process may run on, so the process is also pinned to
`threads` CPUs: the same pinning for all three frameworks keeps the comparison fair."""

from __future__ import annotations

import os
from typing import Any

THREAD_VARIABLES = ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS")


def pin_threads(threads: int, device: str) -> dict[str, Any]:
    allowed = sorted(os.sched_getaffinity(0))
    if threads < len(allowed):
        os.sched_setaffinity(0, allowed[:threads])
    for name in THREAD_VARIABLES:
        os.environ[name] = str(threads)
    os.environ["TF_NUM_INTRAOP_THREADS"] = str(threads)
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")  # keep TF's banner out of stdout.log
    if device == "cpu":
        # Hide GPUs so a CPU run cannot silently use one.
        os.environ["CUDA_VISIBLE_DEVICES"] = ""
        os.environ["JAX_PLATFORMS"] = "cpu"
    return {"requested": threads, "affinity": sorted(os.sched_getaffinity(0))}
