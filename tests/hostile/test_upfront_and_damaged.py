"""Everything that can be checked before the campaign folder exists is, with bounds (item 7);
a damaged campaign file, an unusable output path or a full disk is one line, exit 2, never a
traceback (item 8). Issue 12."""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

import pytest

from orchestrator.data import PreparedDataset
from tests.analysis.synth import write_campaign
from tests.campaign.conftest import failing_venvs
from tests.campaign.helpers import cli, load, only_campaign
from tests.conftest import require
from tests.hostile.helpers import assert_refused

# One short run, so that an option that slips through (as before the fix) ends quickly.
QUICK = ["--runtime", "local", "--meter", "none", "--frameworks", "torch", "--warmup", "0"]
SHORT = [*QUICK, "--iterations", "1"]
CPUS = len(os.sched_getaffinity(0))
ALL_CPUS = ",".join(map(str, sorted(os.sched_getaffinity(0))))


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        (["--threads", str(CPUS + 1), "--cpuset", ALL_CPUS],
         f"--threads {CPUS + 1} exceeds the {CPUS} CPUs"),
        (["--learning-rate", "1.5"], "--learning-rate must be between 0 and 1, both excluded"),
        (["--memory-limit", "4m"], "below Docker's minimum of 6m"),
        (["--warmup", "nan"], "--warmup must be from 0 to 86400 seconds, not nan"),
        (["--idle", "inf"], "--idle must be from 0 to 86400 seconds, not inf"),
        (["--run-timeout", "nan"], "--run-timeout must be between 0 and 604800 seconds"),
        (["--iterations", "1000000000"], "--iterations must be from 1 to 10000"),
        (["--epochs", "100000"], "--epochs must be from 1 to 1000"),
    ],
)  # fmt: skip
def test_checked_before_the_folder_exists(
    args: list[str], expected: str, tiny_dataset: PreparedDataset, tmp_path: Path
) -> None:
    results = tmp_path / "results"
    idle = [] if "--idle" in args else ["--idle", "0"]
    r = cli(["campaign", *SHORT, *idle, "--data", str(tiny_dataset.path), "--results",
             str(results), *args], tmp_path, venvs=failing_venvs(tmp_path / "venvs"),
            timeout_s=60)  # fmt: skip
    assert_refused(r, expected)
    assert not results.exists()


def test_threads_above_the_usable_cpus_without_a_cpuset(
    tiny_dataset: PreparedDataset, tmp_path: Path
) -> None:
    r = cli(["campaign", *SHORT, "--idle", "0", "--data", str(tiny_dataset.path), "--results",
             str(tmp_path / "results"), "--threads", "4096"], tmp_path,
            venvs=failing_venvs(tmp_path / "venvs"), timeout_s=60)  # fmt: skip
    assert_refused(r, "--threads 4096 exceeds the")
    assert not (tmp_path / "results").exists()


def _damaged_campaign(tmp: Path, data: Path, **extra: str) -> tuple[Path, Path]:
    venvs = failing_venvs(tmp / "venvs")
    args = ["campaign", *QUICK, "--iterations", "1", "--idle", extra.get("idle", "0"),
            "--data", str(data), "--results", str(tmp / "results")]  # fmt: skip
    assert cli(args, tmp, venvs=venvs).returncode == 1
    folder = only_campaign(tmp / "results")
    (folder / "state.jsonl").write_text("")  # the run is redone: resume reads everything
    return folder, venvs


@pytest.mark.parametrize(
    ("block", "key", "value", "expected"),
    [
        ("workload", "epochs", -5, "--epochs must be from 1 to 1000, not -5"),
        ("workload", "threads", "x", "the field 'threads' is str"),
        ("protocol", "idle_s", "60", "the field 'idle_s' is str"),
        ("protocol", "cpuset", "0-99999999", "--cpuset '0-99999999'"),
        ("protocol", "meters", "rapl", "protocol.meters is not a list"),
    ],
)
def test_damaged_settings_in_campaign_json(
    block: str, key: str, value: object, expected: str, tiny_dataset: PreparedDataset,
    tmp_path: Path,
) -> None:  # fmt: skip
    folder, venvs = _damaged_campaign(tmp_path, tiny_dataset.path)
    campaign = load(folder / "campaign.json")
    campaign[block][key] = value
    (folder / "campaign.json").write_text(json.dumps(campaign))
    r = cli(["campaign", "--resume", str(folder)], tmp_path, venvs=venvs)
    assert_refused(r, expected)
    assert not (folder / "runs" / "001-1-torch" / "stdout.log").read_text().count("\n") > 1


