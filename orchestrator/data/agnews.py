"""AG's News topic classification (Xiang Zhang's CSV version), tokenised into ids.

The archive holds `ag_news_csv/train.csv` (120,000 rows), `test.csv` (7,600) and
`classes.txt` (World, Sports, Business, Sci/Tech). Each CSV row is three quoted fields:
class index 1..4, title, description; quotes inside a field are doubled, newlines escaped
as `\\n` (handled by the tokenizer, orchestrator/data/text.py).
"""

from __future__ import annotations

import csv
import io
from pathlib import Path
from typing import Any

import numpy as np

from orchestrator.data import text
from orchestrator.data.archive import read_members
from orchestrator.data.hashing import file_digest, sha256_file
from orchestrator.data.registry import TEXT_CLASSES
from orchestrator.data.splits import Splits
from orchestrator.errors import DataError

ARCHIVE = "ag_news_csv.tgz"
# fast.ai's copy of Xiang Zhang's archive, https://s3.amazonaws.com/fast-ai-nlp/ag_news_csv.tgz:
# size and MD5 as published in fastai's fastai/data/checks.txt. No SHA-256 is published for
# this copy (TFDS's url_checksums/ag_news_subset.txt is for the Google Drive original, 11784327
# bytes, which has no stable direct URL), so the download is checked against the MD5 and the
# exact size, and dataset.json records the SHA-256 we computed.
PUBLISHED_MD5 = "b86f328f4dbd072486591cb7a5644dcd"
PUBLISHED_SIZE_BYTES = 11784419
FOLDER = "ag_news_csv"
CSV_FILES = ("train.csv", "test.csv")
REAL_COUNTS = (120000, 7600)
MAX_CSV_BYTES = 64 << 20  # the real train.csv is about 29 MB
_FIX = "download it again (or delete it from the cache), or give --source the real files"


def parse_csv(data: bytes, label: str) -> tuple[list[list[str]], np.ndarray]:
    """The words of each row and its label 0..3 (the file's 1..4, minus one)."""
    try:
        content = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise DataError(f"{label}: not UTF-8 text (byte {exc.start}); {_FIX}") from exc
    documents: list[list[str]] = []
    labels: list[int] = []
    try:
        for line, row in enumerate(csv.reader(io.StringIO(content, newline="")), start=1):
            if len(row) != 3 or row[0] not in {str(c) for c in range(1, TEXT_CLASSES + 1)}:
                raise DataError(
                    f"{label}: row {line} is not class index 1..{TEXT_CLASSES}, title, "
                    f"description; {_FIX}"
                )
            labels.append(int(row[0]) - 1)
            documents.append(text.words(row[1], row[2]))
    except csv.Error as exc:
        raise DataError(f"{label}: malformed CSV ({exc}); {_FIX}") from exc
    if not documents:
        raise DataError(f"{label}: no rows; {_FIX}")
    return documents, np.array(labels, dtype=np.uint8)


def tokenise(files: dict[str, bytes], where: str, *, real: bool) -> tuple[Splits, dict[str, Any]]:
    """Splits of ids from the two CSV files' bytes, and dataset.json's `tokenizer`."""
    missing = [n for n in CSV_FILES if n not in files]
    if missing:
        raise DataError(f"{where}: missing {', '.join(missing)}; give AG News's CSV version")
    train_docs, y_train = parse_csv(files["train.csv"], f"{where}: train.csv")
    test_docs, y_test = parse_csv(files["test.csv"], f"{where}: test.csv")
    if real and (len(y_train), len(y_test)) != REAL_COUNTS:
        raise DataError(f"{where}: {len(y_train)} + {len(y_test)} rows, not 120000 + 7600")
    vocabulary = text.build_vocabulary(train_docs)  # the training split only: no test leak
    splits = Splits(
        text.encode(train_docs, vocabulary), y_train, text.encode(test_docs, vocabulary), y_test
    )
    return splits, text.description(vocabulary)


def read_archive(path: Path) -> tuple[Splits, dict[str, Any]]:
    """The splits and tokenizer of the archive at `path`. The published file must hold
    exactly 120,000 + 7,600 rows; others (tests, subsets) any number."""
    real = file_digest(path, "md5") == PUBLISHED_MD5
    members = read_members(path, {f"{FOLDER}/{n}": MAX_CSV_BYTES for n in CSV_FILES}, fix=_FIX)
    return tokenise({k.split("/", 1)[1]: v for k, v in members.items()}, str(path), real=real)


def from_source(source: Path) -> tuple[Splits, dict[str, Any], dict[str, Any]]:
    """--source DIR holding the archive, its extracted folder, or train.csv and test.csv."""
    if not source.is_dir():
        raise DataError(f"--source {source}: not a directory; give the folder holding {ARCHIVE}")
    archive = source / ARCHIVE
    if archive.is_file():
        splits, tokenizer = read_archive(archive)
        paths = [archive]
    else:
        folder = source / FOLDER if (source / FOLDER).is_dir() else source
        paths = [folder / n for n in CSV_FILES]
        missing = [p.name for p in paths if not p.is_file()]
        if missing:
            raise DataError(
                f"--source {source}: holds neither {ARCHIVE} nor train.csv and test.csv "
                f"(missing {', '.join(missing)}); download AG News's CSV version"
            )
        for p in paths:
            if p.stat().st_size > MAX_CSV_BYTES:
                raise DataError(f"{p}: {p.stat().st_size} bytes is too large for AG News; {_FIX}")
        contents = {p.name: p.read_bytes() for p in paths}
        splits, tokenizer = tokenise(contents, str(folder), real=False)
    files: dict[str, Any] = {
        p.name: {"sha256": sha256_file(p), "size_bytes": p.stat().st_size} for p in paths
    }
    if archive.is_file():
        files[ARCHIVE]["matches_published"] = file_digest(archive, "md5") == PUBLISHED_MD5
    return splits, {"kind": "local", "dir": str(source.absolute()), "files": files}, tokenizer
