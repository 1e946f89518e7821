"""result.json: written last and atomically, so its presence means the run finished."""

from __future__ import annotations

import json
import os
import platform
import resource
from pathlib import Path
from typing import Any

from workload import SCHEMA_VERSION

SCHEMA = "fwenergy.result"


def peak_rss_bytes() -> int:
    # ru_maxrss is in KiB on Linux.
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024


def base_versions() -> dict[str, str]:
    import numpy as np

    return {"python": platform.python_version(), "numpy": np.__version__}


def write_result(out_dir: Path, result: dict[str, Any]) -> Path:
    document = {"schema": SCHEMA, "schema_version": SCHEMA_VERSION, **result}
    final = out_dir / "result.json"
    partial = out_dir / ".result.json.partial"
    with partial.open("w", encoding="utf-8") as f:
        json.dump(document, f, indent=2, sort_keys=False)
        f.write("\n")
        f.flush()
        os.fsync(f.fileno())
    partial.replace(final)
    return final
