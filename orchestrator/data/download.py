"""Download the published files of a dataset into a cache, verified by their published
checksum (SHA-256; MD5 where the publisher gives only that, always with the exact size).

A file enters the cache only by an atomic rename after its checksum passed, so an
interrupted transfer or a wrong mirror never leaves a file there that looks good; a cached
file whose hash matches is used without touching the network.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, BinaryIO

from orchestrator.data import agnews, cifar
from orchestrator.data.hashing import file_digest, sha256_file
from orchestrator.errors import DataError
from orchestrator.paths import CACHE_ENV, cache_root

if TYPE_CHECKING:
    from rich.progress import Progress, TaskID

CONNECT_TIMEOUT_S = 10.0
# Between two received chunks, not for the whole file: a slow but live mirror is fine.
READ_TIMEOUT_S = 60.0
CHUNK_BYTES = 1 << 16
MIRROR_ENV = "FWENERGY_DATA_MIRROR"


@dataclass(frozen=True)
class RemoteFile:
    name: str
    sha256: str | None  # as published; None where only an MD5 is published
    size_bytes: int
    md5: str | None = None  # checked too when given

    def matches(self, sha256: str, md5: str) -> bool:
        return (self.sha256 is None or sha256 == self.sha256) and (
            self.md5 is None or md5 == self.md5
        )


@dataclass(frozen=True)
class RemoteDataset:
    name: str
    base_url: str
    files: tuple[RemoteFile, ...]


# Checksums as published in tensorflow/datasets (tensorflow_datasets/url_checksums/mnist.txt,
# fashion_mnist.txt); the MNIST ones are those of Yann LeCun's original files, which the
# torchvision mirror serves unchanged.
REMOTE: dict[str, RemoteDataset] = {
    "mnist": RemoteDataset(
        "mnist",
        "https://ossci-datasets.s3.amazonaws.com/mnist/",
        (
            RemoteFile(
                "train-images-idx3-ubyte.gz",
                "440fcabf73cc546fa21475e81ea370265605f56be210a4024d2ca8f203523609",
                9912422,
            ),
            RemoteFile(
                "train-labels-idx1-ubyte.gz",
                "3552534a0a558bbed6aed32b30c495cca23d567ec52cac8be1a0730e8010255c",
                28881,
            ),
            RemoteFile(
                "t10k-images-idx3-ubyte.gz",
                "8d422c7b0a1c1c79245a5bcf07fe86e33eeafee792b84584aec276f5a2dbc4e6",
                1648877,
            ),
            RemoteFile(
                "t10k-labels-idx1-ubyte.gz",
                "f7ae60f92e00ec6debd23a6088c31dbd2371eca3ffa0defaefb259924204aec6",
                4542,
            ),
        ),
    ),
    "fashion-mnist": RemoteDataset(
        "fashion-mnist",
        # The project's S3 bucket over HTTPS; its website endpoint
        # (http://fashion-mnist.s3-website.eu-central-1.amazonaws.com/) serves the same files
        # over plain HTTP only.
        "https://fashion-mnist.s3.eu-central-1.amazonaws.com/",
        (
            RemoteFile(
                "train-images-idx3-ubyte.gz",
                "3aede38d61863908ad78613f6a32ed271626dd12800ba2636569512369268a84",
                26421880,
            ),
            RemoteFile(
                "train-labels-idx1-ubyte.gz",
                "a04f17134ac03560a47e3764e11b92fc97de4d1bfaf8ba1a3aa29af54cc90845",
                29515,
            ),
            RemoteFile(
                "t10k-images-idx3-ubyte.gz",
                "346e55b948d973a97e58d2351dde16a484bd415d4595297633bb08f03db6a073",
                4422102,
            ),
            RemoteFile(
                "t10k-labels-idx1-ubyte.gz",
                "67da17c76eaffca5446c3361aaab5c3cd6d1c2608764d35dfb1850b086bf8dd5",
                5148,
            ),
        ),
    ),
    "cifar10": RemoteDataset(
        "cifar10",
        "https://www.cs.toronto.edu/~kriz/",
        (RemoteFile(cifar.ARCHIVE, cifar.PUBLISHED_SHA256, cifar.PUBLISHED_SIZE_BYTES),),
    ),
    "ag-news": RemoteDataset(
        "ag-news",
        "https://s3.amazonaws.com/fast-ai-nlp/",
        (RemoteFile(agnews.ARCHIVE, None, agnews.PUBLISHED_SIZE_BYTES, agnews.PUBLISHED_MD5),),
    ),
}


def default_cache_dir() -> Path:
    """$FWENERGY_CACHE/datasets, else $XDG_CACHE_HOME/fwenergy/datasets, else
    ~/.cache/fwenergy/datasets."""
    return cache_root() / "datasets"


def resolve_base_url(dataset: RemoteDataset, mirror: str | None) -> str:
    """--mirror, else $FWENERGY_DATA_MIRROR, else the dataset's own site; always ends in /."""
    url = mirror or os.environ.get(MIRROR_ENV) or dataset.base_url
    if not url.startswith(("https://", "http://")):
        raise DataError(
            f"mirror {url!r} is not an http(s) URL; give a base URL such as "
            "https://example.org/mnist/ that holds the dataset's published files"
        )
    return url if url.endswith("/") else url + "/"


