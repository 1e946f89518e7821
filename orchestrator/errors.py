"""User-facing failures: each one becomes one line on stderr and exit code 2 in the CLI.

Tracebacks are for bugs only; anything a user can fix by changing input, permissions or the
machine's set-up is raised as one of these, with a message that says what to do.
"""


class UserError(Exception):
    """Bad input or environment the user can fix. The message says how."""


class DataError(UserError):
    """A dataset is missing, corrupt, or does not match its checksum."""


class MeterError(UserError):
    """A meter cannot read what it was asked to measure on this machine."""


class RuntimeUnavailableError(UserError):
    """The requested runtime (docker, local environment) cannot run the workload here."""
