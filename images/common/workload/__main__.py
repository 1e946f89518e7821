"""`python -m workload train ...`. The clock is read before anything else is imported, so the
`process_start` event is as close to the interpreter's start as the entrypoint can get."""

import time

_PROCESS_START = time.time()

from workload.cli import main  # noqa: E402  (imported after the clock on purpose)

raise SystemExit(main(process_start=_PROCESS_START))
