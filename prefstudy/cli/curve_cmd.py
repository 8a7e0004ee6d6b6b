"""`prefstudy curve`: how many labels are enough (learning curves replayed from a subject's labels)."""

from __future__ import annotations

from typing import Annotated

import typer

from prefstudy.bounds import COUNT, OPEN_FRACTION, POSITIVE, SEED, SHARE
from prefstudy.cli.options import DeviceOption, JsonOption, PrecisionOption, StudyOption, bounded, workspace
from prefstudy.cli.output import note, print_json, warn
from prefstudy.config import TrainSettings
from prefstudy.errors import PrefstudyError

_DEFAULTS = TrainSettings()


def _pct(value: float | None) -> str:
    return "—" if value is None else f"{100 * value:.1f} %"


def _print(result: dict) -> None:
    """One subject's curves as text: chance, the step, and a line per curve."""
    typer.echo(
        f"{result['subject']} on {result['dataset']}: {result['test_items']} test items, a pool of {result['pool']}, "
        f"chance {_pct(result['chance'])}; {result['seeds']} seed(s); step {result['step']}"
    )
    for c in result["curves"]:
        shown = ", ".join(f"{p['labels']}: {_pct(p['accuracy'])}" for p in c["points"])
        reach = c["labels_to_95pct"] if c["labels_to_95pct"] is not None else "not reached"
        typer.echo(
            f"  {c['order']} × {c['start']}: {shown}; all {result['pool']}: {_pct(c['all_labels_accuracy'])}; "
            f"95 % of the gain: {reach}"
        )


def _print_summary(summary: list[dict]) -> None:
    """Per order × start across subjects: the median labels to 95 % of the gain, and how many reach it."""
    for s in summary:
        typer.echo(
            f"{s['order']} × {s['start']}: median labels to 95 % of the gain {s['median_labels_to_95pct']} "
            f"({s['subjects_reaching']} of {s['subjects']} subjects reach it)"
        )


CurveSubjectOption = Annotated[str | None, typer.Option("--subject", "-s", help="The subject whose labels to replay.")]
CurveAllSubjectsOption = Annotated[
    bool, typer.Option("--all-subjects", help="Every subject with labels on the dataset (consensus aside).")
]
CurveDatasetOption = Annotated[str | None, typer.Option("--dataset", "-d", help="The dataset the labels are on.")]
CurveOrderOption = Annotated[
    str, typer.Option(help="Comma list of orders the labels are chosen in: random, uncertainty, diverse.")
]
CurveStartOption = Annotated[
    str,
    typer.Option(help="Comma list of starts: scratch, transfer:RUN (its features, a new head), population:RUN."),
]
CurveBudgetsOption = Annotated[
    str | None,
    typer.Option(
        help="Comma list of label budgets, e.g. 50,100,200,400. Each step adds the labels up to the next budget, "
        "chosen with the model fitted at the current budget; a model is fitted afresh at each budget."
    ),
]
CurveSeedsOption = Annotated[int, bounded(COUNT, "--seeds", help="Seeds 0..N-1 (random choices, k-means, model init).")]
CurveExploreOption = Annotated[
    float, bounded(SHARE, "--explore", help="The random share of each step of uncertainty and diverse.")
]
CurveEpochsOption = Annotated[int, bounded(COUNT, "--epochs", help="Training epochs of each fit.")]
CurveBatchSizeOption = Annotated[int, bounded(COUNT, "--batch-size", help="Images per batch.")]
CurveLrOption = Annotated[float, bounded(POSITIVE, "--lr", help="Adam learning rate.")]
CurveBackboneOption = Annotated[str, typer.Option(help="Backbone of scratch fits (a start run keeps its own).")]
CurveSplitSeedOption = Annotated[
    int, bounded(SEED, "--split-seed", help="Seed of the dataset-level item split that picks the test items.")
]
CurveTestFractionOption = Annotated[
    float, bounded(OPEN_FRACTION, "--test-fraction", help="Test share of the dataset's items.")
]


def curve(
    subject: CurveSubjectOption = None,
    all_subjects: CurveAllSubjectsOption = False,
    dataset: CurveDatasetOption = None,
    order: CurveOrderOption = "random,uncertainty,diverse",
    start: CurveStartOption = "scratch",
    budgets: CurveBudgetsOption = None,
    seeds: CurveSeedsOption = 3,
    explore: CurveExploreOption = 0.2,
    epochs: CurveEpochsOption = 10,
    batch_size: CurveBatchSizeOption = _DEFAULTS.batch_size,
    lr: CurveLrOption = _DEFAULTS.lr,
    backbone: CurveBackboneOption = (_DEFAULTS.backbone),
    split_seed: CurveSplitSeedOption = _DEFAULTS.seed,
    test_fraction: CurveTestFractionOption = _DEFAULTS.test_fraction,
    device: DeviceOption = "auto",
    precision: PrecisionOption = "auto",
    study: StudyOption = None,
    json_out: JsonOption = False,
) -> None:
    """Test accuracy (and ρ for rated subjects) against the number of labels, replaying a subject's labels.

    The test items are the subject's labelled items the dataset-level split marks test, the same for every
    curve; the other labels are the pool the orders choose from. Curves are stored (not as runs) and shown
    in the report's "Labels needed" section.
    """
    from prefstudy.active.curve_plan import CurveRequest, check_start, parse_budgets, parse_list, plan_subjects
    from prefstudy.active.selection import check_order

    ws = workspace(study)
    if dataset is None:
        raise PrefstudyError("give --dataset (see `prefstudy data list`)")
    if (subject is None) == (not all_subjects):
        raise PrefstudyError("give either --subject NAME or --all-subjects")
    if budgets is None:
        raise PrefstudyError("give --budgets, e.g. --budgets 50,100,200,400")
    request = CurveRequest(
        subject=subject or "",  # with --all-subjects, each subject in turn
        dataset=dataset,
        orders=tuple(check_order(o) for o in parse_list(order, "order")),
        budgets=parse_budgets(budgets),
        starts=tuple(check_start(ws, s) for s in parse_list(start, "start")),
        seeds=seeds,
        explore=explore,
        backbone=backbone,
        epochs=epochs,
        batch_size=batch_size,
        lr=lr,
        split_seed=split_seed,
        test_fraction=test_fraction,
    )
    plans = plan_subjects(ws, request, all_subjects, warn=warn, note=note)

    # Fitting needs torch; everything above is checked without it.
    from prefstudy.active.curve import measure_subjects
    from prefstudy.datasets.catalog import load_images
    from prefstudy.progress import RichReporter

    images = load_images(ws, dataset)
    with RichReporter() as reporter:
        results = measure_subjects(
            ws,
            plans,
            reporter,
            every_subject=all_subjects,
            images=images,
            device=device,
            precision=precision,
            each=None if json_out else _print,
        )
    if json_out:
        print_json(results.to_dict())
    elif len(results.subjects) > 1:
        _print_summary(results.summary())
