"""The runner: hand run orders to an executor, land what comes back, retry what is lost.

`prefstudy run` and `prefstudy study run` both come here, with the orders they planned and the
executor they chose (``inline``, in this process, by default). The driver is the study database's
one writer: it reads each run's labels and split, records the runs it hands out as *queued* (with
the executor's job ids), marks them *running* when a worker takes them, and lands each returned run
directory through :func:`~prefstudy.runs.importing.land_runs`, the path `runs import` takes. It
never loads torch.

Runs go out in waves: every order the planner gives, then those it gives once the first wave is
made (the transfer runs whose sources that wave made). A lost batch (a killed worker, a lost node,
a preempted job) and a failed run are tried again up to ``retries`` times, from the run's last
checkpoint where the workers share storage with the driver; a run that fails every time is
recorded as failed with its error and the others go on. Ctrl-C cancels what is out and queued and
records those runs as interrupted: nothing is half-recorded, and the same command again makes
exactly what is still due.
"""

from __future__ import annotations

import math
import shutil
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from prefstudy.errors import PrefstudyError
from prefstudy.executors.base import Executor, Submitted, WorkerLost
from prefstudy.executors.packing import unpack
from prefstudy.executors.task_maker import TaskMaker
from prefstudy.executors.tasks import Outcome, RunTask
from prefstudy.progress import Reporter, SilentReporter
from prefstudy.runs.importing import land_runs
from prefstudy.runs.orders import RunOrder
from prefstudy.runs.prepare import Preparer
from prefstudy.runs.record import (
    FAILED,
    FINISHED,
    INTERRUPTED,
    QUEUED,
    RUNNING,
    RunDir,
    list_runs,
    mark_runs,
    mark_submitted,
    queue_runs,
    run_dir,
    run_results,
)
from prefstudy.runs.result import failed_result
from prefstudy.runs.status import this_process
from prefstudy.workspace import Workspace

POLL_SECONDS = 0.5
# Head runs take milliseconds: they go out many to a batch, so that handing out and landing (a database
# transaction each, ~0.15 s with its checkpoint) is paid once per batch, not per run; at most this many, and
# few enough that every slot gets two batches.
HEAD_RUNS_PER_BATCH = 256


Planner = Callable[[], list[RunOrder]]
"""The orders due now: called once per wave, until it gives none that were not handed out before."""


def fixed_orders(orders: list[RunOrder]) -> Planner:
    """A planner of one wave: ``orders``, as `prefstudy run` planned them."""
    return lambda: list(orders)


STUDY_RUN_HINT = "`prefstudy study run` continues it"


@dataclass(frozen=True)
class DriverOptions:
    """How the driver makes runs; ``device``, ``precision`` and ``compile`` say how a run computes, not what it
    learns (a resumed run keeps what it started with)."""

    device: str = "auto"
    precision: str = "auto"
    compile: bool = False
    processes: int = 1  # torchrun processes a run shares (the inline executor under torchrun)
    retries: int | None = None  # tries after a failure; None: the executor's default (prefstudy.executors.runner)
    storage: Path | None = None  # a directory the workers share with the driver; None: the executor's default
    strict: bool = False  # an order that cannot be made fails the command (`run`), else it is skipped with a note
    continue_hint: str = STUDY_RUN_HINT  # how a user continues a run cancelled by Ctrl-C


@dataclass
class DriverResult:
    finished: list[dict[str, Any]] = field(default_factory=list)  # the `run --json` objects
    failed: list[dict[str, str]] = field(default_factory=list)  # run id and error
    retried: int = 0
    reattached: int = 0
    queue_s: float = 0.0  # the driver's own time: reading labels, drawing splits, recording runs as queued
    land_s: float = 0.0  # ... and checking and recording what came back


