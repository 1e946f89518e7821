"""Every run is measured alone on its host: no other campaign's workload, warm-up or idle
gap beside it, whatever its runtime.

Two guards. The host-wide measurement lock, an flock(2) on one file (by default
/run/lock/fwenergy-measurement.lock; FWENERGY_LOCK_DIR moves it, which tests do to keep
their campaigns apart from a real one), held by every campaign and study cell from before
its warm-up to its end, and checked again before each run and idle gap; the kernel drops it
when its holder dies, even by kill -9. And, on the Docker engine, the measured containers of
orchestrators that take no lock (older versions, a killed orchestrator's leftovers): a
container is removed only when the orchestrator that started it is gone, never because it
carries this campaign's name, which a copied folder shares.
"""

from __future__ import annotations

import contextlib
import os
import stat
from collections.abc import Iterator
from pathlib import Path

from rich.console import Console

from orchestrator.errors import RuntimeUnavailableError, UserError
from orchestrator.runtimes.base import CAMPAIGN_LABEL, Foreign, Runtime

LOCK_DIR_ENV = "FWENERGY_LOCK_DIR"
LOCK_NAME = "fwenergy-measurement.lock"
# World-writable, sticky and on tmpfs on every common Linux: one path that every user of the
# host agrees on, emptied at boot.
HOST_LOCK_DIRS = ("/run/lock", "/var/lock", "/tmp")


class MeasurementBusyError(UserError):
    """Another measurement holds the host: one line naming it."""


def lock_path() -> Path:
    given = os.environ.get(LOCK_DIR_ENV)
    if given:
        return Path(given) / LOCK_NAME
    for folder in HOST_LOCK_DIRS:
        if os.access(folder, os.W_OK | os.X_OK):
            return Path(folder) / LOCK_NAME
    raise UserError(
        f"no folder for the host's measurement lock ({', '.join(HOST_LOCK_DIRS)} are not "
        f"writable): set {LOCK_DIR_ENV} to a folder every user of this host can write"
    )


def _open(path: Path) -> int:
    flags = os.O_NOFOLLOW | os.O_CLOEXEC | os.O_NONBLOCK
    try:
        try:
            fd = os.open(path, os.O_RDWR | os.O_CREAT | flags, 0o644)
        except PermissionError:  # another user's file: flock needs no write access
            fd = os.open(path, os.O_RDONLY | flags)
    except OSError as exc:
        raise UserError(
            f"cannot open the measurement lock {path}: {exc.strerror}; if it is a link or not "
            f"a file, remove it, or set {LOCK_DIR_ENV} to another folder"
        ) from None
    if not stat.S_ISREG(os.fstat(fd).st_mode):
        os.close(fd)
        raise UserError(f"the measurement lock {path} is not a file; remove it")
    return fd


def _holder(fd: int) -> str:
    """Who holds the lock on `fd`'s file: the pid from /proc/locks, and what the holder wrote
    there (its campaign) when the pid matches; 'another process' when neither can be read."""
    st = os.fstat(fd)
    inode = f"{os.major(st.st_dev):02x}:{os.minor(st.st_dev):02x}:{st.st_ino}"
    pid = None
    with contextlib.suppress(OSError):
        for line in Path("/proc/locks").read_text().splitlines():
            parts = line.split()
            if len(parts) > 5 and parts[1] == "FLOCK" and parts[5] == inode:
                pid = parts[4]
    written = os.pread(fd, 4096, 0).decode(errors="replace").strip().split(" ", 1)
    if pid is None and not written[0]:
        return "another process"
    if pid is None or written[0] == pid:
        return f"pid {written[0]}" + (f", {written[1]}" if len(written) > 1 else "")
    return f"pid {pid}"


class MeasurementLock:
    """The host's measurement lock, held from `acquire` until `release` or death."""

    def __init__(self, what: str, path: Path | None = None) -> None:
        self.what = what  # the holder's campaign folder, named to whoever waits for it
        self.path = path or lock_path()
        self.fd: int | None = None

    def acquire(self) -> None:
        fd = _open(self.path)
        try:
            import fcntl

            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = _holder(fd)
            os.close(fd)
            raise MeasurementBusyError(
                f"another measurement holds this host ({holder}; lock {self.path}): two at once "
                "spoil each other's energy; wait for it to end, then start (or resume) again"
            ) from None
        with contextlib.suppress(OSError):  # a file of another user's: the pid names us
            os.ftruncate(fd, 0)
            os.pwrite(fd, f"{os.getpid()} {self.what}\n".encode(), 0)
        self.fd = fd

    def check(self) -> None:
        """Still ours: the file we lock is the one at the path. If it was removed or replaced
        (a cleaner of /tmp, a hand), anyone could have locked the new one: take it again, or
        refuse naming the one who did."""
        assert self.fd is not None
        mine = os.fstat(self.fd)
        with contextlib.suppress(FileNotFoundError):
            now = self.path.lstat()
            if (now.st_dev, now.st_ino) == (mine.st_dev, mine.st_ino):
                return
        old, self.fd = self.fd, None
        self.acquire()
        os.close(old)

    def release(self) -> None:
        if self.fd is not None:
            os.close(self.fd)  # the flock goes with the last descriptor
            self.fd = None


@contextlib.contextmanager
def measuring(what: str) -> Iterator[MeasurementLock]:
    """The host's measurement lock for the block, or MeasurementBusyError at once."""
    lock = MeasurementLock(what)
    lock.acquire()
    try:
        yield lock
    finally:
        lock.release()


def _refusal(c: Foreign) -> RuntimeUnavailableError:
    if c.leftover:
        return RuntimeUnavailableError(
            f"container {c.container_id[:12]} of campaign {c.campaign_id} is still running, "
            "left by a killed orchestrator; a run measured beside it would count its energy: "
            f"resume that campaign, `docker rm -f {c.container_id[:12]}`, or pass --reap"
        )
    return RuntimeUnavailableError(
        f"campaign {c.campaign_id} is measuring now (container {c.container_id[:12]}, "
        f"orchestrator {c.owner}); two campaigns at once spoil each other's energy: wait for "
        "it to end"
    )


def measure_alone(runtime: Runtime, key: str | None, reap: bool, console: Console) -> None:
    """Before the warm-up: no measured container runs on the engine. A leftover of this
    campaign (`key`) whose orchestrator is gone is removed, another campaign's with --reap;
    a container whose orchestrator lives is never touched, whatever its campaign label."""
    for c in runtime.measured_elsewhere(None):
        if c.leftover and (reap or c.campaign_id == key):
            runtime.remove(c.container_id)
            why = "--reap" if c.campaign_id != key else "an interrupted run of this campaign"
            console.print(
                f"removed container {c.container_id[:12]} of campaign {c.campaign_id}, left "
                f"by a killed orchestrator ({why})",
                highlight=False, soft_wrap=True, markup=False,
            )  # fmt: skip
        else:
            raise _refusal(c)
    if key is None:
        return
    for cid in runtime.reap({CAMPAIGN_LABEL: key}):  # created or exited, owner gone
        console.print(
            f"removed container {cid[:12]} left by an interrupted run",
            highlight=False, soft_wrap=True, markup=False,
        )  # fmt: skip


def still_alone(runtime: Runtime, lock: MeasurementLock | None) -> None:
    """Before each run and idle gap: the lock is still ours and no measured container of an
    orchestrator that takes no lock has appeared."""
    if lock is not None:
        lock.check()
    for c in runtime.measured_elsewhere(None):
        raise _refusal(c)
