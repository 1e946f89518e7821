"""Energy arithmetic on cumulative series: phases, baseline subtraction. Pure functions."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class Phase:
    name: str
    start_s: float
    end_s: float

    @property
    def duration_s(self) -> float:
        return self.end_s - self.start_s


def phases_from_events(events: list[dict[str, Any]]) -> list[Phase]:
    """The phases of docs/formats.md from a workload's events.jsonl records.

    A phase whose closing event is missing (a crashed run) is left out, not guessed."""
    first: dict[tuple[str, Any], float] = {}
    for e in events:
        first.setdefault((e["event"], e.get("epoch")), float(e["t"]))

    def t(name: str, epoch: int | None = None) -> float | None:
        return first.get((name, epoch))

    pairs: list[tuple[str, float | None, float | None]] = [
        ("startup", t("process_start"), t("model_built")),
        ("compile", t("epoch_start", 1), t("first_step_end", 1)),
    ]
    epochs = sorted({e["epoch"] for e in events if e["event"] == "epoch_start"})
    pairs += [(f"epoch_{k}", t("epoch_start", k), t("epoch_end", k)) for k in epochs]
    pairs.append(("eval", t("eval_start"), t("eval_end")))
    return [Phase(n, s, e) for n, s, e in pairs if s is not None and e is not None and e >= s]
