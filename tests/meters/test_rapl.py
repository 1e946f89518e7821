"""The RAPL meter against a fake powercap tree advanced at a known power."""

from __future__ import annotations

import csv
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pytest

from orchestrator.errors import MeterError
from orchestrator.meters.rapl import RaplMeter, discover_zones
from tests.conftest import REPO
from tests.fakes.powercap import (
    FakePowercap,
    FakeZone,
    amd_single_socket,
    build_tree,
    desktop_package,
    die_named_server,
    two_socket_intel,
)

ZONE_OF = {
    "cpu-package-0": "intel-rapl:0",
    "cpu-core-0": "intel-rapl:0:0",
    "cpu-uncore-0": "intel-rapl:0:1",
    "dram-0": "intel-rapl:0:2",
    "cpu-package-1": "intel-rapl:1",
    "cpu-core-1": "intel-rapl:1:0",
    "dram-1": "intel-rapl:1:1",
    "psys": "intel-rapl:2",
}


def test_two_sockets_all_domains_within_half_a_percent_across_wraps(
    sysfs_dir: Path, tmp_path: Path
) -> None:
    # A 120 J range wraps psys every 1.5 s, package 0 (set near the top) at once.
    with FakePowercap(sysfs_dir, two_socket_intel(max_range_uj=120_000_000)) as fake:
        # An Intel tree: not this host's vendor, whose core zones may be left out (AMD).
        meter = RaplMeter(50, powercap_root=sysfs_dir, vendor="GenuineIntel")
        assert sorted(meter.domains()) == sorted(ZONE_OF)
        meter.start(tmp_path)
        time.sleep(2.0)
        rec = meter.stop()
    assert set(rec.energy_j) == set(ZONE_OF)
    window_s = rec.duration_s
    assert window_s == pytest.approx(2.0, abs=0.3)
    for domain, zone in ZONE_OF.items():
        truth_j = fake.power_w(zone) * window_s
        assert rec.energy_j[domain] == pytest.approx(truth_j, rel=0.005), domain
        assert rec.series[domain].method == "counter"
    # Nested zones are reported each on its own, never summed into their parent.
    assert rec.energy_j["psys"] == pytest.approx(80.0 * window_s, rel=0.005)


def test_raw_and_power_csvs(sysfs_dir: Path, tmp_path: Path) -> None:
    with FakePowercap(sysfs_dir, two_socket_intel(max_range_uj=120_000_000)):
        meter = RaplMeter(100, powercap_root=sysfs_dir)
        meter.start(tmp_path)
        time.sleep(0.6)
        rec = meter.stop()
    with (tmp_path / "samples-rapl.csv").open() as f:
        rows = list(csv.reader(f))
    assert rows[0][0] == "time_s"
    assert rows[0][1:] == [f"{d}_energy_uj" for d in meter.domains()]
    raw = [[int(v) for v in r[1:]] for r in rows[1:]]
    assert all(0 <= v < 120_000_000 for r in raw for v in r)  # raw counters, as read
    assert len(raw) == len(rec.series["psys"].time_s) >= 5
    with (tmp_path / "power-rapl.csv").open() as f:
        power = list(csv.DictReader(f))
    assert len(power) == len(raw) - 1
    # Each row is the mean power over the gap ending at its time: weighted by the gaps,
    # they give back the energy over the window.
    times = [float(rows[1][0])] + [float(r["time_s"]) for r in power]
    energy_j = sum(
        float(r["psys_power_w"]) * (t1 - t0)
        for r, t0, t1 in zip(power, times, times[1:], strict=False)
        if r["psys_power_w"]
    )
    assert energy_j == pytest.approx(rec.energy_j["psys"], rel=1e-4)
    assert rec.samples_csv == tmp_path / "samples-rapl.csv"
    assert rec.power_csv == tmp_path / "power-rapl.csv"


def test_amd_package_only_layout(sysfs_dir: Path, tmp_path: Path) -> None:
    with FakePowercap(sysfs_dir, amd_single_socket()):
        meter = RaplMeter(100, powercap_root=sysfs_dir, vendor="AuthenticAMD")
        assert meter.domains() == ["cpu-package-0"]
        meter.start(tmp_path)
        time.sleep(2.0)
        rec = meter.stop()
    assert rec.energy_j["cpu-package-0"] == pytest.approx(45.0 * rec.duration_s, rel=0.005)


def test_meter_can_be_started_again_for_the_next_run(sysfs_dir: Path, tmp_path: Path) -> None:
    with FakePowercap(sysfs_dir, amd_single_socket()):
        meter = RaplMeter(100, powercap_root=sysfs_dir, vendor="AuthenticAMD")
        energies = []
        for i in range(2):
            meter.start(tmp_path / str(i))
            time.sleep(1.0)
            rec = meter.stop()
            energies.append(rec.energy_j["cpu-package-0"] / rec.duration_s)
    assert energies == [pytest.approx(45.0, rel=0.01)] * 2


