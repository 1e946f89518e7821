"""Dataset preparation: IDX files, downloads, synthetic data -> one prepared dataset file."""
