"""AG News: the tokenizer, the CSV format of the published files, downloads from a real local
HTTP mirror (MD5 and size as published, cache), --source, and bad files refused."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import numpy as np
import pytest

from orchestrator.data import read_prepared, text
from orchestrator.data.agnews import parse_csv
from orchestrator.data.download import REMOTE
from orchestrator.data.registry import PAD_ID, SEQUENCE_LENGTH, UNKNOWN_ID, VOCAB_SIZE
from tests.data.archives import AG_TEST, AG_TRAIN, ag_archive, ag_csv, run_cli_published
from tests.data.conftest import Mirror, run_cli
from tests.data.test_cli_errors import assert_refused
from tests.data.test_download import cache_listing

ARCHIVE = "ag_news_csv.tgz"


def _published(archive: bytes) -> dict[str, tuple[str | None, int, str | None]]:
    md5 = hashlib.md5(archive, usedforsecurity=False).hexdigest()
    return {"ag-news": (None, len(archive), md5)}


def test_words_handle_the_csv_escapes_case_and_punctuation() -> None:
    assert text.words("Wall St. Bears (Reuters)", "Wall Street's dwindling\\band, 2004!") == [
        "wall", "st", "bears", "reuters", "wall", "street's", "dwindling", "band", "2004",
    ]  # fmt: skip
    # `\n` is an escaped newline, not the letter n; a lone backslash is a break as well.
    assert text.words("Record", "set.\\nHe won\\again") == ["record", "set", "he", "won", "again"]
    assert text.words("Genève", "") == ["gen", "ve"]  # only ASCII letters and digits
    assert text.words("", "") == []


def test_vocabulary_is_by_frequency_then_alphabetical() -> None:
    docs = [["b", "a", "c"], ["c", "b", "d"], ["c"]]
    assert text.build_vocabulary(docs) == ["c", "b", "a", "d"]  # c 3, b 2, then a, d at 1
    many = [[f"w{i:05d}"] * (1 + i % 3) for i in range(VOCAB_SIZE + 50)]
    vocab = text.build_vocabulary(many)
    assert len(vocab) == VOCAB_SIZE - 2  # ids 2..VOCAB_SIZE-1
    assert vocab[:2] == ["w00002", "w00005"]


def test_encode_pads_marks_unknown_and_cuts() -> None:
    vocab = ["the", "gold"]
    ids = text.encode([["the", "gold", "zyzzyva"], [], ["the"] * 100], vocab)
    assert ids.dtype == np.int32 and ids.shape == (3, SEQUENCE_LENGTH)
    assert ids[0, :4].tolist() == [2, 3, UNKNOWN_ID, PAD_ID]
    assert not ids[0, 3:].any() and not ids[1].any()
    assert ids[2].tolist() == [2] * SEQUENCE_LENGTH
    assert text.vocabulary_sha256(vocab) == hashlib.sha256(b"the\ngold\n").hexdigest()


def test_csv_quoting_doubled_quotes_and_labels() -> None:
    raw = b'"3","Carlyle ""Private"" firm","Reuters - a, b\\\\c"\n"1","Multi\nline title","x"\n'
    docs, labels = parse_csv(raw, "t.csv")
    assert labels.tolist() == [2, 0]
    assert docs[0] == ["carlyle", "private", "firm", "reuters", "a", "b", "c"]
    assert docs[1] == ["multi", "line", "title", "x"]


def _expected_ids(train: list[tuple[int, str, str]], test: list[tuple[int, str, str]]):
    """The ids by the documented rules, computed here independently of the code's helpers."""
    import re
    from collections import Counter

    def words(title: str, description: str) -> list[str]:
        s = (title + " " + description).replace("\\n", " ").replace("\\", " ").lower()
        return re.findall(r"[a-z0-9]+(?:'[a-z0-9]+)*", s)

    counts = Counter(w for _, t, d in train for w in words(t, d))
    vocab = [w for w, _ in sorted(counts.items(), key=lambda kv: (-kv[1], kv[0]))]
    ids = {w: i + 2 for i, w in enumerate(vocab)}

    def rows(split: list[tuple[int, str, str]]) -> np.ndarray:
        out = np.zeros((len(split), 64), dtype=np.int32)
        for r, (_, t, d) in enumerate(split):
            got = [ids.get(w, 1) for w in words(t, d)][:64]
            out[r, : len(got)] = got
        return out

    return rows(train), rows(test), vocab


