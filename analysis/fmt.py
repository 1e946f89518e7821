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


def quantity(v: Any, unit: str) -> str:
    """A value with its unit as tables print it: bytes in MiB (1468.5 MiB, never
    1.5399e+09 bytes), anything else as number() with its unit."""
    if unit == "bytes" and isinstance(v, int | float) and math.isfinite(v):
        return f"{number(float(v) / 2**20)} MiB"
    return f"{number(v)} {unit}".strip()


def p_value(p: float) -> str:
    if not math.isfinite(p):
        return "–"
    return f"{p:.2e}" if p < 1e-3 else f"{p:.4f}"


def p_floor(p: float) -> str:
    """A p-value as the report prints it: below 1e-6 only "< 1e-6" (tail probabilities that
    small depend on the test's approximations more than on the data)."""
    if not math.isfinite(p):
        return "–"
    return "< 1e-6" if p < 1e-6 else p_value(p)


def p_relation(p: float) -> str:
    """ "< 1e-6" or "= 0.0123", to follow "p" in a sentence."""
    text = p_floor(p)
    return text if text.startswith("<") else f"= {text}"


def decimals_for(low: float, high: float) -> int:
    """Decimals an interval of this width supports: 0 for a width of 1 to 10 points, one
    more per tenfold narrower (at most 3)."""
    width = high - low
    if not (math.isfinite(width) and width > 0):
        return 1
    return max(0, min(3, -math.floor(math.log10(width))))


def pct(v: float, decimals: int) -> str:
    """A signed percentage; one that rounds to zero is "0%", never "0.0% lower"."""
    if not math.isfinite(v):
        return "–"
    if round(v, decimals) == 0:
        return "0%"
    return f"{v:+.{decimals}f}%"


def pct_interval(v: float, low: float, high: float, confidence: float = 0.95) -> str:
    """ "+41% (95% CI +37% to +45%)", rounded to what the interval supports; a family's
    simultaneous interval names its own level ("99.17% CI")."""
    if not math.isfinite(v):
        return "–"
    if not (math.isfinite(low) and math.isfinite(high)):
        return f"{pct(v, 1)} (no interval: too few runs)"
    d = decimals_for(low, high)
    return f"{pct(v, d)} ({level(confidence)} CI {pct(low, d)} to {pct(high, d)})"


def level(confidence: float) -> str:
    """95%, 99.17%: a confidence level with the digits it has (at most two decimals)."""
    return f"{round(confidence * 100, 2):g}%"
