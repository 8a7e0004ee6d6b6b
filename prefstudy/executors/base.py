"""The one interface the driver sees: hand out batches of runs, learn which came back, cancel the rest.

An executor never schedules runs itself beyond what its backend does (a process pool, Ray, Slurm);
the driver keeps at most :attr:`Executor.slots` batches out and retries what was lost.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, TypeVar

from prefstudy.executors.tasks import FeaturesSource, ImagesSource, Outcome, RunTask, SourceModelRef

T = TypeVar("T")


class WorkerLost(Exception):
    """A batch's worker died, its node was lost, or its job ended without a result (preempted, timed out)."""


@dataclass
class Submitted:
    """A batch of runs handed to an executor, by the executor's job id."""

    tasks: list[RunTask]
    job_id: str
    handle: Any = field(repr=False)  # the backend's future, object reference or job
    run_ids: tuple[str, ...] = ()  # a reattached job's runs, whose tasks this driver does not hold

    def __post_init__(self) -> None:
        if not self.run_ids:
            self.run_ids = tuple(t.run_id for t in self.tasks)


Returned = list[Outcome] | BaseException


class Executor:
    """A backend that makes batches of runs in worker processes."""

    name: str = "executor"
    shared_storage: bool = False  # workers write where the driver reads, so a retry resumes from a checkpoint
    outlives_driver: bool = False  # its jobs go on when the driver stops (Slurm): recorded without an owner
    slots: int | None = None  # batches out at once (None: the backend throttles, e.g. a Slurm array)
    runs_per_batch: int = 1
    threads_per_run: int | None = None
    shows_progress: bool = False  # its runs show their own progress (inline): the driver shows no bar of its own
    in_this_process: bool = False  # its work is done in the driver's process (inline)

    def __enter__(self) -> Executor:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def images(self, source: ImagesSource, load: Any) -> ImagesSource:
        """How workers get a dataset's images (default: the files on shared storage); ``load()`` gives them."""
        return source

    def features(self, source: FeaturesSource, load: Any) -> FeaturesSource:
        """How workers get a dataset's cached features (default: the file on shared storage)."""
        return source

    def model(self, source: SourceModelRef) -> SourceModelRef:
        """How workers get a transfer source's model file (default: on shared storage)."""
        return source

    def call(self, fn: Callable[..., T], *args: Any) -> T:
        """``fn(*args)`` in one worker, as one task of this backend (e.g. a dataset's features); waits for it."""
        return fn(*args)

    def check(self, task: RunTask) -> None:
        """Refuse, in one line, a run this executor cannot make, before anything is recorded (default: none)."""

    def submit(self, batches: Sequence[list[RunTask]]) -> list[Submitted]:
        raise NotImplementedError

    def wait(self, submitted: Sequence[Submitted], timeout: float) -> list[tuple[Submitted, Returned]]:
        """The batches that came back within ``timeout`` seconds, each with its outcomes or why it was lost."""
        raise NotImplementedError

    def started(self, submitted: Submitted) -> bool:
        """Whether a worker has taken the batch (queued until then)."""
        return True

    def cancel(self, submitted: Sequence[Submitted]) -> None:
        raise NotImplementedError

    def reattach(self, job_id: str, run_ids: Sequence[str]) -> Submitted | None:
        """A job an earlier driver submitted and that may still run, or None where the backend cannot tell."""
        return None

    def close(self) -> None:
        pass
