"""Downloads against a real HTTP server on 127.0.0.1 serving the published Fashion-MNIST
files (rebuilt byte for byte from Debian's package), wrong bytes, and broken transfers."""

from __future__ import annotations

import gzip
import hashlib
import json
import signal
import subprocess
import sys
from pathlib import Path

import numpy as np

from orchestrator.data import prepare_dataset, read_prepared
from orchestrator.data.download import REMOTE
from tests.conftest import FASHION_MNIST, REPO
from tests.data.conftest import Mirror, run_cli

FILES = [f.name for f in REMOTE["fashion-mnist"].files]


def cache_listing(cache: Path) -> dict[str, str]:
    return {
        str(p.relative_to(cache)): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(cache.rglob("*"))
        if p.is_file()
    }


def test_published_checksums_are_those_of_the_real_files(
    official_fashion: dict[str, bytes],
) -> None:
    for remote in REMOTE["fashion-mnist"].files:
        data = official_fashion[remote.name]
        assert hashlib.sha256(data).hexdigest() == remote.sha256
        assert len(data) == remote.size_bytes


def test_download_verifies_caches_and_prepares(
    tmp_path: Path, mirror: Mirror, official_fashion: dict[str, bytes]
) -> None:
    url = mirror.serve("fashion", official_fashion)
    cache, out = tmp_path / "cache", tmp_path / "out"
    result = run_cli(
        "--dataset", "fashion-mnist", "--mirror", url, "--cache-dir", cache, "--out", out, "--json"
    )
    assert result.returncode == 0, result.stderr
    reported = json.loads(result.stdout)
    prepared = read_prepared(out)
    assert reported == {
        "path": str(out),
        "name": "fashion-mnist",
        "sha256": prepared.sha256,
        "train_count": 60000,
        "test_count": 10000,
    }
    assert cache_listing(cache) == {
        f"fashion-mnist/{f.name}": f.sha256 for f in REMOTE["fashion-mnist"].files
    }
    assert all(mirror.requests[f"/fashion/{name}"] == 1 for name in FILES)
    meta = json.loads((out / "dataset.json").read_text())
    assert meta["source"]["kind"] == "download"
    assert (
        meta["source"]["files"]["train-images-idx3-ubyte.gz"]["url"]
        == url + "train-images-idx3-ubyte.gz"
    )
    # The same pictures as Debian's copy: first and last test image, compared as raw IDX bytes.
    with np.load(out / "dataset.npz") as npz:
        x_test = npz["x_test"]
    raw = gzip.decompress((FASHION_MNIST / "t10k-images-idx3-ubyte.gz").read_bytes())
    assert x_test[0].tobytes() == raw[16 : 16 + 784]
    assert x_test[-1].tobytes() == raw[-784:]
    # The dataset hash depends on the pictures only, not on the route they came by.
    from_debian = prepare_dataset("fashion-mnist", tmp_path / "deb", FASHION_MNIST)
    assert from_debian.sha256 == prepared.sha256


def test_cached_files_are_not_downloaded_again(
    tmp_path: Path, mirror: Mirror, official_fashion: dict[str, bytes]
) -> None:
    url = mirror.serve("fashion", official_fashion)
    env = {"FWENERGY_DATA_MIRROR": url, "FWENERGY_CACHE": str(tmp_path / "root")}
    first = run_cli("--dataset", "fashion-mnist", "--out", tmp_path / "a", "--json", env=env)
    assert first.returncode == 0, first.stderr
    assert sum(mirror.requests.values()) == 4
    cached = tmp_path / "root" / "datasets" / "fashion-mnist"
    assert sorted(p.name for p in cached.iterdir()) == sorted(FILES)

    second = run_cli("--dataset", "fashion-mnist", "--out", tmp_path / "b", "--json", env=env)
    assert second.returncode == 0, second.stderr
    assert sum(mirror.requests.values()) == 4  # no new request
    assert json.loads(first.stdout)["sha256"] == json.loads(second.stdout)["sha256"]


def test_a_damaged_cached_file_is_fetched_again(
    tmp_path: Path, mirror: Mirror, official_fashion: dict[str, bytes]
) -> None:
    url = mirror.serve("fashion", official_fashion)
    cache = tmp_path / "cache"
    (cache / "fashion-mnist").mkdir(parents=True)
    for name in FILES:
        (cache / "fashion-mnist" / name).write_bytes(official_fashion[name])
    (cache / "fashion-mnist" / "t10k-labels-idx1-ubyte.gz").write_bytes(b"junk")
    result = run_cli(
        "--dataset", "fashion-mnist", "--mirror", url, "--cache-dir", cache, "--out", tmp_path / "o"
    )
    assert result.returncode == 0, result.stderr
    assert dict(mirror.requests) == {"/fashion/t10k-labels-idx1-ubyte.gz": 1}
    assert (cache / "fashion-mnist" / "t10k-labels-idx1-ubyte.gz").read_bytes() == official_fashion[
        "t10k-labels-idx1-ubyte.gz"
    ]


