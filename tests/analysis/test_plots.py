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


def test_the_forest_legend_covers_no_interval_or_estimate() -> None:
    # six rows, as for three frameworks; the bottom one at the right end of the axis
    rows = [
        plots.ForestRow("Energy: torch / keras", 1.41, 1.39, 1.44, "higher"),
        plots.ForestRow("Energy: jax / keras", 1.0, 0.97, 1.03, "equivalent"),
        plots.ForestRow("Energy: jax / torch", 2.3, 2.2, 2.4, "higher"),
        plots.ForestRow("Time: torch / keras", 1.46, 1.44, 1.48, "higher"),
        plots.ForestRow("Time: jax / keras", 1.02, 0.99, 1.05, "inconclusive"),
        plots.ForestRow("Time: jax / torch", 4.7, 4.6, 4.8, "higher"),
    ]
    fig = plots.forest_figure(rows, (1 / 1.05, 1.05))
    try:
        fig.canvas.draw()
        (ax,) = fig.axes
        legend = ax.get_legend().get_window_extent()
        for line in ax.get_lines():
            xy = ax.transData.transform(np.column_stack(line.get_data()))
            inside = (
                (xy[:, 0] >= legend.x0) & (xy[:, 0] <= legend.x1)
                & (xy[:, 1] >= legend.y0) & (xy[:, 1] <= legend.y1)
            )  # fmt: skip
            assert not inside.any(), line.get_data()
    finally:
        plots.plt.close(fig)
