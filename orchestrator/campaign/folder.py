"""The campaign folder on disk (docs/formats.md): names, atomic JSON, run and idle folders."""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import shutil
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any, ClassVar

from orchestrator.campaign.records import CampaignDocument, RecordError, RunRecord, StateLine
from orchestrator.campaign.state import append_state
from orchestrator.campaign.trust import check_folder, check_layout, inside
from orchestrator.errors import UserError

LOCK_FILE = "orchestrator.lock"


class CampaignFolderError(UserError):
    """A campaign folder is missing, unreadable or not one of ours."""


def write_text_atomic(path: Path, text: str, mode: int = 0o644) -> None:
    """Temporary file, fsync, rename: a reader sees the old file or the whole new one, and a
    link planted at `path` is replaced, never followed."""
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
    try:
        # mkstemp makes the file private; results are for reading (by analysis, by others).
        os.fchmod(fd, mode)
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            f.write(text)
            f.flush()
            os.fsync(f.fileno())
        Path(tmp).replace(path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def write_json_atomic(path: Path, obj: Any) -> None:
    write_text_atomic(path, json.dumps(obj, indent=2, sort_keys=False) + "\n")


class FolderInUseError(CampaignFolderError):
    """Another orchestrator holds the campaign folder."""


def hold_lock(path: Path, what: str) -> int:
    """An exclusive flock(2) on `path`, held until the returned descriptor is closed or the
    process ends. The kernel drops it when the holder dies, even by kill -9, so a crashed
    orchestrator never leaves a stale lock behind. The holder writes its pid there for the
    message a second one gets (FolderInUseError, naming `what`)."""
    try:
        fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_NOFOLLOW | os.O_CLOEXEC, 0o644)
    except OSError as exc:
        raise CampaignFolderError(f"cannot lock {path}: {exc.strerror}") from None
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        holder = os.pread(fd, 32, 0).decode(errors="replace").strip() or "unknown"
        os.close(fd)
        raise FolderInUseError(
            f"{what} is in use by another orchestrator (pid {holder}); wait for it "
            "to end, or stop it (Ctrl-C, kill) and then resume"
        ) from None
    os.ftruncate(fd, 0)
    os.pwrite(fd, f"{os.getpid()}\n".encode(), 0)
    return fd


