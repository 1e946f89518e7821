"""state.jsonl and the idle baseline: what resume and net energy rest on."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from orchestrator.campaign.records import RecordError, StateLine
from orchestrator.campaign.state import append_state, finished_runs, read_state


def _line(run_id: str, status: str) -> StateLine:
    return StateLine(run_id, 1, 1, "torch", status, finished_at=1.0)


def test_lines_are_appended_and_the_last_record_of_a_run_wins(tmp_path: Path) -> None:
    path = tmp_path / "state.jsonl"
    append_state(path, _line("001-1-torch", "aborted"))
    append_state(path, _line("001-2-jax", "failed"))
    append_state(path, _line("001-1-torch", "ok"))
    assert len(path.read_text().splitlines()) == 3
    assert {k: v.status for k, v in read_state(path).items()} == {
        "001-1-torch": "ok",
        "001-2-jax": "failed",
    }


def test_a_torn_last_line_counts_as_not_done(tmp_path: Path) -> None:
    path = tmp_path / "state.jsonl"
    append_state(path, _line("001-1-torch", "ok"))
    with path.open("a") as f:
        f.write('{"run_id": "001-2-jax", "sta')  # what a crash mid-write could leave
    assert set(read_state(path)) == {"001-1-torch"}


@pytest.mark.parametrize(("status", "done"), [("ok", True), ("failed", True), ("timeout", True),
                                              ("oom", True), ("aborted", False)])  # fmt: skip
def test_resume_redoes_only_aborted_runs(tmp_path: Path, status: str, done: bool) -> None:
    path = tmp_path / "state.jsonl"
    append_state(path, _line("x", status))
    assert ("x" in finished_runs(path)) is done


def test_each_line_is_one_json_object(tmp_path: Path) -> None:
    path = tmp_path / "state.jsonl"
    append_state(path, _line("a\nb", "ok"))
    (line,) = path.read_text().splitlines()
    assert json.loads(line)["run_id"] == "a\nb"


def test_a_line_of_the_wrong_shape_is_an_error_not_skipped(tmp_path: Path) -> None:
    path = tmp_path / "state.jsonl"
    path.write_text('{"run_id": "001-1-torch", "status": 3}\n')
    with pytest.raises(RecordError, match="line 1"):
        read_state(path)


def test_events_are_streamed_and_bounded_and_the_display_reads_only_the_tail(
    tmp_path: Path,
) -> None:
    """A workload writing millions of events (a 2 GB events.jsonl) held them all in memory,
    re-read every second for the display (issue 24, minor)."""
    from orchestrator.campaign.protocol import MAX_EVENTS, last_event, read_events

    path = tmp_path / "events.jsonl"
    with path.open("w") as f:
        for n in range(MAX_EVENTS + 5):
            f.write(f'{{"event": "step", "n": {n}, "t": {n}}}\n')
        f.write('{"event": "epoch_end", "t": 1}\n{"event": "torn')
    events = read_events(path)
    assert len(events) == MAX_EVENTS and events[-1]["n"] == MAX_EVENTS - 1
    assert last_event(path) == {"event": "epoch_end", "t": 1}
    assert read_events(tmp_path / "none.jsonl") == [] and last_event(tmp_path / "none") is None