class Driver:
    """Makes the runs a planner orders on an executor; see the module docstring."""

    def __init__(
        self,
        ws: Workspace,
        executor: Executor,
        options: DriverOptions,
        report: Reporter | None = None,
        on_finished: Callable[[dict[str, Any]], None] | None = None,
    ):
        """``on_finished`` is called with each finished run's result (its `run --json` object) as it lands."""
        self.ws, self.executor, self.options = ws, executor, options
        self.report = report or SilentReporter()
        self.on_finished = on_finished
        self.storage = self._storage()
        computes = {"device": options.device, "precision": options.precision, "compile": options.compile}
        self.tasks = TaskMaker(ws, executor, computes, options.processes, self.storage)
        self.result = DriverResult()
        self._keys: dict[str, dict[str, int]] = {}  # item key -> index per dataset, to check what lands
        self._pending: list[RunTask] = []  # queued here, not handed out yet
        self._out: list[Submitted] = []
        self._running: set[str] = set()
        self._counts: Counter[str] = Counter()
        self._total = 0
        self._bar = False  # whether the driver shows a bar of its own (see _queue)
        self._began = time.monotonic()

    def _storage(self) -> Path | None:
        if self.options.storage is not None:
            return Path(self.options.storage).expanduser().resolve()
        return self.ws.runs_dir if self.executor.shared_storage else None

    # --- the loop ------------------------------------------------------------------------------------

    def run(self, planner: Planner) -> DriverResult:
        """Make every run ``planner`` orders, wave after wave; returns what was made and what failed."""
        attempted: set[RunOrder] = set()
        try:
            first = True
            while True:
                # Planned with no connection held: a planner may compute for a while (an extractor's features).
                todo = [order for order in planner() if order not in attempted]
                with self.ws.connect():  # one connection to queue the wave
                    if first:
                        self._reattach()
                        first = False
                    if todo:
                        self._queue(todo)
                        self._hand_out()  # the first batches go out on the same connection
                        self._mark_started()
                if not todo and not self._out:
                    return self.result
                attempted.update(todo)
                while self._pending or self._out:
                    self._step()
        except KeyboardInterrupt:
            self._cancel("cancelled (Ctrl-C)")
            raise
        except BaseException as error:
            if _query_interrupted(error):
                self._cancel("cancelled (Ctrl-C)")
                raise KeyboardInterrupt from error
            # Workers of a pool or a Ray job end with the driver; Slurm jobs go on, and the next driver waits for them.
            self._cancel("the driver stopped on an error", keep_jobs=self.executor.outlives_driver)
            raise

    def _step(self) -> None:
        # What goes out, and what started (the inline executor's run starts as the driver waits for it), is
        # recorded before the wait, on one connection, opened only when there is something to record.
        if (self._pending and self._free()) or self._newly_started():
            with self.ws.connect():
                self._hand_out()
                self._mark_started()
        returned = self.executor.wait(self._out, POLL_SECONDS)
        for done, _ in returned:
            self._out.remove(done)
        # One connection for the step's records, none while waiting: `study status` reads in between.
        with self.ws.connect():
            self._hand_out()  # free workers take their next run before this step's records are written
            self._mark_started()
            landing: list[Outcome] = []
            for done, outcome in returned:
                landing.extend(self._settle(done, outcome))
            self._land(landing)
        self._show()

    def _free(self) -> int:
        """Batches the executor takes now."""
        return len(self._pending) if self.executor.slots is None else self.executor.slots - len(self._out)

    def _newly_started(self) -> set[str]:
        return {r for s in self._out if self.executor.started(s) for r in s.run_ids} - self._running

    def _hand_out(self) -> None:
        free = self._free()
        if free <= 0 or not self._pending:
            return
        size = self.executor.runs_per_batch
        heads = sum(t.settings.head is not None for t in self._pending)
        head_size = min(HEAD_RUNS_PER_BATCH, math.ceil(heads / (2 * (self.executor.slots or free))))
        batches = _batches(self._pending, free, size, max(size, head_size))
        self._pending = self._pending[sum(len(b) for b in batches) :]
        submitted = self.executor.submit(batches)
        self._out.extend(submitted)
        # Recorded at once: a driver that dies now leaves jobs a later one can find.
        mark_submitted(self.ws, {run_id: s.job_id for s in submitted for run_id in s.run_ids})

    def _mark_started(self) -> None:
        started = self._newly_started()
        if started:
            mark_runs(self.ws, started, RUNNING)
            self._running |= started
            self._show()

    # --- handing out ---------------------------------------------------------------------------------

    def _queue(self, todo: list[RunOrder]) -> None:
        began = time.perf_counter()
        try:
            self._queue_tasks(todo)
        finally:
            self.result.queue_s += time.perf_counter() - began

    def _queue_tasks(self, todo: list[RunOrder]) -> None:
        made: dict[int, RunTask] = {}
        preparer = Preparer(self.ws)  # each subject's labels read once for all their orders, taken together
        with self.ws.connect():  # one connection for every read
            for i in sorted(range(len(todo)), key=lambda i: (todo[i].subject, todo[i].dataset)):
                order = todo[i]
                try:
                    made[i] = self.tasks.task(order, preparer)
                    self.executor.check(made[i])
                except PrefstudyError as error:  # e.g. labels changed since the plan read them: the others go on
                    made.pop(i, None)
                    if self.options.strict:
                        raise
                    self.report.note(f"{order.subject} on {order.dataset} skipped: {error}")
            tasks = [made[i] for i in sorted(made)]  # handed out in the plan's order
            owner = None if self.executor.outlives_driver else this_process()
            queue_runs(self.ws, [t.config for t in tasks], self.executor.name, owner)
        self._pending.extend(tasks)
        self._total += len(tasks)
        # Runs that show their epochs (inline) need no bar of the driver's; head runs, milliseconds each, do.
        self._bar = self._bar or not self.executor.shows_progress or all(t.settings.head for t in tasks)
        if self._bar:
            self.report.start(self._total, f"runs on {self.executor.name}")
        self._show()

    # --- what comes back -----------------------------------------------------------------------------

    def _settle(self, submitted: Submitted, returned: list[Outcome] | BaseException) -> list[Outcome]:
        """The outcomes to land now; lost and failed runs go back to the queue while retries are left."""
        outcomes = returned if isinstance(returned, list) else []
        landing = []
        for outcome in outcomes:
            task = _task_of(submitted, outcome.run_id)
            if outcome.status == FAILED and task is not None and self._retry(task, outcome.error):
                continue
            landing.append(outcome)
        back = {o.run_id for o in outcomes}
        lost = [r for r in submitted.run_ids if r not in back]
        if lost:
            why = _why_lost(returned)
            for run_id in lost:
                task = _task_of(submitted, run_id)
                if task is None:  # a reattached job's run: the next plan resumes it
                    mark_runs(self.ws, [run_id], INTERRUPTED, f"{submitted.job_id}: {why}")
                    self._counts[INTERRUPTED] += 1
                elif not self._retry(task, why):
                    landing.append(self._given_up(task, why))
        return landing

    def _retry(self, task: RunTask, why: str | None) -> bool:
        if task.attempt > (self.options.retries or 0):
            return False
        resume = self.storage is not None
        how = "resumes from its last checkpoint" if resume else "restarts (no storage shared with the workers)"
        self.report.note(f"run {task.run_id} attempt {task.attempt} failed ({why}); it {how}")
        self._pending.append(task.again(resume))
        self._running.discard(task.run_id)
        mark_runs(self.ws, [task.run_id], QUEUED)
        self.result.retried += 1
        return True

    def _given_up(self, task: RunTask, why: str) -> Outcome:
        """A failed run's directory written by the driver, for a run whose worker never came back."""
        directory = run_dir(self.ws, task.run_id)
        directory.path.mkdir(parents=True, exist_ok=True)
        if not directory.config_file.is_file():
            directory.write_config(task.config)
        error = f"{why} (after {task.attempt} attempts)"
        directory.write_result(failed_result(task.config, error))
        return Outcome(task.run_id, FAILED, error, directory=str(directory.path))

    def _land(self, outcomes: list[Outcome]) -> None:
        if not outcomes:
            return
        began = time.perf_counter()
        try:
            self._land_outcomes(outcomes)
        finally:
            self.result.land_s += time.perf_counter() - began

    def _land_outcomes(self, outcomes: list[Outcome]) -> None:
        staged: list[Path] = []
        try:
            directories = []
            for outcome in outcomes:
                if outcome.packed is not None:
                    staging = self.ws.runs_dir / f".incoming-{outcome.run_id}"
                    shutil.rmtree(staging, ignore_errors=True)
                    staged.append(unpack(outcome.packed, staging))
                    directories.append(RunDir(staging))
                else:
                    directories.append(RunDir(Path(outcome.directory)))
            land_runs(self.ws, directories, self._keys)
        finally:
            for path in staged:
                shutil.rmtree(path, ignore_errors=True)
        results = run_results(self.ws, [o.run_id for o in outcomes if o.status == FINISHED])
        for outcome in outcomes:
            self._running.discard(outcome.run_id)
            self._counts[outcome.status] += 1
            if outcome.status == FINISHED:
                self.result.finished.append(results[outcome.run_id])
                if self.on_finished is not None:
                    self.on_finished(self.result.finished[-1])
            else:
                self.result.failed.append({"run_id": outcome.run_id, "error": outcome.error or "failed"})
                self.report.note(f"run {outcome.run_id} failed: {outcome.error}")

    # --- reattaching, cancelling, showing ------------------------------------------------------------

    def _reattach(self) -> None:
        """Wait for the jobs an earlier driver handed out that still run (Slurm): never submit them twice."""
        held = [
            r for r in list_runs(self.ws, [QUEUED, RUNNING]) if r.executor == self.executor.name and r.owner is None
        ]
        never_out = [r.id for r in held if r.job_id is None]  # queued by a driver that stopped before handing it out
        if never_out:
            mark_runs(self.ws, never_out, INTERRUPTED, "never handed out: its driver stopped")
        held = [r for r in held if r.job_id is not None]
        by_job: dict[str, list[str]] = {}
        for row in held:
            by_job.setdefault(row.job_id, []).append(row.id)
        for job_id, run_ids in by_job.items():
            submitted = self.executor.reattach(job_id, run_ids)
            if submitted is None:
                mark_runs(self.ws, run_ids, INTERRUPTED, f"job {job_id} is gone; `study run` resumes it")
                continue
            self._out.append(submitted)
            self.result.reattached += len(run_ids)
            self.report.note(f"waiting for job {job_id} ({len(run_ids)} run(s)), handed out by an earlier driver")
        self._total += self.result.reattached

    def _cancel(self, why: str, keep_jobs: bool = False) -> None:
        out = [] if keep_jobs else [r for s in self._out for r in s.run_ids]
        waiting = [t.run_id for t in self._pending]
        if self._out and not keep_jobs:
            self.executor.cancel(self._out)
        if out or waiting:
            mark_runs(self.ws, out + waiting, INTERRUPTED, f"{why}; {self.options.continue_hint}")
            self.report.note(f"{len(out) + len(waiting)} run(s) cancelled and recorded as interrupted")
        self._out, self._pending = [], []

    def _show(self) -> None:
        if not self._bar:
            return
        done = self._counts[FINISHED] + self._counts[FAILED] + self._counts[INTERRUPTED]
        running = len(self._running)
        queued = len(self._pending) + sum(len(s.run_ids) for s in self._out) - running
        self.report.describe(
            f"{self.executor.name}: {self._counts[FINISHED]} done, {running} running, {queued} queued, "
            f"{self._counts[FAILED]} failed"
        )
        self.report.set_completed(done)


def _query_interrupted(error: BaseException) -> bool:
    """Whether ``error`` is Ctrl-C during a database query: DuckDB takes the KeyboardInterrupt and raises this."""
    return isinstance(error, RuntimeError) and str(error) == "Query interrupted"


def _batches(pending: list[RunTask], count: int, size: int, head_size: int) -> list[list[RunTask]]:
    """Up to ``count`` batches from the front of ``pending``: ``size`` runs each, head runs (never mixed with
    networks) ``head_size``."""
    batches: list[list[RunTask]] = []
    for task in pending:
        head = task.settings.head is not None
        limit = head_size if head else size
        batch = batches[-1] if batches else None
        if batch and (batch[0].settings.head is not None) == head and len(batch) < limit:
            batch.append(task)
            continue
        if len(batches) == count:
            break
        batches.append([task])
    return batches


def _task_of(submitted: Submitted, run_id: str) -> RunTask | None:
    return next((t for t in submitted.tasks if t.run_id == run_id), None)


def _why_lost(returned: list[Outcome] | BaseException) -> str:
    if isinstance(returned, WorkerLost):
        return str(returned)
    if isinstance(returned, BaseException):
        return f"{type(returned).__name__}: {returned}"
    return "the job returned without this run"
