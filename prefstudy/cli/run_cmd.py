"""`prefstudy run`: train and evaluate per-subject models."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Annotated

import typer

from prefstudy.bounds import COUNT, COUNT_OR_NONE, FOLDS, OPEN_FRACTION, POSITIVE, TRAIN_SIZE
from prefstudy.cli.options import (
    AddressOption,
    ClusterOption,
    CpusPerRunOption,
    DeviceOption,
    ExecutorOption,
    GpusPerRunOption,
    JsonOption,
    MaxParallelOption,
    PartitionOption,
    PrecisionOption,
    RetriesOption,
    RunsPerJobOption,
    SeedOption,
    StorageOption,
    StudyOption,
    TimeLimitOption,
    WorkersOption,
    bounded,
    workspace,
)
from prefstudy.cli.output import note, print_json
from prefstudy.config import (
    ADAPT_MODES,
    ANSWERS,
    DEFAULT_ADAPT,
    DEFAULT_TRANSFER_MODE,
    HEADS,
    ONECYCLE,
    PAPER,
    SCHEDULE_DEFAULTS,
    SCHEDULES,
    SPLIT_BY,
    TARGETS,
    TrainSettings,
    train_settings,
)
from prefstudy.env import is_torchrun
from prefstudy.errors import PrefstudyError

_DEFAULTS = TrainSettings()


def _per_schedule(text: str, setting: str) -> str:
    """Help text with the setting's default under each schedule (one value when they agree)."""
    onecycle, paper = SCHEDULE_DEFAULTS[ONECYCLE][setting], SCHEDULE_DEFAULTS[PAPER][setting]
    return f"{text} [default: {onecycle}]" if onecycle == paper else f"{text} [default: {onecycle}, paper: {paper}]"


def _summary(result: dict) -> str:
    parts = [f"{split} {100 * m['accuracy']:.2f} %" for split, m in result["metrics"].items()]
    rho = result["metrics"].get("test", {}).get("spearman")
    parts += [f"test rho {rho:.3f}"] if rho is not None else []
    if result.get("head"):
        fitted = f"{result['head']} head on {result['backbone']} features, target {result['target']}"
        return f"run {result['run_id']}: {', '.join(parts)} ({fitted})"
    speed = f", {result['train_images_per_s']:.0f} images/s" if result.get("train_images_per_s") else ""
    return (
        f"run {result['run_id']}: {', '.join(parts)} (epoch {result['best_epoch']} of {len(result['history'])} "
        f"trained, {result['schedule']} schedule, {result['precision']}{speed})"
    )


SubjectOption = Annotated[str | None, typer.Option("--subject", "-s", help="The subject whose model to train.")]
AllSubjectsOption = Annotated[bool, typer.Option("--all-subjects", help="One run per subject with labels.")]
DatasetOption = Annotated[str | None, typer.Option("--dataset", "-d", help="The dataset to learn on.")]
BackboneOption = Annotated[
    str, typer.Option(help="Backbone name, e.g. paper-vgg; with --head, the extractor's (e.g. face).")
]
ProtocolOption = Annotated[
    str, typer.Option(help="model1 = train/test; model2 = train/validation/test (validation picks the epoch).")
]
EpochsOption = Annotated[int, bounded(COUNT, "--epochs", help="Training epochs (onecycle: at most, see --budget).")]
ScheduleOption = Annotated[
    str,
    typer.Option(
        help=f"{' or '.join(SCHEDULES)}: warm-up then cosine decay of the rate, over --epochs or --budget "
        "images, whichever is fewer, stopping model2 early after --patience epochs without a better "
        "validation; or the paper's constant Adam 1e-3, batches of 128, exactly --epochs epochs."
    ),
]
BatchSizeOption = Annotated[
    int | None,
    bounded(
        COUNT,
        "--batch-size",
        help=_per_schedule("Images per batch", "batch_size"),
    ),
]
LrOption = Annotated[
    float | None,
    bounded(
        POSITIVE,
        "--lr",
        help=_per_schedule("Adam learning rate (onecycle: its peak)", "lr"),
    ),
]
BudgetOption = Annotated[
    int | None,
    bounded(
        COUNT_OR_NONE,
        "--budget",
        help="onecycle: train on at most N images in all, 0 = no limit "
        f"[default: {SCHEDULE_DEFAULTS[ONECYCLE]['budget']}]",
    ),
]
PatienceOption = Annotated[
    int | None,
    bounded(
        COUNT_OR_NONE,
        "--patience",
        help="onecycle, model2: stop after N epochs without a better validation accuracy, 0 = never "
        f"[default: {SCHEDULE_DEFAULTS[ONECYCLE]['patience']}]",
    ),
]
TestFractionOption = Annotated[
    float, bounded(OPEN_FRACTION, "--test-fraction", help="Test share of items without an official split.")
]
ValidationFractionOption = Annotated[
    float, bounded(OPEN_FRACTION, "--validation-fraction", help="Validation share of the training items (model2).")
]
TrainSizeOption = Annotated[
    int | None,
    bounded(
        TRAIN_SIZE,
        "--train-size",
        help="Train on a seeded N of the training labels (validation and test unchanged).",
    ),
]
SplitByOption = Annotated[
    str,
    typer.Option(
        help=f"{' or '.join(SPLIT_BY)}: split each subject's items on their own, or split the dataset's items "
        "once (seeded) for every subject, as comparing with a population model needs."
    ),
]
FoldsOption = Annotated[
    int | None,
    bounded(FOLDS, "--folds", help="With --split-by item: K runs, each testing one of K seeded folds of the items."),
]
TransferFromOption = Annotated[
    str | None,
    typer.Option(
        help="Start from finished run RUN_ID, or subject:NAME[@DATASET] (that subject's latest finished run): "
        "its features, a new head, all fine-tuned."
    ),
]
FreezeFeaturesOption = Annotated[bool, typer.Option(help="With --transfer-from: train only the new head.")]
ZeroShotOption = Annotated[
    bool, typer.Option(help="With --transfer-from: evaluate the source model as it is, no training.")
]
AdaptOption = Annotated[
    str,
    typer.Option(help=f"With --transfer-from: {', '.join(ADAPT_MODES)} (how target images meet the source model)."),
]
WeightsOption = Annotated[str | None, typer.Option(help="A local weights file for the backbone.")]
HeadOption = Annotated[
    str | None,
    typer.Option(
        help=f"{', '.join(HEADS)}: instead of training a network, fit this head on the features of the extractor "
        "--backbone names (face, imagenet-lite0, run:RUN_ID): a model in milliseconds, the features computed once."
    ),
]
TargetOption = Annotated[
    str,
    typer.Option(help=f"{' or '.join(TARGETS)}: what a head learns: the answers, or a rated subject's ratings."),
]
CompileOption = Annotated[bool, typer.Option("--compile", help="Run the training steps through torch.compile.")]
ResumeOption = Annotated[str | None, typer.Option(help="Continue the unfinished run RUN_ID from its last checkpoint.")]
AgainOption = Annotated[
    bool,
    typer.Option(
        "--again",
        help="Make every run anew, even where a finished run with the same settings, start and labels exists "
        '(without it, that run is reused and --json marks it "reused": true).',
    ),
]


