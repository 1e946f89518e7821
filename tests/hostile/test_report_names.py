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
    assert figures and all(re.fullmatch(r"[A-Za-z0-9_-][A-Za-z0-9._-]*", n) for n in figures)
    assert not list(tmp_path.rglob("*escaped*.png")) or all(
        p.parent == folder / "report" / "figures" for p in tmp_path.rglob("*escaped*.png")
    )


def test_a_figure_named_by_the_folder_stays_in_the_figures_folder(tmp_path: Path) -> None:
    """Whatever a campaign folder names (a domain, a metric), the file lands where it should."""
    import matplotlib.pyplot as plt

    from analysis.plots import _save

    out = tmp_path / "report" / "figures"
    out.mkdir(parents=True)
    fig = plt.figure()
    png = _save(fig, out, "violin-x/../../../../escaped_gross_j")
    assert png.parent == out and png.is_file()
    assert png.name.startswith("violin-x_.._.._.._.._escaped_gross_j-")
    assert [p for p in tmp_path.rglob("*") if p.is_file() and p.parent != out] == []
