"""Fakes for hardware this machine lacks; each follows the real thing's format exactly."""

from __future__ import annotations

import sys
from pathlib import Path

FAKES = Path(__file__).resolve().parent


def install_fake_energibridge(directory: Path) -> Path:
    """An executable `energibridge` in `directory` running the fake with this interpreter
    (isolated, no site: it needs the standard library only, and starts fast)."""
    directory.mkdir(parents=True, exist_ok=True)
    source = (FAKES / "energibridge").read_text(encoding="utf-8")
    body = source.split("\n", 1)[1]
    target = directory / "energibridge"
    target.write_text(f"#!{sys.executable} -IS\n{body}", encoding="utf-8")
    target.chmod(0o755)
    return target
