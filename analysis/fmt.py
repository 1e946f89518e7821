"""Numbers as the report prints them (report/stats.csv keeps full precision)."""

from __future__ import annotations

import math
from typing import Any


def number(v: Any, digits: int = 5) -> str:
    """`digits` significant digits; whole numbers from 1,000 to 10 million without exponent
    (energies in joules read better as 2222 J than 2.222e+03 J)."""
    if v is None or (isinstance(v, float) and not math.isfinite(v)):
        return "–"
    if isinstance(v, bool):
        return "yes" if v else "no"
    if isinstance(v, int):
        return str(v)
    if not isinstance(v, float):
        return str(v)
    a = abs(v)
    if a == 0:
        return "0"
    if a >= 1e7 or a < 1e-3:
        return f"{v:.{digits - 1}e}"
    if a >= 10 ** (digits - 1):
        return f"{v:.0f}"
    return f"{v:.{digits}g}"


def p_value(p: float) -> str:
    if not math.isfinite(p):
        return "–"
    return f"{p:.2e}" if p < 1e-3 else f"{p:.4f}"
