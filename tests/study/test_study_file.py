"""Bad study files: one line naming the key and what is allowed, exit 2, nothing created."""

from __future__ import annotations

from pathlib import Path

import pytest

from orchestrator.runtimes.variants import REGISTRY
from orchestrator.study.spec import StudyFileError, parse_text
from tests.campaign.helpers import cli

HEAD = 'name = "sweep"\niterations = 2\n'
GOOD_MATRIX = "[matrix]\nbatch_size = [32, 64]\n"

BAD: list[tuple[str, str]] = [
    (HEAD + "batchsize = 3\n" + GOOD_MATRIX,
     "batchsize: unknown key; allowed: name, description, iterations,"),
    (HEAD + "[workload]\nepoch = 3\n" + GOOD_MATRIX,
     "[workload] epoch: unknown key; allowed: model, task, data, dataset, source, epochs"),
    (HEAD + "[protocol]\nepochs = 3\n" + GOOD_MATRIX,
     "[protocol] epochs: unknown key here (it belongs in [workload]); allowed: warmup_s, idle_s"),
    (HEAD + '[matrix]\nmodel = ["resnet"]\n',
     "[matrix] model: unknown model 'resnet'; choose from mnist-cnn"),
    (HEAD + '[matrix]\ntask = ["predict"]\n',
     "[matrix] task: unknown task 'predict'; choose from train, infer"),
    (HEAD + '[workload]\ndataset = "imagenet"\n' + GOOD_MATRIX,
     "[workload] dataset: unknown dataset 'imagenet'; choose from mnist, fashion-mnist, "
     "synthetic, cifar10, synthetic-cifar10, ag-news, synthetic-text"),
    (HEAD + '[matrix]\nframeworks = [["torch", "tensorflow"]]\n',
     "[matrix] frameworks: unknown or repeated framework in ['torch', 'tensorflow']; choose "
     f"from {', '.join(REGISTRY)}, each once"),
    (HEAD + "[matrix]\n", "[matrix]: missing or empty; give at least one factor"),
    (HEAD, "[matrix]: missing or empty"),
    (HEAD + "[matrix]\nbatch_size = []\n",
     "[matrix] batch_size: expected a non-empty list of values, found a list ('[]')"),
    (HEAD + '[matrix]\nbatch_size = ["64"]\n',
     "[matrix] batch_size: expected an integer, found a string ('64')"),
    (HEAD + "[matrix]\nbatch_size = 64\n",
     "[matrix] batch_size: expected a non-empty list of values, found an integer"),
    ('name = "sweep"\niterations = 2.5\n' + GOOD_MATRIX,
     "iterations: expected an integer, found a number ('2.5')"),
    (HEAD + "[workload]\nepochs = true\n" + GOOD_MATRIX,
     "[workload] epochs: expected an integer, found a boolean ('True')"),
    (HEAD + "[protocol]\nidle_s = \"60\"\n" + GOOD_MATRIX,
     "[protocol] idle_s: expected a number, found a string ('60')"),
    (HEAD + '[protocol]\nmeter = "watts"\n' + GOOD_MATRIX,
     "[protocol] meter: unknown meter watts; choose from auto, none,"),
    (HEAD + '[protocol]\nruntime = "podman"\n' + GOOD_MATRIX,
     "[protocol] runtime: unknown runtime 'podman'; choose from auto, docker, local, apptainer"),
    (HEAD + "[matrix]\nbatch_size = [0, 64]\n",
     "[matrix] batch_size: must be from 1 to 65536, not 0"),
    (HEAD + "[matrix]\nbatch_size = [64, 64]\n", "[matrix] batch_size: a value is listed twice"),
    (HEAD + "[workload]\nbatch_size = 32\n" + GOOD_MATRIX,
     "[matrix] batch_size: batch_size is also set outside [matrix]; set it in one place"),
    ("iterations = 2\n" + GOOD_MATRIX, "name: missing; give the study a name"),
    ('name = "Sweep 1"\n' + GOOD_MATRIX, "name: 'Sweep 1' is not a name of lower-case letters"),
    ("name = \n", "not valid TOML"),
    (HEAD + "protocol = 3\n" + GOOD_MATRIX, "protocol: expected a table [protocol]"),
    (HEAD + "until_precision = 0.02\n" + GOOD_MATRIX,
     "cell cell-1 (batch_size=32): --min-iterations 6 is more than --iterations 2"),
    # issue 24, minor items
    (HEAD + '[matrix]\nframeworks = [["torch", "jax"], ["jax", "torch"]]\n',
     "[matrix]: cells cell-01 (frameworks=['torch', 'jax']) and cell-02 (frameworks=['jax', "
     "'torch']) would run the same campaign"),
    (HEAD + "x = " + "[" * 5000 + "]" * 5000 + "\n" + GOOD_MATRIX,
     "arrays or tables nested too deeply to read"),
    ("\ufeff" + HEAD + GOOD_MATRIX, "starts with a byte-order mark (BOM)"),
    (HEAD + "[protocol]\nidle_s = nan\n" + GOOD_MATRIX,
     "[protocol] idle_s: expected a finite number, not nan"),
    (HEAD + "seed = 3000000000\n" + GOOD_MATRIX,
     "seed: must be from 0 to 2147483647, not 3000000000"),
    (HEAD + '[protocol]\ncpuset = "1-0"\n' + GOOD_MATRIX,
     "cell cell-1 (batch_size=32): --cpuset '1-0': the range 1-0 is empty; write it low-high"),
    (HEAD + f"[matrix]\nbatch_size = {list(range(1, 102))}\nepochs = {list(range(1, 101))}\n",
     "[matrix]: 10,100 cells, more than 10,000; split the study"),
]  # fmt: skip


