"""`prefstudy report`: the paper's confusion tables and accuracies, per subject and run."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from prefstudy.cli.options import StudyOption, workspace
from prefstudy.cli.output import note, stdout_console
from prefstudy.errors import PrefstudyError

FORMATS = ("table", "markdown", "json")


def report(
    format: Annotated[str, typer.Option("--format", "-f", help=f"{', '.join(FORMATS)}.")] = "table",
    out: Annotated[Path | None, typer.Option(help="Write the report to FILE instead of stdout.")] = None,
    subject: Annotated[str | None, typer.Option(help="Only this subject.")] = None,
    dataset: Annotated[str | None, typer.Option(help="Only this dataset.")] = None,
    study: StudyOption = None,
) -> None:
    """Report every finished run: TP/FP/FN/TN and accuracy per split, and accuracy across subjects."""
    from prefstudy.files import write_text_atomically
    from prefstudy.report import collect, render_json, render_markdown, render_table

    if format not in FORMATS:
        raise PrefstudyError(f"unknown report format {format!r}; use one of: {', '.join(FORMATS)}")
    data = collect(workspace(study), subject=subject, dataset=dataset)
    if format == "table":
        if out is not None:
            raise PrefstudyError("--out needs --format markdown or json")
        render_table(data, stdout_console())
        return
    text = render_markdown(data) if format == "markdown" else render_json(data)
    if out is None:
        typer.echo(text)
    else:
        write_text_atomically(out, text + "\n")
        note(f"wrote {out}")
