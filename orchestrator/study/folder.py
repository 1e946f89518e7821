"""The study folder on disk (docs/formats.md):

    <study-id>/study.json        the file as written and as resolved, the cells, their order
    <study-id>/cells/<cell-id>/  one campaign folder per cell (docs/campaign.md)
    <study-id>/locks/            one lock per orchestrator: the study's and each cell's
    <study-id>/report/           written by `orchestrator analyze`

study.json keeps the study file's text; opening the folder parses that text again with the
same checks and insists that the cells come out as recorded, so nothing read from the folder
is used as a name, a path or a setting before it has passed the checks a new study passes.
"""

from __future__ import annotations

import fcntl
import hashlib
import json
import os
import shutil
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from orchestrator.campaign.folder import CampaignFolder, hold_lock, write_json_atomic
from orchestrator.campaign.records import CampaignDocument
from orchestrator.campaign.state import finished_runs
from orchestrator.campaign.stopping import stopped
from orchestrator.errors import UserError
from orchestrator.machine import provenance
from orchestrator.study.spec import Study, model_and_task, parse_text

STUDY_SCHEMA = "fwenergy.study"
SCHEMA_VERSION = 1


class StudyFolderError(UserError):
    """A study folder that is missing, damaged, or in use by another orchestrator."""


# What the orchestrator reads, writes, locks or deletes in a study folder. Study folders
# live on shared filesystems and travel as tarballs, which keep links: none of these may be
# one, or a resume would write through it (a planted slurm/cell-01.sbatch -> ~/.bashrc) or
# adopt another campaign as a cell.
OWN_ENTRIES = ("study.json", "cells", "locks", "slurm", "report")
OWN_FOLDERS = ("cells", "locks", "slurm")


def _refuse(root: Path, what: str) -> StudyFolderError:
    return StudyFolderError(
        f"{root} is not a study folder this orchestrator will act on: {what}; was it edited "
        "by hand or unpacked from an untrusted archive? Restore the original or start a new "
        "study"
    )


def check_study_layout(root: Path) -> None:
    """No link among the study's own entries, nor in its cells/, locks/ and slurm/."""
    for name in OWN_ENTRIES:
        if (root / name).is_symlink():
            raise _refuse(root, f"{name} is a symbolic link")
    for sub in OWN_FOLDERS:
        folder = root / sub
        if folder.exists() and not folder.is_dir():
            raise _refuse(root, f"{sub} is not a folder")
        for entry in folder.iterdir() if folder.is_dir() else ():
            if entry.is_symlink():
                raise _refuse(root, f"{sub}/{entry.name} is a symbolic link")


def _plain(value: Any) -> Any:
    return json.loads(json.dumps(value))


def check_cell_identity(root: Path, study_id: Any, cell_id: str, factors: Any,
                        campaign: CampaignDocument) -> None:  # fmt: skip
    """The campaign in cells/<cell> is this study's cell: its recorded study id, cell id and
    factors are study.json's, not those of a campaign copied or moved in."""
    recorded = campaign.study if isinstance(campaign.study, dict) else {}
    found = (campaign.campaign_id, recorded.get("study_id"), recorded.get("cell_id"),
             _plain(recorded.get("factors")))  # fmt: skip
    if found != (cell_id, study_id, cell_id, _plain(factors)):
        raise _refuse(
            root,
            f"cells/{cell_id} holds campaign {campaign.campaign_id!r} of study "
            f"{recorded.get('study_id')!r} (cell {recorded.get('cell_id')!r}), not this "
            f"study's {cell_id} with its factors; remove cells/{cell_id} to measure the cell "
            "afresh",
        )


def study_document(
    study: Study, study_id: str, text: str, path: Path, executor: str
) -> dict[str, Any]:
    commit, dirty = provenance.project_commit()
    return {
        "schema": STUDY_SCHEMA,
        "schema_version": SCHEMA_VERSION,
        "study_id": study_id,
        "name": study.name,
        "description": study.description,
        "created_at": time.time(),
        "seed": study.seed,
        "file": {
            "path": str(path.resolve()),
            "base_dir": str(path.parent.resolve()),
            "sha256": hashlib.sha256(text.encode()).hexdigest(),
            "text": text,
        },
        "defaults": study.defaults,
        "matrix": study.matrix,
        "factors": list(study.matrix),
        "cells": [
            {
                "cell_id": c.cell_id,
                "folder": f"cells/{c.cell_id}",
                "factors": c.factors,
                "values": c.values,
                "model": model_and_task(c)[0],
                "task": model_and_task(c)[1],
            }
            for c in study.cells
        ],
        "order": study.order(),
        "executor": executor,
        "provenance": {
            "host": provenance.host(),
            "project_commit": commit,
            "project_dirty": dirty,
        },
    }


@contextmanager
def _held(path: Path, what: str) -> Iterator[None]:
    """The campaign folder's lock (flock, dropped by the kernel when its holder dies) on
    `path` for the block: one orchestrator per study and per cell."""
    fd = hold_lock(path, what)
    try:
        yield
    finally:
        os.close(fd)


def _is_held(path: Path) -> bool:
    if not path.exists():
        return False
    fd = os.open(path, os.O_RDONLY | os.O_CLOEXEC | os.O_NOFOLLOW)
    try:
        fcntl.flock(fd, fcntl.LOCK_SH | fcntl.LOCK_NB)
    except BlockingIOError:
        return True
    finally:
        os.close(fd)
    return False


