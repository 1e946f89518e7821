"""Digests of files, read in blocks so a large dataset never sits in memory twice."""

from __future__ import annotations

import hashlib
from pathlib import Path


def file_digest(path: Path, algorithm: str) -> str:
    """`algorithm` as hashlib names it; MD5 only to compare with a checksum published as MD5."""
    digest = hashlib.new(algorithm, usedforsecurity=False)
    with path.open("rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def sha256_file(path: Path) -> str:
    return file_digest(path, "sha256")
