"""What a campaign folder may make the orchestrator do.

Campaign folders are shared (copied, mailed, unpacked from archives), and resume acts on
what one says: it deletes and creates run folders, starts interpreters and containers by
framework name, appends to files. So nothing read from a folder is used as a name, a path
or a command before it passes a check here: frameworks must be in the registry, run ids must
have their pattern, and every path we write must stay inside the folder, through no
symbolic link. A folder that fails is refused with one line (exit 2) before anything is
deleted, created or executed.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

from orchestrator.errors import UserError
from orchestrator.runtimes.variants import REGISTRY

RUN_ID = re.compile(r"^(?P<iteration>[0-9]{3,})-(?P<position>[0-9]+)-(?P<framework>.+)$")
# Campaign ids become folder names and Docker label values.
CAMPAIGN_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,199}$")
# What the orchestrator writes or deletes at the top of a folder: none may be a link.
OWN_ENTRIES = ("campaign.json", "state.jsonl", "runs", "idle")


class UntrustedFolderError(UserError):
    """A campaign folder names something outside the registry or outside itself."""


def _refuse(root: Path, what: str) -> UntrustedFolderError:
    return UntrustedFolderError(
        f"{root} is not a campaign folder this orchestrator will act on: {what}; "
        "was it edited by hand? Restore the original or start a new campaign"
    )


def check_framework(root: Path, name: Any) -> str:
    if not isinstance(name, str) or name not in REGISTRY:
        raise _refuse(root, f"unknown framework {name!r} (known: {', '.join(REGISTRY)})")
    return name


def check_run_id(root: Path, run_id: Any) -> str:
    match = RUN_ID.match(run_id) if isinstance(run_id, str) else None
    if match is None:
        raise _refuse(root, f"run id {run_id!r} is not ITERATION-POSITION-FRAMEWORK")
    check_framework(root, match["framework"])
    return str(run_id)


def inside(root: Path, path: Path) -> Path:
    """`path`, if it stays inside `root` once every link is followed; else refused."""
    real_root = root.resolve()
    real = path.resolve()
    if real != real_root and real_root not in real.parents:
        raise _refuse(root, f"{path} leads outside the folder (to {real})")
    return path


def check_layout(root: Path) -> None:
    """The folder's own files and sub-folders are what they seem: no links out of it."""
    for name in OWN_ENTRIES:
        entry = root / name
        if entry.is_symlink():
            raise _refuse(root, f"{name} is a symbolic link")
        inside(root, entry)
    for sub in ("runs", "idle"):
        if (root / sub).exists() and not (root / sub).is_dir():
            raise _refuse(root, f"{sub} is not a folder")


def check_plan(root: Path, campaign_id: str, frameworks: list[str], order: list[list[str]]) -> None:
    """The names resume builds run ids, folders, interpreters and containers from."""
    if not CAMPAIGN_ID.match(campaign_id):
        raise _refuse(root, f"campaign_id {campaign_id!r} is not a plain name")
    if not frameworks:
        raise _refuse(root, "frameworks is empty")
    for name in frameworks:
        check_framework(root, name)
    if not order:
        raise _refuse(root, "order is empty")
    for row in order:
        if sorted(map(str, row)) != sorted(frameworks):
            raise _refuse(root, f"an iteration of order, {row!r}, is not the frameworks once each")
        for name in row:
            check_framework(root, name)


def check_entries(root: Path) -> None:
    """Nothing under runs/ or idle/ is a link: the orchestrator clears entries there."""
    for sub in ("runs", "idle"):
        folder = root / sub
        for entry in folder.iterdir() if folder.is_dir() else ():
            if entry.is_symlink():
                raise _refuse(root, f"{sub}/{entry.name} is a symbolic link")


def check_folder(
    root: Path, campaign_id: str, frameworks: list[str], order: list[list[str]]
) -> None:
    """Everything resume will act on, checked before it acts on any of it."""
    check_layout(root)
    check_entries(root)
    check_plan(root, campaign_id, frameworks, order)
