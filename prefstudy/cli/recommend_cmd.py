"""`prefstudy recommend`: rank unseen images for a subject, each with its Grad-CAM if asked (a network run's)."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from rich.table import Table

from prefstudy.bounds import COUNT
from prefstudy.cli.options import DeviceOption, JsonOption, StudyOption, SubjectOption, bounded, workspace
from prefstudy.cli.output import note, print_json, stdout_console, warn
from prefstudy.errors import PrefstudyError

if TYPE_CHECKING:
    from prefstudy.recommend import Recommendation  # imported when the command runs


def recommend(
    subject: SubjectOption,
    images: Annotated[Path, typer.Option("--images", help="A folder of images to rank (searched recursively).")],
    run: Annotated[
        str | None,
        typer.Option("--run", help="Rank with this finished run of the subject (e.g. alice-rooms-model2-3fa9c1)."),
    ] = None,
    dataset: Annotated[
        str | None,
        typer.Option("--dataset", "-d", help="Rank with the subject's latest finished run on this dataset."),
    ] = None,
    top: Annotated[int, bounded(COUNT, "--top", help="Show the K images the model prefers most.")] = 10,
    explain: Annotated[
        bool,
        typer.Option(
            "--explain",
            help="Write a Grad-CAM overlay of each of the top K under --out (a network run's; a head run has none).",
        ),
    ] = False,
    out: Annotated[Path | None, typer.Option(help="The folder for --explain's overlays.")] = None,
    include_labelled: Annotated[
        bool, typer.Option("--include-labelled", help="Also rank images the subject has already labelled.")
    ] = False,
    device: DeviceOption = "auto",
    study: StudyOption = None,
    json_out: JsonOption = False,
) -> None:
    """Rank a folder of unseen images by a subject's model: the paper's recommendation application."""
    if explain and out is None:
        raise PrefstudyError("--explain writes overlays: give --out DIR for them")
    if out is not None and not explain:
        raise PrefstudyError("--out is where --explain writes overlays; add --explain")
    from prefstudy.progress import RichReporter
    from prefstudy.recommend import recommend as rank  # a network run's ranking imports torch and Captum

    ws = workspace(study)
    with RichReporter() as reporter:
        result = rank(
            ws,
            subject,
            images,
            run_id=run,
            dataset=dataset,
            top=top,
            explain_out=out,
            include_labelled=include_labelled,
            device=device,
            report=reporter,
        )
    if result.unreadable:
        listed = "; ".join(f"{u.path} ({u.error})" for u in result.unreadable[:10])
        more = f"; and {len(result.unreadable) - 10} more" if len(result.unreadable) > 10 else ""
        warn(f"{len(result.unreadable)} file(s) skipped: {listed}{more}")
    if result.not_explained:
        note(result.not_explained)
    if json_out:
        print_json(result.to_dict())
        return
    if result.left_out_labelled:
        note(f"left out {result.left_out_labelled} image(s) {subject} has labelled (--include-labelled ranks them)")
    _table(result)


def _table(result: Recommendation) -> None:
    shown = len(result.ranking)
    table = Table(title=f"{result.subject}: top {shown} of {result.ranked} images, by run {result.run_id}")
    overlays = shown > 0 and result.ranking[0].overlay is not None
    scores = shown > 0 and result.ranking[0].score is not None
    columns = ("rank", "p_preferred", *(("score",) if scores else ()), "image", *(("overlay",) if overlays else ()))
    for column in columns:
        table.add_column(column, justify="right" if column in ("rank", "p_preferred", "score") else "left")
    for entry in result.ranking:
        image = entry.path.relative_to(result.images_dir).as_posix()
        score = [f"{entry.score:.3f}"] if entry.score is not None else []
        cells = [str(entry.rank), f"{entry.p_preferred:.3f}", *score, image]
        table.add_row(*cells, *([str(entry.overlay)] if entry.overlay is not None else []))
    stdout_console().print(table)