def run(
    subject: SubjectOption = None,
    all_subjects: AllSubjectsOption = False,
    dataset: DatasetOption = None,
    backbone: BackboneOption = _DEFAULTS.backbone,
    protocol: ProtocolOption = _DEFAULTS.protocol,
    epochs: EpochsOption = _DEFAULTS.epochs,
    seed: SeedOption = _DEFAULTS.seed,
    schedule: ScheduleOption = ONECYCLE,
    batch_size: BatchSizeOption = None,
    lr: LrOption = None,
    budget: BudgetOption = None,
    patience: PatienceOption = None,
    test_fraction: TestFractionOption = _DEFAULTS.test_fraction,
    validation_fraction: ValidationFractionOption = _DEFAULTS.validation_fraction,
    train_size: TrainSizeOption = None,
    split_by: SplitByOption = _DEFAULTS.split_by,
    folds: FoldsOption = None,
    transfer_from: TransferFromOption = None,
    freeze_features: FreezeFeaturesOption = False,
    zero_shot: ZeroShotOption = False,
    adapt: AdaptOption = DEFAULT_ADAPT,
    weights: WeightsOption = None,
    head: HeadOption = None,
    target: TargetOption = ANSWERS,
    device: DeviceOption = "auto",
    precision: PrecisionOption = "auto",
    compile: CompileOption = False,
    resume: ResumeOption = None,
    again: AgainOption = False,
    executor: ExecutorOption = "inline",
    workers: WorkersOption = None,
    cpus_per_run: CpusPerRunOption = None,
    gpus_per_run: GpusPerRunOption = None,
    address: AddressOption = None,
    partition: PartitionOption = None,
    max_parallel: MaxParallelOption = None,
    time_limit: TimeLimitOption = None,
    runs_per_job: RunsPerJobOption = None,
    cluster: ClusterOption = None,
    storage: StorageOption = None,
    retries: RetriesOption = None,
    study: StudyOption = None,
    json_out: JsonOption = False,
) -> None:
    """Train and evaluate one model per subject; metrics and predictions go to the study database.

    The runs are planned here (subjects x folds, each fold's transfer source) and made by the same
    runner as `study run`, on --executor (inline: one after another in this process). Under
    torchrun every process makes each run together; only the main one opens the study.
    """
    from prefstudy.executors.registry import ExecutorOptions, check_options

    backend = ExecutorOptions(
        workers, cpus_per_run, gpus_per_run, address, partition, max_parallel, time_limit, runs_per_job, cluster,
        storage,
    )  # fmt: skip
    check_options(executor, backend)  # before anything is read or made
    settings = None
    if resume is None:
        _check_start(subject, all_subjects, dataset, transfer_from, freeze_features, zero_shot, adapt)
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
            head=head,
            target=target,
            split_by=split_by,
            folds=folds,
        )
        if folds is not None and transfer_from is not None and not transfer_from.startswith("subject:"):
            raise PrefstudyError("--folds makes one run per fold; start them with --transfer-from subject:NAME")
    from prefstudy.runs.orders import Requested

    mode = "zero-shot" if zero_shot else "frozen" if freeze_features else DEFAULT_TRANSFER_MODE
    wanted = None if settings is None else Requested(dataset, settings, subject, transfer_from, mode, adapt)
    how = _How(executor, backend, device, precision, compile, retries, storage, again)
    results = _make(workspace(study), wanted, resume, how, json_out)
    if results is None:  # another torchrun process: the main one reports
        return
    if json_out:
        single = resume is not None or (subject is not None and folds is None)
        print_json(results[0] if single else {"runs": results})


