"""The report treats names from the campaign folder as data: report.md escapes them and
figure file names are sanitised (issue 12, minor items)."""

from __future__ import annotations

import json
import re
from pathlib import Path

from tests.analysis.synth import write_campaign
from tests.campaign.helpers import cli

HOSTILE = "<img src=x onerror=alert(1)> [click](javascript:alert(1)) | ![t](http://x/t.png)"


def test_hostile_names_in_a_crafted_folder(tmp_path: Path) -> None:
    failed = [f"001-{p}-{fw}" for p in (1, 2, 3) for fw in ("keras", "torch", "jax")]
    folder = write_campaign(tmp_path / "c", iterations=5, failed=failed)
    for run_json in (folder / "runs").glob("*/run.json"):
        run = json.loads(run_json.read_text())
        # A domain whose name would make a figure's file name a path out of report/.
        run["energy"]["x/../../../../escaped"] = dict(run["energy"]["cpu-package-0"])
        if run["status"] != "ok":
            run["error"] = HOSTILE
        run_json.write_text(json.dumps(run))
    r = cli(["analyze", str(folder)], tmp_path)
    assert r.returncode == 0, r.stderr
    md = (folder / "report" / "report.md").read_text()
    assert "escaped" in md  # the domain is reported...
    # ...as text: no unescaped tag, link or image is left
    assert not re.search(r"(?<!\\)<img|(?<!\\)\]\(javascript|!(?<!\\)\[t", md)
    assert "\\<img src=x onerror=alert(1)\\> \\[click\\](javascript:alert(1))" in md
    figures = {p.name for p in (folder / "report" / "figures").iterdir()}
    assert any(n.startswith("violin-x_.._.._.._.._escaped_gross_j-") for n in figures), figures
    assert not list(tmp_path.rglob("*escaped*.png")) or all(
        p.parent == folder / "report" / "figures" for p in tmp_path.rglob("*escaped*.png")
    )
