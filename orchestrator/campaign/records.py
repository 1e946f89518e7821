"""The campaign folder's records, defined once: campaign.json (the plan), run.json (what one
run measured) and its state.jsonl line (what resume reads). Every producer (the campaign
protocol, the EnergiBridge importer) writes through these, and every reader of the
orchestrator parses through `from_json`, which checks the schema, the version and the type
of every field: a damaged or foreign file is one clear error, never a KeyError later.

docs/formats.md specifies the fields; analysis/ reads the same files as plain JSON (it never
imports the orchestrator), and tests/campaign/test_records.py pins the two together.
"""

from __future__ import annotations

import types
import typing
from dataclasses import MISSING, dataclass, field, fields
from typing import Any, ClassVar, Self, TypeVar

from orchestrator.errors import UserError

SCHEMA_VERSION = 1
CAMPAIGN_SCHEMA = "fwenergy.campaign"
RUN_SCHEMA = "fwenergy.run"
IDLE_SCHEMA = "fwenergy.idle"
T = TypeVar("T")


class RecordError(UserError):
    """A campaign file that is damaged, of another schema, or of another version."""


def _type_ok(value: Any, hint: Any) -> bool:
    """isinstance against a dataclass field's annotation (unions, containers, Any)."""
    if hint is Any:
        return True
    origin = typing.get_origin(hint)
    if origin in (typing.Union, types.UnionType):
        return any(_type_ok(value, arm) for arm in typing.get_args(hint))
    if hint is type(None):
        return value is None
    if origin is not None:
        return isinstance(value, origin)
    if hint is float:  # JSON does not tell 3 from 3.0
        return isinstance(value, int | float) and not isinstance(value, bool)
    if hint is int:
        return isinstance(value, int) and not isinstance(value, bool)
    return isinstance(value, hint)


def _from_json(cls: Any, data: Any, schema: str | None, where: str) -> Any:
    if not isinstance(data, dict):
        raise RecordError(f"{where}: expected a JSON object, found {type(data).__name__}")
    if schema is not None and (
        data.get("schema") != schema or data.get("schema_version") != SCHEMA_VERSION
    ):
        raise RecordError(
            f"{where} is not a {schema} v{SCHEMA_VERSION} file (it says "
            f"{data.get('schema')!r} v{data.get('schema_version')!r}); was it written by "
            "another version of fwenergy?"
        )
    hints = typing.get_type_hints(cls)
    values: dict[str, Any] = {}
    for f in fields(cls):
        if f.name not in data:
            if f.default is MISSING and f.default_factory is MISSING:
                raise RecordError(f"{where}: the field {f.name!r} is missing; the file is damaged")
            continue
        if not _type_ok(data[f.name], hints[f.name]):
            value = data[f.name]
            raise RecordError(
                f"{where}: the field {f.name!r} is {type(value).__name__} "
                f"({str(value)[:40]!r}), not {_type_name(hints[f.name])}; the file is damaged"
            )
        values[f.name] = data[f.name]
    return cls(**values)


def typed(cls: type[T], data: Any, where: str) -> T:
    """A dataclass of `cls` from a JSON object without a schema header (a nested block such
    as campaign.json's workload), every field checked for presence and type."""
    record: T = _from_json(cls, data, None, where)
    return record


def _type_name(hint: Any) -> str:
    return str(hint).replace("typing.", "").replace("NoneType", "null")


class _Record:
    """to_json/from_json for a dataclass record: the schema header (when the file has one),
    every field in order, and optional fields left out when they are None."""

    SCHEMA: ClassVar[str | None] = None
    OMITTED_WHEN_NONE: ClassVar[tuple[str, ...]] = ()

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {}
        if self.SCHEMA is not None:
            out = {"schema": self.SCHEMA, "schema_version": SCHEMA_VERSION}
        for f in fields(self):  # type: ignore[arg-type]
            value = getattr(self, f.name)
            if value is not None or f.name not in self.OMITTED_WHEN_NONE:
                out[f.name] = value
        return out

    @classmethod
    def from_json(cls, data: Any, where: str | None = None) -> Self:
        record: Self = _from_json(cls, data, cls.SCHEMA, where or cls.__name__)
        return record


