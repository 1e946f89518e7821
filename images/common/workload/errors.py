"""The one user-facing failure of the workload: exit code 2 and one line on stderr."""


class WorkloadInputError(Exception):
    """Bad arguments or input data; the message says what is wrong and how to fix it."""
