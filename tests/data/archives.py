"""Test-side writers of the CIFAR-10 binary archive and the AG News CSV archive, in their
published layouts, written from the formats' descriptions (not from the code under test).

CIFAR-10 (https://www.cs.toronto.edu/~kriz/cifar.html, binary version): cifar-10-batches-bin/
data_batch_1..5.bin and test_batch.bin, records of 1 label byte + 1024 R + 1024 G + 1024 B,
plus batches.meta.txt and readme.html. AG News (Xiang Zhang's ag_news_csv): train.csv and
test.csv of three double-quoted fields (class 1..4, title, description; inner quotes doubled,
newlines written as backslash-n), and classes.txt.
"""

from __future__ import annotations

import csv
import io
import tarfile
from dataclasses import dataclass

import numpy as np

from tests.data.conftest import Cli, run_cli

CIFAR_FOLDER = "cifar-10-batches-bin"
CIFAR_BATCHES = [*(f"data_batch_{i}.bin" for i in range(1, 6)), "test_batch.bin"]
CIFAR_CLASSES = ["airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse"]
CIFAR_CLASSES += ["ship", "truck"]
AG_CLASSES = "World\nSports\nBusiness\nSci/Tech\n"


def tar_gz(members: dict[str, bytes], *, folders: tuple[str, ...] = ()) -> bytes:
    """A gzipped tar of `members` (name -> bytes), folder entries first, fixed mtimes."""
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w:gz") as tar:
        for folder in folders:
            info = tarfile.TarInfo(folder)
            info.type, info.mode, info.mtime = tarfile.DIRTYPE, 0o755, 1_250_000_000
            tar.addfile(info)
        for name, data in members.items():
            info = tarfile.TarInfo(name)
            info.size, info.mode, info.mtime = len(data), 0o644, 1_250_000_000
            tar.addfile(info, io.BytesIO(data))
    return buf.getvalue()


@dataclass
class CifarBatches:
    """Images uint8 (N, 32, 32, 3) HWC and labels per batch file name."""

    images: dict[str, np.ndarray]
    labels: dict[str, np.ndarray]

    def record_bytes(self, name: str) -> bytes:
        chw = self.images[name].transpose(0, 3, 1, 2).reshape(len(self.labels[name]), -1)
        return np.concatenate([self.labels[name][:, None], chw], axis=1).tobytes()

    def files(self) -> dict[str, bytes]:
        return {name: self.record_bytes(name) for name in CIFAR_BATCHES}

    def archive(self, extra: dict[str, bytes] | None = None) -> bytes:
        members = {f"{CIFAR_FOLDER}/{n}": data for n, data in self.files().items()}
        members[f"{CIFAR_FOLDER}/batches.meta.txt"] = ("\n".join(CIFAR_CLASSES) + "\n\n").encode()
        members[f"{CIFAR_FOLDER}/readme.html"] = b"<meta HTTP-EQUIV='REFRESH'>\n"
        return tar_gz({**members, **(extra or {})}, folders=(f"{CIFAR_FOLDER}/",))

    def train(self) -> tuple[np.ndarray, np.ndarray]:
        names = CIFAR_BATCHES[:5]
        return (
            np.concatenate([self.images[n] for n in names]),
            np.concatenate([self.labels[n] for n in names]),
        )


def cifar_batches(per_batch: int = 12, seed: int = 3) -> CifarBatches:
    rng = np.random.default_rng(seed)
    images, labels = {}, {}
    for name in CIFAR_BATCHES:
        images[name] = rng.integers(0, 256, size=(per_batch, 32, 32, 3), dtype=np.uint8)
        labels[name] = rng.integers(0, 10, size=per_batch, dtype=np.uint8)
    return CifarBatches(images, labels)


def ag_csv(rows: list[tuple[int, str, str]]) -> bytes:
    """Rows as in the published files: every field quoted, quotes doubled, LF line ends."""
    buf = io.StringIO()
    writer = csv.writer(buf, quoting=csv.QUOTE_ALL, lineterminator="\n")
    writer.writerows((str(c), t, d) for c, t, d in rows)
    return buf.getvalue().encode()


# Shaped like the real rows: commas and doubled quotes inside fields, the `\` where a line
# break was, escaped newlines `\n`, non-ASCII text.
AG_TRAIN = [
    (3, "Wall St. Bears Claw Back Into the Black (Reuters)",
     "Reuters - Short-sellers, Wall Street's dwindling\\band of ultra-cynics, are seeing "
     "green again."),
    (3, "Carlyle Looks Toward Commercial Aerospace (Reuters)",
     'Reuters - "Private investment firm" Carlyle Group,\\which has a reputation for making '
     "well-timed and occasionally\\controversial plays in the defense industry."),
    (2, "Phelps wins gold", "Michael Phelps won the gold medal.\\nHe set a world record."),
    (1, "Talks in Genève", 'Ministers met in Genève; "talks" went on, said the minister.'),
    (4, "Mars rover finds water", "The rover found signs of water on Mars, NASA said."),
    (2, "Gold for the relay team", "The relay team won gold, the team said."),
]  # fmt: skip
AG_TEST = [
    (4, "NASA rover", "A rover on Mars, and a zyzzyva nobody has seen."),
    (1, "Ministers", "The ministers said \"no\".\\nTalks end."),
]  # fmt: skip


def ag_archive(
    train: list[tuple[int, str, str]] = AG_TRAIN,
    test: list[tuple[int, str, str]] = AG_TEST,
    extra: dict[str, bytes] | None = None,
) -> bytes:
    members = {
        "ag_news_csv/classes.txt": AG_CLASSES.encode(),
        "ag_news_csv/readme.txt": b"AG's News Topic Classification Dataset\n",
        "ag_news_csv/test.csv": ag_csv(test),
        "ag_news_csv/train.csv": ag_csv(train),
    }
    return tar_gz({**members, **(extra or {})}, folders=("ag_news_csv/",))


def run_cli_published(
    published: dict[str, tuple[str | None, int, str | None]],
    *args: object,
    env: dict[str, str] | None = None,
) -> Cli:
    """`orchestrator data prepare ARGS` in a subprocess whose published checksums
    (name -> (sha256, size, md5) of the dataset's one file) are those of the test's
    archives: the download code, cache and CLI run unchanged, only the expected bytes
    differ from the real ones, which no test here can serve."""
    patch = "; ".join(
        f"R[{name!r}] = dataclasses.replace(R[{name!r}], files=(dataclasses.replace("
        f"R[{name!r}].files[0], sha256={sha!r}, size_bytes={size!r}, md5={md5!r}),))"
        for name, (sha, size, md5) in published.items()
    )
    code = (
        "import dataclasses, sys; from orchestrator.data.download import REMOTE as R; "
        f"{patch}; sys.argv = ['orchestrator', 'data', 'prepare', *sys.argv[1:]]; "
        "from orchestrator.cli import main; main()"
    )
    return run_cli(*args, env=env, python_args=("-c", code))
