"""Progress display for the benchmarks (a Reporter: `phase` and `advance`).

Refreshed only when the benchmark reports, between timed loops: rich's auto-refresh runs a
thread, and that thread would take the GIL from the loop being timed.
"""

from __future__ import annotations

from types import TracebackType

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TaskID, TextColumn


class ProgressReporter:
    def __init__(self, console: Console, label_width: int = 18) -> None:
        self._progress = Progress(
            TextColumn(f"{{task.description:<{label_width}}}"),
            BarColumn(),
            MofNCompleteColumn(),
            console=console,
            auto_refresh=False,
            transient=True,
        )
        self._task: TaskID | None = None

    def __enter__(self) -> ProgressReporter:
        self._progress.start()
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        trace: TracebackType | None,
    ) -> None:
        self._progress.stop()

    def phase(self, name: str, total: int) -> None:
        if self._task is not None:
            self._progress.remove_task(self._task)
        self._task = self._progress.add_task(name, total=total)
        self._progress.refresh()

    def advance(self, done: int) -> None:
        if self._task is not None:
            self._progress.update(self._task, completed=done)
            self._progress.refresh()
