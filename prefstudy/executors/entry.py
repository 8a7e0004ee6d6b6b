"""The function executors send to workers, importable without torch (the driver never loads it)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from prefstudy.executors.tasks import Outcome, RunTask

if TYPE_CHECKING:
    from prefstudy.engine.distributed import World
    from prefstudy.progress import Reporter


def make_runs(tasks: list[RunTask], report: Reporter | None = None, world: World | None = None) -> list[Outcome]:
    """Make the runs in this worker process (torch is loaded here, in the worker)."""
    from prefstudy.executors.worker import make_runs as make

    return make(tasks, report, world)