def test_flat_tree_without_the_control_type_is_found(tmp_path: Path) -> None:
    # Some containers bind-mount the zones alone; no `intel-rapl` control-type folder.
    root = tmp_path / "flat"
    for zone_id, name in [("intel-rapl:0", "package-0"), ("intel-rapl:0:0", "dram")]:
        d = root / zone_id
        d.mkdir(parents=True)
        (d / "name").write_text(name + "\n")
        (d / "energy_uj").write_text("5\n")
        (d / "max_energy_range_uj").write_text("1000\n")
    zones, _ = discover_zones(root)
    assert [z.domain for z in zones] == ["cpu-package-0", "dram-0"]


def test_unknown_sub_zone_names_are_skipped_and_noted(tmp_path: Path) -> None:
    build_tree(
        tmp_path,
        [FakeZone("intel-rapl:0", "package-0", 1.0), FakeZone("intel-rapl:0:0", "mystery", 1.0)],
    )
    zones, notes = discover_zones(tmp_path)
    assert [z.domain for z in zones] == ["cpu-package-0"]
    assert any("mystery" in n for n in notes)


def test_missing_root_says_where_and_why(tmp_path: Path) -> None:
    with pytest.raises(MeterError, match=r"does not exist.*container.*--powercap-root"):
        RaplMeter(100, powercap_root=tmp_path / "nope")


def test_no_zones_is_a_clear_error(tmp_path: Path) -> None:
    (tmp_path / "intel-rapl").mkdir()
    with pytest.raises(MeterError, match=r"no RAPL zones.*container"):
        RaplMeter(100, powercap_root=tmp_path)


def test_unreadable_energy_file_fails_at_open_not_in_the_window(tmp_path: Path) -> None:
    build_tree(tmp_path, amd_single_socket())
    energy = tmp_path / "_devices/intel-rapl/intel-rapl:0/energy_uj"
    energy.unlink()
    energy.mkdir()  # reading a directory fails even for root
    with pytest.raises(MeterError, match=r"cannot read .*energy_uj"):
        RaplMeter(100, powercap_root=tmp_path)


def test_garbage_in_energy_file_is_named(tmp_path: Path) -> None:
    build_tree(tmp_path, amd_single_socket())
    (tmp_path / "_devices/intel-rapl/intel-rapl:0/energy_uj").write_text("n/a\n")
    with pytest.raises(MeterError, match=r"energy_uj holds 'n/a'"):
        RaplMeter(100, powercap_root=tmp_path)


NOBODY = 65534


def test_permission_denied_as_an_ordinary_user_explains_the_fix() -> None:
    # Linux 5.10+ makes energy_uj 0400 root: an ordinary user must get the fix, not a trace.
    # Root reads any file, so as root the reader drops to `nobody`; as anyone else a mode
    # of 000 on the user's own file denies the read just the same.
    as_root = os.geteuid() == 0
    base = Path(tempfile.mkdtemp(prefix="fwenergy-perm-"))
    try:
        base.chmod(0o755)
        build_tree(base / "pc", two_socket_intel(), energy_mode=0o400 if as_root else 0)
        for d in [base / "pc", *(base / "pc").rglob("*")]:
            if d.is_dir() and not d.is_symlink():
                d.chmod(0o755)
        code = (
            "import os, sys, encodings.ascii\n"
            "from pathlib import Path\n"
            "from orchestrator.errors import MeterError\n"
            "from orchestrator.meters.rapl import RaplMeter\n"
            # The interpreter's own files may be root-only: import first, then drop.
            + (f"os.setgid({NOBODY}); os.setuid({NOBODY})\n" if as_root else "")
            + "try:\n"
            f"    RaplMeter(100, powercap_root=Path({str(base / 'pc')!r}))\n"
            "except MeterError as e:\n"
            "    print(e); sys.exit(7)\n"
        )
        proc = subprocess.run(
            [sys.executable, "-c", code],
            capture_output=True,
            text=True,
            cwd=REPO,
            env={**os.environ, "PYTHONPATH": str(REPO)},
            check=False,
        )
    finally:
        shutil.rmtree(base)
    assert proc.returncode == 7, proc.stderr
    message = proc.stdout.strip()
    assert "permission denied" in message
    assert "CVE-2020-8694" in message and "chmod o+r" in message and "container" in message
    assert "\n" not in message


