"""The function executors send to workers, importable without torch (the driver never loads it)."""

from __future__ import annotations

from prefstudy.executors.tasks import Outcome, RunTask


def make_runs(tasks: list[RunTask]) -> list[Outcome]:
    """Make the runs in this worker process (torch is loaded here, in the worker)."""
    from prefstudy.executors.worker import make_runs as make

    return make(tasks)
