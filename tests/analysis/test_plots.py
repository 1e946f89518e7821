"""Figure details that change how a figure reads (issue 22, minor)."""

from __future__ import annotations

import numpy as np

from analysis import plots


def test_the_idle_power_axis_is_anchored_around_its_level() -> None:
    # 10 µW of noise on a 5 W baseline: the axis spans at least +-5% of 5 W, not 20 µW
    noise = 5.0 + np.array([0.0, 1e-5, -1e-5, 0.5e-5])
    low, high = plots.idle_limits(noise)
    assert low <= 5.0 * 0.95 and high >= 5.0 * 1.05
    # a real step stays inside the axis
    step = np.array([5.0, 5.0, 9.0])
    assert plots.idle_limits(step)[1] > 9.0 and plots.idle_limits(step)[0] < 5.0
