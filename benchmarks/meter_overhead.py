"""How much host CPU the meters' sampling costs, and how well their windows cover a command.

For each meter that can run here (RAPL on a fake powercap tree, the fake EnergiBridge
binary, none) at 10 Hz and 100 Hz: CPU seconds per wall second spent sampling, as % of one
core (target: well under 1% at 10 Hz), and where the first and last samples fall relative
to the command's start and end (negative first / positive last = the window covers it).

RAPL's cost is this process's CPU time while the main thread sleeps (the sampler thread is
all that runs), minus the same sleep without a meter. EnergiBridge's is the CPU time of its
process tree; here that is the Python fake, so it says nothing about the real Rust binary,
only about our side (the placeholder child). Run: python benchmarks/meter_overhead.py
"""

from __future__ import annotations

import argparse
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from orchestrator.meters.base import Meter  # noqa: E402
from orchestrator.meters.energibridge import EnergiBridgeMeter  # noqa: E402
from orchestrator.meters.none import NoneMeter  # noqa: E402
from orchestrator.meters.rapl import RaplMeter  # noqa: E402
from tests.fakes import install_fake_energibridge  # noqa: E402
from tests.fakes.powercap import FakePowercap, two_socket_intel  # noqa: E402


def _children_cpu_s() -> float:
    r = resource.getrusage(resource.RUSAGE_CHILDREN)
    return r.ru_utime + r.ru_stime


def measure_once(meter: Meter, out: Path, seconds: float) -> dict[str, float]:
    cpu0, kids0 = time.process_time(), _children_cpu_s()
    wall0 = time.monotonic()
    meter.start(out)
    cmd_start = time.time()
    subprocess.run(["sleep", str(seconds)], check=True)
    cmd_end = time.time()
    rec = meter.stop()
    wall = time.monotonic() - wall0
    cpu = time.process_time() - cpu0
    kids = _children_cpu_s() - kids0
    first = min((float(s.time_s[0]) for s in rec.series.values()), default=rec.start_s)
    last = max((float(s.time_s[-1]) for s in rec.series.values()), default=rec.end_s)
    samples = max((len(s.time_s) for s in rec.series.values()), default=0)
    return {
        "cpu_s": cpu,
        "children_cpu_s": kids,
        "wall_s": wall,
        "first_ms": (first - cmd_start) * 1000,
        "last_ms": (last - cmd_end) * 1000,
        "samples": samples,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=5.0, help="command length, s")
    args = parser.parse_args()
    # In memory, like sysfs: a disk-backed fake tree would make the simulator lag.
    shm = "/dev/shm" if Path("/dev/shm").is_dir() else None
    work = Path(tempfile.mkdtemp(prefix="fwenergy-bench-", dir=shm))
    rows = []
    try:
        # The cost of `sleep` itself and of this process idling: subtracted from each meter.
        base = measure_once(NoneMeter(100), work / "base", args.seconds)
        sleep_cpu = base["cpu_s"] / base["wall_s"]
        sleep_kids = base["children_cpu_s"]
        eb = install_fake_energibridge(work / "bin")
        with FakePowercap(work / "pc", two_socket_intel(max_range_uj=262_143_328_850)):
            for hz in (10, 100):
                interval = 1000 // hz
                meters: list[tuple[str, Meter]] = [
                    ("none", NoneMeter(interval)),
                    ("rapl (8 zones, fake tree)", RaplMeter(interval, powercap_root=work / "pc")),
                    (
                        "energibridge (fake binary)",
                        EnergiBridgeMeter(interval, binary=eb, gpu=False),
                    ),
                ]
                for name, meter in meters:
                    r = measure_once(meter, work / f"{name[:4]}-{hz}", args.seconds)
                    own = max(0.0, r["cpu_s"] / r["wall_s"] - sleep_cpu)
                    kids = max(0.0, (r["children_cpu_s"] - sleep_kids) / r["wall_s"])
                    rows.append((name, hz, own * 100, kids * 100, r))
    finally:
        shutil.rmtree(work, ignore_errors=True)
    print(f"command: sleep {args.seconds} s; % of one core; first/last: sample time minus "
          "command start/end")  # fmt: skip
    header = f"{'meter':28} {'Hz':>4} {'in-process %':>13} {'child procs %':>14} " \
             f"{'samples':>8} {'first ms':>9} {'last ms':>8}"  # fmt: skip
    print(header)
    print("-" * len(header))
    for name, hz, own, kids, r in rows:
        print(f"{name:28} {hz:>4} {own:>13.3f} {kids:>14.3f} {r['samples']:>8.0f} "
              f"{r['first_ms']:>9.1f} {r['last_ms']:>8.1f}")  # fmt: skip


if __name__ == "__main__":
    main()