def test_download_tokenises_caches_and_records_the_tokenizer(
    tmp_path: Path, mirror: Mirror
) -> None:
    archive = ag_archive()
    url = mirror.serve("ag", {ARCHIVE: archive})
    cache = tmp_path / "cache"
    args = ("--dataset", "ag-news", "--mirror", url, "--cache-dir", cache, "--json")
    first = run_cli_published(_published(archive), *args, "--out", tmp_path / "a")
    assert first.returncode == 0, first.stderr
    assert cache_listing(cache) == {f"ag-news/{ARCHIVE}": hashlib.sha256(archive).hexdigest()}
    x_train, x_test, vocab = _expected_ids(AG_TRAIN, AG_TEST)
    with np.load(tmp_path / "a" / "dataset.npz") as npz:
        assert npz["x_train"].dtype == np.int32
        np.testing.assert_array_equal(npz["x_train"], x_train)
        np.testing.assert_array_equal(npz["x_test"], x_test)
        assert npz["y_train"].tolist() == [c - 1 for c, _, _ in AG_TRAIN]
        assert npz["y_test"].tolist() == [c - 1 for c, _, _ in AG_TEST]
    assert UNKNOWN_ID in x_test  # "zyzzyva" is not in the training text
    meta = json.loads((tmp_path / "a" / "dataset.json").read_text())
    assert {k: meta[k] for k in ("input", "sequence_length", "vocab_size", "num_classes")} == {
        "input": "tokens", "sequence_length": 64, "vocab_size": 20000, "num_classes": 4,
    }  # fmt: skip
    assert "image_shape" not in meta
    tokenizer = meta["tokenizer"]
    assert tokenizer["pattern"] == text.TOKEN_PATTERN
    assert tokenizer["vocabulary_words"] == len(vocab)
    assert (
        tokenizer["vocabulary_sha256"]
        == hashlib.sha256("".join(f"{w}\n" for w in vocab).encode()).hexdigest()
    )
    assert meta["source"]["files"][ARCHIVE]["url"] == url + ARCHIVE

    second = run_cli_published(_published(archive), *args, "--out", tmp_path / "b")
    assert second.returncode == 0, second.stderr
    assert mirror.requests[f"/ag/{ARCHIVE}"] == 1  # the cache served it
    assert json.loads(second.stdout)["sha256"] == json.loads(first.stdout)["sha256"]


def test_the_published_file_is_fastais_with_its_md5() -> None:
    (remote,) = REMOTE["ag-news"].files
    assert REMOTE["ag-news"].base_url + remote.name == (
        "https://s3.amazonaws.com/fast-ai-nlp/ag_news_csv.tgz"
    )
    assert (remote.size_bytes, remote.md5) == (11784419, "b86f328f4dbd072486591cb7a5644dcd")


def test_wrong_bytes_fail_the_md5_and_are_not_cached(tmp_path: Path, mirror: Mirror) -> None:
    archive = ag_archive()
    url = mirror.serve("ag", {ARCHIVE: archive})
    published = {"ag-news": (None, len(archive), "0" * 32)}
    out = tmp_path / "out"
    result = run_cli_published(
        published, "--dataset", "ag-news", "--mirror", url, "--cache-dir", tmp_path / "c",
        "--out", out,
    )  # fmt: skip
    assert_refused(result, tmp_path, out, f"MD5 mismatch: expected {'0' * 32}", ARCHIVE)
    assert cache_listing(tmp_path / "c") == {}


def test_source_archive_folder_and_csv_files_give_the_same_dataset(tmp_path: Path) -> None:
    (tmp_path / "tgz").mkdir()
    (tmp_path / "tgz" / ARCHIVE).write_bytes(ag_archive())
    (tmp_path / "x" / "ag_news_csv").mkdir(parents=True)
    (tmp_path / "x" / "ag_news_csv" / "train.csv").write_bytes(ag_csv(AG_TRAIN))
    (tmp_path / "x" / "ag_news_csv" / "test.csv").write_bytes(ag_csv(AG_TEST))
    a = run_cli("--dataset", "ag-news", "--source", tmp_path / "tgz", "--out", tmp_path / "a")
    b = run_cli("--dataset", "ag-news", "--source", tmp_path / "x", "--out", tmp_path / "b")
    assert a.returncode == b.returncode == 0, a.stderr + b.stderr
    assert "prepared ag-news: 6 train, 2 test texts" in a.stderr
    assert read_prepared(tmp_path / "a").sha256 == read_prepared(tmp_path / "b").sha256
    meta = json.loads((tmp_path / "a" / "dataset.json").read_text())
    assert meta["source"]["files"][ARCHIVE]["matches_published"] is False


@pytest.mark.parametrize(
    ("archive", "needles"),
    [
        (ag_archive(extra={"../../x.csv": b"1"}), ["'../../x.csv'", "outside"]),
        (ag_archive(train=[(5, "t", "d")]), ["train.csv: row 1", "class index 1..4"]),
        (ag_archive(test=[]), ["test.csv: no rows"]),
        (ag_archive()[:-200], ["not a readable .tar.gz archive"]),
        # issue 24: tarfile keeps a record of every member read (10^6 grew memory unbounded)
        (
            ag_archive(extra={f"pad/{i}": b"" for i in range(1001)}),
            ["more than 1000 archive members"],
        ),
    ],
    ids=["dot-dot", "label-5", "empty", "truncated", "many-members"],
)
def test_bad_archives_are_refused_in_one_line(
    tmp_path: Path, archive: bytes, needles: list[str]
) -> None:
    src = tmp_path / "src"
    src.mkdir()
    (src / ARCHIVE).write_bytes(archive)
    out = tmp_path / "out"
    assert_refused(run_cli("--dataset", "ag-news", "--source", src, "--out", out), tmp_path, out,
                   *needles)  # fmt: skip


def test_a_csv_row_with_two_fields_is_refused(tmp_path: Path) -> None:
    (tmp_path / "src").mkdir()
    (tmp_path / "src" / "train.csv").write_bytes(b'"1","only a title"\n')
    (tmp_path / "src" / "test.csv").write_bytes(ag_csv(AG_TEST))
    out = tmp_path / "out"
    result = run_cli("--dataset", "ag-news", "--source", tmp_path / "src", "--out", out)
    assert_refused(result, tmp_path, out, "train.csv: row 1")
