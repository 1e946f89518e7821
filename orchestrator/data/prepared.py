"""The prepared-dataset folder (docs/formats.md): dataset.npz and dataset.json, written
atomically and byte-reproducibly, and read back with every field and the hash checked."""

from __future__ import annotations

import hashlib
import io
import json
import os
import re
import secrets
import shutil
import tempfile
import zipfile
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np

from orchestrator.data.hashing import sha256_file
from orchestrator.data.registry import (
    GREY_28,
    IMAGE,
    IMAGE_CLASSES,
    RGB_32,
    SEQUENCE_LENGTH,
    TEXT_CLASSES,
    TOKENS,
    VOCAB_SIZE,
    DatasetSpec,
    spec,
)
from orchestrator.data.splits import Splits
from orchestrator.errors import DataError

SCHEMA = "fwenergy.dataset"
SCHEMA_VERSION = 1
DATA_FILE = "dataset.npz"
META_FILE = "dataset.json"
# Fixed member metadata, so the same arrays always give the same bytes (and hash): the zip
# epoch as timestamp, Unix as creator, rw-r--r-- as mode.
_ZIP_DATE_TIME = (1980, 1, 1, 0, 0, 0)
_ZIP_UNIX = 3
_ZIP_MODE = 0o100644 << 16
_SHA256 = re.compile(r"[0-9a-f]{64}")


@dataclass(frozen=True)
class PreparedDataset:
    path: Path  # the folder holding dataset.json and dataset.npz
    name: str
    sha256: str  # of dataset.npz
    train_count: int
    test_count: int

    def to_json(self) -> dict[str, Any]:
        return {**asdict(self), "path": str(self.path)}


def npz_bytes(splits: Splits) -> bytes:
    """The dataset file's bytes: an uncompressed zip of four .npy members in fixed order."""
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", compression=zipfile.ZIP_STORED) as zf:
        for name, array in splits.arrays().items():
            member = io.BytesIO()
            np.lib.format.write_array(
                member, np.ascontiguousarray(array), version=(1, 0), allow_pickle=False
            )
            info = zipfile.ZipInfo(f"{name}.npy", date_time=_ZIP_DATE_TIME)
            info.compress_type = zipfile.ZIP_STORED
            info.create_system = _ZIP_UNIX
            info.external_attr = _ZIP_MODE
            zf.writestr(info, member.getvalue())
    return buf.getvalue()


def _metadata(
    ds: DatasetSpec, sha256: str, splits: Splits, source: dict[str, Any], extra: dict[str, Any]
) -> dict[str, Any]:
    shape: dict[str, Any] = (
        {"image_shape": list(ds.shape)}
        if ds.input == IMAGE
        else {"sequence_length": SEQUENCE_LENGTH, "vocab_size": VOCAB_SIZE}
    )
    return {
        "schema": SCHEMA,
        "schema_version": SCHEMA_VERSION,
        "name": ds.name,
        "file": DATA_FILE,
        "sha256": sha256,
        "train_count": len(splits.y_train),
        "test_count": len(splits.y_test),
        "input": ds.input,
        **shape,
        "num_classes": ds.num_classes,
        "source": source,
        **extra,
    }


def _write_synced(path: Path, data: bytes) -> None:
    with path.open("wb") as f:
        f.write(data)
        f.flush()
        os.fsync(f.fileno())


def _existing(out_dir: Path) -> PreparedDataset | DataError | None:
    """What `out_dir` holds now: None if absent or empty, the dataset if valid, the reason
    if it is a damaged prepared dataset; refuses anything else."""
    if not out_dir.exists():
        return None
    if not out_dir.is_dir():
        raise DataError(f"--out {out_dir}: exists and is not a directory; choose another --out")
    entries = {p.name for p in out_dir.iterdir()}
    if not entries:
        return None
    others = sorted(entries - {DATA_FILE, META_FILE})
    if others:
        raise DataError(
            f"--out {out_dir}: holds files that are not a prepared dataset "
            f"({', '.join(others[:3])}); choose a new or empty --out"
        )
    try:
        return read_prepared(out_dir)
    except DataError as exc:
        return exc


