"""Every dataset `orchestrator data prepare` knows, in one table: what one example looks like
(an image or a row of token ids, its shape), how many classes, and how it is obtained. The
CLI, the study file check and the model registry (orchestrator/workloads.py) read it, so a
new dataset is one entry here plus the code that makes its arrays.

The token constants are the contract with the workload's reader (images/common/workload/
data.py): every framework embeds the same ids.
"""

from __future__ import annotations

from dataclasses import dataclass

from orchestrator.errors import DataError

IMAGE = "image"  # x: uint8 pixels, (N, H, W) grey or (N, H, W, 3) RGB, HWC
TOKENS = "tokens"  # x: int32 token ids, (N, SEQUENCE_LENGTH), right-padded

GREY_28 = (28, 28)
RGB_32 = (32, 32, 3)
IMAGE_CLASSES = 10

SEQUENCE_LENGTH = 64
VOCAB_SIZE = 20000  # ids 0..VOCAB_SIZE-1
PAD_ID = 0  # fills a row after its last token
UNKNOWN_ID = 1  # a word outside the vocabulary
TEXT_CLASSES = 4

DOWNLOAD = "download"  # from its site (or --mirror, or --source DIR), checksum verified
SYNTHETIC = "synthetic"  # generated from --seed, no download


@dataclass(frozen=True)
class DatasetSpec:
    name: str
    input: str  # IMAGE or TOKENS
    shape: tuple[int, ...]  # of one example: (28, 28), (32, 32, 3) or (SEQUENCE_LENGTH,)
    num_classes: int
    obtained: str  # DOWNLOAD or SYNTHETIC

    @property
    def x_dtype(self) -> str:
        """NumPy's name of the dtype of x_train and x_test."""
        return "uint8" if self.input == IMAGE else "int32"


SPECS: dict[str, DatasetSpec] = {
    s.name: s
    for s in (
        DatasetSpec("mnist", IMAGE, GREY_28, IMAGE_CLASSES, DOWNLOAD),
        DatasetSpec("fashion-mnist", IMAGE, GREY_28, IMAGE_CLASSES, DOWNLOAD),
        DatasetSpec("synthetic", IMAGE, GREY_28, IMAGE_CLASSES, SYNTHETIC),
        DatasetSpec("cifar10", IMAGE, RGB_32, IMAGE_CLASSES, DOWNLOAD),
        DatasetSpec("synthetic-cifar10", IMAGE, RGB_32, IMAGE_CLASSES, SYNTHETIC),
        DatasetSpec("ag-news", TOKENS, (SEQUENCE_LENGTH,), TEXT_CLASSES, DOWNLOAD),
        DatasetSpec("synthetic-text", TOKENS, (SEQUENCE_LENGTH,), TEXT_CLASSES, SYNTHETIC),
    )
}
DATASETS: tuple[str, ...] = tuple(SPECS)


def datasets_shaped(input_kind: str, shape: tuple[int, ...]) -> tuple[str, ...]:
    """The datasets whose examples are `input_kind` of `shape`: what a model can read."""
    return tuple(s.name for s in SPECS.values() if s.input == input_kind and s.shape == shape)


GREY_28_DATASETS = datasets_shaped(IMAGE, GREY_28)  # mnist-cnn
RGB_32_DATASETS = datasets_shaped(IMAGE, RGB_32)  # cifar-resnet
TOKEN_DATASETS = datasets_shaped(TOKENS, (SEQUENCE_LENGTH,))  # text-transformer


def spec(name: str) -> DatasetSpec:
    found = SPECS.get(name)
    if found is None:
        raise DataError(f"unknown dataset {name!r}; choose one of {', '.join(DATASETS)}")
    return found
