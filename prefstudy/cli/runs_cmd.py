"""`prefstudy runs import`: merge runs made as separate jobs back into the study."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from prefstudy.cli.options import JsonOption, StudyOption, workspace
from prefstudy.cli.output import note, print_json

app = typer.Typer(
    rich_markup_mode=None,
    help="Merge runs made elsewhere (separate jobs, other machines) into this study.",
    no_args_is_help=True,
)


@app.command("import")
def import_(
    paths: Annotated[list[Path], typer.Argument(help="Run directories, studies, or runs/ folders.")],
    study: StudyOption = None,
    json_out: JsonOption = False,
) -> None:
    """Import finished runs: their rows go to this study's database and their directories under runs/."""
    from prefstudy.runs.importing import import_runs

    imported, skipped = import_runs(workspace(study), paths)
    if json_out:
        print_json({"imported": imported, "skipped": skipped})
        return
    note(f"imported {len(imported)} run(s)" + (f"; {len(skipped)} already here" if skipped else ""))
