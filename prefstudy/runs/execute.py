"""Making a run: fit its model, predict every labelled item, and write the run directory.

A worker (:mod:`prefstudy.executors.worker`) builds a :class:`RunJob` from the task the driver handed
it and calls :func:`execute`, which opens no database: it writes ``model.pt``,
``predictions.parquet`` and ``result.json`` into the run directory, which is all
:func:`~prefstudy.runs.record.record_runs` needs, here or after a copy from another machine.
"""

from __future__ import annotations

import functools
import platform
import time
from dataclasses import dataclass
from importlib.metadata import PackageNotFoundError, version
from typing import Any

import numpy as np
import torch

from prefstudy import __version__
from prefstudy.backbones import Backbone
from prefstudy.config import TrainSettings, TransferRequest
from prefstudy.datasets.catalog import ImageSet
from prefstudy.engine.inputs import InputAdapter, InputPlan
from prefstudy.engine.predict import predict_from_features, predict_proba
from prefstudy.engine.saved_model import save_model
from prefstudy.engine.train import (
    Checkpoints,
    Compute,
    FitResult,
    FitSetup,
    TrainData,
    as_train_data,
    fit,
    image_tensor,
)
from prefstudy.metrics import confusion_by_split, rank_scores_by_split
from prefstudy.progress import Reporter, SilentReporter
from prefstudy.runs.predictions import write_predictions
from prefstudy.runs.prepare import Prepared
from prefstudy.runs.record import (
    FINISHED,
    RunDir,
    result_object,
)
from prefstudy.runs.warm import WarmCache


@dataclass
class RunJob:
    """Everything one run needs, in memory; :func:`execute` reads nothing else."""

    run_dir: RunDir
    config: dict[str, Any]  # as in config.json
    prepared: Prepared
    images: ImageSet
    settings: TrainSettings
    transfer: TransferRequest | None
    backbone: Backbone  # built once: from scratch, or from the transfer's source
    plan: InputPlan
    compute: Compute
    resume: bool = False
    warm: WarmCache | None = None  # what runs in this process share (images, sources, frozen features)

    @property
    def zero_shot(self) -> bool:
        return self.transfer is not None and self.transfer.mode == "zero-shot"

    @property
    def frozen(self) -> bool:
        return self.transfer is not None and self.transfer.mode == "frozen"


def versions() -> dict[str, str]:
    """The versions of what a run's numbers depend on."""
    return dict(_versions())


@functools.cache  # read once per process: package metadata is parsed from disk (~2 ms a package)
def _versions() -> dict[str, str]:
    found = {"prefstudy": __version__, "python": platform.python_version()}
    for package in ("torch", "torchvision", "numpy", "duckdb", "timm", "captum", "scikit-learn"):
        try:
            found[package] = version(package)
        except PackageNotFoundError:
            found[package] = "absent"
    return found


def execute(job: RunJob, report: Reporter | None = None) -> None:
    """Train (unless zero-shot) and predict every labelled item; the main process writes the run directory.

    Writes ``model.pt``, ``predictions.parquet`` and ``result.json`` (and, while training, the
    checkpoint); opens no database. Under torchrun the other processes only train.
    """
    report = report or SilentReporter()
    began = time.perf_counter()
    labels, prepared = job.prepared.labels, job.prepared
    adapter = InputAdapter(job.plan, job.backbone)
    data = as_train_data(job.images.images[labels.item_idx], labels.preferred, prepared.split)
    # Under frozen transfer the feature layers' output is computed once (and kept across runs), for
    # training and for predicting: labelled items first, then a rated subject's ties.
    frozen = _frozen_features(job, adapter, np.concatenate([labels.item_idx, prepared.ties]))
    result = _fit(job, adapter, data, report, None if frozen is None else frozen[: len(labels.item_idx)])
    if not job.compute.world.main:
        return
    report.start(1, "predicting")
    p, p_ties = _predict(job, adapter, data, frozen)
    report.advance()
    ranks = {}
    if prepared.rating is not None:  # a rated subject: ties are predicted too, and scored by rank
        ranks = rank_scores_by_split(
            np.concatenate([prepared.split, prepared.tie_split]),
            np.concatenate([prepared.rating, prepared.tie_rating]),
            np.concatenate([p, p_ties]),
        )
    save_model(job.run_dir.model, job.settings.backbone, job.backbone, job.plan, result.state)
    write_predictions(job.run_dir, prepared, job.images.keys, p, p_ties if prepared.rating is not None else None)
    job.run_dir.write_result(
        result_object(
            job.config,
            status=FINISHED,
            device=str(job.compute.device),
            precision=job.compute.precision.name,
            best_epoch=result.best_epoch,
            duration_s=time.perf_counter() - began,
            train_images_per_s=result.train_images_per_s,
            metrics=confusion_by_split(prepared.split, labels.preferred, p),
            history=[vars(h) for h in result.history],
            ranks=ranks,
        )
    )
    # A finished run resumes no more: its checkpoints (weights, optimizer state, best state: 4-5x
    # model.pt) would only fill the disk, thousands of runs over.
    job.run_dir.previous_checkpoint.unlink(missing_ok=True)
    job.run_dir.checkpoint.unlink(missing_ok=True)


def _fit(
    job: RunJob, adapter: InputAdapter, data: TrainData, report: Reporter, frozen: torch.Tensor | None
) -> FitResult:
    """The run's model fitted (its kept weights loaded), or the source model as it is (zero-shot)."""
    backbone = job.backbone
    if job.zero_shot:
        return FitResult(best_epoch=None, history=[], state=backbone.module.state_dict())
    where = Checkpoints(job.run_dir.checkpoint, job.run_dir.previous_checkpoint, resume=job.resume)
    setup = FitSetup(job.settings, job.compute, where, freeze_features=job.frozen)
    result = fit(backbone, adapter, data, setup, report, frozen=frozen)
    backbone.module.load_state_dict(result.state)
    return result


def _predict(
    job: RunJob, adapter: InputAdapter, data: TrainData, frozen: torch.Tensor | None
) -> tuple[np.ndarray, np.ndarray]:
    """P(preferred) of every labelled item, and of a rated subject's ties."""
    backbone, prepared, precision = job.backbone, job.prepared, job.compute.precision
    backbone.module.to(job.compute.device)
    adapter = adapter.to(job.compute.device)
    if frozen is not None:
        p_all = predict_from_features(backbone, frozen, precision=precision).numpy()
        n = len(prepared.labels.item_idx)
        return p_all[:n], p_all[n:]
    everything = torch.arange(len(data.labels))
    p = predict_proba(backbone.module, adapter, data.images, everything, precision=precision).numpy()
    ties = image_tensor(job.images.images[prepared.ties])
    p_ties = predict_proba(backbone.module, adapter, ties, torch.arange(len(ties)), precision=precision).numpy()
    return p, p_ties


def _frozen_features(job: RunJob, adapter: InputAdapter, items: np.ndarray) -> torch.Tensor | None:
    """The frozen feature layers' output at ``items``, kept across runs from one source; or None."""
    transfer, compute = job.transfer, job.compute
    if transfer is None or not job.frozen or compute.compile or compute.world.distributed:
        return None
    warm = job.warm or WarmCache()  # a run on its own (e.g. resumed) still computes them once, not every epoch
    job.backbone.module.to(compute.device)
    key = (
        transfer.source_run,
        transfer.adapt,
        job.images.info.cache_file,
        job.plan.describe(),
        compute.precision.name,
        str(compute.device),
    )
    return warm.features(key, job.backbone, adapter.to(compute.device), job.images, items, compute.precision)
