"""Fitting and evaluating one per-subject model: the paper's Model 1 and Model 2 protocols.

Whole datasets sit in memory as uint8 tensors; a batch is an index into them, converted to
normalised floats on the fly, so no per-sample Python runs in the loop. The loop is:
shuffle -> forward/backward/step per batch -> validate (model2) -> checkpoint, every epoch.
Model 1 keeps the last epoch; Model 2 keeps the epoch with the best validation accuracy. The
learning rate and the run's length follow ``settings.schedule`` (:mod:`prefstudy.engine.schedule`);
validation and prediction run on a copy with BatchNorm folded into the convolutions
(:mod:`prefstudy.engine.folding`).
The numeric path (fp32, or bf16 autocast + channels_last) comes from :mod:`prefstudy.engine.precision`;
under ``torchrun`` each process takes its share of every batch (:mod:`prefstudy.engine.distributed`).
"""

from __future__ import annotations

import os
import time
from dataclasses import dataclass, field, replace
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn
from torch.nn.parallel import DistributedDataParallel

from prefstudy.backbones import Backbone
from prefstudy.config import TrainSettings
from prefstudy.engine.distributed import World
from prefstudy.engine.inputs import InputAdapter
from prefstudy.engine.precision import Precision
from prefstudy.engine.predict import predict_proba
from prefstudy.engine.schedule import StepPlan, learning_rate, plan_steps, stops_early
from prefstudy.errors import PrefstudyError
from prefstudy.files import atomic_path
from prefstudy.progress import Reporter
from prefstudy.splits import TEST, TRAIN, VALIDATION


@dataclass
class TrainData:
    """Images as (N, C, H, W) uint8 and answers as long (1 = preferred), with split positions."""

    images: torch.Tensor
    labels: torch.Tensor
    train: torch.Tensor
    validation: torch.Tensor | None
    test: torch.Tensor


@dataclass
class EpochStats:
    epoch: int
    train_loss: float
    train_accuracy: float
    val_loss: float | None
    val_accuracy: float | None
    seconds: float
    images: int = 0  # trained on, over all processes
    train_seconds: float = 0.0  # the training steps alone, without validation and checkpointing
    lr: float | None = None  # the learning rate of the epoch's last step


@dataclass
class FitResult:
    best_epoch: int | None  # None when nothing was trained (zero-shot)
    history: list[EpochStats]
    state: dict[str, torch.Tensor] = field(repr=False)

    @property
    def train_images_per_s(self) -> float | None:
        """Training throughput over the whole run."""
        seconds = sum(h.train_seconds for h in self.history)
        return sum(h.images for h in self.history) / seconds if seconds > 0 else None


def _batches(positions: torch.Tensor, batch_size: int, processes: int = 1) -> list[torch.Tensor]:
    chunks = list(torch.split(positions, batch_size))
    # BatchNorm cannot train on a batch of one: fold a last batch too small to give every process
    # two samples into the previous batch.
    if len(chunks) > 1 and len(chunks[-1]) < 2 * processes:
        chunks[-2:] = [torch.cat(chunks[-2:])]
    return chunks


@torch.inference_mode()
def _evaluate(
    model: nn.Module,
    adapter: InputAdapter,
    data: TrainData,
    positions: torch.Tensor,
    precision: Precision,
    head: nn.Module | None = None,
    frozen: torch.Tensor | None = None,
) -> tuple[float, float]:
    if frozen is not None and head is not None:
        model.eval()
        device = next(model.parameters()).device
        with precision.autocast():
            logits = head(frozen[positions].to(device))
        p = torch.softmax(logits.float(), dim=1)[:, 1].cpu().clamp(1e-7, 1 - 1e-7)
    else:
        p = predict_proba(model, adapter, data.images, positions, precision=precision).clamp(1e-7, 1 - 1e-7)
    y = data.labels[positions].float().cpu()
    loss = -(y * p.log() + (1 - y) * (1 - p).log()).mean().item()
    accuracy = ((p > 0.5).float() == y).float().mean().item()
    return loss, accuracy


_CHECKPOINT_KEYS = ("epoch", "model", "optimizer", "shuffle_rng", "torch_rng", "history", "best")


def _save_checkpoint(state: dict, checkpoint: Path, previous: Path | None) -> None:
    """Write ``checkpoint`` atomically, keeping the one it replaces as ``previous``."""
    with atomic_path(checkpoint) as tmp:
        torch.save(state, tmp)
        if previous is not None and checkpoint.is_file():
            os.replace(checkpoint, previous)


