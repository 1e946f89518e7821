"""The campaign folder's records: one definition, checked on every read, and pinned to what
the analysis (which never imports the orchestrator) reads from the same files."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from analysis import load as analysis_load
from orchestrator.campaign import records
from orchestrator.campaign.folder import CampaignFolder
from orchestrator.campaign.idle import idle_record
from orchestrator.campaign.records import CampaignDocument, RecordError, RunRecord, StateLine
from orchestrator.campaign.state import read_state
from orchestrator.meters.base import DomainSeries, Recording
from orchestrator.meters.energy import Baseline, energy_block, with_baselines
from tests.analysis.synth import write_campaign

T0 = 1_800_000_000.0


def _campaign(cid: str = "c1") -> CampaignDocument:
    return CampaignDocument(
        campaign_id=cid,
        created_at=T0,
        frameworks=["keras", "torch"],
        iterations=1,
        seed=7,
        order=[["torch", "keras"]],
        protocol={"warmup_s": 0.0, "idle_s": 0.0, "runtime": "local", "meters": ["rapl"]},
        workload={"epochs": 1, "batch_size": 64, "threads": 1, "device": "cpu"},
        dataset={"name": "synthetic", "sha256": "ab" * 32},
        provenance={"host": {"hostname": "test"}},
        profile=None,
    )


def _run(run_id: str, framework: str, position: int, package_w: float) -> RunRecord:
    t = np.linspace(T0, T0 + 10.0, 11)
    series = {
        "cpu-package-0": DomainSeries(t, package_w * (t - T0)),
        "dram-0": DomainSeries(t, 2.0 * (t - T0)),
    }
    rec = Recording("rapl", T0, T0 + 10.0, series)
    return RunRecord(
        run_id=run_id,
        iteration=1,
        position=position,
        framework=framework,
        status="ok",
        exit_code=0,
        error=None,
        started_at=T0,
        ended_at=T0 + 10.0,
        runtime={"kind": "local"},
        meters=[{"name": "rapl", "interval_ms": 100}],
        energy=with_baselines(
            energy_block([rec], span=(T0, T0 + 10.0)).block,
            {("rapl", "cpu-package-0"): Baseline(5.0, 0.1, ("000-0-start",)),
             ("rapl", "dram-0"): Baseline(1.0, 0.1, ("000-0-start",))},
            10.0,
        ),
        phases=[{"name": "epoch_1", "start": T0, "end": T0 + 5, "duration_s": 5.0,
                 "energy_j": {"cpu-package-0": package_w * 5, "dram-0": 10.0}}],
        notes=[],
    )  # fmt: skip


def test_every_record_round_trips_through_json() -> None:
    run = _run("001-1-torch", "torch", 1, 30.0)
    for record in (_campaign(), run, run.state_line(finished_at=T0 + 11)):
        text = json.dumps(record.to_json())
        assert type(record).from_json(json.loads(text)) == record
    assert run.to_json()["schema"] == records.RUN_SCHEMA
    assert run.duration_s == pytest.approx(10.0)


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"schema": "other.run"}, "is not a fwenergy.run v1 file"),
        ({"schema_version": 2}, "is not a fwenergy.run v1 file"),
        ({"iteration": "1"}, "the field 'iteration' is str"),
        ({"iteration": True}, "the field 'iteration' is bool"),
        ({"energy": []}, "the field 'energy' is list"),
        ({"run_id": None}, "the field 'run_id' is NoneType"),
    ],
)
def test_a_damaged_run_json_is_one_clear_error(change: dict[str, object], message: str) -> None:
    data = _run("001-1-torch", "torch", 1, 30.0).to_json() | change
    with pytest.raises(RecordError, match=message):
        RunRecord.from_json(data, "runs/001-1-torch/run.json")


def test_a_missing_field_is_named() -> None:
    data = _campaign().to_json()
    del data["order"]
    with pytest.raises(RecordError, match="the field 'order' is missing"):
        CampaignDocument.from_json(data)
    with pytest.raises(RecordError, match="expected a JSON object"):
        StateLine.from_json(["001-1-torch"])


def test_a_folder_written_through_the_records_reads_the_same_in_the_analysis(
    tmp_path: Path,
) -> None:
    """The contract between the two sides of the container of files: what the orchestrator
    writes is what the analysis reads, field by field."""
    written = [_run("001-1-torch", "torch", 1, 30.0), _run("001-2-keras", "keras", 2, 20.0)]
    with CampaignFolder.assembling(tmp_path, "c1", _campaign()) as folder:
        for run in written:
            folder.run_dir(run.run_id).mkdir()
            folder.write_run(run)
            folder.append_state(run.state_line(finished_at=T0 + 11))
    # the idle gap before the runs, as the campaign writes it: the analysis recomputes net
    # energy from it (here its whole-gap mean: the gap has no power series)
    gap_t = np.linspace(T0 - 60, T0, 61)
    gap_series = {
        "cpu-package-0": DomainSeries(gap_t, 5.0 * (gap_t - gap_t[0])),
        "dram-0": DomainSeries(gap_t, gap_t - gap_t[0]),
    }
    gap = Recording("rapl", T0 - 60, T0, gap_series)
    (tmp_path / "c1" / "idle" / "000-0-start").mkdir(parents=True)
    (tmp_path / "c1" / "idle" / "000-0-start" / "idle.json").write_text(
        json.dumps(idle_record([gap], T0 - 60, T0))
    )
    loaded = analysis_load.load_campaign(tmp_path / "c1")
    assert loaded.meta == _campaign().to_json()
    assert set(read_state(tmp_path / "c1" / "state.jsonl")) == {r.run_id for r in written}
    by_id = loaded.runs.set_index("run_id")
    for run in written:
        row = by_id.loc[run.run_id]
        assert loaded.run_records[run.run_id] == run.to_json()
        assert (row.framework, row.status, row.iteration, row.position) == (
            run.framework, run.status, run.iteration, run.position)  # fmt: skip
        assert row.duration_s == pytest.approx(run.duration_s)
        gross = sum(e["gross_j"] for e in run.energy.values())
        assert row.energy_gross_j == pytest.approx(gross)
        net = sum(e["net_j"] for e in run.energy.values())
        assert row.energy_net_j == pytest.approx(net)
        assert row.energy_domains == "cpu-package-0+dram-0"


def test_the_schema_names_the_analysis_reads_are_the_records_ones() -> None:
    source = Path(analysis_load.__file__).read_text()
    for schema in (records.CAMPAIGN_SCHEMA, records.RUN_SCHEMA):
        assert f'"{schema}"' in source


def test_the_tests_synthetic_campaigns_are_valid_records(tmp_path: Path) -> None:
    """The analysis tests' generator writes the same files by hand: pinned to the records."""
    root = write_campaign(tmp_path / "synth", iterations=2, failed=["001-1-keras"])
    CampaignDocument.from_json(json.loads((root / "campaign.json").read_text()))
    runs = sorted((root / "runs").glob("*/run.json"))
    assert runs
    for path in runs:
        RunRecord.from_json(json.loads(path.read_text()), str(path))
    assert len(read_state(root / "state.jsonl")) == len(runs)
