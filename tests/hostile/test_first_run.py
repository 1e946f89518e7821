"""A first run without internet: the error says what works offline, and the README shows
it at the place that says the campaign downloads MNIST (issue 12, first impressions)."""

from __future__ import annotations

import re
import shlex
import tomllib
from pathlib import Path

from orchestrator.study.spec import parse_study
from tests.campaign.helpers import cli
from tests.conftest import REPO


def test_the_download_error_points_to_the_offline_way(tmp_path: Path) -> None:
    r = cli(["campaign", "--profile", "quick", "--dataset", "mnist", "--runtime", "local",
             "--meter", "none", "--results", str(tmp_path / "results")], tmp_path,
            extra_env={"FWENERGY_DATA_MIRROR": "http://127.0.0.1:9/"})  # fmt: skip
    assert r.returncode == 2, r.stderr
    assert "--dataset synthetic needs no download" in r.stderr
    assert "README: First run without internet" in r.stderr


def test_the_readme_commands_work_offline(tmp_path: Path) -> None:
    readme = (REPO / "README.md").read_text()
    start = readme.index("campaign downloads MNIST once")
    end = readme.index("## ", start)
    section = readme[start:end].replace("\\\n", " ")
    assert "**First run without internet**" in section
    commands = re.findall(r"^    \.venvs/host/bin/orchestrator (.+)$", section, re.M)
    assert len(commands) == 2 and all("--profile quick" in c for c in commands)
    for command in commands:
        # As written, offline: the dataset is prepared (no download); the unknown runtime
        # given here then stops the campaign before anything is measured.
        r = cli([*shlex.split(command), "--runtime", "none-here", "--results",
                 str(tmp_path / "results")], tmp_path,
                extra_env={"FWENERGY_DATA_MIRROR": "http://127.0.0.1:9/"})  # fmt: skip
        assert r.returncode == 2, (command, r.stderr)
        assert "unknown runtime 'none-here'" in r.stderr, (command, r.stderr)


def test_the_readme_study_file_is_a_valid_study(tmp_path: Path) -> None:
    # The README's study, as a user copies it, checked by the study loader: its cells cross
    # task and batch size of the one model.
    readme = (REPO / "README.md").read_text()
    text = readme.split("```toml\n", 1)[1].split("```", 1)[0]
    (tmp_path / "data").mkdir()
    study = parse_study(tomllib.loads(text), "README.md", tmp_path)
    cells = [(c.values["task"], c.values["batch_size"]) for c in study.cells]
    assert sorted(cells) == [("infer", 32), ("infer", 128), ("train", 32), ("train", 128)]
