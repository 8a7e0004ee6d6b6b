"""Making a run: build its model once, fit it, predict every labelled item, and write the run directory.

:func:`start_run` and :func:`resume_run` are the driver: they read the study (labels, images, a
transfer's source model), record the run as running, hand a :class:`RunJob` to :func:`execute`,
and record what it wrote. :func:`execute` opens no database: it writes ``model.pt``,
``predictions.parquet`` and ``result.json`` into the run directory, which is all
:func:`~prefstudy.runs.record.record_runs` needs, here or after a copy from another machine.
"""

from __future__ import annotations

import platform
import time
from dataclasses import dataclass, field
from importlib.metadata import PackageNotFoundError, version
from typing import Any

import numpy as np
import torch

from prefstudy import __version__
from prefstudy.backbones import Backbone
from prefstudy.config import FP32, TrainSettings, TransferRequest, transfer_of
from prefstudy.datasets.catalog import ImageSet, load_images
from prefstudy.engine.build import build_model
from prefstudy.engine.device import resolve_device
from prefstudy.engine.distributed import World, current_world
from prefstudy.engine.inputs import InputAdapter, InputPlan
from prefstudy.engine.precision import Precision, resolve_precision
from prefstudy.engine.saved_model import SavedModel, save_model
from prefstudy.engine.surgery import describe as describe_transfer
from prefstudy.engine.train import FitResult, as_train_data, fit, image_tensor, predict_from_features, predict_proba
from prefstudy.errors import PrefstudyError
from prefstudy.metrics import confusion_by_split, rank_scores_by_split
from prefstudy.progress import Reporter, SilentReporter
from prefstudy.runs.prepare import Prepared, prepare, run_config, test_items
from prefstudy.runs.record import (
    FAILED,
    FINISHED,
    INTERRUPTED,
    RunDir,
    begin_run,
    check_resumable,
    claim_run,
    get_run,
    mark_run,
    new_run_id,
    record_runs,
    result_object,
    run_dir,
    run_result,
)
from prefstudy.runs.trained import read_saved_model
from prefstudy.runs.transfer_sources import check_no_leak
from prefstudy.runs.warm import WarmCache
from prefstudy.workspace import Workspace


@dataclass(frozen=True)
class RunRequest:
    """What `prefstudy run` was asked for."""

    subject: str
    dataset: str
    settings: TrainSettings
    device: str = "auto"
    transfer: TransferRequest | None = None
    precision: str = "auto"  # auto | fp32 | bf16: how to compute, not what to learn
    compile: bool = False


@dataclass(frozen=True)
class Speed:
    """How a run computes: its numeric path, whether it is compiled, and the processes sharing it."""

    precision: Precision
    compile: bool = False
    world: World = field(default_factory=World)


@dataclass
class RunJob:
    """Everything one run needs, in memory; :func:`execute` reads nothing else."""

    run_dir: RunDir
    config: dict[str, Any]  # as in config.json
    prepared: Prepared
    images: ImageSet
    settings: TrainSettings
    transfer: TransferRequest | None
    backbone: Backbone  # built once, by the driver: from scratch, or from the transfer's source
    plan: InputPlan
    device: torch.device
    speed: Speed
    resume: bool = False
    warm: WarmCache | None = None  # what runs in this process share (images, sources, frozen features)

    @property
    def zero_shot(self) -> bool:
        return self.transfer is not None and self.transfer.mode == "zero-shot"


def versions() -> dict[str, str]:
    """The versions of what a run's numbers depend on."""
    found = {"prefstudy": __version__, "python": platform.python_version()}
    for package in ("torch", "torchvision", "numpy", "duckdb", "timm", "captum"):
        try:
            found[package] = version(package)
        except PackageNotFoundError:
            found[package] = "absent"
    return found


