"""`make report` never runs shell code taken from a folder name: issue 12, item 9."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import time
from pathlib import Path

from tests.conftest import REPO, VENVS, require


def _make_report(work: Path, *args: str) -> subprocess.CompletedProcess[str]:
    require(shutil.which("make") is not None, "no make")
    host_stamp = VENVS / "host" / ".installed"
    require(host_stamp.exists(), f"{host_stamp} missing: run `make venvs`")
    env = dict(os.environ, PYTHONPATH=str(REPO))
    # -o: never rebuild the shared host environment from here.
    return subprocess.run(
        ["make", "-f", str(REPO / "Makefile"), f"VENVS={VENVS}", "-o", str(host_stamp),
         "report", *args],
        cwd=work, env=env, capture_output=True, text=True, timeout=120, check=False,
    )  # fmt: skip


def _campaign_folder(results: Path, name: str) -> Path:
    folder = results / name
    (folder / "runs").mkdir(parents=True)
    (folder / "campaign.json").write_text(
        json.dumps({"schema": "fwenergy.campaign", "schema_version": 1})
    )
    return folder


def test_a_folder_name_is_not_shell_code(tmp_path: Path) -> None:
    results = tmp_path / "results"
    _campaign_folder(results, "20260101-000000-mnist")
    time.sleep(0.05)
    newest = _campaign_folder(results, "b;touch${IFS}pwned;#")
    r = _make_report(tmp_path)
    assert not (tmp_path / "pwned").exists(), r.stdout + r.stderr
    # It analysed the newest folder (which holds no runs, hence the one-line refusal).
    assert r.returncode != 0
    assert f"results/{newest.name}: no runs under runs/" in r.stderr.replace("\n", "")


def test_campaign_given_by_hand(tmp_path: Path) -> None:
    results = tmp_path / "results"
    older = _campaign_folder(results, "a;touch pwned;b")
    time.sleep(0.05)
    _campaign_folder(results, "20260101-000000-mnist")
    r = _make_report(tmp_path, f"CAMPAIGN={older.relative_to(tmp_path)}/campaign.json")
    assert not (tmp_path / "pwned").exists()
    assert "no runs under runs/" in r.stderr and "a;touch pwned;b" in r.stderr
