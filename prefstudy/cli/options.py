"""Option types shared by several commands, defined once.

This module, like every ``cli`` module at import, stays light (no numpy, DuckDB or torch): the
commands import what they compute with when they run, so `prefstudy --help` and the commands
that only read the study start at once.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from prefstudy.bounds import SEED, Bound
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
