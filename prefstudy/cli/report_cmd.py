"""`prefstudy report`: accuracy with its uncertainty per subject and run, statistics across subjects."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from prefstudy.cli.options import StudyOption, workspace
from prefstudy.cli.output import note, stdout_console
from prefstudy.config import ACCURACY_MARGIN, BOOTSTRAP_B, RHO_MARGIN, Inference
from prefstudy.errors import PrefstudyError

FORMATS = ("table", "markdown", "json", "html")


def report(
    format: Annotated[str, typer.Option("--format", "-f", help=f"{', '.join(FORMATS)}.")] = "table",
    out: Annotated[
        Path | None, typer.Option(help="Write the report to FILE instead of stdout (html: required).")
    ] = None,
    subjects: Annotated[
        list[str] | None,
        typer.Option(
            "--subjects",
            "--subject",
            help="Only subjects matching this glob (e.g. 'lon-*'); repeat for more (a subject matching any is kept). "
            "A glob that matches no subject of the study is an error.",
        ),
    ] = None,
    dataset: Annotated[str | None, typer.Option(help="Only this dataset (one the study has).")] = None,
    per_subject: Annotated[
        Path | None,
        typer.Option(
            "--per-subject",
            help="Also write each subject's test score per group (one row per subject and group) to FILE: "
            "CSV or Parquet by its suffix (.csv, .parquet). Columns: docs/json.md.",
        ),
    ] = None,
    equivalence_margin: Annotated[
        float,
        typer.Option(
            min=0.01,
            help="Accuracy points within which a personal model and a baseline count as equivalent (TOST, where "
            "Wilcoxon finds no difference).",
        ),
    ] = 100 * ACCURACY_MARGIN,
    rho_margin: Annotated[float, typer.Option(min=0.001, help="The same margin in Spearman's ρ.")] = RHO_MARGIN,
    bootstrap: Annotated[
        int, typer.Option(min=100, help="Replicates of the two-way (raters x items) bootstrap across raters.")
    ] = BOOTSTRAP_B,
    seed: Annotated[int, typer.Option(help="Seed of the bootstrap.")] = 0,
    study: StudyOption = None,
) -> None:
    """Report the study across subjects: every statistic with its uncertainty, as tables, Markdown, JSON or HTML.

    The tables of runs list every subject with runs; the terminal and Markdown show the first rows of a long
    table, the HTML page folds it, and --format json (or --per-subject FILE) holds every row.
    """
    from prefstudy.files import write_text_atomically
    from prefstudy.report import collect, render_json, render_markdown, render_table

    if format not in FORMATS:
        raise PrefstudyError(f"unknown report format {format!r}; use one of: {', '.join(FORMATS)}")
    if format == "table" and out is not None:
        raise PrefstudyError("--out needs --format markdown, json or html")
    if format == "html" and out is None:
        raise PrefstudyError("--format html needs --out FILE (one self-contained page)")
    if per_subject is not None:
        from prefstudy.report.export import check_export_path

        check_export_path(per_subject)
    ws = workspace(study)
    inference = Inference(equivalence_margin / 100, rho_margin, bootstrap, seed)
    data = collect(ws, subjects=subjects, dataset=dataset, inference=inference)
    if per_subject is not None:
        from prefstudy.report.export import write_per_subject

        rows = write_per_subject(data, per_subject)
        note(f"wrote {per_subject} ({rows:,} rows: a subject's score per group)")
    if format == "table":
        render_table(data, stdout_console())
        return
    if format == "html":
        from prefstudy.report.html import render_html

        text = render_html(data, ws)
    else:
        text = render_markdown(data) if format == "markdown" else render_json(data)
    if out is None:
        typer.echo(text)
    else:
        write_text_atomically(out, text + "\n")
        note(f"wrote {out} ({format})")