def test_counters_vanishing_before_the_first_sample_leave_no_csv(tmp_path: Path) -> None:
    build_tree(tmp_path / "pc", amd_single_socket())
    meter = RaplMeter(100, powercap_root=tmp_path / "pc")
    (tmp_path / "pc/_devices/intel-rapl/intel-rapl:0/energy_uj").unlink()  # e.g. module unloaded
    with pytest.raises(MeterError, match="cannot read"):
        meter.start(tmp_path / "out")
    assert not (tmp_path / "out/samples-rapl.csv").exists()


def test_a_counter_lost_inside_the_window_fails_stop_not_silently(tmp_path: Path) -> None:
    build_tree(tmp_path / "pc", amd_single_socket())
    meter = RaplMeter(20, powercap_root=tmp_path / "pc")
    meter.start(tmp_path / "out")
    (tmp_path / "pc/_devices/intel-rapl/intel-rapl:0/energy_uj").unlink()
    time.sleep(0.1)
    with pytest.raises(MeterError, match=r"cannot read .*energy_uj"):
        meter.stop()


def test_die_named_server_with_hex_zone_ids_reads_every_die(
    sysfs_dir: Path, tmp_path: Path
) -> None:
    # Twelve dies in zones intel-rapl:0 .. intel-rapl:b: the old patterns read DRAM only.
    zones = die_named_server()
    with FakePowercap(sysfs_dir, zones) as fake:
        meter = RaplMeter(50, powercap_root=sysfs_dir, vendor="GenuineIntel")
        expected = {f"cpu-package-{k // 6}-die-{k % 6}" for k in range(12)}
        assert expected <= set(meter.domains())
        assert {f"dram-{k // 6}-die-{k % 6}" for k in range(12)} <= set(meter.domains())
        assert "psys-1" in meter.domains()
        meter.start(tmp_path)
        time.sleep(1.0)
        rec = meter.stop()
    for k in range(12):
        domain = f"cpu-package-{k // 6}-die-{k % 6}"
        truth_j = fake.power_w(f"intel-rapl:{k:x}") * rec.duration_s
        assert rec.energy_j[domain] == pytest.approx(truth_j, rel=0.01), domain


def test_an_unknown_top_level_zone_stops_the_meter(tmp_path: Path) -> None:
    build_tree(tmp_path, [FakeZone("intel-rapl:0", "package-0", 1.0),
                          FakeZone("intel-rapl:1", "soc-fabric", 1.0)])  # fmt: skip
    with pytest.raises(MeterError, match=r"intel-rapl:1 .* named 'soc-fabric'.*missing from"):
        RaplMeter(100, powercap_root=tmp_path)


def test_two_packages_named_alike_stop_the_meter(tmp_path: Path) -> None:
    # Kernels before the die naming gave every die of package 0 the name package-0.
    build_tree(tmp_path, [FakeZone("intel-rapl:0", "package-0", 1.0),
                          FakeZone("intel-rapl:1", "package-0", 1.0)])  # fmt: skip
    with pytest.raises(MeterError, match=r"both named 'package-0'"):
        RaplMeter(100, powercap_root=tmp_path)


def test_amd_core_sub_zone_is_one_core_and_left_out(tmp_path: Path) -> None:
    build_tree(tmp_path, amd_single_socket())
    zones, notes = discover_zones(tmp_path, "AuthenticAMD")
    assert [z.domain for z in zones] == ["cpu-package-0"]
    assert any("intel-rapl:0:0" in n and "one CPU's core-energy MSR" in n for n in notes)
    intel = RaplMeter(100, powercap_root=tmp_path, vendor="GenuineIntel")
    assert intel.domains() == ["cpu-package-0", "cpu-core-0"]  # on Intel, core is the cores


def test_a_1_mj_misread_is_bridged_not_a_262_kj_wrap(sysfs_dir: Path, tmp_path: Path) -> None:
    zones = [FakeZone("intel-rapl:0", "package-0", 30.0, offset_uj=5_000_000,
                      max_power_uw=125_000_000, misread_s=(0.6, 0.15))]  # fmt: skip
    with FakePowercap(sysfs_dir, zones):
        meter = RaplMeter(50, powercap_root=sysfs_dir)
        meter.start(tmp_path)
        time.sleep(1.2)
        rec = meter.stop()
    assert rec.energy_j["cpu-package-0"] == pytest.approx(30.0 * rec.duration_s, rel=0.01)
    assert any("misread" in n and "bridged" in n for n in rec.notes)


