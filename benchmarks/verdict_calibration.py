"""What the verdicts control: the family-wise false-claim rate and the coverage of the shown
intervals on synthetic families with a known true ratio (analysis.calibration, decided as
the report decides).

The worst case is every comparison at the band's edge (true ratio 1.05): there "higher" and
"equivalent" are both false, so any claim is a false one. Six comparisons are the primary
family of three frameworks (energy and time x three pairs). For each design it prints the
share of families with at least one false verdict (the Method section's promise: at most
5%), the share of shown intervals that hold the truth, the share of families whose intervals
all hold it (at least 95% by construction), and how many verdicts are claims at all.

Run: python benchmarks/verdict_calibration.py [--campaigns 2000] [--seed 0]
(about 4 ms per comparison on one core)
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from analysis.calibration import calibrate  # noqa: E402

# (label, keyword arguments of calibrate)
CASES: tuple[tuple[str, dict[str, object]], ...] = (
    ("paired, n 10, CV 3%, at the edge 1.05", {"n": 10}),
    ("paired, n 35, CV 3%, at the edge 1.05", {"n": 35}),
    ("paired, n 35, CV 3%, true ratio 1.00", {"n": 35, "true_ratio": 1.0}),
    ("paired, n 10, CV 3%, true ratio 1.20", {"n": 10, "true_ratio": 1.2}),
    ("unpaired, 35/35, equal spreads, edge", {"n": 35, "paired": False}),
    ("unpaired, 35/35, spread x5, edge", {"n": 35, "paired": False, "spread_ratio": 5.0}),
    ("unpaired, 30/10, spread x5, edge", {"n": 30, "n_b": 10, "paired": False,
                                          "spread_ratio": 5.0}),
)  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--campaigns", type=int, default=2000, help="simulated per case")
    parser.add_argument("--m", type=int, default=6, help="comparisons per family")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    print(f"{args.campaigns} families of {args.m} comparisons per case, band +-5%")
    header = ("case", "false-claim rate (family)", "coverage", "joint coverage", "claims")
    print(" | ".join(header))
    print("|".join("---" for _ in header))
    for label, kwargs in CASES:
        c = calibrate(campaigns=args.campaigns, m=args.m, seed=args.seed, **kwargs)  # type: ignore[arg-type]
        print(f"{label} | {c.false_claim_rate:.1%} | {c.coverage:.1%} | "
              f"{c.joint_coverage:.1%} | {c.claims:.1%}")  # fmt: skip


if __name__ == "__main__":
    main()
