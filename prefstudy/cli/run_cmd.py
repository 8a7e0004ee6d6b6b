"""`prefstudy run`: train and evaluate per-subject models."""

from __future__ import annotations

from typing import Annotated

import typer

from prefstudy.cli.options import JsonOption, StudyOption, workspace
from prefstudy.cli.output import note, print_json
from prefstudy.config import TrainSettings
from prefstudy.distributed import World, current_world
from prefstudy.errors import PrefstudyError
from prefstudy.progress import Reporter, RichReporter, SilentReporter
from prefstudy.runs import RunRequest, resume_run, start_run
from prefstudy.transfer import TransferRequest

_DEFAULTS = TrainSettings()


def _summary(result: dict) -> str:
    parts = [f"{split} {100 * m['accuracy']:.2f} %" for split, m in result["metrics"].items()]
    speed = f", {result['train_images_per_s']:.0f} images/s" if result.get("train_images_per_s") else ""
    return (
        f"run {result['run_id']}: {', '.join(parts)} (epoch {result['best_epoch']}/{result['epochs']}, "
        f"{result['precision']}{speed})"
    )


def _reporter(world: World) -> Reporter:
    """Progress bars from the main process only."""
    return RichReporter() if world.main else SilentReporter()


def run(
    subject: Annotated[str | None, typer.Option("--subject", "-s", help="The subject whose model to train.")] = None,
    all_subjects: Annotated[bool, typer.Option("--all-subjects", help="One run per subject with labels.")] = False,
    dataset: Annotated[str | None, typer.Option("--dataset", "-d", help="The dataset to learn on.")] = None,
    backbone: Annotated[str, typer.Option(help="Backbone name, e.g. paper-vgg.")] = _DEFAULTS.backbone,
    protocol: Annotated[
        str, typer.Option(help="model1 = train/test; model2 = train/validation/test (validation picks the epoch).")
    ] = _DEFAULTS.protocol,
    epochs: Annotated[int, typer.Option(help="Training epochs.")] = _DEFAULTS.epochs,
    seed: Annotated[int, typer.Option(help="Seed of the split, the initial weights and the batch order.")] = 0,
    batch_size: Annotated[int, typer.Option(help="Images per batch.")] = _DEFAULTS.batch_size,
    lr: Annotated[float, typer.Option(help="Adam learning rate.")] = _DEFAULTS.lr,
    test_fraction: Annotated[
        float, typer.Option(help="Test share of items without an official split.")
    ] = _DEFAULTS.test_fraction,
    validation_fraction: Annotated[
        float, typer.Option(help="Validation share of the training items (model2).")
    ] = _DEFAULTS.validation_fraction,
    train_size: Annotated[
        int | None, typer.Option(help="Train on a seeded N of the training labels (validation and test unchanged).")
    ] = None,
    transfer_from: Annotated[
        str | None, typer.Option(help="Start from finished run RUN_ID: its features, a new head, all fine-tuned.")
    ] = None,
    freeze_features: Annotated[bool, typer.Option(help="With --transfer-from: train only the new head.")] = False,
    zero_shot: Annotated[
        bool, typer.Option(help="With --transfer-from: evaluate the source model as it is, no training.")
    ] = False,
    adapt: Annotated[
        str, typer.Option(help="With --transfer-from: keep-size, resize (to the source's size) or conv.")
    ] = "keep-size",
    weights: Annotated[str | None, typer.Option(help="A local weights file for the backbone.")] = None,
    device: Annotated[str, typer.Option(help="auto (CUDA when present), cpu or cuda.")] = "auto",
    precision: Annotated[
        str,
        typer.Option(help="auto (bf16 autocast + channels_last where the device has native bf16), fp32 or bf16."),
    ] = "auto",
    compile: Annotated[bool, typer.Option("--compile", help="Run the training steps through torch.compile.")] = False,
    resume: Annotated[
        str | None, typer.Option(help="Continue the unfinished run RUN_ID from its last checkpoint.")
    ] = None,
    study: StudyOption = None,
    json_out: JsonOption = False,
) -> None:
    """Train and evaluate one model per subject; metrics and predictions go to the study database."""
    ws = workspace(study)
    world = current_world()
    if resume is not None:
        with _reporter(world) as reporter:
            result = resume_run(ws, resume, reporter)
        world.close()
        if world.main:
            print_json(result) if json_out else note(_summary(result))
        return
    if dataset is None:
        raise PrefstudyError("give --dataset (see `prefstudy data list`)")
    if (subject is None) == (not all_subjects):
        raise PrefstudyError("give either --subject NAME or --all-subjects")
    transfer = None
    if transfer_from is not None:
        if all_subjects:
            raise PrefstudyError(
                "--transfer-from names one run; use --subject (study files plan transfers per subject)"
            )
        if freeze_features and zero_shot:
            raise PrefstudyError("choose --freeze-features or --zero-shot, not both")
        mode = "zero-shot" if zero_shot else "frozen" if freeze_features else "finetune"
        transfer = TransferRequest(transfer_from, mode, adapt)
    elif freeze_features or zero_shot or adapt != "keep-size":
        raise PrefstudyError("--freeze-features, --zero-shot and --adapt go with --transfer-from RUN_ID")
    settings = TrainSettings(
        backbone=backbone,
        protocol=protocol,
        epochs=epochs,
        seed=seed,
        batch_size=batch_size,
        lr=lr,
        test_fraction=test_fraction,
        validation_fraction=validation_fraction,
        train_size=train_size,
        weights=weights,
    )
    if subject is not None:
        subjects = [subject]
    else:
        with ws.connect() as con:
            subjects = [
                s
                for (s,) in con.execute(
                    "SELECT DISTINCT subject FROM labels WHERE dataset = ? ORDER BY subject", [dataset]
                ).fetchall()
            ]
        if not subjects:
            raise PrefstudyError(f"no subject has labels on {dataset!r}")
    results = []
    with _reporter(world) as reporter:
        for name in subjects:
            if len(subjects) > 1:
                reporter.note(f"subject {name}")
            request = RunRequest(name, dataset, settings, device, transfer, precision=precision, compile=compile)
            results.append(start_run(ws, request, reporter))
            if not json_out and world.main:
                note(_summary(results[-1]))
    world.close()
    if not world.main:  # under torchrun, the main process reports
        return
    if json_out:
        print_json(results[0] if subject is not None else {"runs": results})
