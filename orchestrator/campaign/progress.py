"""The live display on stderr: overall progress and ETA, what runs now, the last run's time
and energy. When stderr is not a terminal (nohup, CI, a Slurm job) it prints plain lines
instead: one per phase change and one per finished run, each with the time of day."""

from __future__ import annotations

import time
from typing import Any

from rich.console import Console, Group
from rich.live import Live
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn
from rich.text import Text

from orchestrator.campaign.records import RunRecord


def _fmt_s(seconds: float) -> str:
    seconds = max(0, int(seconds))
    h, rem = divmod(seconds, 3600)
    m, s = divmod(rem, 60)
    return f"{h}:{m:02d}:{s:02d}" if h else f"{m}:{s:02d}"


class CampaignProgress:
    def __init__(self, console: Console, total_runs: int, done_runs: int, idle_s: float) -> None:
        self.console = console
        self.live_enabled = console.is_terminal
        self.total = total_runs
        self.done = done_runs
        self.idle_s = idle_s
        self.run_durations_s: list[float] = []
        self.current = "starting"
        self.detail = ""
        self.last = ""
        self._bar = Progress(
            TextColumn("[bold]campaign"), BarColumn(), MofNCompleteColumn(),
            TextColumn("ETA {task.fields[eta]}"), console=console,
        )  # fmt: skip
        self._task = self._bar.add_task("runs", total=total_runs, completed=done_runs, eta="?")
        self._live: Live | None = None
        self._run_started: float | None = None

    def __enter__(self) -> CampaignProgress:
        if self.live_enabled:
            # Live renders `self` (see __rich__) at every refresh, so the ETA keeps ticking.
            self._live = Live(self, console=self.console, refresh_per_second=2)
            self._live.__enter__()
        return self

    def __exit__(self, *exc: Any) -> None:
        if self._live is not None:
            self._live.__exit__(*exc)
            self._live = None

    def note(self, message: str) -> None:
        """A line that is printed whether or not stderr is a terminal."""
        self.console.print(message, highlight=False, soft_wrap=True, markup=False)

    def _eta_s(self) -> float | None:
        if not self.run_durations_s:
            return None
        per_run = sum(self.run_durations_s) / len(self.run_durations_s) + self.idle_s
        elapsed = 0.0 if self._run_started is None else time.monotonic() - self._run_started
        return max(0.0, per_run * (self.total - self.done) - min(elapsed, per_run))

    def _render(self) -> Group:
        eta = self._eta_s()
        self._bar.update(self._task, completed=self.done, eta="?" if eta is None else _fmt_s(eta))
        lines = [self._bar.get_renderable(), Text(f"now: {self.current} {self.detail}".rstrip())]
        if self.last:
            lines.append(Text(f"last: {self.last}"))
        return Group(*lines)

    def __rich__(self) -> Group:
        return self._render()

    def _refresh(self) -> None:
        if self._live is not None:
            self._live.refresh()

    def _log(self, message: str) -> None:
        """A plain line for a log file; only when there is no live display."""
        if not self.live_enabled:
            stamp = time.strftime("%H:%M:%S")
            self.console.print(f"{stamp} {message}", highlight=False, soft_wrap=True, markup=False)

    def set(self, current: str, detail: str = "") -> None:
        if (current, detail) != (self.current, self.detail):
            self._log(f"{current} {detail}".rstrip())
        self.current, self.detail = current, detail
        self._refresh()

    def set_detail(self, detail: str) -> None:
        if detail != self.detail:
            self.detail = detail
            self._refresh()

    def run_started(self) -> None:
        self._run_started = time.monotonic()
        self.set_detail("(running)")

    def run_finished(self, run: RunRecord) -> None:
        self._run_started = None
        self.done += 1
        duration = run.duration_s or 0.0
        self.run_durations_s.append(duration)
        parts = [f"{d} {e['gross_j']:.0f} J" for d, e in run.energy.items() if "gross_j" in e]
        self.last = f"{run.run_id} {run.status} in {duration:.1f} s" + (
            f", {', '.join(parts)}" if parts else ", no energy measured"
        )
        self._log(f"run {self.done}/{self.total} done: {self.last}")
        self._refresh()
