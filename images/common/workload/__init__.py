"""The workload contract shared by every image: CLI, dataset reader, shared initial weights,
batch order, event log and result writer. Standard library and NumPy only: nothing here may
know which framework runs it."""

SCHEMA_VERSION = 1
FRAMEWORKS = ("keras", "torch", "jax")
