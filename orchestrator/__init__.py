"""Host side of the benchmark: data preparation, runtimes, meters, the campaign protocol."""

__version__ = "0.1.0"
