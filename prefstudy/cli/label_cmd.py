"""`prefstudy label`: the labelling app; `label links|import|export`."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from prefstudy.bounds import COUNT, FIXATION_S, PORT, PORT_OR_ANY, REPEAT, SECONDS
from prefstudy.cli.options import DatasetOption, JsonOption, SeedOption, StudyOption, SubjectOption, bounded, workspace
from prefstudy.cli.output import note, print_json
from prefstudy.errors import PrefstudyError
from prefstudy.labeler import DEFAULT_PORT, LOOPBACK

app = typer.Typer(
    rich_markup_mode=None,
    help="Label images in the browser (`prefstudy label --dataset D --subject S`), or import/export labels.",
    invoke_without_command=True,
)


@app.callback()
def label(
    ctx: typer.Context,
    dataset: Annotated[str | None, typer.Option("--dataset", "-d", help="The dataset to label.")] = None,
    subject: Annotated[
        str | None, typer.Option("--subject", "-s", help="Who labels (added if new); default: every person.")
    ] = None,
    deadline: Annotated[
        float, bounded(SECONDS, "--deadline", help="Seconds per image; 0 = no deadline. The paper: 1.")
    ] = 1.0,
    block: Annotated[int, bounded(COUNT, "--block", help="Trials per block, with a break between blocks.")] = 100,
    mark_reason: Annotated[
        str, typer.Option(help="Ask for a box over what drove the choice: always, sometimes or never.")
    ] = "sometimes",
    repeat: Annotated[
        float, bounded(REPEAT, "--repeat", help="Hidden fraction of images shown again (test-retest).")
    ] = 0.0,
    seed: SeedOption = 0,
    limit: Annotated[int | None, bounded(COUNT, "--limit", help="Label only the first N images of the order.")] = None,
    fixation: Annotated[
        float, bounded(FIXATION_S, "--fixation", help="Seconds of the fixation cross before each image.")
    ] = 0.3,
    host: Annotated[str, typer.Option(help="Listen here; 0.0.0.0 serves other machines (secret links).")] = LOOPBACK,
    port: Annotated[int, bounded(PORT_OR_ANY, "--port", help="The port; 0 picks a free one.")] = DEFAULT_PORT,
    no_browser: Annotated[bool, typer.Option("--no-browser", help="Do not open a browser.")] = False,
    study: StudyOption = None,
) -> None:
    """Start the labelling app: each subject answers preferred / not preferred, image by image."""
    if ctx.invoked_subcommand is not None:
        return
    if dataset is None:
        typer.echo(ctx.get_help())
        raise PrefstudyError("give --dataset to label (see `prefstudy data list`)")
    from prefstudy.datasets import get_dataset
    from prefstudy.labeler.app import LabelOptions
    from prefstudy.labeler.server import serve

    ws = workspace(study)
    get_dataset(ws, dataset)
    options = LabelOptions(
        deadline_s=deadline,
        block=block,
        mark_reason=mark_reason,
        repeat=repeat,
        seed=seed,
        limit=limit,
        fixation_s=fixation,
    )
    note("labelling app: stop it with Ctrl-C (every answer is already stored)")
    serve(ws, dataset, subject, options, host=host, port=port, open_browser=not no_browser, say=typer.echo)


@app.command("links")
def links(
    subject: Annotated[str | None, typer.Option("--subject", "-s", help="Only this subject.")] = None,
    host: Annotated[str, typer.Option(help="The address subjects reach the server at.")] = LOOPBACK,
    port: Annotated[
        int, bounded(PORT, "--port", help="The fixed port the server listens on (start it with the same --port).")
    ] = DEFAULT_PORT,
    study: StudyOption = None,
    json_out: JsonOption = False,
) -> None:
    """Print each person's secret link (created on first use), for `prefstudy label --host 0.0.0.0`."""
    from prefstudy.labeler.links import link_token
    from prefstudy.labeler.server import link
    from prefstudy.subjects.registry import human_subjects

    ws = workspace(study)
    names = [subject] if subject else human_subjects(ws)
    if not names:
        raise PrefstudyError("no people in this study yet; add them with `prefstudy subject add NAME`")
    urls = {name: link(host, port, link_token(ws, name)) for name in names}
    if json_out:
        print_json({"links": urls})
        return
    for name, url in urls.items():
        typer.echo(f"{name}: {url}")
    note(f"serve them with: prefstudy label --dataset DATASET --host {host} --port {port}")


@app.command("import")
def import_(
    file: Annotated[Path, typer.Argument(help="CSV with a header and columns key,preferred[,rt_ms].")],
    subject: SubjectOption,
    dataset: DatasetOption,
    study: StudyOption = None,
) -> None:
    """Import a person's labels; every bad row is reported with its line number, and then nothing is imported."""
    from prefstudy.subjects.label_files import import_labels

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
    from prefstudy.subjects.label_files import export_labels

    text = export_labels(workspace(study), subject, out, format, dataset)
    if text is not None:
        typer.echo(text, nl=False)
    else:
        note(f"wrote {out}")
