"""Study tests: the real CLI in subprocesses, real files, the local runtime."""

from __future__ import annotations

import sys
from pathlib import Path

from tests.campaign.conftest import tiny_dataset, torch_installed  # noqa: F401 (fixtures)
from tests.conftest import stand_in_venvs

# A stand-in for a framework environment's interpreter, in sh (it starts in a millisecond,
# so start-up adds no spread of its own): `python -m workload train` sleeps a set time and
# writes the workload's files, so a campaign with a known spread runs in seconds (what the
# adaptive rule is tested on); anything else (provenance's `-c`) goes to the real interpreter.
STAND_IN = """#!/bin/sh
if [ "$1" != "-m" ] || [ "$2" != "workload" ]; then exec {python} "$@"; fi
prev=""
for arg in "$@"; do [ "$prev" = "--out" ] && out="$arg"; prev="$arg"; done
printf '{{"event": "start", "t": %s}}\\n' "$(date +%s.%N)" >> "$out/events.jsonl"
sleep {seconds}
printf '{{"event": "end", "t": %s}}\\n' "$(date +%s.%N)" >> "$out/events.jsonl"
echo '{{"schema": "fwenergy.result", "schema_version": 1, "framework": "{fw}"}}' \\
    > "$out/result.json"
"""
# A duration drawn anew for every run, 0.05 to 1 s (seeded by the process id).
NOISY = "$(awk -v s=$$ 'BEGIN { srand(s); print 0.05 + rand() * 0.95 }')"


def simulated_venvs(root: Path, seconds: dict[str, str]) -> Path:
    """Environments whose `python -m workload` sleeps `seconds[framework]` (a shell word:
    "1.0", or NOISY)."""
    return stand_in_venvs(root, {
        fw: STAND_IN.format(python=sys.executable, seconds=word, fw=fw)
        for fw, word in seconds.items()
    })  # fmt: skip


# Two cells (batch 32 and 64) of torch against JAX on the local runtime, time only, no gaps:
# the smallest real study, used by the local and the Slurm tests.
TWO_CELL_STUDY = """\
name = "{name}"
iterations = {iterations}
seed = 5
frameworks = ["torch", "jax"]

[protocol]
runtime = "local"
meter = "none"
warmup_s = 0
idle_s = 0

[workload]
data = "{data}"
epochs = 1
limit_train = 128
limit_test = 64
threads = 1

[matrix]
batch_size = [32, 64]
"""
