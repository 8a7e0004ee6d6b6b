"""`--executor inline` (the default): one run after another in this process, as the driver waits for each.

The runs go through the same driver as on a pool or a cluster: queued, running, landed through the
one recording path. Each run shows its epochs on the command's progress bar. Under torchrun every
process makes each run together (data-parallel): the main process, the only one that opens the
study, drives and broadcasts each batch of tasks; the others :func:`follow` it.
"""

from __future__ import annotations

import itertools
from collections.abc import Sequence
from typing import TYPE_CHECKING

from prefstudy.executors import entry
from prefstudy.executors.base import Executor, Returned, Submitted
from prefstudy.executors.tasks import RunTask
from prefstudy.progress import Reporter, SilentReporter

if TYPE_CHECKING:
    from prefstudy.engine.distributed import World


class InlineExecutor(Executor):
    name = "inline"
    shared_storage = True  # this process writes the study's own runs/
    shows_progress = True
    in_this_process = True
    slots = 1

    def __init__(self, report: Reporter | None = None, world: World | None = None):
        self.report = report or SilentReporter()
        self.world = world
        self._numbers = itertools.count(1)

    def check(self, task: RunTask) -> None:
        # This process makes the run, so what it computes with is known here: refuse an unknown backbone, a
        # device it lacks or a weights file that holds none before the run is recorded.
        from prefstudy.executors.worker import check_task

        check_task(task, self.world)

    def submit(self, batches: Sequence[list[RunTask]]) -> list[Submitted]:
        return [Submitted(batch, f"inline-{next(self._numbers)}", batch) for batch in batches]

    def wait(self, submitted: Sequence[Submitted], timeout: float) -> list[tuple[Submitted, Returned]]:
        if not submitted:
            return []
        first = submitted[0]
        if self.world is not None and self.world.distributed:
            self.world.broadcast(first.tasks)
        return [(first, entry.make_runs(first.tasks, self.report, self.world))]

    def cancel(self, submitted: Sequence[Submitted]) -> None:
        pass  # a run made here stops with this process (Ctrl-C); nothing else is out

    def close(self) -> None:
        if self.world is not None and self.world.distributed:
            self.world.broadcast(None)  # the other torchrun processes stop following


def follow(world: World) -> None:
    """A torchrun process other than the main one: make each batch of runs the main process broadcasts, with
    it, until it broadcasts None. It never opens the study."""
    while (tasks := world.broadcast(None)) is not None:
        entry.make_runs(tasks, SilentReporter(), world)