def _load_checkpoint(
    checkpoint: Path, previous: Path | None, device: torch.device, report: Reporter
) -> tuple[dict | None, Path | None]:
    """The newest checkpoint that loads and its path, with a warning if it is the previous one; or (None, None)."""
    unreadable = []
    for path in (checkpoint, previous):
        if path is None or not path.is_file():
            continue
        try:
            state = torch.load(path, map_location=device, weights_only=False)
            if not isinstance(state, dict) or any(key not in state for key in _CHECKPOINT_KEYS):
                raise ValueError("not a prefstudy checkpoint")
        except Exception as error:  # a truncated file fails in pickle, zip or torch, each its own way
            unreadable.append(f"{path.name} ({type(error).__name__})")
            continue
        if unreadable:
            report.note(f"warning: {unreadable[0]} does not load; resuming from {path.name}, one epoch earlier")
        return state, path
    if unreadable:
        raise PrefstudyError(
            f"{checkpoint.parent}: no checkpoint loads ({', '.join(unreadable)}); start the run again as a new run"
        )
    return None, None


def _stopped(settings: TrainSettings, data: TrainData, history: list[EpochStats], best: dict | None) -> bool:
    """Early stopping (model2 with a patience): no better validation for ``settings.patience`` epochs."""
    if data.validation is None or best is None or not history:
        return False
    return stops_early(settings.patience, history[-1].epoch, best["epoch"])


@dataclass(frozen=True)
class Compute:
    """Where and how a fit computes: the device, the numeric path, torch.compile, and the torchrun world that
    shares every batch. Not part of what a model learns."""

    device: torch.device
    precision: Precision
    compile: bool = False
    world: World = field(default_factory=World)


@dataclass(frozen=True)
class Checkpoints:
    """Where a fit checkpoints every epoch but the last; the checkpoint it replaces becomes ``previous``, which a
    ``resume`` falls back to when the newest does not load (e.g. truncated)."""

    path: Path
    previous: Path | None = None
    resume: bool = False


@dataclass(frozen=True)
class FitSetup:
    """Everything a fit is told: what to learn (``settings``), how to compute, where to checkpoint (None: nowhere,
    e.g. a label refit), and whether only the head learns (``freeze_features``)."""

    settings: TrainSettings
    compute: Compute
    checkpoints: Checkpoints | None = None
    freeze_features: bool = False


@dataclass
class _Progress:
    """What a fit has done so far: restored from a checkpoint, or fresh."""

    shuffle: torch.Generator
    history: list[EpochStats] = field(default_factory=list)
    best: dict | None = None
    next_epoch: int = 1
    rotate_to: Path | None = None  # where the checkpoint goes that the next one replaces


