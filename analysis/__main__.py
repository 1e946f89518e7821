"""`python -m analysis DIR [--out DIR] [--seed N] [--reference FW] [--min-effect PCT]
[--accuracy-margin PP]`: the same as `orchestrator analyze`."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from rich.console import Console
from rich.markup import escape

from analysis.analyze import analyze
from analysis.errors import AnalysisInputError
from analysis.study import ACCURACY_MARGIN, MIN_EFFECT


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m analysis",
        description="Campaign folder -> summary.csv, stats.csv, report.md, report.html, figures/.",
    )
    parser.add_argument("campaign", type=Path, help="the campaign folder (results/<id>/)")
    parser.add_argument("--out", type=Path, default=None, help="report folder (default DIR/report)")
    parser.add_argument("--seed", type=int, default=0, help="bootstrap seed (default 0)")
    parser.add_argument(
        "--reference", default=None, help="framework the others are compared with (default: first)"
    )
    parser.add_argument(
        "--min-effect", type=float, default=MIN_EFFECT * 100,
        help=f"smallest relevant change, in percent (default {MIN_EFFECT * 100:g})",
    )  # fmt: skip
    parser.add_argument(
        "--accuracy-margin", type=float, default=ACCURACY_MARGIN * 100,
        help=f"accuracy equivalence margin, percentage points (default {ACCURACY_MARGIN * 100:g})",
    )  # fmt: skip
    args = parser.parse_args(argv)
    err = Console(stderr=True)
    try:
        out = analyze(
            args.campaign, args.out, seed=args.seed, console=err, reference=args.reference,
            min_effect=args.min_effect / 100, accuracy_margin=args.accuracy_margin / 100,
        )  # fmt: skip
    except AnalysisInputError as exc:
        err.print(f"[bold red]error:[/] {escape(str(exc))}", highlight=False, soft_wrap=True)
        return 2
    err.print(f"report written to {out}", highlight=False, soft_wrap=True, markup=False)
    return 0


if __name__ == "__main__":
    sys.exit(main())
