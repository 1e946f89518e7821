"""Every variant that is not a plain framework (another implementation, another pinned
version) does its default's work: the same identical-work evidence, its name recorded, and
after one epoch a loss within 0.5% of the default's.

Real runs on Debian's Fashion-MNIST, one at a time (the cores are shared), and tiny: two
batches, because `jax:scan` runs a step hundreds of times slower than `jax` on XLA:CPU
(docs/workloads.md)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from workload import IMPLEMENTATIONS

from analysis.evidence import gather
from orchestrator.runtimes.variants import VARIANTS, VERSIONED_PACKAGE, Variant
from tests.conftest import run_workload

pytestmark = [pytest.mark.frameworks, pytest.mark.slow]

OTHERS = [v for v in VARIANTS if v.name != v.framework]
ARGS = ["--epochs", "1", "--batch-size", "32", "--limit-train", "64", "--limit-test", "64",
        "--seed", "7", "--threads", "1"]  # fmt: skip


def _run(v: Variant, data: Path, out: Path) -> dict[str, Any]:
    proc = run_workload(v.name, data, out, *ARGS, *v.workload_args())
    stderr = proc.stderr.read() if proc.stderr else ""
    assert proc.returncode == 0, f"{v.name} failed:\n{stderr[-3000:]}"
    result: dict[str, Any] = json.loads((out / "result.json").read_text())
    return result


@pytest.fixture(scope="module")
def results(fashion_dataset: Path, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    base = tmp_path_factory.mktemp("variants")
    defaults = {v.framework for v in OTHERS}
    out = {f: _run(Variant(f), fashion_dataset, base / f) for f in sorted(defaults)}
    for v in OTHERS:
        out[v.name] = _run(v, fashion_dataset, base / v.name)
    return out


def test_the_registry_has_the_issues_implementations_and_a_version() -> None:
    names = {v.name for v in OTHERS}
    assert {"torch:compile", "jax:scan", "keras:xla", "keras:no-xla"} <= names
    assert any(v.version for v in OTHERS)


@pytest.mark.parametrize("v", OTHERS, ids=[v.name for v in OTHERS])
def test_each_variant_does_its_defaults_work(v: Variant, results: dict[str, Any]) -> None:
    mine, default = results[v.name], results[v.framework]
    assert mine["implementation"] == v.implementation_name
    assert default["implementation"] == IMPLEMENTATIONS[v.framework][0]
    if v.version:  # the environment of the version variant runs that version
        package = VERSIONED_PACKAGE[v.framework]
        assert mine["versions"][package].startswith(f"{v.version}.")
        assert mine["versions"][package] != default["versions"][package]
    ev = gather({v.framework: [default], v.name: [mine]})
    differ = {c.name: c.values for c in ev.checks if not c.identical}
    assert differ == {}
    assert ev.probe_max_abs_diff[(v.framework, v.name)] < 1e-4
    loss, reference = mine["epochs"][0]["mean_loss"], default["epochs"][0]["mean_loss"]
    assert abs(loss - reference) / reference < 0.005, (loss, reference)


def test_an_unknown_implementation_is_one_line_and_exit_2(fashion_dataset: Path, tmp_path: Path):
    proc = run_workload("torch", fashion_dataset, tmp_path / "out", "--implementation", "jit")
    stderr = proc.stderr.read() if proc.stderr else ""
    assert proc.returncode == 2
    assert stderr.strip().splitlines() == [
        "error: --implementation 'jit' is not one of torch's: eager, compile"
    ]
    assert not (tmp_path / "out").exists()
