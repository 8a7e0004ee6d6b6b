"""Option types shared by several commands, defined once.

This module, like every ``cli`` module at import, stays light (no numpy, DuckDB or torch): the
commands import what they compute with when they run, so `prefstudy --help` and the commands
that only read the study start at once.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from prefstudy.bounds import COUNT, RESOURCE, RETRIES, SEED, Bound
from prefstudy.config import PRECISIONS
from prefstudy.env import STUDY_ENV
from prefstudy.errors import PrefstudyError

if TYPE_CHECKING:
    from prefstudy.workspace import Workspace


def bounded(bound: Bound, *names: str, help: str) -> Any:
    """A ``typer.Option`` whose value must lie in ``bound`` (else a usage error); its range is part of the help."""

    def parse(text: str) -> int | float:
        try:
            return bound.parse(names[0], str(text))
        except PrefstudyError as error:
            raise typer.BadParameter(str(error).removeprefix(f"{names[0]} ")) from None

    parse.__name__ = "integer" if bound.integer else "number"  # the metavar in --help
    return typer.Option(*names, parser=parse, help=f"{help} [{bound.describe()}]")


StudyOption = Annotated[
    Path | None,
    typer.Option(
        "--study",
        help="The study directory (default: $PREFSTUDY_STUDY, else the current directory or a parent with study.toml).",
        show_default=False,
        envvar=STUDY_ENV,
    ),
]
JsonOption = Annotated[bool, typer.Option("--json", help="Print one JSON object on stdout (progress stays on stderr).")]
SeedOption = Annotated[int, bounded(SEED, "--seed", help="Random seed; the same seed gives the same result.")]
SubjectOption = Annotated[str, typer.Option("--subject", "-s", help="The subject's name.")]
DatasetOption = Annotated[str, typer.Option("--dataset", "-d", help="The dataset's name in this study.")]
DeviceOption = Annotated[str, typer.Option("--device", help="auto (CUDA when there is a GPU), cpu, cuda or cuda:N.")]
PrecisionOption = Annotated[
    str,
    typer.Option(
        "--precision",
        help=f"{' | '.join(PRECISIONS)}: auto takes bf16 autocast + channels_last where the device computes bf16 "
        "natively, fp32 elsewhere.",
    ),
]


def workspace(study: Path | None) -> Workspace:
    """The workspace a command works in."""
    from prefstudy.workspace import open_workspace

    return open_workspace(study)


# Where runs are made: `run` and `study run` take the same executor options (see docs/scale.md).
ExecutorOption = Annotated[
    str,
    typer.Option(
        "--executor",
        help="Where to make the runs: inline (one after another in this process), local (a pool of worker "
        "processes here), ray (a Ray cluster), slurm (Slurm jobs through submitit), or a plugin's.",
    ),
]
WorkersOption = Annotated[
    int | None, bounded(COUNT, "--workers", help="local: worker processes (default: one per CPU).")
]
CpusPerRunOption = Annotated[
    float | None,
    bounded(RESOURCE, "--cpus-per-run", help="CPUs (torch threads) each run asks for; local default: CPUs / workers."),
]
GpusPerRunOption = Annotated[
    float | None,
    bounded(RESOURCE, "--gpus-per-run", help="ray, slurm: GPUs each run asks for (on Ray a fraction shares one)."),
]
AddressOption = Annotated[
    str | None,
    typer.Option("--address", help="ray: the cluster (auto, or ray://HEAD:10001); default: start one on this machine."),
]
PartitionOption = Annotated[str | None, typer.Option("--partition", help="slurm: the partition to submit to.")]
MaxParallelOption = Annotated[
    int | None, bounded(COUNT, "--max-parallel", help="slurm: jobs of the array running at once (default 64).")
]
TimeLimitOption = Annotated[
    int | None,
    bounded(COUNT, "--time-limit", help="slurm: minutes per job; at the limit it is requeued (default 60)."),
]
RunsPerJobOption = Annotated[
    int | None,
    bounded(COUNT, "--runs-per-job", help="slurm: runs one job makes, sharing its warm caches (default 1)."),
]
ClusterOption = Annotated[
    str | None,
    typer.Option("--cluster", help="slurm: 'slurm' (default), or 'local' to run the same jobs as local processes."),
]
StorageOption = Annotated[
    Path | None,
    typer.Option(
        "--storage",
        help="ray, slurm: a directory the workers share with this machine, where runs are made; a retried run "
        "resumes from its checkpoint there (without it, on Ray, it restarts). Slurm default: the study's runs/.",
    ),
]
RetriesOption = Annotated[
    int | None,
    bounded(
        RETRIES,
        "--retries",
        help="Tries after a run fails or its worker is lost (default: 0 inline, 2 on other executors).",
    ),
]
