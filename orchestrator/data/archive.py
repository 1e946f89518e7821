"""Read chosen members of a gzipped tar archive into memory, refusing hostile archives.

Nothing is extracted to disk: members are read by name into bytes. An archive is refused
whole if any member's name could escape a folder (absolute, `..`, backslashes), if a
member is neither a regular file nor a folder (links, devices), if a name repeats, or if
a wanted member is larger than its limit; so a crafted archive can neither write outside
the cache nor make us read a different file than the one its listing shows.
"""

from __future__ import annotations

import tarfile
import zlib
from pathlib import Path, PurePosixPath

from orchestrator.errors import DataError


def _safe_name(raw: str) -> str | None:
    """The member's name without a leading './', or None if it is unsafe."""
    if "\\" in raw or "\x00" in raw or raw.startswith("/"):
        return None
    parts = [p for p in PurePosixPath(raw).parts if p != "."]
    if not parts or any(p == ".." for p in parts):
        return None
    return "/".join(parts)


# The published archives hold a few dozen members; tarfile keeps a record of each one read,
# so a crafted archive of 10^6 members grew memory without bound.
MAX_MEMBERS = 1000


def read_members(path: Path, wanted: dict[str, int], *, fix: str) -> dict[str, bytes]:
    """The bytes of each member of `wanted` (name -> largest size allowed in bytes) that the
    archive at `path` holds; absent ones are simply missing from the result. `fix` ends
    every error message: what the user can do."""
    found: dict[str, bytes] = {}
    seen: set[str] = set()
    try:
        with tarfile.open(path, "r:gz") as tar:
            for member in tar:
                name = _safe_name(member.name)
                if name is None:
                    raise DataError(
                        f"{path}: archive member {member.name!r} points outside its folder; "
                        f"this is not the published archive, {fix}"
                    )
                if not (member.isfile() or member.isdir()):
                    raise DataError(
                        f"{path}: archive member {member.name!r} is a link or special file; "
                        f"this is not the published archive, {fix}"
                    )
                if name in seen:
                    raise DataError(f"{path}: archive member {name!r} appears twice; {fix}")
                seen.add(name)
                if len(seen) > MAX_MEMBERS:  # tarfile keeps every member it has read
                    raise DataError(
                        f"{path}: more than {MAX_MEMBERS} archive members; this is not the "
                        f"published archive, {fix}"
                    )
                if name not in wanted or not member.isfile():
                    continue
                if member.size > wanted[name]:
                    raise DataError(
                        f"{path}: archive member {name} is {member.size} bytes, more than the "
                        f"{wanted[name]} it can be; {fix}"
                    )
                handle = tar.extractfile(member)
                if handle is None:  # pragma: no cover - isfile() members always have one
                    raise DataError(f"{path}: cannot read archive member {name}; {fix}")
                data = handle.read()
                if len(data) != member.size:
                    raise DataError(f"{path}: archive member {name} is truncated; {fix}")
                found[name] = data
    except (tarfile.TarError, EOFError, zlib.error, OSError) as exc:
        reason = " ".join(str(exc).split())  # some tarfile messages span lines
        raise DataError(f"{path}: not a readable .tar.gz archive ({reason}); {fix}") from exc
    return found
