"""The executors `run` and `study run` choose from (``--executor``): inline, local, ray, slurm, and plugins'.

Each is an :class:`ExecutorKind`: the options that are its own, and a factory that opens it for a
study. prefstudy's are declared below, each module imported only when it is used; a third party
registers one through the ``prefstudy.executors`` entry-point group.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass, fields
from pathlib import Path
from typing import TYPE_CHECKING

from prefstudy.errors import PrefstudyError
from prefstudy.registry import Entry, Registry

if TYPE_CHECKING:
    from prefstudy.engine.distributed import World
    from prefstudy.executors.base import Executor
    from prefstudy.progress import Reporter
    from prefstudy.workspace import Workspace

GROUP = "prefstudy.executors"
INLINE = "inline"


@dataclass(frozen=True)
class ExecutorOptions:
    """What a command was told about its executor; each executor takes the part that is its own."""

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

    def given(self) -> set[str]:
        return {f.name for f in fields(self) if getattr(self, f.name) is not None}


@dataclass(frozen=True)
class Opening:
    """Where an executor opens: the study, the command's progress, and its torchrun world (inline only)."""

    ws: Workspace
    report: Reporter
    world: World | None = None


@dataclass(frozen=True)
class ExecutorKind:
    """An executor as the registry knows it: its own options, and how to open it."""

    options: frozenset[str]
    open: Callable[[ExecutorOptions, Opening], Executor]


def _inline() -> ExecutorKind:
    def open_inline(options: ExecutorOptions, at: Opening) -> Executor:
        from prefstudy.executors.inline import InlineExecutor

        return InlineExecutor(at.report, at.world)

    return ExecutorKind(frozenset(), open_inline)


def _local() -> ExecutorKind:
    def open_local(options: ExecutorOptions, at: Opening) -> Executor:
        from prefstudy.executors.local import LocalPool

        workers = options.workers or os.cpu_count() or 1
        threads = int(options.cpus_per_run or max(1, (os.cpu_count() or 1) // workers))
        return LocalPool(workers, threads)

    return ExecutorKind(frozenset({"workers", "cpus_per_run"}), open_local)


def _ray() -> ExecutorKind:
    def open_ray(options: ExecutorOptions, at: Opening) -> Executor:
        from prefstudy.executors.ray_cluster import RayTasks

        return RayTasks(
            options.address,
            cpus_per_run=options.cpus_per_run or 1.0,
            gpus_per_run=options.gpus_per_run or 0.0,
            shared_storage=options.storage is not None,
        )

    return ExecutorKind(frozenset({"cpus_per_run", "gpus_per_run", "address", "storage"}), open_ray)


def _slurm() -> ExecutorKind:
    def open_slurm(options: ExecutorOptions, at: Opening) -> Executor:
        from prefstudy.executors.slurm import SlurmJobs

        if options.gpus_per_run is not None and options.gpus_per_run != int(options.gpus_per_run):
            raise PrefstudyError("--gpus-per-run takes a whole number on Slurm")
        return SlurmJobs(
            at.ws.cache_dir / "slurm",
            partition=options.partition,
            cpus_per_run=int(options.cpus_per_run or 1),
            gpus_per_run=int(options.gpus_per_run or 0),
            max_parallel=options.max_parallel or 64,
            timeout_min=options.time_limit or 60,
            runs_per_job=options.runs_per_job or 1,
            cluster=options.cluster or "slurm",
        )

    own = {"cpus_per_run", "gpus_per_run", "partition", "max_parallel", "time_limit", "runs_per_job", "cluster"}
    return ExecutorKind(frozenset(own | {"storage"}), open_slurm)


EXECUTORS: Registry[ExecutorKind] = Registry(
    "executor",
    GROUP,
    [
        Entry(INLINE, _inline, "one run after another in this process (the default)"),
        Entry("local", _local, "a pool of worker processes on this machine"),
        Entry("ray", _ray, "Ray tasks on a Ray cluster (or a one-node Ray started here)"),
        Entry("slurm", _slurm, "Slurm job arrays through submitit"),
    ],
)


def _flag(field: str) -> str:
    return "--" + field.replace("_", "-")


def check_options(name: str, options: ExecutorOptions) -> None:
    """An unknown executor, or an option that is not the chosen executor's, is a one-line error."""
    kind = EXECUTORS.get(name)
    foreign = sorted(options.given() - kind.options)
    if foreign:
        owners = [n for n in EXECUTORS.builtin_names() if foreign[0] in EXECUTORS.get(n).options]
        raise PrefstudyError(f"{_flag(foreign[0])} is for --executor {' or '.join(owners)}, not {name}")
    if options.cluster not in (None, "slurm", "local"):
        raise PrefstudyError(f"--cluster must be slurm or local, not {options.cluster!r}")


def open_executor(name: str, options: ExecutorOptions, at: Opening) -> Executor:
    """The executor ``name`` with ``options``, opened for ``at``'s study (checked by :func:`check_options`)."""
    check_options(name, options)
    return EXECUTORS.get(name).open(options, at)
