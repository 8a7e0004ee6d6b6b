"""`prefstudy study init|plan|run`."""

from __future__ import annotations

from dataclasses import asdict
from pathlib import Path
from typing import Annotated

import typer

from prefstudy.cli.options import DeviceOption, JsonOption, PrecisionOption, StudyOption, workspace
from prefstudy.cli.output import note, print_json, warn
from prefstudy.errors import PrefstudyError

app = typer.Typer(rich_markup_mode=None, help="Create a study and make its planned runs.", no_args_is_help=True)


def _report_sync(outcome) -> None:
    for name in outcome.added_datasets:
        note(f"added dataset {name}")
    for name in outcome.simulated:
        note(f"simulated subject {name}")
    for problem in outcome.problems:
        warn(problem)


@app.command("init")
def init(
    directory: Annotated[Path, typer.Argument(help="The study directory to create.")],
    from_file: Annotated[
        Path | None,
        typer.Option("--from", help="A study file to set the study up from; 'paper' and 'demo' name the shipped ones."),
    ] = None,
) -> None:
    """Create a study workspace: study.toml, prefstudy.duckdb, runs/ and cache/.

    With --from, the study file's datasets are added (those whose files are found) and its
    simulated subjects created.
    """
    from prefstudy.studyfile import resolve_study_file
    from prefstudy.workspace import init_workspace

    ws = init_workspace(directory, resolve_study_file(from_file) if from_file is not None else None)
    note(f"created study {ws.root}")
    if from_file is not None:
        from prefstudy.progress import RichReporter
        from prefstudy.study.sync import sync

        with RichReporter() as reporter:
            _report_sync(sync(ws, reporter))


EpochsOverride = Annotated[
    int | None, typer.Option("--epochs", help="Override every declared run's epochs (e.g. 1 for a quick pass).")
]


@app.command("plan")
def show_plan(study: StudyOption = None, epochs: EpochsOverride = None, json_out: JsonOption = False) -> None:
    """Show every planned run per subject: done, to do, or blocked (and why)."""
    from prefstudy.study.plan import BLOCKED, DONE, TODO, WAITING, plan

    items = plan(workspace(study), epochs)
    if json_out:
        print_json(
            {
                "runs": [
                    {
                        "subject": p.subject,
                        "dataset": p.dataset,
                        **p.settings.to_dict(),
                        "transfer": asdict(p.run.transfer) if p.run.transfer else None,
                        "status": p.status,
                        "run_id": p.run_id,
                        "source_run": p.source_run,
                        "reason": p.reason,
                    }
                    for p in items
                ]
            }
        )
        return
    if not items:
        note("nothing planned: declare [[runs]] in study.toml and give subjects labels on their datasets")
    for p in items:
        s = p.settings
        details = [s.backbone, s.protocol, f"{s.epochs} epochs"]
        if s.train_size is not None:
            details.append(f"{s.train_size} train labels")
        if p.run.transfer is not None:
            details.append(f"{p.run.transfer.mode} from {p.run.transfer.source_dataset}")
        tail = {DONE: f"done: {p.run_id}", TODO: "to do", WAITING: p.reason, BLOCKED: f"blocked: {p.reason}"}
        typer.echo(f"{p.subject} on {p.dataset} ({', '.join(details)}): {tail[p.status]}")


@app.command("run")
def run(
    study: StudyOption = None,
    device: DeviceOption = "auto",
    precision: PrecisionOption = "auto",
    epochs: EpochsOverride = None,
    json_out: JsonOption = False,
) -> None:
    """Make every planned run for every subject with labels, skipping those already finished.

    Declared datasets and simulated subjects that are missing are set up first, so this can be
    re-run as data and labels come in.
    """
    from prefstudy.progress import RichReporter
    from prefstudy.study.plan import BLOCKED, DONE, plan
    from prefstudy.study.run import run_study
    from prefstudy.study.sync import sync

    ws = workspace(study)
    with RichReporter() as reporter:
        _report_sync(sync(ws, reporter))
        pending = plan(ws, epochs)
        for p in pending:
            if p.status == BLOCKED:
                warn(f"{p.subject} on {p.dataset} ({p.settings.protocol}) skipped: {p.reason}")
        results = run_study(ws, device, reporter, epochs, precision)
    done = sum(p.status == DONE for p in pending)
    if json_out:
        print_json({"made": results, "already_done": done})
        return
    note(f"{len(results)} run(s) made, {done} already finished")
    if not results and not done:
        raise PrefstudyError("no run could be made: add [[runs]] to study.toml and labels for their datasets")