@dataclass(frozen=True)
class CellProgress:
    cell_id: str
    state: str  # pending (no folder yet), running, partial, done
    planned_runs: int
    done_runs: int
    failed_runs: int
    stopped_after: int | None  # with --until-precision: the iteration it stopped after
    stop_reason: str | None


class StudyFolder:
    def __init__(self, root: Path) -> None:
        self.root = root
        self.doc: dict[str, Any] | None = None  # study.json, once `open` has checked it
        self.study: Study | None = None

    @property
    def study_json(self) -> Path:
        return self.root / "study.json"

    @property
    def cells_dir(self) -> Path:
        return self.root / "cells"

    def cell_dir(self, cell_id: str) -> Path:
        return self.cells_dir / cell_id

    @classmethod
    def create(cls, results: Path, study_id: str, document: dict[str, Any]) -> StudyFolder:
        """The folder with its study.json, assembled beside its name and renamed into place:
        no half-made study is ever visible."""
        if results.exists() and not results.is_dir():
            raise StudyFolderError(f"--results {results} is a file; give a folder for studies")
        results.mkdir(parents=True, exist_ok=True)
        tmp = Path(tempfile.mkdtemp(prefix=f".{study_id}.", dir=results))
        try:
            (tmp / "cells").mkdir()
            (tmp / "locks").mkdir()
            write_json_atomic(tmp / "study.json", document)
            tmp.chmod(0o755)
            tmp.rename(results / study_id)
        except BaseException:
            shutil.rmtree(tmp, ignore_errors=True)
            raise
        return cls(results / study_id)

    @classmethod
    def open(cls, root: Path) -> tuple[StudyFolder, Study, dict[str, Any]]:
        """The folder, its study (parsed again from the recorded file) and study.json."""
        folder = cls(root)
        check_study_layout(root)  # before reading: study.json itself may be a link
        try:
            doc = json.loads(folder.study_json.read_text(encoding="utf-8"))
        except FileNotFoundError:
            raise StudyFolderError(
                f"{root} has no study.json; give a folder made by `orchestrator study run`"
            ) from None
        except (OSError, ValueError) as exc:
            raise StudyFolderError(f"cannot read {folder.study_json}: {exc}") from None
        if not isinstance(doc, dict) or (doc.get("schema"), doc.get("schema_version")) != (
            STUDY_SCHEMA, SCHEMA_VERSION
        ):  # fmt: skip
            raise StudyFolderError(
                f"{folder.study_json} is not a {STUDY_SCHEMA} v{SCHEMA_VERSION} file; was it "
                "written by another version of fwenergy?"
            )
        damaged = StudyFolderError(f"{folder.study_json} is damaged: its cells do not match "
                                   "its study file; start a new study")  # fmt: skip
        file = doc.get("file")
        if not isinstance(file, dict) or not isinstance(file.get("text"), str):
            raise damaged
        study = parse_text(file["text"], str(folder.study_json), Path(str(file.get("base_dir"))))
        recorded = [(c.get("cell_id"), c.get("factors")) for c in doc.get("cells") or []
                    if isinstance(c, dict)]  # fmt: skip
        expected = [(c.cell_id, json.loads(json.dumps(c.factors))) for c in study.cells]
        order = doc.get("order")
        if recorded != expected or not isinstance(order, list) or sorted(map(str, order)) != sorted(
            c.cell_id for c in study.cells
        ):  # fmt: skip
            raise damaged
        folder.doc, folder.study = doc, study
        return folder, study, doc

    @contextmanager
    def study_lock(self) -> Iterator[None]:
        with _held(self.root / "locks" / "study.lock", f"the study {self.root}"):
            yield

    @contextmanager
    def cell_lock(self, cell_id: str) -> Iterator[None]:
        with _held(self.root / "locks" / f"{cell_id}.lock", f"cell {cell_id} of {self.root}"):
            yield

    def progress(self, cell_id: str) -> CellProgress:
        """How far a cell is, from its campaign folder (campaign.json and state.jsonl)."""
        root = self.cell_dir(cell_id)
        running = _is_held(self.root / "locks" / f"{cell_id}.lock")
        if not (root / "campaign.json").exists():
            state = "running" if running else "pending"
            return CellProgress(cell_id, state, 0, 0, 0, None, None)
        if root.is_symlink():
            raise _refuse(self.root, f"cells/{cell_id} is a symbolic link")
        folder, doc = CampaignFolder.open(root)
        if self.doc is not None and self.study is not None:
            factors = self.study.cell(cell_id).factors
            check_cell_identity(self.root, self.doc["study_id"], cell_id, factors, doc)
        done = finished_runs(folder.state_jsonl)
        planned = sum(len(row) for row in doc.order)
        block = doc.stopping or {}
        finished = stopped(doc.stopping) or (not doc.stopping and len(done) >= planned)
        state = "running" if running else ("done" if finished else "partial")
        return CellProgress(
            cell_id, state, planned, len(done), sum(1 for s in done.values() if s.status != "ok"),
            block.get("stopped_after_iteration"), block.get("reason"),
        )  # fmt: skip
