"""`--executor slurm`: Slurm jobs through submitit (job arrays, requeue on preemption and timeout).

Every batch of runs is one task of a job array (``--max-parallel`` of them run at once). Jobs
write their run directories on the file system they share with the driver (the study's, or
``--storage``), so a retried or requeued run resumes from its last checkpoint. submitit keeps
each job's pickled call, log and result under ``cache/slurm/`` in the study; the job id recorded
with each run lets a later `study run` wait for a job still on the cluster instead of submitting
it again. ``cluster="local"`` runs the same jobs as local processes (submitit's LocalExecutor),
to try a Slurm setup without Slurm.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from prefstudy.errors import PrefstudyError
from prefstudy.executors import entry
from prefstudy.executors.base import Executor, Returned, Submitted, T, WorkerLost
from prefstudy.executors.tasks import Outcome, RunTask

try:
    import submitit
    from submitit.helpers import Checkpointable, DelayedSubmission
except ImportError:  # the class below still has to be defined; SlurmJobs says what to install
    submitit = None
    Checkpointable = object

_STARTED = {"RUNNING", "COMPLETING", "COMPLETED", "FINISHED", "DONE", "INTERRUPTED"}


class SlurmRuns(Checkpointable):
    """A job's runs; when Slurm preempts the job or its time runs out, the runs left are requeued to resume."""

    def __init__(self) -> None:
        self.outcomes: list[Outcome] = []

    def __call__(self, tasks: list[RunTask]) -> list[Outcome]:
        for task in tasks:
            if task.run_id not in {o.run_id for o in self.outcomes}:
                self.outcomes.extend(entry.make_runs([task]))
        return self.outcomes

    def checkpoint(self, tasks: list[RunTask]) -> DelayedSubmission:
        made = {o.run_id for o in self.outcomes}
        return DelayedSubmission(self, [t.again(resume=True) for t in tasks if t.run_id not in made])


class SlurmJobs(Executor):
    name = "slurm"
    shared_storage = True  # Slurm jobs see the file system the driver submits from
    outlives_driver = True

    def __init__(
        self,
        folder: Path,
        *,
        partition: str | None = None,
        cpus_per_run: int = 1,
        gpus_per_run: int = 0,
        max_parallel: int = 64,
        timeout_min: int = 60,
        runs_per_job: int = 1,
        cluster: str | None = None,
        extra: dict | None = None,
    ):
        if submitit is None:
            raise PrefstudyError("--executor slurm needs submitit: pip install 'prefstudy[slurm]'")
        self.folder = Path(folder)
        self.cluster = cluster
        self.runs_per_batch = runs_per_job
        self.threads_per_run = cpus_per_run
        self._executor = submitit.AutoExecutor(folder=self.folder / "%j", cluster=cluster)
        if self._executor.cluster not in ("slurm", "local"):
            raise PrefstudyError(
                "no Slurm here (sbatch is not on PATH); run the driver on a Slurm login node, "
                "or try the jobs locally with --cluster local"
            )
        parameters = {
            "name": "prefstudy",
            "timeout_min": timeout_min,
            "cpus_per_task": cpus_per_run,
            "slurm_array_parallelism": max_parallel,
            **({"gpus_per_node": gpus_per_run} if gpus_per_run else {}),
            **({"slurm_partition": partition} if partition else {}),
            **(extra or {}),
        }
        self._executor.update_parameters(**parameters)

    def submit(self, batches: Sequence[list[RunTask]]) -> list[Submitted]:
        with self._executor.batch():  # one sbatch: a job array
            jobs = [self._executor.submit(SlurmRuns(), batch) for batch in batches]
        return [Submitted(batch, str(job.job_id), job) for batch, job in zip(batches, jobs, strict=True)]

    def call(self, fn: Callable[..., T], *args: Any) -> T:
        return self._executor.submit(fn, *args).result()  # one job (not an array), on the runs' resources

    def wait(self, submitted: Sequence[Submitted], timeout: float) -> list[tuple[Submitted, Returned]]:
        import time

        deadline = time.monotonic() + timeout
        while True:
            done = [s for s in submitted if s.handle.done()]
            if done or time.monotonic() >= deadline:
                return [(s, _result(s)) for s in done]
            time.sleep(min(0.2, max(0.0, deadline - time.monotonic())))

    def started(self, submitted: Submitted) -> bool:
        # Slurm opens a job's log as it starts it; submitit's sacct polls, which it spaces out to minutes, come later.
        return submitted.handle.paths.stdout.exists() or submitted.handle.state in _STARTED

    def cancel(self, submitted: Sequence[Submitted]) -> None:
        for s in submitted:
            s.handle.cancel(check=False)

    def reattach(self, job_id: str, run_ids: Sequence[str]) -> Submitted | None:
        if self._executor.cluster != "slurm":
            return None  # local processes end with the driver that started them
        job = submitit.SlurmJob(folder=self.folder / "%j", job_id=job_id)
        if job.done() and not job.paths.result_pickle.exists():
            return None
        return Submitted([], job_id, job, run_ids=tuple(run_ids))


def _result(submitted: Submitted) -> Returned:
    try:
        return list(submitted.handle.result())
    except Exception as error:  # the job died, was cancelled, preempted for good, or ran out of time
        state = getattr(submitted.handle, "state", "UNKNOWN")
        return WorkerLost(f"Slurm job {submitted.job_id} ended {state}: {str(error).strip().splitlines()[0][:300]}")
