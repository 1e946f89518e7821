"""The EnergiBridge meter driving a fake `energibridge` executable, and its CSV parser."""

from __future__ import annotations

import csv
import json
import os
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

from orchestrator.errors import MeterError
from orchestrator.meters.base import DomainSeries
from orchestrator.meters.energibridge import EnergiBridgeMeter, find_energibridge
from orchestrator.meters.energibridge_csv import (
    EnergiBridgeCsvError,
    energibridge_series,
    parse_energibridge_csv,
)
from orchestrator.meters.sampler import RecordingBuilder


def read_series(path: Path, **kw: bool) -> tuple[dict[str, DomainSeries], list[str]]:
    out = RecordingBuilder("energibridge")
    energibridge_series(parse_energibridge_csv(path), out, **kw)
    return out.series, out.notes


@pytest.fixture
def eb_env(monkeypatch: pytest.MonkeyPatch) -> pytest.MonkeyPatch:
    for key in list(os.environ):
        if key.startswith("FAKE_EB_"):
            monkeypatch.delenv(key)
    return monkeypatch


def _measure(binary: Path, out: Path, seconds: float, **kw: bool) -> tuple:
    meter = EnergiBridgeMeter(50, binary=binary, **kw)
    meter.start(out)
    t0 = time.time()
    time.sleep(seconds)
    t1 = time.time()
    return meter.stop(), t0, t1


def test_intel_run_all_counters_within_half_a_percent_with_a_wrap(
    fake_energibridge: Path, tmp_path: Path, eb_env: pytest.MonkeyPatch
) -> None:
    eb_env.setenv("FAKE_EB_VENDOR", "intel")
    eb_env.setenv("FAKE_EB_POWER_W", "40")
    rec, t0, t1 = _measure(fake_energibridge, tmp_path, 1.5, gpu=False)
    # The window covers what happened between start() and stop().
    assert rec.start_s <= t0 and rec.end_s >= t1 - 0.002
    window_s = rec.duration_s
    expected = {"cpu-package-0": 40.0, "cpu-core-0": 24.0, "cpu-uncore-0": 2.0, "dram-0": 6.0}
    assert set(rec.energy_j) == set(expected)
    for domain, power_w in expected.items():
        # Time is whole milliseconds: 2 ms over the window is the resolution.
        assert rec.energy_j[domain] == pytest.approx(power_w * window_s, rel=0.005), domain
    assert any("cpu-package-0" in n and "wrapped 1 time" in n for n in rec.notes)
    assert (tmp_path / "samples-energibridge.csv").read_text().startswith("Delta,Time,")
    assert (tmp_path / "power-energibridge.csv").exists()


def test_amd_run_uses_cpu_energy_as_package(
    fake_energibridge: Path, tmp_path: Path, eb_env: pytest.MonkeyPatch
) -> None:
    eb_env.setenv("FAKE_EB_VENDOR", "amd")
    eb_env.setenv("FAKE_EB_POWER_W", "45")
    rec, _, _ = _measure(fake_energibridge, tmp_path, 1.0, gpu=False)
    assert set(rec.energy_j) == {"cpu-package-0"}
    assert rec.energy_j["cpu-package-0"] == pytest.approx(45.0 * rec.duration_s, rel=0.005)
    assert any("CORE*_ENERGY" in n for n in rec.notes)


def test_gpu_power_is_integrated_and_labelled_estimated(
    fake_energibridge: Path, tmp_path: Path, eb_env: pytest.MonkeyPatch
) -> None:
    eb_env.setenv("FAKE_EB_GPU_POWER_W", "75")
    log = tmp_path / "argv.jsonl"
    eb_env.setenv("FAKE_EB_LOG", str(log))
    rec, _, _ = _measure(fake_energibridge, tmp_path / "out", 0.6, gpu=True)
    gpu = rec.series["gpu-0"]
    assert gpu.method == "power-integration" and gpu.estimated
    assert rec.energy_j["gpu-0"] == pytest.approx(75.0 * rec.duration_s, rel=0.005)
    argv = json.loads(log.read_text().splitlines()[0])
    assert argv[:5] == ["-o", str(tmp_path / "out/samples-energibridge.csv"), "-i", "50", "-g"]
    assert argv[5] == "--" and argv[6] == sys.executable


def test_missing_msr_access_gives_the_fix(
    fake_energibridge: Path, tmp_path: Path, eb_env: pytest.MonkeyPatch
) -> None:
    eb_env.setenv("FAKE_EB_MODE", "no-msr")
    meter = EnergiBridgeMeter(50, binary=fake_energibridge)
    with pytest.raises(MeterError, match=r"modprobe msr.*PermissionDenied") as err:
        meter.start(tmp_path)
    assert "\n" not in str(err.value)


