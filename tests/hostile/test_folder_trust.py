"""A campaign folder is shared data: resume validates every name and path it reads before
it deletes, creates or executes anything (item 1), repairs a torn state.jsonl line (item 5)
and holds the folder for itself (item 6). Issue 12."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from analysis.errors import AnalysisInputError
from analysis.load import load_campaign
from orchestrator.data import PreparedDataset
from tests.campaign.conftest import failing_venvs
from tests.campaign.helpers import cli, load, only_campaign, popen_cli, state_lines
from tests.hostile.helpers import assert_refused

QUICK = ["--runtime", "local", "--meter", "none", "--frameworks", "torch", "--warmup", "0",
         "--idle", "0"]  # fmt: skip


def _campaign(tmp: Path, data: Path, venvs: Path, iterations: int = 1) -> Path:
    """A real campaign folder (its runs fail fast: the environments are broken on purpose)."""
    results = tmp / "results"
    r = cli(["campaign", *QUICK, "--iterations", str(iterations), "--data", str(data),
             "--results", str(results)], tmp, venvs=venvs)  # fmt: skip
    assert r.returncode == 1, r.stderr
    return only_campaign(results)


def _forget_runs(folder: Path) -> None:
    """As after kill -9 before the first run was recorded: resume must redo every run."""
    (folder / "state.jsonl").write_text("")
    for run in (folder / "runs").iterdir():
        for f in run.iterdir():
            f.unlink()
        run.rmdir()


def test_a_framework_name_that_points_outside_is_never_executed(
    tiny_dataset: PreparedDataset, tmp_path: Path
) -> None:
    venvs = failing_venvs(tmp_path / "venvs")
    folder = _campaign(tmp_path, tiny_dataset.path, venvs)
    _forget_runs(folder)
    # The crafted name leads from <venvs>/ to <tmp>/evil/bin/python, a script of the
    # folder's author; it would run as whoever resumes (root, for RAPL).
    marker = tmp_path / "executed"
    evil = tmp_path / "evil" / "bin"
    evil.mkdir(parents=True)
    (evil / "python").write_text(f"#!/bin/sh\ntouch {marker}\n")
    (evil / "python").chmod(0o755)
    (venvs / "x").mkdir()
    (folder / "runs" / "001-1-x").mkdir()
    campaign = load(folder / "campaign.json")
    campaign["frameworks"] = ["x/../../evil"]
    campaign["order"] = [["x/../../evil"]]
    (folder / "campaign.json").write_text(json.dumps(campaign))
    r = cli(["campaign", "--resume", str(folder)], tmp_path, venvs=venvs)
    assert_refused(r, "unknown framework 'x/../../evil'")
    assert not marker.exists()
    assert (folder / "runs" / "001-1-x").is_dir()  # nothing cleared either


@pytest.mark.parametrize("entry", ["runs/001-1-torch", "state.jsonl", "idle", "runs"])
def test_a_link_out_of_the_folder_is_refused(
    entry: str, tiny_dataset: PreparedDataset, tmp_path: Path
) -> None:
    venvs = failing_venvs(tmp_path / "venvs")
    folder = _campaign(tmp_path, tiny_dataset.path, venvs)
    _forget_runs(folder)
    victim = tmp_path / "victim"
    victim.mkdir()
    (victim / "precious.txt").write_text("keep\n")
    if entry == "state.jsonl":
        victim = victim / "precious.txt"
    link = folder / entry
    if link.is_dir():
        link.rmdir()
    else:
        link.unlink(missing_ok=True)
    link.symlink_to(victim)
    r = cli(["campaign", "--resume", str(folder)], tmp_path, venvs=venvs)
    assert_refused(r, "symbolic link")
    assert (tmp_path / "victim" / "precious.txt").read_text() == "keep\n"
    assert sorted(p.name for p in (tmp_path / "victim").iterdir()) == ["precious.txt"]


def _two_recorded_runs(tmp: Path, data: Path) -> tuple[Path, Path, list[bytes]]:
    venvs = failing_venvs(tmp / "venvs")
    folder = _campaign(tmp, data, venvs, iterations=2)
    return folder, venvs, (folder / "state.jsonl").read_bytes().splitlines(keepends=True)


def test_a_torn_last_state_line_is_repaired_on_resume(
    tiny_dataset: PreparedDataset, tmp_path: Path
) -> None:
    folder, venvs, (first, second) = _two_recorded_runs(tmp_path, tiny_dataset.path)
    # kill -9 / power cut in the middle of a write
    (folder / "state.jsonl").write_bytes(first + second[:25])
    # The analysis reads the torn folder: it skips the fragment and says so.
    campaign = load_campaign(folder)
    assert any("unterminated line" in n for n in campaign.notes)
    r = cli(["campaign", "--resume", str(folder)], tmp_path, venvs=venvs)
    assert r.returncode == 1, r.stderr  # every run failed (on purpose); nothing crashed
    assert "ended in a torn line" in r.stderr
    lines = state_lines(folder)  # every line parses again: nothing glued to the fragment
    assert [s["run_id"] for s in lines] == ["001-1-torch", "002-1-torch"]
    again = cli(["campaign", "--resume", str(folder)], tmp_path, venvs=venvs)
    assert "nothing to do" in again.stderr  # not redone at every resume
    assert not any("unterminated" in n for n in load_campaign(folder).notes)


def test_the_analysis_still_refuses_a_damaged_line_in_the_middle(
    tiny_dataset: PreparedDataset, tmp_path: Path
) -> None:
    folder, _, (first, second) = _two_recorded_runs(tmp_path, tiny_dataset.path)
    (folder / "state.jsonl").write_bytes(first[:20] + b"\n" + second)
    with pytest.raises(AnalysisInputError, match=r"state\.jsonl:1"):
        load_campaign(folder)


def _sleeping_venvs(root: Path) -> Path:
    venvs = failing_venvs(root)
    # Only the workload sleeps; provenance's questions to the interpreter fail at once.
    (venvs / "torch" / "bin" / "python").write_text(
        '#!/bin/sh\ncase "$*" in *"-m workload"*) exec sleep 120;; esac\nexit 1\n'
    )
    return venvs


def _wait_for_run_folder(results: Path, timeout_s: float = 60) -> Path:
    deadline = time.time() + timeout_s
    while time.time() < deadline:
        found = list(results.glob("*/runs/001-1-torch"))
        if found:
            return found[0].parent.parent
        time.sleep(0.2)
    raise AssertionError("the campaign never started its run")


def test_one_orchestrator_per_folder(tiny_dataset: PreparedDataset, tmp_path: Path) -> None:
    venvs = _sleeping_venvs(tmp_path / "venvs")
    results = tmp_path / "results"
    first = popen_cli(["campaign", *QUICK, "--iterations", "1", "--data",
                       str(tiny_dataset.path), "--results", str(results)], tmp_path,
                      venvs=venvs)  # fmt: skip
    try:
        folder = _wait_for_run_folder(results)
        second = cli(["campaign", "--resume", str(folder)], tmp_path, venvs=venvs)
        assert_refused(second, "in use by another orchestrator", f"pid {first.pid}")
        assert first.poll() is None  # the holder's run was not disturbed
        assert (folder / "runs" / "001-1-torch").is_dir()
    finally:
        os.kill(first.pid, signal.SIGKILL)  # as a crash: the kernel drops the lock
        first.communicate()
    # A resume now holds it; a second resume beside it is refused too.
    resumed = popen_cli(["campaign", "--resume", str(folder)], tmp_path, venvs=venvs)
    try:
        deadline = time.time() + 60
        lock = folder / "orchestrator.lock"
        while str(resumed.pid) not in lock.read_text() and time.time() < deadline:
            time.sleep(0.2)
        third = cli(["campaign", "--resume", str(folder)], tmp_path, venvs=venvs)
        assert_refused(third, f"pid {resumed.pid}")
    finally:
        resumed.send_signal(signal.SIGTERM)
        resumed.communicate(timeout=60)
    assert [s["status"] for s in state_lines(folder)] == ["aborted"]


def _lockable_by_another_process(lock: Path) -> bool:
    probe = (
        "import fcntl, os, sys\n"
        "fd = os.open(sys.argv[1], os.O_RDWR)\n"
        "try:\n    fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)\n"
        "except BlockingIOError:\n    sys.exit(1)\n"
    )
    return subprocess.run([sys.executable, "-c", probe, str(lock)], check=False).returncode == 0


def test_a_campaign_lets_its_folder_go_when_it_ends(
    tiny_dataset: PreparedDataset, tmp_path: Path
) -> None:
    """A study runs many cells in one process: each cell's campaign drops its folder's lock
    (and descriptor) when it ends, and a refused resume in the same process does not lock
    the process out of its own folder."""
    venvs = failing_venvs(tmp_path / "venvs")
    folder = _campaign(tmp_path, tiny_dataset.path, venvs)  # in this process
    assert _lockable_by_another_process(folder / "orchestrator.lock")
    # A resume refused after it took the lock (its recorded meter cannot be read here),
    # twice in this process: the same refusal, never "in use by another orchestrator".
    campaign = load(folder / "campaign.json")
    campaign["protocol"]["meters"] = ["rapl"]
    (folder / "campaign.json").write_text(json.dumps(campaign))
    missing = ["--powercap-root", str(tmp_path / "no-powercap")]
    for _ in range(2):
        r = cli(["campaign", "--resume", str(folder), *missing], tmp_path, venvs=venvs)
        assert_refused(r, "cannot resume with the recorded meters rapl")
    assert _lockable_by_another_process(folder / "orchestrator.lock")
