"""The campaign folder on disk (docs/formats.md): names, atomic JSON, run and idle folders."""

from __future__ import annotations

import json
import os
import shutil
import tempfile
import time
from pathlib import Path
from typing import Any

from orchestrator.errors import UserError

CAMPAIGN_SCHEMA = "fwenergy.campaign"
SCHEMA_VERSION = 1


class CampaignFolderError(UserError):
    """A campaign folder is missing, unreadable or not one of ours."""


def write_json_atomic(path: Path, obj: Any) -> None:
    """Temporary file, fsync, rename: a reader sees the old file or the whole new one."""
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
    try:
        # mkstemp makes the file private; results are for reading (by analysis, by others).
        os.fchmod(fd, 0o644)
        with os.fdopen(fd, "w") as f:
            json.dump(obj, f, indent=2, sort_keys=False)
            f.write("\n")
            f.flush()
            os.fsync(f.fileno())
        Path(tmp).replace(path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


class CampaignFolder:
    def __init__(self, root: Path) -> None:
        self.root = root

    @property
    def campaign_json(self) -> Path:
        return self.root / "campaign.json"

    @property
    def state_jsonl(self) -> Path:
        return self.root / "state.jsonl"

    def run_dir(self, run_id: str) -> Path:
        return self.root / "runs" / run_id

    def idle_dir(self, run_id: str) -> Path:
        return self.root / "idle" / run_id

    @staticmethod
    def new_id(results: Path, dataset_name: str, now: float | None = None) -> str:
        stamp = time.strftime("%Y%m%d-%H%M%S", time.gmtime(now or time.time()))
        base = f"{stamp}-{dataset_name}"
        cid, n = base, 2
        while (results / cid).exists():
            cid, n = f"{base}-{n}", n + 1
        return cid

    @classmethod
    def create(cls, results: Path, campaign_id: str, campaign: dict[str, Any]) -> CampaignFolder:
        """The folder with its campaign.json, all or nothing."""
        results.mkdir(parents=True, exist_ok=True)
        # Assemble beside the final name, then rename: no half-made campaign is ever visible.
        tmp = Path(tempfile.mkdtemp(prefix=f".{campaign_id}.", dir=results))
        try:
            (tmp / "runs").mkdir()
            (tmp / "idle").mkdir()
            write_json_atomic(tmp / "campaign.json", campaign)
            tmp.chmod(0o755)
            tmp.rename(results / campaign_id)
        except BaseException:
            shutil.rmtree(tmp, ignore_errors=True)
            raise
        return cls(results / campaign_id)

    @classmethod
    def open(cls, root: Path) -> tuple[CampaignFolder, dict[str, Any]]:
        folder = cls(root)
        try:
            campaign = json.loads(folder.campaign_json.read_text())
        except FileNotFoundError:
            raise CampaignFolderError(
                f"{root} has no campaign.json; --resume takes a folder made by "
                "`orchestrator campaign`"
            ) from None
        except (OSError, ValueError) as exc:
            raise CampaignFolderError(f"cannot read {folder.campaign_json}: {exc}") from None
        if campaign.get("schema") != CAMPAIGN_SCHEMA or campaign.get("schema_version") != 1:
            raise CampaignFolderError(
                f"{folder.campaign_json} is not a {CAMPAIGN_SCHEMA} v{SCHEMA_VERSION} file; "
                "was it written by another version of fwenergy?"
            )
        return folder, campaign

    @staticmethod
    def fresh(path: Path) -> Path:
        """An empty folder at `path`: whatever an interrupted attempt left there is cleared."""
        if path.exists():
            shutil.rmtree(path)
        path.mkdir(parents=True)
        return path