def test_a_desktop_package_at_pl2_above_its_tdp_keeps_every_wrap(
    sysfs_dir: Path, tmp_path: Path
) -> None:
    # 200 W on a 125 W TDP part: the TDP is the only max_power_uw the kernel states, the
    # board's PL1 and PL2 of 200 W are power limits. Bounded by 1.5 x the TDP, each wrap
    # was rejected and so was every sample after it: 20% and more too little, exit 0.
    with FakePowercap(sysfs_dir, desktop_package()) as fake:
        meter = RaplMeter(50, powercap_root=sysfs_dir, vendor="GenuineIntel")
        assert {z.domain: z.max_power_w for z in meter.zones} == {
            "cpu-package-0": 300.0, "cpu-core-0": 300.0,  # the core: its package's bound
        }  # fmt: skip
        meter.start(tmp_path)
        time.sleep(1.5)
        rec = meter.stop()
    assert rec.dropped == {}
    for domain, zone in (("cpu-package-0", "intel-rapl:0"), ("cpu-core-0", "intel-rapl:0:0")):
        truth_j = fake.power_w(zone) * rec.duration_s
        assert rec.energy_j[domain] == pytest.approx(truth_j, rel=0.01), domain
    assert any("cpu-package-0" in n and "wrapped" in n for n in rec.notes)
    assert not any("misread" in n for n in rec.notes)


def test_a_zero_energy_range_is_refused_at_open(tmp_path: Path) -> None:
    build_tree(tmp_path, [FakeZone("intel-rapl:0", "package-0", 1.0, max_energy_range_uj=0)])
    with pytest.raises(MeterError, match=r"intel-rapl:0 .*max_energy_range_uj 0"):
        RaplMeter(100, powercap_root=tmp_path)


# The meter in a process of its own, as `orchestrator measure` runs it: started, then
# stopped when a line arrives on stdin; its recording as JSON on stdout.
_METER_PROCESS = """
import json, sys
from pathlib import Path
from orchestrator.meters.rapl import RaplMeter
meter = RaplMeter(50, powercap_root=Path(sys.argv[1]), vendor="GenuineIntel")
meter.start(Path(sys.argv[2]))
print("started", flush=True)
sys.stdin.readline()
rec = meter.stop()
print(json.dumps({"energy_j": rec.energy_j, "dropped": rec.dropped, "notes": rec.notes}))
"""


def test_a_stopped_sampler_loses_a_domain_that_may_have_wrapped_unseen(
    sysfs_dir: Path, tmp_path: Path
) -> None:
    # A 20 J counter at 40 W wraps every 0.5 s (0.33 s at its 60 W bound); the sampler's
    # process is stopped for 1.2 s, as Ctrl-Z, a paused VM or suspend do: two wraps, or
    # three, in one gap. Before, the step across the gap was taken at face value.
    zones = [FakeZone("intel-rapl:0", "package-0", 40.0, 20_000_000, 0,
                      constraints=(("long_term", 40_000_000, 40_000_000),))]  # fmt: skip
    with FakePowercap(sysfs_dir, zones):
        proc = subprocess.Popen(
            [sys.executable, "-c", _METER_PROCESS, str(sysfs_dir), str(tmp_path)],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True, cwd=REPO,
            env={**os.environ, "PYTHONPATH": str(REPO)},
        )  # fmt: skip
        assert proc.stdout is not None and proc.stdout.readline() == "started\n"
        time.sleep(0.2)
        os.kill(proc.pid, signal.SIGSTOP)
        time.sleep(1.2)
        os.kill(proc.pid, signal.SIGCONT)
        time.sleep(0.2)
        out, _ = proc.communicate("stop\n", timeout=30)
    assert proc.returncode == 0
    result = json.loads(out)
    assert result["energy_j"] == {}
    why = result["dropped"]["cpu-package-0"]
    assert "between two samples" in why and "cannot be known" in why


def test_a_top_level_dram_zone_is_numbered_by_its_socket(tmp_path: Path) -> None:
    # One socket whose DRAM is listed beside the package: `dram-1` would claim a second
    # socket that this machine does not have.
    build_tree(tmp_path / "one", [FakeZone("intel-rapl:0", "package-0", 1.0),
                                  FakeZone("intel-rapl:1", "dram", 1.0)])  # fmt: skip
    zones, _ = discover_zones(tmp_path / "one")
    assert [z.domain for z in zones] == ["cpu-package-0", "dram-0"]
    # Two sockets, the DRAM zones after both packages: the first is socket 0's.
    build_tree(tmp_path / "two", [FakeZone("intel-rapl:0", "package-0", 1.0),
                                  FakeZone("intel-rapl:1", "package-1", 1.0),
                                  FakeZone("intel-rapl:2", "dram", 1.0),
                                  FakeZone("intel-rapl:3", "dram", 1.0)])  # fmt: skip
    zones, _ = discover_zones(tmp_path / "two")
    assert [z.domain for z in zones] == ["cpu-package-0", "cpu-package-1", "dram-0", "dram-1"]
