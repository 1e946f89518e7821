"""Dataset preparation: local files, downloads, synthetic data -> one prepared dataset file."""

from orchestrator.data.prepare import DATASETS, prepare_dataset
from orchestrator.data.prepared import PreparedDataset, read_prepared

__all__ = ["DATASETS", "PreparedDataset", "prepare_dataset", "read_prepared"]