def fit(
    backbone: Backbone,
    adapter: InputAdapter,
    data: TrainData,
    setup: FitSetup,
    report: Reporter,
    frozen: torch.Tensor | None = None,
) -> FitResult:
    """Train ``backbone.module`` under ``setup.settings``' protocol and schedule; returns the kept epoch's weights.

    Model 1 keeps the last epoch, Model 2 the one with the best validation accuracy. With
    ``freeze_features`` only the head learns; the features (batch-norm statistics included) stay as
    they came, e.g. from a transfer source. ``frozen`` may then hold those features of
    ``data.images`` (:func:`frozen_features`), computed once for many runs: the head trains on them
    and the result is the same.
    """
    settings, compute = setup.settings, setup.compute
    if frozen is not None and (not setup.freeze_features or compute.compile or compute.world.distributed):
        frozen = None  # features computed ahead serve a plain head-only run only
    if compute.device.type == "cuda":  # the whole uint8 dataset on the GPU: batches never cross the bus
        data = replace(data, images=data.images.to(compute.device), labels=data.labels.to(compute.device))
    model = backbone.module.to(compute.device, memory_format=compute.precision.memory_format)
    adapter = adapter.to(compute.device)
    if setup.freeze_features:
        backbone.features.requires_grad_(False)
    optimizer = torch.optim.Adam([p for p in model.parameters() if p.requires_grad], lr=settings.lr)
    done = _restore(model, optimizer, setup, report)
    step_model = _step_model(model, compute)
    per_epoch = len(_batches(data.train, settings.batch_size, compute.world.size))
    steps = plan_steps(per_epoch, settings.epochs, settings.batch_size, settings.budget)
    stopped = bool(done.history) and _stopped(settings, data, done.history, done.best)
    for epoch in range(done.next_epoch, steps.epochs + 1):
        if stopped:
            break
        began = time.perf_counter()
        model.train()
        if setup.freeze_features:
            backbone.features.eval()
        order = data.train[torch.randperm(len(data.train), generator=done.shuffle)]
        batches = _batches(order, settings.batch_size, compute.world.size)[: steps.steps_in(epoch)]
        report.start(len(batches), f"epoch {epoch}/{steps.epochs}")
        first_step = (epoch - 1) * steps.steps_per_epoch
        trained = _train_epoch(
            step_model, backbone, adapter, data, batches, optimizer, setup, steps, first_step, report, frozen
        )
        stats = _epoch_stats(epoch, trained, model, adapter, data, backbone, compute, frozen, began, optimizer)
        done.history.append(stats)
        if data.validation is None or done.best is None or _better(stats, done.best):
            state = {k: v.detach().cpu().clone() for k, v in model.state_dict().items()}
            done.best = {"epoch": epoch, "val_accuracy": stats.val_accuracy, "val_loss": stats.val_loss, "state": state}
        stopped = _stopped(settings, data, done.history, done.best)
        # The last epoch is not checkpointed: the run writes its model next, and a run killed
        # before that resumes from the epoch before, which replays the same steps.
        if compute.world.main and setup.checkpoints is not None and epoch < steps.epochs and not stopped:
            _checkpoint(epoch, model, optimizer, done, settings, setup.checkpoints)
        report.note(_describe_epoch(stats))
        if stopped:
            report.note(f"stopping early: validation has not improved for {settings.patience} epochs")
    assert done.best is not None
    return FitResult(best_epoch=done.best["epoch"], history=done.history, state=done.best["state"])


def _restore(model: nn.Module, optimizer: torch.optim.Optimizer, setup: FitSetup, report: Reporter) -> _Progress:
    """A fresh start, or where the newest loadable checkpoint left off (its weights, optimizer and random state)."""
    done = _Progress(shuffle=torch.Generator().manual_seed(setup.settings.seed))
    where = setup.checkpoints
    if where is None:
        return done
    done.rotate_to = where.previous
    if not where.resume:
        return done
    state, loaded = _load_checkpoint(where.path, where.previous, setup.compute.device, report)
    # After a fallback the newest file is the unreadable one: the next checkpoint replaces it, not the previous.
    done.rotate_to = None if loaded == where.previous else where.previous
    if state is None:
        return done
    model.load_state_dict(state["model"])
    optimizer.load_state_dict(state["optimizer"])
    done.shuffle.set_state(state["shuffle_rng"])
    torch.set_rng_state(state["torch_rng"])
    done.history = [EpochStats(**h) for h in state["history"]]
    done.best = state["best"]
    done.next_epoch = state["epoch"] + 1
    report.note(f"resuming after epoch {state['epoch']}")
    return done


def _step_model(model: nn.Module, compute: Compute) -> nn.Module:
    """The module the training steps call: the model, shared by DDP under torchrun, compiled if asked."""
    step_model: nn.Module = model
    if compute.world.distributed:
        device_ids = [compute.device.index] if compute.device.type == "cuda" else None
        step_model = DistributedDataParallel(model, device_ids=device_ids)
    return torch.compile(step_model) if compute.compile else step_model


@dataclass
class _Trained:
    loss_sum: torch.Tensor
    correct: torch.Tensor
    seen: int
    seconds: float


def _train_epoch(
    step_model: nn.Module,
    backbone: Backbone,
    adapter: InputAdapter,
    data: TrainData,
    batches: list[torch.Tensor],
    optimizer: torch.optim.Optimizer,
    setup: FitSetup,
    steps: StepPlan,
    first_step: int,
    report: Reporter,
    frozen: torch.Tensor | None,
) -> _Trained:
    """One epoch's optimiser steps, the rate set per step; loss and hits summed on the device."""
    began = time.perf_counter()
    settings, compute = setup.settings, setup.compute
    device, precision = compute.device, compute.precision
    # Summed on the device and read once per epoch: a .item() per step would stall the pipeline.
    loss_sum = torch.zeros((), device=device)
    correct = torch.zeros((), device=device, dtype=torch.long)
    seen = 0
    for step, batch in enumerate(batches, start=first_step):
        rate = learning_rate(settings.schedule, settings.lr, step, steps.total_steps)
        for group in optimizer.param_groups:
            group["lr"] = rate
        mine = compute.world.shard(batch)
        y = data.labels[mine].to(device, non_blocking=True)
        if frozen is not None:
            with precision.autocast():
                logits = backbone.head(frozen[mine].to(device, non_blocking=True))
        else:
            x = precision.batch(adapter(data.images[mine].to(device, non_blocking=True)))
            with precision.autocast():
                logits = step_model(x)
        loss = F.cross_entropy(logits.float(), y)
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()
        loss_sum += loss.detach() * len(mine)
        correct += (logits.detach().argmax(1) == y).sum()
        seen += len(mine)
        report.advance()
    return _Trained(loss_sum, correct, seen, time.perf_counter() - began)


