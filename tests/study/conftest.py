"""Study tests: the real CLI in subprocesses, real files, the local runtime."""

from __future__ import annotations

import sys
from pathlib import Path

from tests.campaign.conftest import tiny_dataset, torch_installed  # noqa: F401 (fixtures)

# A stand-in for a framework environment's interpreter: `python -m workload train` sleeps a
# set time and writes the workload's files, so a campaign with a known spread runs in
# seconds (what the adaptive rule is tested on); anything else (provenance's `-c`) is passed
# on to the real interpreter. The durations are what the stopping rule reads.
STAND_IN = """#!{python}
import json, os, random, sys, time
if sys.argv[1:3] != ["-m", "workload"]:
    os.execv({python!r}, [{python!r}, *sys.argv[1:]])
out = sys.argv[sys.argv.index("--out") + 1]
start = time.time()
with open(os.path.join(out, "events.jsonl"), "a") as f:
    f.write(json.dumps({{"event": "start", "t": start}}) + "\\n")
time.sleep({seconds})
end = time.time()
with open(os.path.join(out, "events.jsonl"), "a") as f:
    f.write(json.dumps({{"event": "end", "t": end}}) + "\\n")
with open(os.path.join(out, "result.json"), "w") as f:
    json.dump({{"schema": "fwenergy.result", "schema_version": 1, "framework": "{fw}"}}, f)
"""


def simulated_venvs(root: Path, seconds: dict[str, str]) -> Path:
    """Environments whose `python -m workload` sleeps `seconds[framework]` (a Python
    expression, e.g. "1.0" or "random.uniform(0.1, 0.9)")."""
    for fw, expr in seconds.items():
        bin_dir = root / fw / "bin"
        bin_dir.mkdir(parents=True)
        python = bin_dir / "python"
        python.write_text(STAND_IN.format(python=sys.executable, seconds=expr, fw=fw))
        python.chmod(0o755)
    return root
