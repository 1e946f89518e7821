"""The HTML report in a real headless chromium: it renders, and every embedded figure loads
(no external file, no network: the page must stand alone)."""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from tests.conftest import require

pytestmark = pytest.mark.browser

# flags that keep chromium from reaching hosts, as ARCHITECTURE.md says
CHROMIUM_FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                  "--disable-component-update", "--disable-sync", "--no-first-run"]  # fmt: skip

# Appended to a copy of the page: after load, write into the DOM how many <img> decoded.
PROBE = """<script>window.addEventListener("load", function () {
  var imgs = Array.from(document.images);
  var ok = imgs.filter(function (i) { return i.complete && i.naturalWidth > 0; }).length;
  document.body.setAttribute("data-images-loaded", ok + "/" + imgs.length);
});</script>"""


def _chromium(tmp: Path, *args: str) -> subprocess.CompletedProcess[str]:
    exe = shutil.which("chromium")
    require(exe is not None, "chromium is not installed (apt-get install chromium)")
    assert exe is not None
    profile = tmp / f"profile-{len(list(tmp.glob('profile-*')))}"
    return subprocess.run(
        [exe, *CHROMIUM_FLAGS, f"--user-data-dir={profile}", *args],
        capture_output=True, text=True, timeout=120, check=False,
    )  # fmt: skip


def test_every_figure_loads(effect_campaign: Path, tmp_path: Path) -> None:
    html = (effect_campaign / "report" / "report.html").read_text()
    n_img = len(re.findall(r"<img ", html))
    n_png = len(list((effect_campaign / "report" / "figures").glob("*.png")))
    assert n_img == n_png > 5
    assert 'src="data:image/png;base64,' in html and "http" not in html.split("<body>")[1]
    probe = tmp_path / "probe.html"
    probe.write_text(html.replace("</body>", PROBE + "</body>"))
    proc = _chromium(tmp_path, "--virtual-time-budget=10000", "--dump-dom", probe.as_uri())
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert f'data-images-loaded="{n_img}/{n_img}"' in proc.stdout


def test_screenshot_shows_the_report(effect_campaign: Path, tmp_path: Path) -> None:
    shot = tmp_path / "report.png"
    page = (effect_campaign / "report" / "report.html").as_uri()
    proc = _chromium(tmp_path, f"--screenshot={shot}", "--window-size=1200,1600", page)
    assert proc.returncode == 0, proc.stderr[-2000:]
    pixels = np.asarray(Image.open(shot).convert("L"), dtype=float)
    assert pixels.shape == (1600, 1200)
    dark = (pixels < 128).mean()
    assert 0.005 < dark < 0.5  # text was drawn on a light page, not a blank or error screen


# After load: where the answer table and the forest plot end, against the window's height.
FIRST_SCREEN = """<script>window.addEventListener("load", function () {
  var table = document.querySelector("table");
  var forest = document.querySelector('img[alt^="Energy and time ratios"]');
  var h = window.innerHeight;
  document.body.setAttribute("data-first-screen", [
    table.querySelector("caption").textContent.slice(0, 16),
    table.getBoundingClientRect().bottom <= h, forest.complete && forest.naturalWidth > 0,
    forest.getBoundingClientRect().bottom <= h].join("|"));
});</script>"""


def test_first_screen_holds_the_verdict_table_and_the_forest_plot(
    effect_campaign: Path, tmp_path: Path
) -> None:
    html = (effect_campaign / "report" / "report.html").read_text()
    probe = tmp_path / "first.html"
    probe.write_text(html.replace("</body>", FIRST_SCREEN + "</body>"))
    proc = _chromium(tmp_path, "--window-size=1280,1024", "--virtual-time-budget=10000",
                     "--dump-dom", probe.as_uri())  # fmt: skip
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert 'data-first-screen="Medians per pair|true|true|true"' in proc.stdout
