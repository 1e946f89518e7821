"""The workload contract shared by every image: CLI, dataset reader, shared initial weights,
batch order, event log and result writer. Standard library and NumPy only: nothing here may
know which framework runs it."""

SCHEMA_VERSION = 1
FRAMEWORKS = ("keras", "torch", "jax")
# Each framework's implementations of the same training (--implementation), its default
# first. All of one framework share the model, initial weights, batch order, optimizer and
# loss; they differ only in how the training loop is compiled and run. The host's variant
# registry (orchestrator/runtimes/variants.py) is pinned to this table by a test.
IMPLEMENTATIONS: dict[str, tuple[str, ...]] = {
    "keras": ("auto", "xla", "no-xla"),
    "torch": ("eager", "compile"),
    "jax": ("step", "scan"),
}
