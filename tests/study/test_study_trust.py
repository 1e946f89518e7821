"""A study folder gets the campaign folder's trust checks (issue 24, major 2): no link among
its own entries, files written by temporary file and rename, and each cell's campaign is the
study's own (study id, cell id, factors). Real study folders made by the real CLI; the
attacks are what a tarball or a shared filesystem can carry."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from analysis.errors import AnalysisInputError
from analysis.study_report import analyze_study
from orchestrator.campaign.folder import write_text_atomic
from orchestrator.data import PreparedDataset
from orchestrator.study.folder import StudyFolder, StudyFolderError
from tests.campaign.helpers import cli
from tests.study.conftest import TWO_CELL_STUDY, simulated_venvs


@pytest.fixture(scope="module")
def finished_study(tiny_dataset: PreparedDataset, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A two-cell study, every run ended ok (stand-in workloads of 0.05 s)."""
    tmp = tmp_path_factory.mktemp("study")
    study_file = tmp / "study.toml"
    study_file.write_text(TWO_CELL_STUDY.format(name="trust", iterations=1,
                                                data=tiny_dataset.path))  # fmt: skip
    venvs = simulated_venvs(tmp / "venvs", {"torch": "0.05", "jax": "0.05"})
    r = cli(["study", "run", str(study_file), "--results", str(tmp / "results")], tmp,
            venvs=venvs)  # fmt: skip
    assert r.returncode == 0, r.stderr
    (study,) = [p for p in (tmp / "results").iterdir() if not p.name.startswith(".")]
    (study / "slurm").mkdir()
    return study


@pytest.fixture
def study(finished_study: Path, tmp_path: Path) -> Path:
    copy = tmp_path / finished_study.name
    shutil.copytree(finished_study, copy, symlinks=True)
    return copy


@pytest.mark.parametrize("entry", ["slurm/cell-01.sbatch", "slurm/jobs.jsonl", "cells/cell-02",
                                   "locks/cell-01.lock", "locks", "study.json"])  # fmt: skip
def test_a_link_among_the_studys_own_entries_is_refused(
    entry: str, study: Path, tmp_path: Path
) -> None:
    victim = tmp_path / "victim"
    if entry == "study.json":
        victim.write_text((study / entry).read_text())
    elif entry in ("locks", "cells/cell-02"):
        shutil.copytree(study / entry, victim)
    else:
        victim.write_text("# the user's ~/.bashrc\n")
    before = sorted(p.name for p in victim.iterdir()) if victim.is_dir() else victim.read_text()
    if (study / entry).is_dir():
        shutil.rmtree(study / entry)
    else:
        (study / entry).unlink(missing_ok=True)
    (study / entry).symlink_to(victim)
    with pytest.raises(StudyFolderError, match=f"{entry} is a symbolic link"):
        StudyFolder.open(study)
    r = cli(["study", "run", "--resume", str(study)], tmp_path)
    assert r.returncode == 2 and f"{entry} is a symbolic link" in r.stderr, r.stderr
    after = sorted(p.name for p in victim.iterdir()) if victim.is_dir() else victim.read_text()
    assert after == before


def test_a_file_written_over_a_link_replaces_the_link(tmp_path: Path) -> None:
    """How the job script is written: a link planted at its name is replaced, not followed."""
    victim = tmp_path / "bashrc"
    victim.write_text("keep\n")
    (tmp_path / "cell-01.sbatch").symlink_to(victim)
    write_text_atomic(tmp_path / "cell-01.sbatch", "#!/bin/bash\n")
    assert victim.read_text() == "keep\n"
    assert not (tmp_path / "cell-01.sbatch").is_symlink()
    assert (tmp_path / "cell-01.sbatch").read_text() == "#!/bin/bash\n"


def test_a_campaign_copied_in_as_a_cell_is_refused_not_reported_under_its_factors(
    study: Path, tmp_path: Path
) -> None:
    # cell-02's campaign (batch 64) in cell-01's place (batch 32): its runs would be reported
    # as batch 32
    shutil.rmtree(study / "cells" / "cell-01")
    shutil.copytree(study / "cells" / "cell-02", study / "cells" / "cell-01")
    r = cli(["study", "status", str(study)], tmp_path)
    assert r.returncode == 2, r.stderr
    assert "cells/cell-01 holds campaign 'cell-02'" in r.stderr
    with pytest.raises(AnalysisInputError, match="would be reported under the wrong factors"):
        analyze_study(study)


def test_a_cell_of_another_study_is_refused(study: Path, tmp_path: Path) -> None:
    campaign_json = study / "cells" / "cell-01" / "campaign.json"
    doc = json.loads(campaign_json.read_text())
    doc["study"]["study_id"] = "20260101-000000-other"
    campaign_json.write_text(json.dumps(doc))
    r = cli(["study", "run-cell", str(study), "cell-01"], tmp_path)
    assert r.returncode == 2, r.stderr
    assert "of study '20260101-000000-other'" in r.stderr