def test_wrong_bytes_fail_the_checksum_and_are_not_cached(
    tmp_path: Path, mirror: Mirror, official_fashion: dict[str, bytes]
) -> None:
    files = dict(official_fashion)
    tampered = bytearray(files["train-labels-idx1-ubyte.gz"])
    tampered[100] ^= 0x01
    files["train-labels-idx1-ubyte.gz"] = bytes(tampered)
    url = mirror.serve("fashion", files)
    cache, out = tmp_path / "cache", tmp_path / "out"
    result = run_cli(
        "--dataset", "fashion-mnist", "--mirror", url, "--cache-dir", cache, "--out", out
    )
    assert result.returncode == 2
    assert len(result.stderr_lines) == 1, result.stderr
    expected = REMOTE["fashion-mnist"].files[1].sha256
    actual = hashlib.sha256(tampered).hexdigest()
    assert f"SHA-256 mismatch: expected {expected}, got {actual}" in result.stderr
    assert "train-labels-idx1-ubyte.gz" in result.stderr
    assert not out.exists()
    # The good file before it stays cached; the bad one and any partial file are gone.
    assert list(cache_listing(cache)) == ["fashion-mnist/train-images-idx3-ubyte.gz"]


def test_interrupted_transfer_leaves_nothing(
    tmp_path: Path, mirror: Mirror, official_fashion: dict[str, bytes]
) -> None:
    url = mirror.serve("fashion", official_fashion, mode="truncated")
    cache, out = tmp_path / "cache", tmp_path / "out"
    result = run_cli(
        "--dataset", "fashion-mnist", "--mirror", url, "--cache-dir", cache, "--out", out
    )
    assert result.returncode == 2
    assert len(result.stderr_lines) == 1, result.stderr
    size = REMOTE["fashion-mnist"].files[0].size_bytes
    assert f"interrupted after {size // 2} of {size} bytes" in result.stderr
    assert "run the command again" in result.stderr
    assert not out.exists()
    assert cache_listing(cache) == {}


def test_missing_file_on_the_mirror(tmp_path: Path, mirror: Mirror) -> None:
    url = mirror.serve("empty", {})
    result = run_cli(
        "--dataset",
        "mnist",
        "--mirror",
        url,
        "--cache-dir",
        tmp_path / "c",
        "--out",
        tmp_path / "o",
    )
    assert result.returncode == 2
    assert len(result.stderr_lines) == 1, result.stderr
    assert "HTTP 404" in result.stderr and "--mirror" in result.stderr
    assert cache_listing(tmp_path / "c") == {}


def test_ctrl_c_during_a_download_leaves_nothing(
    tmp_path: Path, mirror: Mirror, official_fashion: dict[str, bytes]
) -> None:
    url = mirror.serve("fashion", official_fashion, mode="stall")
    cache, out = tmp_path / "cache", tmp_path / "out"
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "orchestrator",
            "data",
            "prepare",
            "--dataset",
            "fashion-mnist",
            "--mirror",
            url,
            "--cache-dir",
            str(cache),
            "--out",
            str(out),
        ],
        cwd=REPO,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    try:
        assert mirror.stalled.wait(timeout=60)
        # Half the file is on disk under its temporary name now.
        assert [p.name.endswith(".part") for p in (cache / "fashion-mnist").iterdir()] == [True]
        proc.send_signal(signal.SIGINT)
        proc.communicate(timeout=60)
    finally:
        proc.kill()
    assert proc.returncode != 0
    assert cache_listing(cache) == {}
    assert not out.exists()


def test_without_content_length_the_published_size_bounds_the_body(
    tmp_path: Path, mirror: Mirror, official_fashion: dict[str, bytes]
) -> None:
    files = dict(official_fashion)
    files["t10k-labels-idx1-ubyte.gz"] *= 2
    url = mirror.serve("fashion", files, mode="unsized")
    cache, out = tmp_path / "cache", tmp_path / "out"
    result = run_cli(
        "--dataset", "fashion-mnist", "--mirror", url, "--cache-dir", cache, "--out", out
    )
    assert result.returncode == 2
    assert len(result.stderr_lines) == 1, result.stderr
    assert (
        "t10k-labels-idx1-ubyte.gz: the server sent more than the 5148 bytes expected"
        in result.stderr
    )
    # The three files served whole and unsized were accepted on their published size and hash.
    assert len(cache_listing(cache)) == 3
    assert not out.exists()