def write_prepared(
    out_dir: Path,
    splits: Splits,
    *,
    name: str,
    source: dict[str, Any],
    force: bool = False,
    extra: dict[str, Any] | None = None,
) -> PreparedDataset:
    """Write the dataset folder atomically. A folder already holding the same data is kept
    as it is; one holding other data is replaced only with `force`. `extra`: more top-level
    keys for dataset.json (e.g. the tokenizer of a text dataset)."""
    ds = spec(name)
    splits.check(ds)
    data = npz_bytes(splits)
    sha256 = hashlib.sha256(data).hexdigest()
    out_dir = out_dir.absolute()
    existing = _existing(out_dir)
    if isinstance(existing, PreparedDataset) and existing.sha256 == sha256:
        return existing
    if existing is not None and not force:
        what = (
            f"another dataset ({existing.name}, sha256 {existing.sha256[:12]}...)"
            if isinstance(existing, PreparedDataset)
            else "a damaged prepared dataset"
        )
        raise DataError(
            f"--out {out_dir}: holds {what}; pass --force to replace it or choose another --out"
        )
    for ancestor in out_dir.parents:
        if ancestor.exists():
            if not ancestor.is_dir():
                raise DataError(
                    f"--out {out_dir}: {ancestor} is not a directory; choose another --out"
                )
            break
    try:
        out_dir.parent.mkdir(parents=True, exist_ok=True)
        # Not mkdtemp: its 0700 would keep a container's non-root user from reading the data.
        tmp = out_dir.parent / f".{out_dir.name}.tmp-{secrets.token_hex(6)}"
        tmp.mkdir()
    except OSError as exc:
        raise DataError(
            f"--out {out_dir}: cannot create it ({exc.strerror}); choose another --out"
        ) from exc
    old: Path | None = None
    try:
        _write_synced(tmp / DATA_FILE, data)
        meta = _metadata(ds, sha256, splits, source, extra or {})
        _write_synced(tmp / META_FILE, (json.dumps(meta, indent=2) + "\n").encode())
        if out_dir.exists():
            old = Path(tempfile.mkdtemp(prefix=f".{out_dir.name}.old-", dir=out_dir.parent))
            out_dir.replace(old)
        tmp.replace(out_dir)
    except OSError as exc:
        raise DataError(
            f"--out {out_dir}: cannot write it ({exc.strerror}); free space or choose another --out"
        ) from exc
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
        if old is not None and not out_dir.exists():
            old.replace(out_dir)  # interrupted between the two renames: put the old one back
        elif old is not None:
            shutil.rmtree(old, ignore_errors=True)
    return PreparedDataset(out_dir, name, sha256, len(splits.y_train), len(splits.y_test))


def _require(meta: dict[str, Any], key: str, kind: type, where: Path) -> Any:
    value = meta.get(key)
    if not isinstance(value, kind) or isinstance(value, bool):
        raise DataError(
            f"{where}: field {key!r} is missing or not a {kind.__name__}; prepare the dataset again"
        )
    return value


def _member_shapes(path: Path) -> dict[str, tuple[np.dtype[Any], tuple[int, ...]]]:
    """Dtype and shape of each array, from the .npy headers only (no data is read)."""
    shapes = {}
    try:
        with zipfile.ZipFile(path) as zf:
            for name in ("x_train", "y_train", "x_test", "y_test"):
                with zf.open(f"{name}.npy") as member:
                    version = np.lib.format.read_magic(member)
                    if version == (1, 0):
                        shape, _, dtype = np.lib.format.read_array_header_1_0(member)
                    elif version == (2, 0):
                        shape, _, dtype = np.lib.format.read_array_header_2_0(member)
                    else:
                        raise ValueError(f"unsupported .npy version {version}")
                    shapes[name] = (dtype, shape)
    except (zipfile.BadZipFile, KeyError, ValueError, OSError) as exc:
        raise DataError(
            f"{path}: not a valid dataset file ({exc}); prepare the dataset again"
        ) from exc
    return shapes


