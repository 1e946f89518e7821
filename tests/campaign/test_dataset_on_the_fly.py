"""`--dataset NAME --source DIR`: prepared on the fly into the cache, reused next time."""

from __future__ import annotations

from pathlib import Path

from tests.campaign.conftest import failing_venvs
from tests.campaign.helpers import cli, load, only_campaign
from tests.conftest import FASHION_MNIST, require


def test_dataset_is_prepared_once_and_reused(tmp_path: Path) -> None:
    require(FASHION_MNIST.is_dir(), "apt-get install dataset-fashion-mnist")
    venvs = failing_venvs(tmp_path / "venvs")  # the workload is not the point here
    args = ["campaign", "--dataset", "fashion-mnist", "--source", str(FASHION_MNIST),
            "--runtime", "local", "--meter", "none", "--frameworks", "torch",
            "--iterations", "1", "--warmup", "0", "--idle", "0"]  # fmt: skip
    first = cli([*args, "--results", str(tmp_path / "a")], tmp_path, venvs=venvs)
    assert first.returncode == 1, first.stderr  # its run failed, on purpose
    dataset = load(only_campaign(tmp_path / "a") / "campaign.json")["dataset"]
    assert dataset["name"] == "fashion-mnist"
    assert (dataset["train_count"], dataset["test_count"]) == (60000, 10000)
    prepared = Path(dataset["path"])
    assert prepared.is_relative_to(tmp_path / "cache")  # FWENERGY_CACHE
    stamp = (prepared / "dataset.npz").stat().st_mtime_ns

    second = cli([*args, "--results", str(tmp_path / "b")], tmp_path, venvs=venvs)
    assert second.returncode == 1, second.stderr
    again = load(only_campaign(tmp_path / "b") / "campaign.json")["dataset"]
    assert again == dataset
    assert (prepared / "dataset.npz").stat().st_mtime_ns == stamp  # reused, not rewritten
