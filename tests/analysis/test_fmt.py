"""How the report prints numbers: intervals at the precision they support, no "0.0% lower",
tiny p-values as a floor."""

from __future__ import annotations

import math

from analysis import fmt


def test_percent_change_is_rounded_to_what_the_interval_supports() -> None:
    assert fmt.pct_interval(40.85, 37.2, 44.9) == "+41% (95% CI +37% to +45%)"
    assert fmt.pct_interval(0.512, 0.31, 0.72) == "+0.5% (95% CI +0.3% to +0.7%)"
    assert fmt.pct_interval(-2.345, -2.37, -2.32) == "-2.35% (95% CI -2.37% to -2.32%)"
    assert fmt.pct_interval(40.0, -100.0, math.inf) == "+40.0% (no interval: too few runs)"


def test_a_change_that_rounds_to_zero_has_no_direction() -> None:
    assert fmt.pct(-0.04, 1) == "0%" and fmt.pct(0.04, 1) == "0%"
    assert fmt.pct_interval(-0.3, -2.0, 4.0) == "0% (95% CI -2% to +4%)"


def test_tiny_p_values_print_as_a_floor() -> None:
    assert fmt.p_floor(3e-9) == "< 1e-6"
    assert fmt.p_floor(2.5e-5) == "2.50e-05"
    assert fmt.p_floor(0.0123) == "0.0123"
    assert fmt.p_floor(math.nan) == "–"


def test_bytes_print_in_mib_never_in_e_notation() -> None:
    # a flagged peak memory used to print as 1.5399e+09
    assert fmt.quantity(1.5399e9, "bytes") == f"{fmt.number(1.5399e9 / 2**20)} MiB"
    assert "e+" not in fmt.quantity(1.5399e9, "bytes")
    assert fmt.quantity(2228.2, "J") == "2228.2 J" and fmt.quantity(0.5, "") == "0.5"
