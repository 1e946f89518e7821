"""User-facing failures: each one becomes one line on stderr and exit code 2 in the CLI.

Tracebacks are for bugs only; anything a user can fix by changing input, permissions or the
machine's set-up is raised as one of these, with a message that says what to do.
"""

from __future__ import annotations

import os
from pathlib import Path


class UserError(Exception):
    """Bad input or environment the user can fix. The message says how."""


class DataError(UserError):
    """A dataset is missing, corrupt, or does not match its checksum."""


class MeterError(UserError):
    """A meter cannot read what it was asked to measure on this machine."""


class RuntimeUnavailableError(UserError):
    """The requested runtime (docker, local environment) cannot run the workload here."""


def check_writable_folder(path: Path, flag: str) -> None:
    """`path` is a folder we can write, or can be created as one: checked before any work,
    so that an uncreatable output is one line up front, not an OSError at the end."""
    probe = path
    while not probe.exists():
        if probe.parent == probe:
            break
        probe = probe.parent
    if not probe.is_dir():
        what = "is a file" if probe == path else f"is under {probe}, which is a file"
        raise UserError(f"{flag} {path} {what}; give a folder")
    if not os.access(probe, os.W_OK | os.X_OK):
        raise UserError(f"{flag} {path}: no permission to write in {probe}; give another folder")
