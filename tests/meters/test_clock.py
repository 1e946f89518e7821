"""A wall-clock step during a measurement: durations and energies keep to the monotonic
clock, and the step is said."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from orchestrator.meters.measure import measure
from tests.fakes.powercap import FakePowercap, amd_single_socket


def test_a_clock_step_mid_command_moves_no_duration_and_is_noted(
    sysfs_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    with FakePowercap(sysfs_dir, amd_single_socket()) as fake:
        # The system clock jumps an hour ahead 0.2 s into the command, as an NTP step or
        # `date -s` does (this process's clock only: stepping the real one needs root).
        real_time = time.time
        step_at = time.monotonic() + 0.2
        monkeypatch.setattr(
            time, "time", lambda: real_time() + (3600.0 if time.monotonic() > step_at else 0)
        )
        m = measure(["sleep", "0.5"], "rapl", 50, powercap_root=sysfs_dir)
    # Before: duration 3600.5 s, a mean power of 0.006 W for 45 W.
    assert 0.5 <= m.duration_s < 1.5
    package = m.domains["cpu-package-0"]
    assert package.energy_j == pytest.approx(fake.power_w("intel-rapl:0") * m.duration_s, rel=0.02)
    assert package.mean_power_w == pytest.approx(45.0, rel=0.02)
    assert any("wall clock moved +3600" in n for n in m.notes)
