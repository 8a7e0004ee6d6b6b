"""Option types shared by several commands, defined once."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from prefstudy.workspace import STUDY_ENV, Workspace, open_workspace

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
SeedOption = Annotated[int, typer.Option("--seed", help="Random seed; the same seed gives the same result.")]
SubjectOption = Annotated[str, typer.Option("--subject", "-s", help="The subject's name.")]
DatasetOption = Annotated[str, typer.Option("--dataset", "-d", help="The dataset's name in this study.")]


def workspace(study: Path | None) -> Workspace:
    """The workspace a command works in."""
    return open_workspace(study)