@dataclass(frozen=True)
class StateLine(_Record):
    """One line of state.jsonl: a finished run, as resume needs it."""

    run_id: str
    iteration: int
    position: int | None
    framework: str
    status: str
    finished_at: float
    exit_code: int | None = None


@dataclass(frozen=True)
class RunRecord(_Record):
    """run.json: what one run did and what the meters measured around it. The nested blocks
    (runtime, meters, energy, phases) are specified field by field in docs/formats.md."""

    SCHEMA = RUN_SCHEMA
    OMITTED_WHEN_NONE = ("imported", "variant", "model", "task", "cross_checks")

    run_id: str
    iteration: int
    position: int | None  # None for imported runs: the planned position is unknown
    framework: str
    status: str
    exit_code: int | None
    error: str | None
    started_at: float | None
    ended_at: float | None
    runtime: dict[str, Any]
    meters: list[dict[str, Any]]
    energy: dict[str, dict[str, Any]]
    phases: list[dict[str, Any]]
    notes: list[str]
    duration_s: float | None = None  # derived: ended_at - started_at
    imported: dict[str, Any] | None = None  # only in imported campaigns
    # `framework` is the variant's name (torch:compile); this is its parts (Variant.record)
    variant: dict[str, Any] | None = None
    # The workload's model and task (campaign.json's workload); absent in imported campaigns
    # and in runs recorded before they existed (read as mnist-cnn, train).
    model: str | None = None
    task: str | None = None
    # Two readings of one scope in the run's span, and their agreement (meters/crosscheck.py);
    # absent where the meters gave none, and in runs recorded before it existed.
    cross_checks: list[dict[str, Any]] | None = None

    def __post_init__(self) -> None:
        if self.started_at is not None and self.ended_at is not None:
            object.__setattr__(self, "duration_s", self.ended_at - self.started_at)

    def state_line(self, finished_at: float) -> StateLine:
        """The run's line in state.jsonl: its own fields, and when it was recorded."""
        shared = {f.name: getattr(self, f.name) for f in fields(StateLine) if hasattr(self, f.name)}
        return StateLine(**shared | {"finished_at": finished_at})


@dataclass(frozen=True)
class CampaignDocument(_Record):
    """campaign.json: the plan, written before the first run, and the machine it ran on."""

    SCHEMA = CAMPAIGN_SCHEMA
    OMITTED_WHEN_NONE = ("imported", "stopping", "study", "instance")

    campaign_id: str
    created_at: float
    frameworks: list[str]
    iterations: int
    seed: int | None
    order: list[list[str]]
    protocol: dict[str, Any]
    workload: dict[str, Any] | None  # None for imported campaigns: not known
    dataset: dict[str, Any] | None
    provenance: dict[str, Any] = field(default_factory=dict)
    profile: str | None = None
    imported: dict[str, Any] | None = None
    # With --until-precision: the rule, and once the campaign ended, where and why it stopped.
    stopping: dict[str, Any] | None = None
    # A study's cell: the study and the cell's factors (orchestrator/study).
    study: dict[str, Any] | None = None
    # A random part drawn when the campaign began (campaigns from before it have none):
    # with it, the campaign's name on the container engine is unique on the host.
    instance: str | None = None

    def container_key(self) -> str:
        """The campaign's name on the host's container engine (the campaign label of its
        containers): its id, within its study for a cell, and its random part. Ids alone
        repeat: two campaigns started in the same second share one, every study has a
        `cell-01`. A copied folder keeps the key, so the key alone never licenses removing
        a container: its owner process must be gone too (campaign/alone.py)."""
        parts = [self.campaign_id, self.instance]
        if self.study is not None:
            parts.insert(0, str(self.study.get("study_id")))
        return "/".join(p for p in parts if p)