class CampaignFolder:
    # The folders this process holds, by their lock file's (device, inode): a process holds
    # a folder once, however often it opens it (a resume after a refusal, in one process).
    _held: ClassVar[dict[tuple[int, int], int]] = {}

    def __init__(self, root: Path) -> None:
        self.root = root
        self._lock_fd: int | None = None

    def lock(self) -> None:
        """Hold the folder until `unlock()` or the process's end: one orchestrator per
        folder, or every missing run would run twice and each would clear the other's run
        folder."""
        path = self.root / LOCK_FILE
        with contextlib.suppress(OSError):
            stat = path.lstat()
            self._lock_fd = self._held.get((stat.st_dev, stat.st_ino))
        if self._lock_fd is None:
            self._lock_fd = hold_lock(path, str(self.root))
            stat = os.fstat(self._lock_fd)
            self._held[stat.st_dev, stat.st_ino] = self._lock_fd

    def unlock(self) -> None:
        """Let the folder go when the campaign ends: a study runs many cells in one
        process, and would otherwise keep a descriptor (and a lock) per cell."""
        if self._lock_fd is not None:
            self._release(self._lock_fd)
            self._lock_fd = None

    @classmethod
    def unlock_all(cls) -> None:
        """Let every folder this process holds go, as its end would: when a command ends,
        however it ends (a resume refused after it took the lock)."""
        for fd in list(cls._held.values()):
            cls._release(fd)

    @classmethod
    def _release(cls, fd: int) -> None:
        stat = os.fstat(fd)
        if cls._held.pop((stat.st_dev, stat.st_ino), None) is not None:
            os.close(fd)

    @property
    def campaign_json(self) -> Path:
        return self.root / "campaign.json"

    @property
    def state_jsonl(self) -> Path:
        return self.root / "state.jsonl"

    def run_dir(self, run_id: str) -> Path:
        return inside(self.root, self.root / "runs" / run_id)

    def idle_dir(self, run_id: str) -> Path:
        return inside(self.root, self.root / "idle" / run_id)

    @staticmethod
    def new_id(results: Path, dataset_name: str, now: float | None = None) -> str:
        stamp = time.strftime("%Y%m%d-%H%M%S", time.gmtime(now or time.time()))
        base = f"{stamp}-{dataset_name}"
        cid, n = base, 2
        while (results / cid).exists():
            cid, n = f"{base}-{n}", n + 1
        return cid

    @classmethod
    @contextlib.contextmanager
    def assembling(
        cls, results: Path, campaign_id: str, campaign: CampaignDocument
    ) -> Iterator[CampaignFolder]:
        """A folder with its campaign.json, assembled beside its final name and renamed into
        place when the block ends without an error: no half-made campaign is ever visible."""
        results.mkdir(parents=True, exist_ok=True)
        tmp = Path(tempfile.mkdtemp(prefix=f".{campaign_id}.", dir=results))
        folder = cls(tmp)
        try:
            (tmp / "runs").mkdir()
            (tmp / "idle").mkdir()
            write_json_atomic(tmp / "campaign.json", campaign.to_json())
            folder.lock()  # held before the folder is visible: no resume can slip in
            yield folder
            tmp.chmod(0o755)
            tmp.rename(results / campaign_id)
        except BaseException:
            shutil.rmtree(tmp, ignore_errors=True)
            raise
        folder.root = results / campaign_id

    @classmethod
    def create(cls, results: Path, campaign_id: str, campaign: CampaignDocument) -> CampaignFolder:
        """The folder with its campaign.json, all or nothing."""
        with cls.assembling(results, campaign_id, campaign) as folder:
            pass
        return folder

    @classmethod
    def open(cls, root: Path) -> tuple[CampaignFolder, CampaignDocument]:
        folder = cls(root)
        check_layout(root)  # before reading: campaign.json itself may be a link
        try:
            data = json.loads(folder.campaign_json.read_text(encoding="utf-8"))
        except FileNotFoundError:
            raise CampaignFolderError(
                f"{root} has no campaign.json; --resume takes a folder made by "
                "`orchestrator campaign`"
            ) from None
        except (OSError, ValueError) as exc:
            raise CampaignFolderError(f"cannot read {folder.campaign_json}: {exc}") from None
        try:
            campaign = CampaignDocument.from_json(data, str(folder.campaign_json))
        except RecordError as exc:
            raise CampaignFolderError(str(exc)) from None
        check_folder(root, campaign.campaign_id, campaign.frameworks, campaign.order)
        return folder, campaign

    def write_run(self, record: RunRecord) -> None:
        """run.json into the run's folder, then its state line: the run counts as done only
        once its record is complete on disk."""
        write_json_atomic(self.run_dir(record.run_id) / "run.json", record.to_json())

    def append_state(self, line: StateLine) -> None:
        append_state(self.state_jsonl, line)

    @staticmethod
    def fresh(path: Path) -> Path:
        """An empty folder at `path`: whatever an interrupted attempt left there is cleared.
        A link is removed, never followed (rmtree itself does not follow links inside)."""
        if path.is_symlink() or path.is_file():
            path.unlink()
        elif path.exists():
            shutil.rmtree(path)
        path.mkdir(parents=True)
        return path


def newest_campaign(results: Path) -> Path:
    """The campaign folder under `results` whose campaign.json was written last."""
    found = [p.parent for p in results.glob("*/campaign.json") if not p.parent.name.startswith(".")]
    if not found:
        raise CampaignFolderError(
            f"no campaign folder in {results}: run `orchestrator campaign` (make campaign) first"
        )
    return max(found, key=lambda d: (d / "campaign.json").stat().st_mtime)
