"""Fixtures for the meter tests: fake hardware lives in tests/fakes."""

from __future__ import annotations

import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.fakes import install_fake_energibridge


@pytest.fixture
def sysfs_dir(tmp_path: Path) -> Iterator[Path]:
    """A folder for a fake powercap tree, in memory like sysfs when /dev/shm exists: on a
    disk-backed /tmp each file replace can take a millisecond, which would make the
    simulator's counters lag the clock it is checked against."""
    shm = Path("/dev/shm")
    if shm.is_dir():
        d = Path(tempfile.mkdtemp(prefix="fwenergy-powercap-", dir=shm))
        yield d / "powercap"
        shutil.rmtree(d, ignore_errors=True)
    else:
        yield tmp_path / "powercap"


@pytest.fixture
def fake_energibridge(tmp_path: Path) -> Path:
    return install_fake_energibridge(tmp_path / "bin")