def _check_start(
    subject: str | None,
    all_subjects: bool,
    dataset: str | None,
    transfer_from: str | None,
    freeze_features: bool,
    zero_shot: bool,
    adapt: str,
) -> None:
    """The options that say whose runs to make and from where, checked before anything is read."""
    if dataset is None:
        raise PrefstudyError("give --dataset (see `prefstudy data list`)")
    if (subject is None) == (not all_subjects):
        raise PrefstudyError("give either --subject NAME or --all-subjects")
    if transfer_from is None and (freeze_features or zero_shot or adapt != DEFAULT_ADAPT):
        raise PrefstudyError("--freeze-features, --zero-shot and --adapt go with --transfer-from RUN_ID")
    if transfer_from is not None and all_subjects:
        raise PrefstudyError("--transfer-from names one run; use --subject (study files plan transfers per subject)")
    if freeze_features and zero_shot:
        raise PrefstudyError("choose --freeze-features or --zero-shot, not both")


@dataclass(frozen=True)
class _How:
    """Where and how `run` makes its runs."""

    executor: str
    options: object
    device: str
    precision: str
    compile: bool
    retries: int | None
    storage: Path | None
    again: bool = False  # make runs that a finished identical run already made


def _make(ws, wanted, resume: str | None, how: _How, json_out: bool) -> list[dict] | None:
    """Plan the runs (or the resumed one) and make them; None in a torchrun process other than the main one."""
    from prefstudy.executors.driver import DriverOptions, fixed_orders
    from prefstudy.executors.runner import run_orders
    from prefstudy.progress import RichReporter
    from prefstudy.runs.orders import requested_orders, resume_order

    world = _torchrun_world(how.executor)
    if world is not None and not world.main:
        _follow(world)
        return None
    hint = "continue with `prefstudy run --resume RUN_ID` (`prefstudy runs list` names it)"
    driving = DriverOptions(
        how.device,
        how.precision,
        how.compile,
        processes=world.size if world is not None else 1,
        retries=how.retries,
        storage=how.storage,
        strict=True,
        continue_hint=hint,
    )
    try:
        with RichReporter() as reporter:
            orders = [resume_order(ws, resume)] if resume is not None else requested_orders(ws, wanted)
            reused = {} if how.again or world is not None else _reused(ws, orders, how.precision, json_out)
            due = [o for i, o in enumerate(orders) if i not in reused]
            shown = None if json_out else lambda result: note(_summary(result))
            outcome = run_orders(ws, fixed_orders(due), how.executor, how.options, driving, reporter, shown, world)
    finally:
        if world is not None:
            world.close()
    if outcome.failed:
        first = outcome.failed[0]
        more = f" ({len(outcome.failed) - 1} more failed; see `prefstudy runs list`)" if len(outcome.failed) > 1 else ""
        raise PrefstudyError(f"run {first['run_id']} failed: {first['error']}{more}")
    return [reused[i] for i in sorted(reused)] + outcome.finished


def _reused(ws, orders, precision: str, json_out: bool) -> dict[int, dict]:
    """The orders an identical finished run already made, by index: that run's result, marked reused. A run that
    computed in another precision than one asked for by name (not auto) is not the same model."""
    from prefstudy.runs.orders import identical_finished
    from prefstudy.runs.record import run_results

    found = identical_finished(ws, orders)
    results = run_results(ws, found.values())
    if precision != "auto":
        found = {i: run_id for i, run_id in found.items() if results[run_id].get("precision") == precision}
    if found and not json_out:
        first = next(iter(found.values()))
        more = f" (and {len(found) - 1} more)" if len(found) > 1 else ""
        note(
            f"an identical finished run exists (same settings, start and labels): {first}{more}, reused; "
            "--again makes a new one"
        )
    return {i: {**results[run_id], "reused": True} for i, run_id in found.items()}


def _torchrun_world(executor: str):
    """The torchrun world this command runs in (its processes make each run together), or None outside torchrun."""
    if not is_torchrun():
        return None
    if executor != "inline":
        raise PrefstudyError(f"under torchrun, runs are made inline by every process together, not on {executor}")
    from prefstudy.engine.distributed import current_world

    return current_world()


def _follow(world) -> None:
    """A torchrun process other than the main one: it never opens the study, it trains with the main one."""
    from prefstudy.executors.inline import follow
    from prefstudy.store.connection import forbid_databases

    forbid_databases("under torchrun only the main process opens the study")
    try:
        follow(world)
    finally:
        world.close()
