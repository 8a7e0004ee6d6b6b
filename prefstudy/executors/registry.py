"""The executors `study run --executor` chooses from: ``local`` (a process pool), ``ray`` and ``slurm``."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from prefstudy.errors import PrefstudyError
from prefstudy.executors.base import Executor
from prefstudy.workspace import Workspace

EXECUTORS = ("local", "ray", "slurm")


@dataclass(frozen=True)
class ExecutorOptions:
    """What `study run` was told about the executor; each backend takes the part that is its own."""

    workers: int | None = None  # local
    cpus_per_run: float | None = None  # local (threads per worker), ray, slurm
    gpus_per_run: float | None = None  # ray, slurm
    address: str | None = None  # ray
    partition: str | None = None  # slurm
    max_parallel: int | None = None  # slurm
    time_limit: int | None = None  # slurm, minutes per job
    runs_per_job: int | None = None  # slurm
    cluster: str | None = None  # slurm: slurm, or local to try the jobs without Slurm
    storage: Path | None = None  # ray, slurm: run directories on a file system shared with the workers


_OWN = {
    "local": {"workers", "cpus_per_run"},
    "ray": {"cpus_per_run", "gpus_per_run", "address", "storage"},
    "slurm": {
        "cpus_per_run",
        "gpus_per_run",
        "partition",
        "max_parallel",
        "time_limit",
        "runs_per_job",
        "cluster",
        "storage",
    },
}


def _flag(field: str) -> str:
    return "--" + field.replace("_", "-")


def check_options(name: str | None, options: ExecutorOptions) -> None:
    """An unknown executor, or an option that is not the chosen executor's, is a one-line error."""
    if name is not None and name not in EXECUTORS:
        raise PrefstudyError(f"unknown executor {name!r}; choose from {', '.join(EXECUTORS)}")
    given = {k for k, v in vars(options).items() if v is not None}
    foreign = sorted(given - (_OWN[name] if name else set()))
    if foreign:
        owners = [e for e in EXECUTORS if foreign[0] in _OWN[e]]
        chosen = f", not {name}" if name else ""
        raise PrefstudyError(f"{_flag(foreign[0])} is for --executor {' or '.join(owners)}{chosen}")
    if options.cluster not in (None, "slurm", "local"):
        raise PrefstudyError(f"--cluster must be slurm or local, not {options.cluster!r}")


def open_executor(name: str, ws: Workspace, options: ExecutorOptions) -> Executor:
    """The executor ``name`` with ``options`` (checked by :func:`check_options`)."""
    check_options(name, options)
    if name == "local":
        from prefstudy.executors.local import LocalPool

        workers = options.workers or os.cpu_count() or 1
        threads = int(options.cpus_per_run or max(1, (os.cpu_count() or 1) // workers))
        return LocalPool(workers, threads)
    if name == "ray":
        from prefstudy.executors.ray_cluster import RayTasks

        return RayTasks(
            options.address,
            cpus_per_run=options.cpus_per_run or 1.0,
            gpus_per_run=options.gpus_per_run or 0.0,
            shared_storage=options.storage is not None,
        )
    from prefstudy.executors.slurm import SlurmJobs

    if options.gpus_per_run is not None and options.gpus_per_run != int(options.gpus_per_run):
        raise PrefstudyError("--gpus-per-run takes a whole number on Slurm")
    return SlurmJobs(
        ws.cache_dir / "slurm",
        partition=options.partition,
        cpus_per_run=int(options.cpus_per_run or 1),
        gpus_per_run=int(options.gpus_per_run or 0),
        max_parallel=options.max_parallel or 64,
        timeout_min=options.time_limit or 60,
        runs_per_job=options.runs_per_job or 1,
        cluster=options.cluster or "slurm",
    )
