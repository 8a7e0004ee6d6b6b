"""`prefstudy run`: train and evaluate per-subject models."""

from __future__ import annotations

from typing import Annotated

import typer

from prefstudy.bounds import COUNT, COUNT_OR_NONE, FOLDS, OPEN_FRACTION, POSITIVE, TRAIN_SIZE
from prefstudy.cli.options import DeviceOption, JsonOption, PrecisionOption, SeedOption, StudyOption, bounded, workspace
from prefstudy.cli.output import note, print_json
from prefstudy.config import (
    ADAPT_MODES,
    DEFAULT_ADAPT,
    DEFAULT_TRANSFER_MODE,
    ONECYCLE,
    PAPER,
    SCHEDULE_DEFAULTS,
    SCHEDULES,
    SPLIT_BY,
    TrainSettings,
    train_settings,
)
from prefstudy.errors import PrefstudyError

_DEFAULTS = TrainSettings()


def _per_schedule(text: str, setting: str) -> str:
    """Help text with the setting's default under each schedule (one value when they agree)."""
    onecycle, paper = SCHEDULE_DEFAULTS[ONECYCLE][setting], SCHEDULE_DEFAULTS[PAPER][setting]
    return f"{text} [default: {onecycle}]" if onecycle == paper else f"{text} [default: {onecycle}, paper: {paper}]"


def _summary(result: dict) -> str:
    parts = [f"{split} {100 * m['accuracy']:.2f} %" for split, m in result["metrics"].items()]
    speed = f", {result['train_images_per_s']:.0f} images/s" if result.get("train_images_per_s") else ""
    return (
        f"run {result['run_id']}: {', '.join(parts)} (epoch {result['best_epoch']} of {len(result['history'])} "
        f"trained, {result['schedule']} schedule, {result['precision']}{speed})"
    )