def test_campaign_json_that_is_not_utf8(tiny_dataset: PreparedDataset, tmp_path: Path) -> None:
    folder, venvs = _damaged_campaign(tmp_path, tiny_dataset.path)
    (folder / "campaign.json").write_bytes(b'{"schema": "\xff\xfe"}')
    assert_refused(
        cli(["campaign", "--resume", str(folder)], tmp_path, venvs=venvs), "campaign.json"
    )


@pytest.mark.parametrize(
    ("damage", "expected"),
    [
        (lambda d: d["energy"].update({"x": {"mean_power_w": "hot"}}), "mean_power_w is not"),
        (lambda d: d.pop("duration_s"), "duration_s is not a number"),
        (None, "cannot read"),
    ],
)
def test_damaged_idle_json(
    damage: object, expected: str, tiny_dataset: PreparedDataset, tmp_path: Path
) -> None:
    folder, venvs = _damaged_campaign(tmp_path, tiny_dataset.path, idle="0.2")
    idle = folder / "idle" / "000-0-start" / "idle.json"
    if damage is None:
        idle.write_bytes(b"\xff\xfe not text")
    else:
        data = load(idle)
        damage(data)  # type: ignore[operator]
        idle.write_text(json.dumps(data))
    r = cli(["campaign", "--resume", str(folder)], tmp_path, venvs=venvs)
    assert_refused(r, expected)


@pytest.mark.parametrize("damage", ["energy-list", "not-utf8"])
def test_damaged_run_json_for_analyze(damage: str, tmp_path: Path) -> None:
    folder = write_campaign(tmp_path / "c", iterations=3)
    run_json = next((folder / "runs").glob("*/run.json"))
    if damage == "not-utf8":
        run_json.write_bytes(b'{"schema": "fwenergy.run", "run_id": "\xff"}')
    else:
        run = json.loads(run_json.read_text())
        run["energy"] = [1, 2]
        run_json.write_text(json.dumps(run))
    assert_refused(cli(["analyze", str(folder)], tmp_path), str(run_json))


@pytest.mark.parametrize(
    "damage", [{"start": "soon"}, {"energy": {"x": {"settled_duration_s": 1}}}]
)
def test_damaged_idle_json_for_analyze(damage: dict[str, object], tmp_path: Path) -> None:
    folder = write_campaign(tmp_path / "c", iterations=3)
    idle = folder / "idle" / "000-0-start" / "idle.json"
    idle.write_text(json.dumps(load(idle) | damage))
    assert_refused(cli(["analyze", str(folder)], tmp_path), str(idle), "damaged")


def test_an_uncreatable_results_folder(tiny_dataset: PreparedDataset, tmp_path: Path) -> None:
    afile = tmp_path / "afile"
    afile.write_text("")
    r = cli(["campaign", *SHORT, "--idle", "0", "--data", str(tiny_dataset.path), "--results",
             str(afile / "results")], tmp_path,
            venvs=failing_venvs(tmp_path / "venvs"))  # fmt: skip
    assert_refused(r, f"--results {afile}/results is under {afile}, which is a file")


def test_measure_output_that_is_a_file(tmp_path: Path) -> None:
    afile = tmp_path / "afile"
    afile.write_text("")
    r = cli(["measure", "--meter", "none", "--output", str(afile), "--", "true"], tmp_path)
    assert_refused(r, f"--output {afile} is a file")


def test_a_full_disk(tiny_dataset: PreparedDataset, tmp_path: Path) -> None:
    disk = tmp_path / "disk"
    disk.mkdir()
    mounted = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=64k", "tmpfs", str(disk)],
                             capture_output=True, check=False)  # fmt: skip
    require(mounted.returncode == 0, "cannot mount a small tmpfs here (needs root)")
    try:
        (disk / "filler").write_bytes(b"\0" * 60_000)
        with pytest.raises(OSError):  # fill it up to the last block
            (disk / "filler2").write_bytes(b"\0" * 60_000)
        r = cli(["campaign", *QUICK, "--iterations", "1", "--idle", "0", "--data",
                 str(tiny_dataset.path), "--results", str(disk / "results")], tmp_path,
                venvs=failing_venvs(tmp_path / "venvs"))  # fmt: skip
        assert r.returncode == 2 and "Traceback" not in r.stderr, r.stderr
        assert r.stderr.splitlines()[-1].startswith("error: No space left on device")
        assert not list(disk.glob("results/*"))  # no half-made campaign folder
    finally:
        subprocess.run(["umount", str(disk)], check=False)
