"""The one progress bar: rich on stderr (stdout stays clean for --json), a line per update when stderr is
not a terminal (a log file gets lines, not control codes)."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any


class ProgressBar:
    """A running bar: `advance(n)` after n items, or `update(done, total, info=...)` from a callback."""

    def __init__(self, progress: Any, task: Any, unit: str | None, log: Callable[[str], None] | None) -> None:
        self._progress, self._task, self._unit, self._log = progress, task, unit, log
        self._started = time.perf_counter()

    @property
    def completed(self) -> float:
        return self._progress.tasks[0].completed

    def _rate(self, done: float) -> str:
        if not self._unit:
            return ""
        rate = done / max(time.perf_counter() - self._started, 1e-9)
        return f"{rate:,.0f} {self._unit}/s" if rate >= 10 else f"{rate:.2f} {self._unit}/s"

    def advance(self, n: int = 1) -> None:
        done = self.completed + n
        self._progress.update(self._task, advance=n, rate=self._rate(done))

    def update(self, completed: int, total: int | None = None, info: str = "") -> None:
        self._progress.update(self._task, completed=completed, total=total, rate=self._rate(completed), info=info)
        if self._log is not None and info:
            self._log(f"{completed}/{total if total is not None else '?'}  {info}")


@contextmanager
def progress_bar(
    description: str, total: int | None = None, unit: str | None = None, transient: bool = False
) -> Iterator[ProgressBar]:
    """`with progress_bar("ner", total=len(docs), unit="docs") as bar: ... bar.advance()`."""
    from rich.console import Console
    from rich.progress import (
        BarColumn,
        MofNCompleteColumn,
        Progress,
        TextColumn,
        TimeElapsedColumn,
        TimeRemainingColumn,
    )

    console = Console(stderr=True)
    columns = (
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TextColumn("{task.fields[rate]}{task.fields[info]}"),
        TimeElapsedColumn(),
        TimeRemainingColumn(),
    )
    log = None if console.is_terminal else (lambda line: console.print(f"{description} {line}", markup=False))
    with Progress(*columns, console=console, transient=transient) as progress:
        task = progress.add_task(description, total=total, rate="", info="")
        yield ProgressBar(progress, task, unit, log)


def run_with_progress(
    total: int, description: str, work: Callable[[Callable[[int], None]], Any], unit: str | None = None
) -> Any:
    """Run `work(advance)` under a bar of `total` steps; `work` calls `advance(n)` as it goes."""
    with progress_bar(description, total=total, unit=unit) as bar:
        return work(bar.advance)