def fetch_verified(
    url: str, dest: Path, remote: RemoteFile, *, progress: Progress | None = None
) -> str:
    """Download `url` to `dest`, which appears only if the bytes match `remote`'s published
    checksum; returns their SHA-256."""
    try:
        dest.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp_name = tempfile.mkstemp(prefix=f".{dest.name}.", suffix=".part", dir=dest.parent)
    except OSError as exc:
        raise DataError(
            f"cannot write to the dataset cache {dest.parent} ({exc.strerror}: {exc.filename}); "
            f"choose another with --cache-dir or ${CACHE_ENV}"
        ) from exc
    tmp = Path(tmp_name)
    try:
        with os.fdopen(fd, "wb") as out:
            sha256, md5 = _stream(url, out, size_bytes=remote.size_bytes, progress=progress)
        if not remote.matches(sha256, md5):
            kind, expected, actual = (
                ("SHA-256", remote.sha256, sha256)
                if remote.sha256 is not None
                else ("MD5", remote.md5, md5)
            )
            raise DataError(
                f"{url}: {kind} mismatch: expected {expected}, got {actual}; the server sent "
                "other bytes than the published file (nothing was cached): try again, or "
                "use another --mirror or --source DIR"
            )
        tmp.replace(dest)
    finally:
        tmp.unlink(missing_ok=True)
    return sha256


def _stream(
    url: str, out: BinaryIO, *, size_bytes: int, progress: Progress | None
) -> tuple[str, str]:
    """Write the body to `out`; its SHA-256 and MD5."""
    # Imported here: every CLI command loads this module, few of them download.
    import requests
    import urllib3

    digest = hashlib.sha256()
    md5 = hashlib.md5(usedforsecurity=False)  # only to compare with a published MD5
    received = 0
    total = size_bytes
    task: TaskID | None = None
    try:
        # Identity encoding and raw reads: the hash is of the file as published, never of
        # something a transparent gzip decoder produced from it.
        with requests.get(
            url,
            stream=True,
            timeout=(CONNECT_TIMEOUT_S, READ_TIMEOUT_S),
            headers={"Accept-Encoding": "identity"},
        ) as resp:
            if resp.status_code != 200:
                raise DataError(
                    f"{url}: HTTP {resp.status_code} {resp.reason}; check the URL given by "
                    f"--mirror or ${MIRROR_ENV}, or use --source DIR"
                )
            length = resp.headers.get("Content-Length")
            if length is not None and length.isdigit():
                total = int(length)
            if progress is not None:
                task = progress.add_task(url.rsplit("/", 1)[-1], total=total)
            for chunk in resp.raw.stream(CHUNK_BYTES, decode_content=False):
                out.write(chunk)
                digest.update(chunk)
                md5.update(chunk)
                received += len(chunk)
                if received > total:
                    raise DataError(
                        f"{url}: the server sent more than the {total} bytes expected; "
                        "use another --mirror or --source DIR"
                    )
                if task is not None and progress is not None:
                    progress.update(task, completed=received)
    except (requests.RequestException, urllib3.exceptions.HTTPError, OSError) as exc:
        if received == 0 and isinstance(exc, requests.ConnectionError):
            raise DataError(
                f"cannot reach {url} ({type(exc).__name__}); check the network, or use "
                "--mirror URL or --source DIR; offline, --dataset synthetic needs no download "
                "(README: First run without internet)"
            ) from exc
        raise DataError(
            f"download of {url} interrupted after {received} of {total} bytes "
            f"({type(exc).__name__}); nothing was cached, run the command again"
        ) from exc
    if received != total:
        raise DataError(
            f"download of {url} interrupted after {received} of {total} bytes; nothing was "
            "cached, run the command again"
        )
    return digest.hexdigest(), md5.hexdigest()


@contextlib.contextmanager
def _progress(enabled: bool) -> Iterator[Progress | None]:
    if not enabled:
        yield None
        return
    from rich.console import Console
    from rich.progress import (
        BarColumn,
        DownloadColumn,
        Progress,
        TextColumn,
        TimeRemainingColumn,
        TransferSpeedColumn,
    )

    console = Console(stderr=True)
    if not console.is_terminal:
        # A log file gains nothing from a progress bar, and would gain a stray blank line.
        yield None
        return
    # Transient: the bars vanish when done, so stderr keeps only the summary or the one
    # error line.
    bar = Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        DownloadColumn(),
        TransferSpeedColumn(),
        TimeRemainingColumn(),
        console=console,
        transient=True,
    )
    with bar:
        yield bar


@dataclass(frozen=True)
class CachedFile:
    path: Path
    url: str
    sha256: str
    size_bytes: int
    downloaded: bool


def ensure_cached(
    dataset: RemoteDataset,
    *,
    cache_dir: Path | None = None,
    mirror: str | None = None,
    progress: bool = True,
) -> list[CachedFile]:
    """The dataset's files in the cache, downloading those missing or not matching."""
    base_url = resolve_base_url(dataset, mirror)
    folder = (cache_dir or default_cache_dir()) / dataset.name
    result: list[CachedFile] = []
    with _progress(progress) as bar:
        for remote in dataset.files:
            path = folder / remote.name
            url = base_url + remote.name
            sha256 = _cached_sha256(path, remote)
            downloaded = sha256 is None
            if sha256 is None:
                sha256 = fetch_verified(url, path, remote, progress=bar)
            result.append(CachedFile(path, url, sha256, remote.size_bytes, downloaded))
    return result


def _cached_sha256(path: Path, remote: RemoteFile) -> str | None:
    """The SHA-256 of the cached copy if it is the published file, else None."""
    if not path.is_file() or path.stat().st_size != remote.size_bytes:
        return None
    sha256 = sha256_file(path)
    md5 = file_digest(path, "md5") if remote.md5 is not None else ""
    return sha256 if remote.matches(sha256, md5) else None
