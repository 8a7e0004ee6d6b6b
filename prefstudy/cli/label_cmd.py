"""`prefstudy label`: the labelling app; `label links|enrolments|import|import-ratings|export`."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from prefstudy.bounds import COUNT, FINITE, FIXATION_S, PORT, PORT_OR_ANY, REPEAT, SECONDS, SHARE
from prefstudy.cli.options import DatasetOption, JsonOption, SeedOption, StudyOption, SubjectOption, bounded, workspace
from prefstudy.cli.output import note, print_json
from prefstudy.errors import PrefstudyError
from prefstudy.labeler import DEFAULT_PORT, LOOPBACK

app = typer.Typer(
    rich_markup_mode=None,
    help="Label images in the browser (`prefstudy label --dataset D --subject S`), or import/export labels.",
    invoke_without_command=True,
)


LabelDatasetOption = Annotated[str | None, typer.Option("--dataset", "-d", help="The dataset to label.")]
LabelSubjectOption = Annotated[
    str | None, typer.Option("--subject", "-s", help="Who labels (added if new); default: every person.")
]
LabelDeadlineOption = Annotated[
    float, bounded(SECONDS, "--deadline", help="Seconds per image; 0 = no deadline. The paper: 1.")
]
LabelBlockOption = Annotated[int, bounded(COUNT, "--block", help="Trials per block, with a break between blocks.")]
LabelMarkReasonOption = Annotated[
    str, typer.Option(help="Ask for a box over what drove the choice: always, sometimes or never.")
]
LabelRepeatOption = Annotated[
    float,
    bounded(
        REPEAT,
        "--repeat",
        help="Hidden share shown again (test-retest): of --trials (at least one where it leaves room), else of "
        "the images shown.",
    ),
]
LabelLimitOption = Annotated[int | None, bounded(COUNT, "--limit", help="Label only the first N images of the order.")]
LabelFixationOption = Annotated[
    float, bounded(FIXATION_S, "--fixation", help="Seconds of the fixation cross before each image.")
]
LabelHostOption = Annotated[str, typer.Option(help="Listen here; 0.0.0.0 serves other machines (secret links).")]
LabelPortOption = Annotated[int, bounded(PORT_OR_ANY, "--port", help="The port; 0 picks a free one.")]
LabelNoBrowserOption = Annotated[bool, typer.Option("--no-browser", help="Do not open a browser.")]
LabelEnrolOption = Annotated[
    str,
    typer.Option(
        help="links: the study's people, each through a secret link; "
        "open: one public join link, where participants enrol themselves (Prolific, MTurk)."
    ),
]
LabelParticipantParamOption = Annotated[
    str | None,
    typer.Option(help="With --enrol open: the join link's query parameter carrying the participant's id."),
]
LabelMaxSubjectsOption = Annotated[
    int | None, bounded(COUNT, "--max-subjects", help="With --enrol open: enrol at most N participants.")
]
LabelJoinRateOption = Annotated[
    int | None,
    bounded(COUNT, "--join-rate", help="With --enrol open: new participants per minute from one address."),
]
LabelTrialsOption = Annotated[
    int | None, bounded(COUNT, "--trials", help="Each subject is done after N answers (misses not counted).")
]
LabelCompleteUrlOption = Annotated[
    str | None, typer.Option(help="Where the page sends a subject who is done, e.g. the platform's completion URL.")
]
LabelOrderOption = Annotated[
    str,
    typer.Option(
        help="What each subject sees next: random; uncertainty (what their newest model is least sure of); "
        "diverse (from clusters of image features, so the first labels cover the domain). "
        "A subject keeps the order they began in."
    ),
]
LabelExploreOption = Annotated[
    float,
    bounded(SHARE, "--explore", help="With uncertainty or diverse: the share of random images mixed in."),
]
LabelRefitEveryOption = Annotated[
    int,
    bounded(COUNT, "--refit-every", help="With uncertainty: retrain the subject's model every N answers."),
]
LabelStartOption = Annotated[
    str,
    typer.Option(
        help="With uncertainty or diverse, the model to start from: auto (the population's, else the "
        "subject's on another dataset, else none), scratch, or a run id."
    ),
]


@app.callback()
def label(
    ctx: typer.Context,
    dataset: LabelDatasetOption = None,
    subject: LabelSubjectOption = None,
    deadline: LabelDeadlineOption = 1.0,
    block: LabelBlockOption = 100,
    mark_reason: LabelMarkReasonOption = "sometimes",
    repeat: LabelRepeatOption = 0.0,
    seed: SeedOption = 0,
    limit: LabelLimitOption = None,
    fixation: LabelFixationOption = 0.3,
    host: LabelHostOption = LOOPBACK,
    port: LabelPortOption = DEFAULT_PORT,
    no_browser: LabelNoBrowserOption = False,
    enrol: LabelEnrolOption = "links",
    participant_param: LabelParticipantParamOption = None,
    max_subjects: LabelMaxSubjectsOption = None,
    join_rate: LabelJoinRateOption = None,
    trials: LabelTrialsOption = None,
    complete_url: LabelCompleteUrlOption = None,
    order: LabelOrderOption = "random",
    explore: LabelExploreOption = 0.2,
    refit_every: LabelRefitEveryOption = 20,
    start: LabelStartOption = "auto",
    study: StudyOption = None,
) -> None:
    """Start the labelling app: each subject answers preferred / not preferred, image by image."""
    if ctx.invoked_subcommand is not None:
        return
    if dataset is None:
        typer.echo(ctx.get_help())
        raise PrefstudyError("give --dataset to label (see `prefstudy data list`)")
    from prefstudy.labeler.launch import check_enrol, open_enrolment, start_labelling
    from prefstudy.labeler.options import LabelOptions

    check_enrol(enrol, subject, participant_param=participant_param, max_subjects=max_subjects, join_rate=join_rate)
    options = LabelOptions(
        deadline_s=deadline,
        block=block,
        mark_reason=mark_reason,
        repeat=repeat,
        seed=seed,
        limit=limit,
        fixation_s=fixation,
        trials=trials,
        complete_url=complete_url,
        order=order,
        explore=explore,
        refit_every=refit_every,
        start=start,
    )
    ws = workspace(study)
    opened = open_enrolment(
        enrol,
        participant_param=participant_param,
        max_subjects=max_subjects,
        join_rate=join_rate,
        keep_address=ws.spec().label.keep_address,
    )
    start_labelling(
        ws,
        dataset,
        subject,
        options,
        enrol=opened,
        host=host,
        port=port,
        open_browser=not no_browser,
        say=typer.echo,
        note=note,
    )


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
    from prefstudy.subjects.roster import human_subjects

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


@app.command("enrolments")
def enrolments(
    dataset: Annotated[str | None, typer.Option("--dataset", "-d", help="Only those enrolled on this dataset.")] = None,
    study: StudyOption = None,
    json_out: JsonOption = False,
) -> None:
    """List the participants who enrolled through the join link (`label --enrol open`): their platform id, where
    they got to (enrolled, started, finished), answers, misses, repeat consistency, median response time, times."""
    from prefstudy.labeler.enrolments import participants

    rows = participants(workspace(study), dataset=dataset)
    if json_out:
        print_json({"enrolments": [p.to_dict() for p in rows]})
        return
    for p in rows:
        e, consistency = p.enrolment, "—" if p.consistency is None else f"{100 * p.consistency:.0f} %"
        rt = "—" if p.median_rt_ms is None else f"{p.median_rt_ms:.0f} ms"
        done = f"  finished {e.finished_at:%Y-%m-%d %H:%M}" if e.finished_at else ""
        typer.echo(
            f"{e.subject}  {e.participant_param}={e.participant_id}  {e.dataset}  {p.state}  {p.answers} answers  "
            f"{p.timed_out} missed  repeats {p.repeats} ({consistency} alike)  median RT {rt}  "
            f"enrolled {e.created_at:%Y-%m-%d %H:%M}{done}"
        )
    finished = sum(p.state == "finished" for p in rows)
    note(f"{len(rows)} enrolled, {finished} finished")


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


@app.command("import-ratings")
def import_ratings(
    file: Annotated[Path, typer.Argument(help="A ratings table, CSV or Parquet (by its suffix).")],
    dataset: DatasetOption,
    layout: Annotated[
        str, typer.Option(help="long: one row per rating (rater, item, rating); wide: one row per rater.")
    ] = "long",
    rater: Annotated[
        str | None,
        typer.Option(
            help="The rater column (long: default 'rater'; wide: none names raters r0001, r0002, ... by row)."
        ),
    ] = None,
    item: Annotated[str | None, typer.Option(help="Long: the item column (default 'item').")] = None,
    rating: Annotated[str | None, typer.Option(help="Long: the rating column (default 'rating').")] = None,
    item_columns: Annotated[
        str, typer.Option(help="Wide: a regex matching whole item columns; group 1 names the item, e.g. 'X(\\d+)'.")
    ] = "(.+)",
    subject_columns: Annotated[
        str | None, typer.Option(help="Comma-separated columns that carry each rater's attributes (e.g. sex, age).")
    ] = None,
    subject_table: Annotated[
        Path | None,
        typer.Option(help="CSV or Parquet with one row per rater (rater column first, or named as --rater)."),
    ] = None,
    prefix: Annotated[str, typer.Option(help="Put before each rater to name their subject, e.g. lon-.")] = "",
    threshold: Annotated[
        float | None,
        bounded(FINITE, "--threshold", help="Preferred above T, not below (default: the rater's median)."),
    ] = None,
    replace: Annotated[bool, typer.Option("--replace", help="Store changed ratings and a changed rule.")] = False,
    skip_unknown: Annotated[
        bool, typer.Option("--skip-unknown", help="Leave out ratings of items the dataset lacks.")
    ] = False,
    study: StudyOption = None,
    json_out: JsonOption = False,
) -> None:
    """Import many raters' ratings, one human subject per rater; bad rows are reported and nothing is imported.

    Empty, NA and NaN cells are missing ratings. Items are named by key or file stem. Each rating is kept;
    above the rater's own median (or --threshold) is preferred, below not, on it a tie. Safe to run again.
    """
    from prefstudy.subjects.rating_files import RatingTable, import_ratings

    table = RatingTable(
        layout=layout,
        rater=rater,
        item=item,
        rating=rating,
        item_columns=item_columns,
        subject_columns=tuple(c.strip() for c in (subject_columns or "").split(",") if c.strip()),
        subject_table=subject_table,
        prefix=prefix,
    )
    result = import_ratings(workspace(study), file, dataset, table, threshold, replace, skip_unknown)
    if json_out:
        print_json(result.to_dict())
        return
    for line in result.summary():
        note(line)


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