def test_a_register_the_cpu_lacks_is_not_blamed_on_permissions(
    fake_energibridge: Path, tmp_path: Path, eb_env: pytest.MonkeyPatch
) -> None:
    # A server without PP1: EnergiBridge panics reading it with EIO. Before, the message
    # told the user to fix MSR permissions, which were fine.
    eb_env.setenv("FAKE_EB_MODE", "no-pp1")
    with pytest.raises(MeterError, match=r"PP1 energy MSR, which this CPU does not") as err:
        EnergiBridgeMeter(50, binary=fake_energibridge).start(tmp_path)
    assert "modprobe" not in str(err.value) and "--meter rapl" in str(err.value)
    assert "\n" not in str(err.value)


def test_exit_without_samples_is_an_error(
    fake_energibridge: Path, tmp_path: Path, eb_env: pytest.MonkeyPatch
) -> None:
    eb_env.setenv("FAKE_EB_MODE", "empty")
    with pytest.raises(MeterError, match="exited before its first sample"):
        EnergiBridgeMeter(50, binary=fake_energibridge).start(tmp_path)


def test_missing_binary_says_how_to_install(tmp_path: Path) -> None:
    with pytest.raises(MeterError, match=r"not an executable.*--energibridge PATH"):
        find_energibridge(tmp_path / "energibridge")