@pytest.mark.parametrize(("text", "message"), BAD)
def test_a_bad_study_file_is_one_line_naming_the_key(
    tmp_path: Path, text: str, message: str
) -> None:
    message = message.replace("cell-1 ", "cell-01 ")
    with pytest.raises(StudyFileError) as err:
        parse_text(text, "study.toml", tmp_path)
    assert f"study.toml: {message}" in str(err.value) or (
        message == "not valid TOML" and message in str(err.value)
    ), str(err.value)
    assert "\n" not in str(err.value)


@pytest.mark.parametrize(
    "case", [0, 3, 6, 7, 10], ids=["unknown-key", "model", "variant", "empty", "type"]
)
def test_the_cli_refuses_a_bad_study_file_before_creating_anything(
    tmp_path: Path, case: int
) -> None:
    text, message = BAD[case]
    study = tmp_path / "study.toml"
    study.write_text(text)
    results = tmp_path / "results"
    r = cli(["study", "run", str(study), "--results", str(results)], tmp_path)
    assert r.returncode == 2, r.stderr
    lines = r.stderr.strip().splitlines()
    assert len(lines) == 1 and message in lines[0] and str(study) in lines[0], r.stderr
    assert not results.exists()


def test_a_missing_study_file_and_a_missing_dataset_are_refused(tmp_path: Path) -> None:
    results = tmp_path / "results"
    r = cli(["study", "run", str(tmp_path / "nope.toml"), "--results", str(results)], tmp_path)
    assert r.returncode == 2 and "no such study file" in r.stderr
    study = tmp_path / "study.toml"
    study.write_text(HEAD + '[workload]\ndata = "missing"\n[protocol]\nmeter = "none"\n'
                     'runtime = "local"\n' + GOOD_MATRIX)  # fmt: skip
    r = cli(["study", "run", str(study), "--results", str(results)], tmp_path)
    assert r.returncode == 2 and str(tmp_path / "missing") in r.stderr, r.stderr
    assert not results.exists()


def test_a_study_file_becomes_cells_in_a_seeded_order(tmp_path: Path) -> None:
    text = (
        'name = "grid"\niterations = 3\nseed = 7\n[protocol]\nruntime = "local"\n'
        '[workload]\ndata = "prepared"\nepochs = 1\n'
        '[matrix]\nbatch_size = [32, 64, 128]\nframeworks = [["torch", "jax"], "keras,torch"]\n'
    )
    study = parse_text(text, "grid.toml", tmp_path)
    assert [c.cell_id for c in study.cells] == [f"cell-0{n}" for n in range(1, 7)]
    assert study.cells[0].factors == {"batch_size": 32, "frameworks": ["torch", "jax"]}
    assert study.cells[5].factors == {"batch_size": 128, "frameworks": ["keras", "torch"]}
    assert study.cells[0].values["data"] == str(tmp_path / "prepared")  # relative to the file
    assert study.order() == parse_text(text, "grid.toml", tmp_path).order()  # seeded
    assert sorted(study.order()) == [c.cell_id for c in study.cells]
    orders = {tuple(parse_text(text.replace("seed = 7", f"seed = {s}"), "g", tmp_path).order())
              for s in range(5)}  # fmt: skip
    assert len(orders) > 1  # shuffled, not the file's order for every seed


def test_every_study_key_is_documented() -> None:
    from orchestrator.study.spec import KEYS
    from tests.conftest import REPO

    table = (REPO / "docs" / "studies.md").read_text()
    missing = [k for k in KEYS if f"`{k}`" not in table]
    assert not missing, f"add {missing} to the key table of docs/studies.md"
