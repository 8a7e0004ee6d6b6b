"""Progress reporting for long work: rich progress bars on stderr, or nothing.

Library code takes a :class:`Reporter`; the CLI passes a :class:`RichReporter`, tests and
scripts the :class:`SilentReporter`. stdout stays free for ``--json``.
"""

from __future__ import annotations

from types import TracebackType
from typing import Protocol

from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    ProgressColumn,
    Task,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)
from rich.text import Text

from prefstudy.console import stderr_console


class Reporter(Protocol):
    """Where long work reports its progress."""

    def start(self, total: int, description: str) -> None:
        """Begin a new stage of ``total`` steps."""

    def advance(self, n: int = 1) -> None:
        """Mark ``n`` more steps of the current stage done."""

    def note(self, message: str) -> None:
        """Show a one-line status message (e.g. an epoch's metrics)."""

    def describe(self, description: str) -> None:
        """Change the current stage's description (e.g. counts of what is running)."""

    def set_completed(self, n: int) -> None:
        """Mark exactly ``n`` steps of the current stage done."""


class SilentReporter:
    """Shows nothing."""

    def __enter__(self) -> SilentReporter:
        return self

    def __exit__(self, *exc: object) -> None:
        pass

    def start(self, total: int, description: str) -> None:
        pass

    def advance(self, n: int = 1) -> None:
        pass

    def note(self, message: str) -> None:
        pass

    def describe(self, description: str) -> None:
        pass

    def set_completed(self, n: int) -> None:
        pass


class _RateColumn(ProgressColumn):
    """The rate, once there is one: per minute for slow steps (runs, epochs), else per second."""

    def render(self, task: Task) -> Text:
        speed = task.finished_speed or task.speed
        shown = "" if not speed else f"{speed * 60:.1f}/min" if speed < 1 else f"{speed:,.0f}/s"
        return Text(shown, style="progress.data.speed")


class RichReporter:
    """A rich progress bar on stderr; each ``start`` replaces the bar. Use as a context manager."""

    def __init__(self, console: Console | None = None):
        self._progress = Progress(
            TextColumn("{task.description}", style="bold", markup=False),
            BarColumn(),
            MofNCompleteColumn(),
            _RateColumn(),
            TimeElapsedColumn(),
            TimeRemainingColumn(),
            console=console or stderr_console,
            transient=False,
        )
        self._task: int | None = None

    def __enter__(self) -> RichReporter:
        self._progress.start()
        return self

    def __exit__(self, kind: type[BaseException] | None, error: BaseException | None, tb: TracebackType | None) -> None:
        self._progress.stop()

    def start(self, total: int, description: str) -> None:
        if self._task is not None:
            self._progress.remove_task(self._task)  # one bar at a time; notes stay above it
        self._task = self._progress.add_task(description, total=total)

    def advance(self, n: int = 1) -> None:
        if self._task is not None:
            self._progress.advance(self._task, n)

    def note(self, message: str) -> None:
        self._progress.console.print(message, markup=False, highlight=False, soft_wrap=True)

    def describe(self, description: str) -> None:
        if self._task is not None:
            self._progress.update(self._task, description=description)

    def set_completed(self, n: int) -> None:
        if self._task is not None:
            self._progress.update(self._task, completed=n)