def start_run(
    ws: Workspace, request: RunRequest, report: Reporter | None = None, warm: WarmCache | None = None
) -> dict[str, Any]:
    """Make a new run; returns its result (the `--json` object). ``warm`` is shared by the runs of one process."""
    report = report or SilentReporter()
    world = current_world()
    device = world.device(resolve_device(request.device))
    precision = resolve_precision(request.precision, device)
    with ws.connect():  # one connection for the reads; none is held while the run trains
        source = _source(ws, request.transfer.source_run, warm) if request.transfer else None
        settings = request.settings
        if source is not None:  # a transfer run keeps its source's backbone
            settings = settings.replace(backbone=source.backbone)
        prepared = prepare(ws, request.subject, request.dataset, settings)
        if source is not None and source.dataset == request.dataset:
            check_no_leak(ws, source.run_id, request.dataset, test_items(prepared))
        images = warm.images(ws, request.dataset) if warm else load_images(ws, request.dataset)
    backbone, plan = build_model(images.info.shape, settings, source, request.transfer)
    run_id = world.broadcast(new_run_id(request.subject, request.dataset, settings.protocol))
    config = run_config(
        run_id,
        prepared,
        settings,
        device=request.device,
        precision=precision.name,
        compile=request.compile,
        processes=world.size,
        input_plan=plan.to_dict(),
        transfer=describe_transfer(source, request.transfer) if source else None,
    )
    if source is not None:
        report.note(f"transfer ({request.transfer.mode}) from run {source.run_id}: input {plan.describe()}")
    job = RunJob(
        run_dir=run_dir(ws, run_id),
        config=config,
        prepared=prepared,
        images=images,
        settings=settings,
        transfer=request.transfer,
        backbone=backbone,
        plan=plan,
        device=device,
        speed=Speed(precision, request.compile, world),
        warm=warm,
    )
    if world.main:  # the main process records the run; the others only train
        job.run_dir.path.mkdir(parents=True)
        job.run_dir.write_config({**config, "versions": versions()})
        begin_run(ws, job.run_dir, str(device))
        report.note(f"run {run_id} started; if it stops, continue with `prefstudy run --resume {run_id}`")
    return _execute_and_record(ws, job, report)


def _source(ws: Workspace, run_id: str, warm: WarmCache | None) -> SavedModel:
    return warm.source(ws, run_id) if warm else read_saved_model(ws, run_id)


def resume_run(
    ws: Workspace, run_id: str, report: Reporter | None = None, warm: WarmCache | None = None
) -> dict[str, Any]:
    """Continue an unfinished run from its last checkpoint, with its recorded settings."""
    report = report or SilentReporter()
    row = get_run(ws, run_id)
    check_resumable(row)
    settings = TrainSettings(**row.settings)
    prepared = prepare(ws, row.subject, row.dataset, settings)
    if prepared.digest != row.labels_digest:
        raise PrefstudyError(
            f"the labels of {row.subject!r} on {row.dataset!r} changed since run {run_id} started; start a new run"
        )
    transfer = transfer_of(row.config)
    source = _source(ws, transfer.source_run, warm) if transfer else None
    images = warm.images(ws, row.dataset) if warm else load_images(ws, row.dataset)
    backbone, plan = build_model(images.info.shape, settings, source, transfer)
    world = current_world()
    device = world.device(resolve_device(row.config["device"]))
    # A run resumes on the path it started on; runs from before precisions were recorded were fp32.
    speed = Speed(Precision(row.config.get("precision", FP32), device.type), row.config.get("compile", False), world)
    job = RunJob(
        run_dir=run_dir(ws, run_id),
        config=row.config,
        prepared=prepared,
        images=images,
        settings=settings,
        transfer=transfer,
        backbone=backbone,
        plan=plan,
        device=device,
        speed=speed,
        resume=True,
        warm=warm,
    )
    if world.main:
        claim_run(ws, run_id)
        report.note(f"run {run_id} resumed ({row.status} before)")
    return _execute_and_record(ws, job, report)


def _execute_and_record(ws: Workspace, job: RunJob, report: Reporter) -> dict[str, Any]:
    main = job.speed.world.main
    run_id = job.config["run_id"]
    try:
        execute(job, report)
    except KeyboardInterrupt:
        if main:
            mark_run(ws, run_id, INTERRUPTED, f"interrupted; continue with `prefstudy run --resume {run_id}`")
        raise
    except Exception as error:
        if main:
            mark_run(ws, run_id, FAILED, f"{type(error).__name__}: {error}")
        raise
    if not main:
        return {"run_id": run_id, "rank": job.speed.world.rank}
    with ws.connect():  # recorded and read back on one connection
        record_runs(ws, [job.run_dir])
        return run_result(ws, run_id)