def run(
    subject: Annotated[str | None, typer.Option("--subject", "-s", help="The subject whose model to train.")] = None,
    all_subjects: Annotated[bool, typer.Option("--all-subjects", help="One run per subject with labels.")] = False,
    dataset: Annotated[str | None, typer.Option("--dataset", "-d", help="The dataset to learn on.")] = None,
    backbone: Annotated[str, typer.Option(help="Backbone name, e.g. paper-vgg.")] = _DEFAULTS.backbone,
    protocol: Annotated[
        str, typer.Option(help="model1 = train/test; model2 = train/validation/test (validation picks the epoch).")
    ] = _DEFAULTS.protocol,
    epochs: Annotated[
        int, bounded(COUNT, "--epochs", help="Training epochs (onecycle: at most, see --budget).")
    ] = _DEFAULTS.epochs,
    seed: SeedOption = _DEFAULTS.seed,
    schedule: Annotated[
        str,
        typer.Option(
            help=f"{' or '.join(SCHEDULES)}: warm-up then cosine decay of the rate, over --epochs or --budget "
            "images, whichever is fewer, stopping model2 early after --patience epochs without a better "
            "validation; or the paper's constant Adam 1e-3, batches of 128, exactly --epochs epochs."
        ),
    ] = ONECYCLE,
    batch_size: Annotated[
        int | None,
        bounded(
            COUNT,
            "--batch-size",
            help=_per_schedule("Images per batch", "batch_size"),
        ),
    ] = None,
    lr: Annotated[
        float | None,
        bounded(
            POSITIVE,
            "--lr",
            help=_per_schedule("Adam learning rate (onecycle: its peak)", "lr"),
        ),
    ] = None,
    budget: Annotated[
        int | None,
        bounded(
            COUNT_OR_NONE,
            "--budget",
            help="onecycle: train on at most N images in all, 0 = no limit "
            f"[default: {SCHEDULE_DEFAULTS[ONECYCLE]['budget']}]",
        ),
    ] = None,
    patience: Annotated[
        int | None,
        bounded(
            COUNT_OR_NONE,
            "--patience",
            help="onecycle, model2: stop after N epochs without a better validation accuracy, 0 = never "
            f"[default: {SCHEDULE_DEFAULTS[ONECYCLE]['patience']}]",
        ),
    ] = None,
    test_fraction: Annotated[
        float, bounded(OPEN_FRACTION, "--test-fraction", help="Test share of items without an official split.")
    ] = _DEFAULTS.test_fraction,
    validation_fraction: Annotated[
        float, bounded(OPEN_FRACTION, "--validation-fraction", help="Validation share of the training items (model2).")
    ] = _DEFAULTS.validation_fraction,
    train_size: Annotated[
        int | None,
        bounded(
            TRAIN_SIZE,
            "--train-size",
            help="Train on a seeded N of the training labels (validation and test unchanged).",
        ),
    ] = None,
    split_by: Annotated[
        str,
        typer.Option(
            help=f"{' or '.join(SPLIT_BY)}: split each subject's items on their own, or split the dataset's items "
            "once (seeded) for every subject, as comparing with a population model needs."
        ),
    ] = _DEFAULTS.split_by,
    folds: Annotated[
        int | None,
        bounded(
            FOLDS, "--folds", help="With --split-by item: K runs, each testing one of K seeded folds of the items."
        ),
    ] = None,
    transfer_from: Annotated[
        str | None,
        typer.Option(
            help="Start from finished run RUN_ID, or subject:NAME[@DATASET] (that subject's latest finished run): "
            "its features, a new head, all fine-tuned."
        ),
    ] = None,
    freeze_features: Annotated[bool, typer.Option(help="With --transfer-from: train only the new head.")] = False,
    zero_shot: Annotated[
        bool, typer.Option(help="With --transfer-from: evaluate the source model as it is, no training.")
    ] = False,
    adapt: Annotated[
        str,
        typer.Option(help=f"With --transfer-from: {', '.join(ADAPT_MODES)} (how target images meet the source model)."),
    ] = DEFAULT_ADAPT,
    weights: Annotated[str | None, typer.Option(help="A local weights file for the backbone.")] = None,
    device: DeviceOption = "auto",
    precision: PrecisionOption = "auto",
    compile: Annotated[bool, typer.Option("--compile", help="Run the training steps through torch.compile.")] = False,
    resume: Annotated[
        str | None, typer.Option(help="Continue the unfinished run RUN_ID from its last checkpoint.")
    ] = None,
    study: StudyOption = None,
    json_out: JsonOption = False,
) -> None:
    """Train and evaluate one model per subject; metrics and predictions go to the study database."""
    ws = workspace(study)
    if resume is None:
        if dataset is None:
            raise PrefstudyError("give --dataset (see `prefstudy data list`)")
        if (subject is None) == (not all_subjects):
            raise PrefstudyError("give either --subject NAME or --all-subjects")
        if transfer_from is None and (freeze_features or zero_shot or adapt != DEFAULT_ADAPT):
            raise PrefstudyError("--freeze-features, --zero-shot and --adapt go with --transfer-from RUN_ID")
        if transfer_from is not None and all_subjects:
            raise PrefstudyError(
                "--transfer-from names one run; use --subject (study files plan transfers per subject)"
            )
        if freeze_features and zero_shot:
            raise PrefstudyError("choose --freeze-features or --zero-shot, not both")
        settings = train_settings(
            backbone=backbone,
            protocol=protocol,
            epochs=epochs,
            seed=seed,
            schedule=schedule,
            batch_size=batch_size,
            lr=lr,
            budget=budget,
            patience=patience,
            test_fraction=test_fraction,
            validation_fraction=validation_fraction,
            train_size=train_size,
            weights=weights,
            split_by=split_by,
            folds=folds,
        )
        if folds is not None and transfer_from is not None and not transfer_from.startswith("subject:"):
            raise PrefstudyError("--folds makes one run per fold; start them with --transfer-from subject:NAME")
    # Training needs torch; everything above is checked without it.
    from prefstudy.config import TransferRequest
    from prefstudy.engine.distributed import current_world
    from prefstudy.progress import RichReporter, SilentReporter
    from prefstudy.runs.execute import RunRequest, resume_run, start_run
    from prefstudy.runs.transfer_sources import resolve_source
    from prefstudy.runs.warm import WarmCache
    from prefstudy.subjects.labels import subjects_with_labels

    world = current_world()
    reporter = RichReporter() if world.main else SilentReporter()  # progress bars from the main process only
    results = []
    with reporter:
        if resume is not None:
            results.append(resume_run(ws, resume, reporter))
        else:
            warm = WarmCache()  # shared by this command's runs: images, sources, frozen features
            mode = "zero-shot" if zero_shot else "frozen" if freeze_features else DEFAULT_TRANSFER_MODE
            subjects = [subject] if subject is not None else subjects_with_labels(ws, dataset)
            if not subjects:
                raise PrefstudyError(f"no subject has labels on {dataset!r}")
            for name in subjects:
                if len(subjects) > 1:
                    reporter.note(f"subject {name}")
                for fold_settings in settings.per_fold():
                    transfer = None
                    if transfer_from is not None:
                        source = resolve_source(ws, transfer_from, dataset, fold_settings)
                        transfer = TransferRequest(source, mode, adapt)
                    request = RunRequest(
                        name, dataset, fold_settings, device, transfer, precision=precision, compile=compile
                    )
                    results.append(start_run(ws, request, reporter, warm))
                    if not json_out and world.main:
                        note(_summary(results[-1]))
    world.close()
    if not world.main:  # under torchrun, the main process reports
        return
    if json_out:
        single = resume is not None or (subject is not None and folds is None)
        print_json(results[0] if single else {"runs": results})
    elif resume is not None:
        note(_summary(results[0]))
