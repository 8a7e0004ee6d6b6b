"""`prefstudy label import|export`."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from prefstudy.cli.options import DatasetOption, StudyOption, SubjectOption, workspace
from prefstudy.cli.output import note
from prefstudy.subjects.labels import export_labels, import_labels

app = typer.Typer(help="Import and export a subject's labels.", no_args_is_help=True)


@app.command("import")
def import_(
    file: Annotated[Path, typer.Argument(help="CSV with a header and columns key,preferred[,rt_ms].")],
    subject: SubjectOption,
    dataset: DatasetOption,
    study: StudyOption = None,
) -> None:
    """Import a person's labels; every bad row is reported with its line number, and then nothing is imported."""
    n = import_labels(workspace(study), file, subject, dataset)
    note(f"imported {n} labels of {subject} on {dataset}")


@app.command("export")
def export(
    subject: SubjectOption,
    dataset: Annotated[str | None, typer.Option("--dataset", "-d", help="Only this dataset.")] = None,
    format: Annotated[str, typer.Option("--format", help="csv or parquet.")] = "csv",
    out: Annotated[Path | None, typer.Option(help="Write to FILE (parquet needs it; csv defaults to stdout).")] = None,
    study: StudyOption = None,
) -> None:
    """Export every label of a subject, with response times, sessions, regions and repeats."""
    text = export_labels(workspace(study), subject, out, format, dataset)
    if text is not None:
        typer.echo(text, nl=False)
    else:
        note(f"wrote {out}")