def test_binary_is_found_on_path(
    fake_energibridge: Path, eb_env: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    eb_env.setenv("PATH", str(fake_energibridge.parent))
    assert find_energibridge(None) == fake_energibridge
    eb_env.setenv("PATH", str(tmp_path / "empty"))
    with pytest.raises(MeterError, match="not on PATH"):
        find_energibridge(None)


# The fake itself must behave as EnergiBridge does, or the tests above prove nothing.


def test_fake_cli_runs_the_child_and_exits_with_its_code(
    fake_energibridge: Path, tmp_path: Path, eb_env: pytest.MonkeyPatch
) -> None:
    eb_env.setenv("FAKE_EB_OFFSET_J", "1000")  # no wrap, so the summary sum is positive
    out = tmp_path / "eb.csv"
    proc = subprocess.run(
        [str(fake_energibridge), "-o", str(out), "-i", "20", "--summary", "--",
         sys.executable, "-c", "import time, sys; time.sleep(0.5); sys.exit(3)"],
        capture_output=True, text=True, check=False,
    )  # fmt: skip
    assert proc.returncode == 3
    assert proc.stdout.startswith("Energy consumption in joules: ")
    assert proc.stdout.rstrip().endswith("sec of execution.")
    header = out.read_text().splitlines()[0].split(",")
    assert header[:2] == ["Delta", "Time"] and header[2:] == sorted(header[2:])
    table = parse_energibridge_csv(out)
    assert len(table.data) >= 10  # one row per 20 ms over 0.5 s
    assert np.all(np.diff(table.column("Time")) >= 0)


def test_fake_summary_counts_wraps_wrong_as_the_real_one(
    fake_energibridge: Path, tmp_path: Path, eb_env: pytest.MonkeyPatch
) -> None:
    # The real --summary adds raw counter differences: a wrap makes it lose 2^k J.
    eb_env.setenv("FAKE_EB_RANGE_J", "16")
    eb_env.setenv("FAKE_EB_OFFSET_J", "2")
    out = tmp_path / "eb.csv"
    proc = subprocess.run(
        [str(fake_energibridge), "-o", str(out), "-i", "20", "--summary", "--", "sleep", "0.7"],
        capture_output=True, text=True, check=False,
    )  # fmt: skip
    series, _ = read_series(out)
    corrected_j = series["cpu-package-0"].energy_j[-1]
    assert corrected_j > 16  # 40 W for 0.7 s wraps a 16 J counter at least once
    if proc.stdout:  # printed only when the uncorrected sum is positive
        summary_j = float(proc.stdout.split()[4])
        assert summary_j < corrected_j - 15


# The parser, on files of both layouts and on broken ones.

INTEL = (
    "Delta,Time,CPU_FREQUENCY_0,CPU_USAGE_0,DRAM_ENERGY (J),PACKAGE_ENERGY (J),"
    "PP0_ENERGY (J),PP1_ENERGY (J),TOTAL_MEMORY,USED_MEMORY\n"
    "0,1700000000000,3600,5,100,262140,50,1,16000000000,6000000000\n"
    "200,1700000000200,3600,5,101.5,262143.5,52.5,1.25,16000000000,6000000000\n"
    "200,1700000000400,3600,5,103,3,55,1.5,16000000000,6000000000\n"
)
AMD = (
    "Delta,Time,CORE0_ENERGY (J),CORE0_FREQ (MHZ),CORE0_PSTATE,CORE0_VOLT (V),"
    "CPU_ENERGY (J),CPU_FREQUENCY_0,CPU_USAGE_0,GPU0_POWER (mWatts),GPU0_USAGE\n"
    "0,1700000000000,10,3600,0,1.1,65530,3600,5,50000,90\n"
    "500,1700000000500,11,3600,0,1.1,65534,3600,5,70000,90\n"
    "500,1700000001000,12,3600,0,1.1,2,3600,5,70000,90\n"
)


def test_intel_layout_parses_with_wrap_corrected(tmp_path: Path) -> None:
    path = tmp_path / "intel.csv"
    path.write_text(INTEL)
    series, _ = read_series(path)
    assert series["cpu-package-0"].energy_j.tolist() == [0.0, 3.5, 7.0]
    assert series["dram-0"].energy_j.tolist() == [0.0, 1.5, 3.0]
    assert series["cpu-core-0"].energy_j.tolist() == [0.0, 2.5, 5.0]
    assert series["cpu-uncore-0"].energy_j.tolist() == [0.0, 0.25, 0.5]
    assert series["dram-0"].time_s.tolist() == [1700000000.0, 1700000000.2, 1700000000.4]
    # EnergiBridge's DRAM is in the package's unit, wrong on servers: out of the total
    # unless the CPU is said to be a client part.
    assert series["dram-0"].out_of_total is not None
    assert series["cpu-package-0"].out_of_total is None
    series, _ = read_series(path, client_cpu=True)
    assert series["dram-0"].out_of_total is None


def test_a_column_stuck_at_zero_is_absent_not_a_measured_zero(
    fake_energibridge: Path, tmp_path: Path, eb_env: pytest.MonkeyPatch
) -> None:
    # A server without PP1 (or DRAM) support reads 0 in that register for ever.
    eb_env.setenv("FAKE_EB_STUCK", "DRAM_ENERGY (J),PP1_ENERGY (J)")
    rec, _, _ = _measure(fake_energibridge, tmp_path, 0.4, gpu=False)
    assert set(rec.energy_j) == {"cpu-package-0", "cpu-core-0"}
    assert any("DRAM_ENERGY (J) never advanced" in n and "dram-0 is absent" in n for n in rec.notes)
    with (tmp_path / "samples-energibridge.csv").open() as f:
        rows = list(csv.DictReader(f))
    assert {r["DRAM_ENERGY (J)"] for r in rows} == {"0"}  # the fake's column is really there


def test_amd_layout_parses_with_gpu_power(tmp_path: Path) -> None:
    path = tmp_path / "amd.csv"
    path.write_text(AMD)
    series, _ = read_series(path)
    assert series["cpu-package-0"].energy_j.tolist() == [0.0, 4.0, 8.0]
    # Trapezoid: 0.5 s x 60 W, then 0.5 s x 70 W.
    assert series["gpu-0"].energy_j.tolist() == pytest.approx([0.0, 30.0, 65.0])
    assert set(series) == {"cpu-package-0", "gpu-0"}


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("", r"empty"),
        ("Time,Delta,X\n", r":1: header starts"),
        ("Delta,Time,CPU_ENERGY (J)\n", r"header only"),
        ("Delta,Time,CPU_ENERGY (J)\n0,1,2\n0,2\n", r":3: 2 fields, the header has 3"),
        (
            "Delta,Time,CPU_ENERGY (J)\n0,1,2\n0,2,oops\n",
            r":3: column 'CPU_ENERGY \(J\)' holds 'oops'",
        ),
        ("Delta,Time,CPU_ENERGY (J)\n0,5,2\n0,2,3\n", r":3: Time goes backwards"),
    ],
)
def test_malformed_csv_names_file_and_line(tmp_path: Path, text: str, message: str) -> None:
    path = tmp_path / "broken.csv"
    path.write_text(text)
    with pytest.raises(EnergiBridgeCsvError, match=message) as err:
        parse_energibridge_csv(path)
    assert str(err.value).startswith(str(path))


def test_csv_written_by_the_fake_is_kept_verbatim(
    fake_energibridge: Path, tmp_path: Path, eb_env: pytest.MonkeyPatch
) -> None:
    rec, _, _ = _measure(fake_energibridge, tmp_path, 0.3, gpu=False)
    with (tmp_path / "samples-energibridge.csv").open() as f:
        rows = list(csv.reader(f))
    assert len(rows) - 1 == len(rec.series["cpu-package-0"].time_s)
