"""`prefstudy report`: the paper's confusion tables and accuracies, per subject and run."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from prefstudy.cli.options import StudyOption, workspace
from prefstudy.cli.output import note, stdout_console
from prefstudy.errors import PrefstudyError
from prefstudy.report import FORMATS, collect, render_json, render_markdown, render_table


def report(
    format: Annotated[str, typer.Option("--format", "-f", help="table, markdown or json.")] = "table",
    out: Annotated[Path | None, typer.Option(help="Write the report to FILE instead of stdout.")] = None,
    subject: Annotated[str | None, typer.Option(help="Only this subject.")] = None,
    dataset: Annotated[str | None, typer.Option(help="Only this dataset.")] = None,
    study: StudyOption = None,
) -> None:
    """Report every finished run: TP/FP/FN/TN and accuracy per split, and accuracy across subjects."""
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
        out.write_text(text + "\n", encoding="utf-8")
        note(f"wrote {out}")
