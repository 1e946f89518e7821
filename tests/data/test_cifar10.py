"""CIFAR-10 from its binary archive: downloaded from a real local HTTP mirror (checksum,
cache), or read from --source; hostile or damaged archives refused in one line."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import numpy as np
import pytest

from orchestrator.data import read_prepared
from orchestrator.data.download import REMOTE
from tests.data.archives import CIFAR_FOLDER, CifarBatches, cifar_batches, run_cli_published, tar_gz
from tests.data.conftest import Mirror, run_cli
from tests.data.test_cli_errors import assert_refused
from tests.data.test_download import cache_listing

ARCHIVE = "cifar-10-binary.tar.gz"


def _published(archive: bytes) -> dict[str, tuple[str | None, int, str | None]]:
    return {"cifar10": (hashlib.sha256(archive).hexdigest(), len(archive), None)}


def _assert_same_images(out: Path, batches: CifarBatches) -> None:
    x_train, y_train = batches.train()
    with np.load(out / "dataset.npz") as npz:
        np.testing.assert_array_equal(npz["x_train"], x_train)
        np.testing.assert_array_equal(npz["y_train"], y_train)
        np.testing.assert_array_equal(npz["x_test"], batches.images["test_batch.bin"])
        np.testing.assert_array_equal(npz["y_test"], batches.labels["test_batch.bin"])


def test_the_published_archive_is_the_binary_version_with_tfds_checksum() -> None:
    (remote,) = REMOTE["cifar10"].files
    assert REMOTE["cifar10"].base_url + remote.name == (
        "https://www.cs.toronto.edu/~kriz/cifar-10-binary.tar.gz"
    )
    assert remote.sha256 == "c4a38c50a1bc5f3a1c5537f2155ab9d68f9f25eb1ed8d9ddda3db29a59bca1dd"
    assert remote.size_bytes == 170052171


def test_download_verifies_caches_and_prepares_hwc_rgb(tmp_path: Path, mirror: Mirror) -> None:
    batches = cifar_batches()
    archive = batches.archive()
    url = mirror.serve("cifar", {ARCHIVE: archive})
    cache = tmp_path / "cache"
    args = ("--dataset", "cifar10", "--mirror", url, "--cache-dir", cache, "--json")
    first = run_cli_published(_published(archive), *args, "--out", tmp_path / "a")
    assert first.returncode == 0, first.stderr
    assert mirror.requests[f"/cifar/{ARCHIVE}"] == 1
    assert cache_listing(cache) == {f"cifar10/{ARCHIVE}": hashlib.sha256(archive).hexdigest()}
    _assert_same_images(tmp_path / "a", batches)
    meta = json.loads((tmp_path / "a" / "dataset.json").read_text())
    assert meta["input"] == "image" and meta["image_shape"] == [32, 32, 3]
    assert meta["num_classes"] == 10 and "sequence_length" not in meta
    assert meta["source"]["files"][ARCHIVE]["url"] == url + ARCHIVE
    assert (meta["train_count"], meta["test_count"]) == (60, 12)
    assert read_prepared(tmp_path / "a").sha256 == json.loads(first.stdout)["sha256"]

    second = run_cli_published(_published(archive), *args, "--out", tmp_path / "b")
    assert second.returncode == 0, second.stderr
    assert mirror.requests[f"/cifar/{ARCHIVE}"] == 1  # the cache served it
    assert json.loads(second.stdout)["sha256"] == json.loads(first.stdout)["sha256"]


def test_wrong_bytes_from_the_mirror_are_refused_and_not_cached(
    tmp_path: Path, mirror: Mirror
) -> None:
    archive = cifar_batches().archive()
    url = mirror.serve("cifar", {ARCHIVE: archive})
    published = {"cifar10": ("0" * 64, len(archive), None)}
    out = tmp_path / "out"
    result = run_cli_published(
        published, "--dataset", "cifar10", "--mirror", url, "--cache-dir", tmp_path / "c",
        "--out", out,
    )  # fmt: skip
    assert_refused(result, tmp_path, out, f"SHA-256 mismatch: expected {'0' * 64}", ARCHIVE)
    assert cache_listing(tmp_path / "c") == {}


def test_source_archive_and_extracted_folder_give_the_same_dataset(tmp_path: Path) -> None:
    batches = cifar_batches()
    (tmp_path / "tgz").mkdir()
    (tmp_path / "tgz" / ARCHIVE).write_bytes(batches.archive())
    extracted = tmp_path / "x" / CIFAR_FOLDER
    extracted.mkdir(parents=True)
    for name, data in batches.files().items():
        (extracted / name).write_bytes(data)
    a = run_cli("--dataset", "cifar10", "--source", tmp_path / "tgz", "--out", tmp_path / "a")
    b = run_cli("--dataset", "cifar10", "--source", tmp_path / "x", "--out", tmp_path / "b")
    assert a.returncode == b.returncode == 0, a.stderr + b.stderr
    assert "prepared cifar10: 60 train, 12 test images" in a.stderr
    assert read_prepared(tmp_path / "a").sha256 == read_prepared(tmp_path / "b").sha256
    _assert_same_images(tmp_path / "a", batches)
    meta = json.loads((tmp_path / "a" / "dataset.json").read_text())
    assert meta["source"]["files"][ARCHIVE]["matches_published"] is False


def _archive_with(extra: dict[str, bytes]) -> bytes:
    return cifar_batches().archive(extra)


def _symlink_archive() -> bytes:
    import io
    import tarfile

    base = cifar_batches().archive()
    buf = io.BytesIO()
    with (
        tarfile.open(fileobj=io.BytesIO(base), mode="r:gz") as src,
        tarfile.open(fileobj=buf, mode="w:gz") as dst,
    ):
        for member in src:
            dst.addfile(member, src.extractfile(member) if member.isfile() else None)
        link = tarfile.TarInfo(f"{CIFAR_FOLDER}/evil")
        link.type, link.linkname = tarfile.SYMTYPE, "/etc/passwd"
        dst.addfile(link)
    return buf.getvalue()


def _truncated_batch() -> bytes:
    files = cifar_batches().files()
    files["data_batch_3.bin"] = files["data_batch_3.bin"][:-100]
    return tar_gz({f"{CIFAR_FOLDER}/{n}": d for n, d in files.items()})


def _bad_label() -> bytes:
    files = cifar_batches().files()
    test = bytearray(files["test_batch.bin"])
    test[3073] = 10  # the second record's label byte
    files["test_batch.bin"] = bytes(test)
    return tar_gz({f"{CIFAR_FOLDER}/{n}": d for n, d in files.items()})


def _missing_batch() -> bytes:
    files = cifar_batches().files()
    del files["data_batch_5.bin"]
    return tar_gz({f"{CIFAR_FOLDER}/{n}": d for n, d in files.items()})


@pytest.mark.parametrize(
    ("make", "needles"),
    [
        (lambda: _archive_with({"../escape.txt": b"x"}), ["'../escape.txt'", "outside"]),
        (lambda: _archive_with({"/etc/cron.d/x": b"x"}), ["'/etc/cron.d/x'", "outside"]),
        (_symlink_archive, ["evil", "link or special file"]),
        (_truncated_batch, ["data_batch_3.bin", "not 1..10000 whole records of 3073 bytes"]),
        (_bad_label, ["test_batch.bin", "label byte 10"]),
        (_missing_batch, ["missing data_batch_5.bin"]),
        (
            lambda: b"not a tar archive at all",
            ["not a readable .tar.gz archive", "not a gzip file"],
        ),
    ],
    ids=["dot-dot", "absolute", "symlink", "truncated", "label", "missing", "garbage"],
)
def test_bad_archives_are_refused_in_one_line(
    tmp_path: Path, make: object, needles: list[str]
) -> None:
    src = tmp_path / "src"
    src.mkdir()
    (src / ARCHIVE).write_bytes(make())  # type: ignore[operator]
    out = tmp_path / "out"
    result = run_cli("--dataset", "cifar10", "--source", src, "--out", out)
    assert_refused(result, tmp_path, out, *needles)
    assert sorted(p.name for p in tmp_path.rglob("*")) == [ARCHIVE, "src"]  # nothing extracted


def test_a_source_without_cifar_files_says_what_to_put_there(tmp_path: Path) -> None:
    out = tmp_path / "out"
    result = run_cli("--dataset", "cifar10", "--source", tmp_path, "--out", out)
    assert_refused(result, tmp_path, out, ARCHIVE, "missing data_batch_1.bin")
