"""The live view of a batch on the terminal: progress on stderr, the summary on stdout.

Overall X/N, the current file and an ETA while :func:`cli.run.run_batch` runs; one line per
file as it finishes (done, FAILED, UNCONFIRMED, STALLED, busy, skipped); a table at the end.
"""

from __future__ import annotations

import time
from typing import TYPE_CHECKING

from retouchdesk.cli.common import escape, rel
from retouchdesk.core.jobs import EventKind, JobEvent, JobRecord, JobState

if TYPE_CHECKING:
    from retouchdesk.cli.run import Item
    from retouchdesk.services.engine import JobEngine


class BatchView:
    """Live progress (overall X/N, current file, ETA) on stderr and the summary on stdout."""

    def __init__(self, items: list[Item], *, quiet: bool) -> None:
        from rich.console import Console
        from rich.progress import (
            BarColumn,
            MofNCompleteColumn,
            Progress,
            TextColumn,
            TimeElapsedColumn,
            TimeRemainingColumn,
        )

        self.items = items
        self.err = Console(stderr=True, highlight=False)
        self.out = Console(highlight=False, soft_wrap=True)
        self.progress = Progress(
            TextColumn("{task.description}", markup=False),
            BarColumn(),
            MofNCompleteColumn(),
            TextColumn("elapsed"),
            TimeElapsedColumn(),
            TextColumn("ETA"),
            TimeRemainingColumn(),
            console=self.err,
            disable=quiet,
            transient=False,
        )
        self.task = self.progress.add_task("starting", total=len(items))
        self._fractions: dict[str, float] = {}
        self._finished = 0
        self.start_time = time.monotonic()

    def __enter__(self) -> BatchView:
        self.progress.start()
        done = sum(1 for i in self.items if i.status in ("skipped", "missing"))
        self._finished = done
        for item in self.items:
            if item.status == "skipped":
                self._line(f"skipped {item.path.name}: {item.detail}")
            elif item.status == "missing":
                self._line(f"FAILED  {item.detail}")
        self.progress.update(self.task, completed=done)
        return self

    def __exit__(self, *exc: object) -> None:
        self.progress.update(self.task, description="finished")
        self.progress.stop()

    def note(self, text: str) -> None:
        self.progress.console.print(text, markup=False)

    def finished_elsewhere(self, item: Item) -> None:
        self._finished += 1
        self._line(f"busy    {item.detail}")
        self.progress.update(self.task, completed=self._completed())

    def resumed(self, item: Item, *, resend: bool = False) -> None:
        if resend:
            self._line(f"sending {item.path.name} again (its earlier submission is unconfirmed)")
        else:
            self._line(f"resuming {item.path.name} (interrupted earlier)")

    def refresh_totals(self, engine: JobEngine, by_job: dict[str, Item]) -> None:
        self.progress.update(self.task, completed=self._completed())

    def _line(self, text: str) -> None:
        self.progress.console.print(text, markup=False, highlight=False)

    def _completed(self) -> float:
        return self._finished + sum(self._fractions.values())

    def on_event(self, ev: JobEvent, by_job: dict[str, Item], engine: JobEngine) -> None:
        item = by_job.get(ev.job_id)
        if item is None:
            return
        name = item.path.name
        if ev.kind is EventKind.BATCH_STOPPED:
            self._line(ev.message)
            return
        if ev.kind is EventKind.MESSAGE:
            self._line(f"{name}: {ev.message}")
        # A parked job (unconfirmed, stalled) is settled once its sentence comes with it.
        settled = ev.state.terminal or (ev.state.settled and bool(ev.error))
        if settled and ev.kind is EventKind.STATE:
            self._fractions.pop(ev.job_id, None)
            self._finished += 1
            rec: JobRecord | None = engine.get(ev.job_id)
            if ev.state is JobState.DONE and rec is not None:
                shown = ", ".join(rel(p) for p in rec.results)
                self._line(f"done    {name} -> {shown}")
            elif ev.state is JobState.FAILED:
                self._line(f"FAILED  {ev.error or name}")
            elif ev.state is JobState.UNCONFIRMED:
                self._line(f"UNCONFIRMED {ev.error}")
            elif ev.state is JobState.STALLED:
                self._line(f"STALLED {ev.error}")
            else:
                self._line(f"cancelled {name}")
        elif not settled:
            self._fractions[ev.job_id] = min(0.99, ev.progress or 0.0)
            self.progress.update(self.task, description=f"{name} ({ev.state.value})")
        self.progress.update(self.task, completed=self._completed())

    def summary(self) -> None:
        from rich.table import Table

        table = Table(title="Summary", show_lines=False)
        table.add_column("File", overflow="fold")
        table.add_column("Status")
        table.add_column("Result or problem", overflow="fold")
        counts: dict[str, int] = {}
        for item in self.items:
            status = "failed" if item.status == "missing" else item.status
            counts[status] = counts.get(status, 0) + 1
            if item.results and status in ("done", "skipped"):
                detail = ", ".join(rel(p) for p in item.results)
            else:
                detail = item.detail
            style = {"done": "green", "skipped": "cyan", "failed": "red", "busy": "magenta"}.get(
                status, "yellow"
            )
            table.add_row(rel(item.path), f"[{style}]{status}[/{style}]", escape(detail))
        self.out.print(table)
        elapsed = time.monotonic() - self.start_time
        parts = [f"{n} {s}" for s, n in sorted(counts.items())]
        noun = "file" if len(self.items) == 1 else "files"
        self.out.print(f"{len(self.items)} {noun}: {', '.join(parts)} in {elapsed:.1f} s")
