"""`prefstudy runs list|import`: see unfinished runs; merge runs made as separate jobs back into the study."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from prefstudy.cli.options import JsonOption, StudyOption, workspace
from prefstudy.cli.output import note, print_json
from prefstudy.errors import PrefstudyError
from prefstudy.runs.status import ACTIVE, STATUSES, UNFINISHED

app = typer.Typer(
    rich_markup_mode=None,
    help="List the study's runs (unfinished ones first of all); merge runs made elsewhere into this study.",
    no_args_is_help=True,
)


def _statuses(given: list[str], every: bool) -> tuple[str, ...] | None:
    """The statuses to list: those given (repeated or comma-separated), all (None), or the unfinished ones."""
    from prefstudy.runs.status import check_statuses

    names = [name.strip() for text in given for name in text.split(",") if name.strip()]
    if names and every:
        raise PrefstudyError("give --status or --all, not both")
    if every:
        return None
    return check_statuses(names) if names else UNFINISHED


def _line(row) -> str:
    line = (
        f"{row.id}  {row.status}  {row.subject} on {row.dataset} ({row.backbone}, {row.protocol}, {row.epochs} epochs)"
    )
    if row.job_id is not None and row.status in ACTIVE:
        line += f"  {row.executor} job {row.job_id}"
    elif row.owner is not None and row.status in ACTIVE:
        line += f"  {row.owner.describe()}"
    return line + (f"  {row.error}" if row.error else "")


@app.command("list")
def list_(
    status: Annotated[
        list[str] | None,
        typer.Option(
            "--status", help=f"Only runs with this status ({', '.join(STATUSES)}); repeat it or give a comma list."
        ),
    ] = None,
    every: Annotated[bool, typer.Option("--all", help="Every run, finished ones included.")] = False,
    study: StudyOption = None,
    json_out: JsonOption = False,
) -> None:
    """List the study's unfinished runs (queued, running, interrupted, failed), oldest first.

    A run whose process has gone (killed, or its machine restarted) is marked interrupted here;
    `prefstudy run --resume RUN_ID` or `prefstudy study run` continues it. A run on another
    host shows as running, with its host.
    """
    from prefstudy.runs.record import list_runs

    statuses = _statuses(status or [], every)
    rows = list_runs(workspace(study), statuses)
    if json_out:
        print_json(
            {
                "runs": [
                    {
                        "run_id": r.id,
                        "status": r.status,
                        "subject": r.subject,
                        "dataset": r.dataset,
                        "backbone": r.backbone,
                        "protocol": r.protocol,
                        "epochs": r.epochs,
                        "parent_run": r.parent_run,
                        "created_at": r.created_at.isoformat() if r.created_at else None,
                        "host": r.owner.host if r.owner else None,
                        "pid": r.owner.pid if r.owner else None,
                        "executor": r.executor,
                        "job_id": r.job_id,
                        "attempts": r.attempts,
                        "error": r.error,
                    }
                    for r in rows
                ]
            }
        )
        return
    if not rows:
        which = "unfinished " if statuses == UNFINISHED else ""
        note(f"no {which}runs" + ("; --all lists every run" if statuses is not None else ""))
    for row in rows:
        typer.echo(_line(row))


@app.command("import")
def import_(
    paths: Annotated[list[Path], typer.Argument(help="Run directories, studies, or runs/ folders.")],
    study: StudyOption = None,
    json_out: JsonOption = False,
) -> None:
    """Import finished and failed runs: their rows go to this study's database and their directories under runs/.

    A run this study holds as queued, running, interrupted or failed takes the incoming state; one
    finished here is skipped.
    """
    from prefstudy.runs.importing import import_runs

    imported, skipped = import_runs(workspace(study), paths)
    if json_out:
        print_json({"imported": imported, "skipped": skipped})
        return
    note(f"imported {len(imported)} run(s)" + (f"; {len(skipped)} already here" if skipped else ""))
