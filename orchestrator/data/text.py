"""The tokenizer of the text datasets: words -> integer ids, once, on the host, so every
framework embeds the same ids (none uses its own tokenizer).

Deliberately simple and fully specified, so anyone can reproduce the ids:

1. text = title + " " + description;
2. escapes of the AG News CSV files: the two characters `\\n` (an escaped newline) become a
   space, then every remaining backslash becomes a space (the files use a bare `\\` where a
   line break was, as in "dwindling\\band");
3. lowercase (str.lower);
4. words = every match of TOKEN_PATTERN, in order (ASCII letters and digits, with inner
   apostrophes: "wall", "street's", "2004");
5. vocabulary = the VOCAB_SIZE - 2 most frequent words of the training split, ties broken
   alphabetically (by code point), given ids 2, 3, ... in that order; PAD_ID 0 fills a row
   after its last word, UNKNOWN_ID 1 stands for any other word;
6. each row is cut to its first SEQUENCE_LENGTH words, or right-padded to it.
"""

from __future__ import annotations

import hashlib
import re
from collections import Counter
from collections.abc import Iterable, Sequence
from typing import Any

import numpy as np

from orchestrator.data.registry import PAD_ID, SEQUENCE_LENGTH, UNKNOWN_ID, VOCAB_SIZE

TOKENIZER = "fwenergy.words v1"
TOKEN_PATTERN = r"[a-z0-9]+(?:'[a-z0-9]+)*"
_WORD = re.compile(TOKEN_PATTERN)
FIRST_WORD_ID = 2  # ids below are PAD_ID and UNKNOWN_ID


def words(title: str, description: str) -> list[str]:
    text = f"{title} {description}".replace("\\n", " ").replace("\\", " ")
    return _WORD.findall(text.lower())


def build_vocabulary(documents: Iterable[Sequence[str]]) -> list[str]:
    """The words that get ids FIRST_WORD_ID, FIRST_WORD_ID + 1, ...: most frequent first,
    ties alphabetically."""
    counts: Counter[str] = Counter()
    for doc in documents:
        counts.update(doc)
    ranked = sorted(counts.items(), key=lambda item: (-item[1], item[0]))
    return [word for word, _ in ranked[: VOCAB_SIZE - FIRST_WORD_ID]]


def encode(documents: Sequence[Sequence[str]], vocabulary: Sequence[str]) -> np.ndarray:
    """int32 (N, SEQUENCE_LENGTH): each document's ids, cut or right-padded with PAD_ID."""
    ids = {word: FIRST_WORD_ID + i for i, word in enumerate(vocabulary)}
    out = np.full((len(documents), SEQUENCE_LENGTH), PAD_ID, dtype=np.int32)
    for row, doc in enumerate(documents):
        encoded = [ids.get(word, UNKNOWN_ID) for word in doc[:SEQUENCE_LENGTH]]
        out[row, : len(encoded)] = encoded
    return out


def vocabulary_sha256(vocabulary: Sequence[str]) -> str:
    """SHA-256 of the vocabulary in id order, as UTF-8, each word followed by a newline."""
    return hashlib.sha256("".join(f"{w}\n" for w in vocabulary).encode()).hexdigest()


def description(vocabulary: Sequence[str]) -> dict[str, Any]:
    """dataset.json's `tokenizer`: enough to reproduce and to check the ids."""
    return {
        "name": TOKENIZER,
        "text": "title + ' ' + description; backslash-n, then backslash -> space; lowercase",
        "pattern": TOKEN_PATTERN,
        "vocab_size": VOCAB_SIZE,
        "sequence_length": SEQUENCE_LENGTH,
        "pad_id": PAD_ID,
        "unknown_id": UNKNOWN_ID,
        "first_word_id": FIRST_WORD_ID,
        "vocabulary_words": len(vocabulary),
        "vocabulary_sha256": vocabulary_sha256(vocabulary),
    }