def execute(job: RunJob, report: Reporter | None = None) -> None:
    """Train (unless zero-shot) and predict every labelled item; the main process writes the run directory.

    Writes ``model.pt``, ``predictions.parquet`` and ``result.json`` (and, while training, the
    checkpoint); opens no database. Under torchrun the other processes only train.
    """
    report = report or SilentReporter()
    began = time.perf_counter()
    backbone, labels, speed = job.backbone, job.prepared.labels, job.speed
    adapter = InputAdapter(job.plan, backbone)
    data = as_train_data(job.images.images[labels.item_idx], labels.preferred, job.prepared.split)
    prepared = job.prepared
    # Under frozen transfer the feature layers' output is computed once (and kept across runs), for
    # training and for predicting: labelled items first, then a rated subject's ties.
    frozen = _frozen_features(job, adapter, np.concatenate([labels.item_idx, prepared.ties]))
    if job.zero_shot:
        result = FitResult(best_epoch=None, history=[], state=backbone.module.state_dict())
    else:
        result = fit(
            backbone,
            adapter,
            data,
            job.settings,
            job.device,
            job.run_dir.checkpoint,
            report,
            previous_checkpoint=job.run_dir.previous_checkpoint,
            resume=job.resume,
            freeze_features=job.transfer is not None and job.transfer.mode == "frozen",
            precision=speed.precision,
            compile=speed.compile,
            world=speed.world,
            frozen=None if frozen is None else frozen[: len(labels.item_idx)],
        )
        if not speed.world.main:
            return
        backbone.module.load_state_dict(result.state)
    backbone.module.to(job.device)
    report.start(1, "predicting")
    adapter = adapter.to(job.device)
    ties = image_tensor(job.images.images[prepared.ties])
    if frozen is not None:
        p_all = predict_from_features(backbone, frozen, precision=speed.precision).numpy()
        p, p_ties = p_all[: len(labels.item_idx)], p_all[len(labels.item_idx) :]
    else:
        everything = torch.arange(len(data.labels))
        p = predict_proba(backbone.module, adapter, data.images, everything, precision=speed.precision).numpy()
        p_ties = predict_proba(
            backbone.module, adapter, ties, torch.arange(len(ties)), precision=speed.precision
        ).numpy()
    ranks = {}
    if prepared.rating is not None:  # a rated subject: ties are predicted too, and scored by rank
        ranks = rank_scores_by_split(
            np.concatenate([prepared.split, prepared.tie_split]),
            np.concatenate([prepared.rating, prepared.tie_rating]),
            np.concatenate([p, p_ties]),
        )
    report.advance()
    save_model(job.run_dir.model, job.settings.backbone, backbone, job.plan, result.state)
    _write_predictions(job, p, p_ties if prepared.rating is not None else None)
    job.run_dir.write_result(
        result_object(
            job.config,
            status=FINISHED,
            device=str(job.device),
            precision=speed.precision.name,
            best_epoch=result.best_epoch,
            duration_s=time.perf_counter() - began,
            train_images_per_s=result.train_images_per_s,
            metrics=confusion_by_split(job.prepared.split, labels.preferred, p),
            history=[vars(h) for h in result.history],
            ranks=ranks,
        )
    )
    # A finished run resumes no more: its checkpoints (weights, optimizer state, best state: 4-5x
    # model.pt) would only fill the disk, thousands of runs over.
    job.run_dir.previous_checkpoint.unlink(missing_ok=True)
    job.run_dir.checkpoint.unlink(missing_ok=True)


def _write_predictions(job: RunJob, p: np.ndarray, p_ties: np.ndarray | None) -> None:
    """Every labelled item's prediction, and a rated subject's ties (label None) with every rating."""
    prepared, keys = job.prepared, job.images.keys
    labels = prepared.labels
    if p_ties is None:
        job.run_dir.write_predictions(labels.item_idx, keys[labels.item_idx], prepared.split, labels.preferred, p)
        return
    item_idx = np.concatenate([labels.item_idx, prepared.ties])
    order = np.argsort(item_idx, kind="stable")
    answers = np.concatenate([labels.preferred.astype(object), np.full(len(prepared.ties), None, dtype=object)])
    job.run_dir.write_predictions(
        item_idx[order],
        keys[item_idx[order]],
        np.concatenate([prepared.split, prepared.tie_split])[order],
        answers[order],
        np.concatenate([p, p_ties])[order],
        rating=np.concatenate([prepared.rating, prepared.tie_rating])[order],
    )


def _frozen_features(job: RunJob, adapter: InputAdapter, items: np.ndarray) -> torch.Tensor | None:
    """The frozen feature layers' output at ``items``, kept across runs from one source; or None."""
    transfer, speed = job.transfer, job.speed
    if transfer is None or transfer.mode != "frozen" or speed.compile or speed.world.distributed:
        return None
    warm = job.warm or WarmCache()  # a run on its own (e.g. resumed) still computes them once, not every epoch
    job.backbone.module.to(job.device)
    key = (
        transfer.source_run,
        transfer.adapt,
        job.images.info.cache_file,
        job.plan.describe(),
        speed.precision.name,
        str(job.device),
    )
    return warm.features(key, job.backbone, adapter.to(job.device), job.images, items, speed.precision)