def read_prepared(path: Path) -> PreparedDataset:
    """Open a prepared dataset folder (or its dataset.json), checking the schema, every field,
    the arrays' shapes and the SHA-256 of the data file."""
    folder = path.parent if path.name == META_FILE and path.is_file() else path
    meta_path = folder / META_FILE
    try:
        meta = json.loads(meta_path.read_text())
    except FileNotFoundError as exc:
        raise DataError(
            f"{meta_path}: missing; prepare the dataset with "
            f"`orchestrator data prepare --out {folder}`"
        ) from exc
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise DataError(f"{meta_path}: unreadable ({exc}); prepare the dataset again") from exc
    if not isinstance(meta, dict):
        raise DataError(f"{meta_path}: not a JSON object; prepare the dataset again")
    if meta.get("schema") != SCHEMA or meta.get("schema_version") != SCHEMA_VERSION:
        raise DataError(
            f"{meta_path}: schema {meta.get('schema')!r} version {meta.get('schema_version')!r} "
            f"is not {SCHEMA} {SCHEMA_VERSION}; prepare it again with this version"
        )
    name = _require(meta, "name", str, meta_path)
    file = _require(meta, "file", str, meta_path)
    sha256 = _require(meta, "sha256", str, meta_path)
    train_count = _require(meta, "train_count", int, meta_path)
    test_count = _require(meta, "test_count", int, meta_path)
    if Path(file).name != file or file in ("", ".", ".."):
        raise DataError(f"{meta_path}: file {file!r} must be a plain file name in {folder}")
    if not _SHA256.fullmatch(sha256):
        raise DataError(f"{meta_path}: sha256 {sha256!r} is not 64 lowercase hex digits")
    example_shape, num_classes = _example_shape(meta, meta_path)
    data_path = folder / file
    if not data_path.is_file():
        raise DataError(f"{data_path}: missing; prepare the dataset again (--out {folder})")
    actual = sha256_file(data_path)
    if actual != sha256:
        raise DataError(
            f"{data_path}: SHA-256 {actual} does not match {META_FILE} ({sha256}); "
            "the file changed since it was prepared: prepare the dataset again"
        )
    x_dtype = np.dtype(np.int32 if example_shape == (SEQUENCE_LENGTH,) else np.uint8)
    expected = {
        "x_train": (x_dtype, (train_count, *example_shape)),
        "y_train": (np.dtype(np.uint8), (train_count,)),
        "x_test": (x_dtype, (test_count, *example_shape)),
        "y_test": (np.dtype(np.uint8), (test_count,)),
    }
    for member, (dtype, shape) in _member_shapes(data_path).items():
        if (dtype, shape) != expected[member]:
            want_dtype, want_shape = expected[member]
            raise DataError(
                f"{data_path}: {member} is {dtype} {list(shape)}, expected {want_dtype} "
                f"{list(want_shape)} from {META_FILE}; prepare the dataset again"
            )
    _check_values(data_path, num_classes, tokens=x_dtype == np.int32)
    return PreparedDataset(folder.absolute(), name, sha256, train_count, test_count)


def _example_shape(meta: dict[str, Any], where: Path) -> tuple[tuple[int, ...], int]:
    """The shape of one example and the number of classes the manifest declares, if it is
    one of the supported kinds. Manifests older than the `input` key are images."""
    kind = meta.get("input", IMAGE)
    if kind == IMAGE:
        shape, classes = meta.get("image_shape"), meta.get("num_classes")
        if shape not in (list(GREY_28), list(RGB_32)) or classes != IMAGE_CLASSES:
            raise DataError(
                f"{where}: image_shape {shape!r} with num_classes {classes!r} is not supported: "
                "only 28x28 grey or 32x32x3 RGB images in 10 classes; prepare the dataset again"
            )
        return tuple(shape), IMAGE_CLASSES
    if kind == TOKENS:
        found = {k: meta.get(k) for k in ("sequence_length", "vocab_size", "num_classes")}
        wanted = {
            "sequence_length": SEQUENCE_LENGTH,
            "vocab_size": VOCAB_SIZE,
            "num_classes": TEXT_CLASSES,
        }
        if found != wanted:
            raise DataError(
                f"{where}: tokens with {found} are not supported: only {wanted}; "
                "prepare the dataset again"
            )
        return (SEQUENCE_LENGTH,), TEXT_CLASSES
    raise DataError(f"{where}: input {kind!r} is not {IMAGE!r} or {TOKENS!r}; prepare it again")


def _check_values(path: Path, num_classes: int, *, tokens: bool) -> None:
    """Labels inside 0..num_classes-1 and token ids inside 0..VOCAB_SIZE-1: a framework
    would otherwise index past its embedding or its logits, silently on some devices."""
    members = ("y_train", "y_test", "x_train", "x_test") if tokens else ("y_train", "y_test")
    try:
        with np.load(path, allow_pickle=False) as npz:
            for member in members:
                values = npz[member]
                limit = VOCAB_SIZE if member.startswith("x") else num_classes
                if values.size and (int(values.min()) < 0 or int(values.max()) >= limit):
                    what = "token id" if member.startswith("x") else "label"
                    raise DataError(
                        f"{path}: {member} holds a {what} outside 0..{limit - 1} "
                        f"({int(values.min())}..{int(values.max())}); prepare the dataset again"
                    )
    except (zipfile.BadZipFile, KeyError, ValueError, OSError) as exc:
        raise DataError(f"{path}: not a valid dataset file ({exc}); prepare it again") from exc