def _epoch_stats(
    epoch: int,
    trained: _Trained,
    model: nn.Module,
    adapter: InputAdapter,
    data: TrainData,
    backbone: Backbone,
    compute: Compute,
    frozen: torch.Tensor | None,
    began: float,
    optimizer: torch.optim.Optimizer,
) -> EpochStats:
    """The epoch's training loss and accuracy over every process, and its validation (model2)."""
    loss_total, correct_total, seen_total = compute.world.sum(
        [trained.loss_sum.item(), float(trained.correct.item()), float(trained.seen)]
    )
    val_loss = val_accuracy = None
    if data.validation is not None:
        val_loss, val_accuracy = _evaluate(
            model, adapter, data, data.validation, compute.precision, backbone.head, frozen
        )
    return EpochStats(
        epoch,
        loss_total / seen_total,
        correct_total / seen_total,
        val_loss,
        val_accuracy,
        time.perf_counter() - began,
        images=int(seen_total),
        train_seconds=trained.seconds,
        lr=optimizer.param_groups[0]["lr"],
    )


def _better(stats: EpochStats, best: dict) -> bool:
    """Model2 keeps the epoch of the best validation accuracy, the lower loss breaking a tie."""
    return (stats.val_accuracy, -stats.val_loss) > (best["val_accuracy"], -best["val_loss"])


def _checkpoint(
    epoch: int,
    model: nn.Module,
    optimizer: torch.optim.Optimizer,
    done: _Progress,
    settings: TrainSettings,
    where: Checkpoints,
) -> None:
    state = {
        "epoch": epoch,
        "model": model.state_dict(),
        "optimizer": optimizer.state_dict(),
        "shuffle_rng": done.shuffle.get_state(),
        "torch_rng": torch.get_rng_state(),
        "history": [vars(h) for h in done.history],
        "best": done.best,
        "settings": settings.to_dict(),
    }
    _save_checkpoint(state, where.path, done.rotate_to)
    done.rotate_to = where.previous


def _describe_epoch(stats: EpochStats) -> str:
    val_text = (
        f", validation loss {stats.val_loss:.4f} accuracy {stats.val_accuracy:.4f}"
        if stats.val_loss is not None
        else ""
    )
    return (
        f"epoch {stats.epoch}: train loss {stats.train_loss:.4f} accuracy {stats.train_accuracy:.4f}{val_text} "
        f"({stats.seconds:.1f} s)"
    )


def image_tensor(images: np.ndarray) -> torch.Tensor:
    """(N, H, W, C) uint8 images as the contiguous (N, C, H, W) tensor input adapters take."""
    # clone, not contiguous(): for one channel the permuted view already counts as contiguous, yet its
    # strides are channels_last's, and convolutions would silently take that layout on the fp32 path.
    return (
        torch.from_numpy(np.ascontiguousarray(images)).permute(0, 3, 1, 2).clone(memory_format=torch.contiguous_format)
    )


def as_train_data(images: np.ndarray, preferred: np.ndarray, split: np.ndarray) -> TrainData:
    """Wrap (N, H, W, C) uint8 images, answers and per-item splits as tensors for :func:`fit`."""
    tensor = image_tensor(images)
    positions = {name: torch.from_numpy(np.flatnonzero(split == name)) for name in (TRAIN, VALIDATION, TEST)}
    return TrainData(
        images=tensor,
        labels=torch.from_numpy(preferred.astype(np.int64)),
        train=positions[TRAIN],
        validation=positions[VALIDATION] if len(positions[VALIDATION]) else None,
        test=positions[TEST],
    )
