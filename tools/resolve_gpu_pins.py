"""Resolve every image's GPU requirements on the package index, as the image build does, and
record the resolution beside the file (`requirements-gpu.resolved.json`), keyed by the
requirements file's SHA-256. The tests compare the pins with this record offline; when a
requirements file changes, its record no longer matches and the tests name this tool's make
target (`make resolve-gpu-pins`). Needs the package index; takes about a minute a file.

    python tools/resolve_gpu_pins.py            # resolve and write every record
    python tools/resolve_gpu_pins.py --check    # resolve, compare with the records, write nothing
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import platform
import re
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from orchestrator.paths import requirements_file  # noqa: E402
from orchestrator.runtimes.variants import VARIANTS  # noqa: E402

RECORD_NAME = "requirements-gpu.resolved.json"
MAKE_TARGET = "make resolve-gpu-pins"


def normalized(name: str) -> str:
    """A distribution's name as the package index compares it (PEP 503)."""
    return re.sub(r"[-_.]+", "-", name).lower()


def gpu_requirements() -> list[Path]:
    """The GPU requirements file of every image that has one (version variants are CPU only
    so far)."""
    folders = sorted({v.requirements_folder for v in VARIANTS})
    files = [requirements_file(folder, "gpu") for folder in folders]
    return [f for f in files if f.exists()]


def record_path(requirements: Path) -> Path:
    return requirements.with_name(RECORD_NAME)


def sha256(path: Path) -> str:
    """The file's SHA-256, over what it includes with `-r` too: a change to the CPU pins a GPU
    file includes changes the GPU resolution as well."""
    digest = hashlib.sha256(path.read_bytes())
    for raw in path.read_text().splitlines():
        line = raw.split("#", 1)[0].strip()
        if line.startswith("-r "):
            digest.update(sha256(path.parent / line[3:].strip()).encode())
    return digest.hexdigest()


def resolve(requirements: Path) -> dict[str, str]:
    """name -> version of what pip would install for the file on the package index alone
    (no local wheels, no configuration: as the image build resolves it)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("PIP_")}
    env["PIP_CONFIG_FILE"] = os.devnull
    with tempfile.TemporaryDirectory() as tmp:
        report = Path(tmp) / "report.json"
        subprocess.run(
            [sys.executable, "-m", "pip", "install", "--isolated", "--dry-run", "--quiet",
             "--ignore-installed", "--no-cache-dir", "--disable-pip-version-check",
             "--report", str(report), "-r", str(requirements)],
            env=env, check=True, timeout=900,
        )  # fmt: skip
        installs = json.loads(report.read_text())["install"]
    return {normalized(i["metadata"]["name"]): i["metadata"]["version"] for i in installs}


def make_record(requirements: Path, resolved: dict[str, str]) -> dict[str, Any]:
    return {
        "requirements": requirements.relative_to(REPO).as_posix(),
        "requirements_sha256": sha256(requirements),
        # pip resolves for the interpreter it runs in: the images' Python (3.11, x86_64).
        "python": ".".join(platform.python_version_tuple()[:2]),
        "machine": platform.machine(),
        "resolved": dict(sorted(resolved.items())),
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--check", action="store_true", help="compare, write nothing")
    args = parser.parse_args(argv)
    changed = 0
    for requirements in gpu_requirements():
        record = make_record(requirements, resolve(requirements))
        path = record_path(requirements)
        old = json.loads(path.read_text()) if path.exists() else None
        if old == record:
            print(f"{path.relative_to(REPO)}: unchanged")
            continue
        changed += 1
        if args.check:
            print(f"{path.relative_to(REPO)}: out of date; run `{MAKE_TARGET}`", file=sys.stderr)
        else:
            path.write_text(json.dumps(record, indent=2) + "\n")
            print(f"{path.relative_to(REPO)}: written")
    return 1 if args.check and changed else 0


if __name__ == "__main__":
    sys.exit(main())
