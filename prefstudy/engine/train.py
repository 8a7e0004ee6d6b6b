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
from prefstudy.engine.folding import fold_batchnorm
from prefstudy.engine.inputs import InputAdapter
from prefstudy.engine.precision import FP32, Precision
from prefstudy.engine.schedule import learning_rate, plan_steps, stops_early
from prefstudy.errors import PrefstudyError
from prefstudy.files import atomic_path
from prefstudy.progress import Reporter


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
def predict_proba(
    model: nn.Module,
    adapter: InputAdapter,
    images: torch.Tensor,
    positions: torch.Tensor,
    batch_size: int | None = None,
    precision: Precision | None = None,
    folded: bool = False,
) -> torch.Tensor:
    """P(preferred) for the images at ``positions``, from a BatchNorm-folded copy of ``model``
    (``folded``: ``model`` is such a copy already, e.g. one made once for many calls).

    Batches default to 128 images on a CPU, where larger ones fall out of cache (3x slower at 512
    on an AVX2 CPU), and 1,024 on a GPU.
    """
    device = next(model.parameters()).device
    precision = precision or Precision(FP32, device.type)
    batch_size = batch_size or (128 if device.type == "cpu" else 1024)
    if not folded:
        model = fold_batchnorm(model).to(memory_format=precision.memory_format)
    out = []
    for batch in torch.split(positions, batch_size):
        x = precision.batch(adapter(images[batch].to(device)))
        with precision.autocast():
            logits = model(x)
        out.append(torch.softmax(logits.float(), dim=1)[:, 1].cpu())
    return torch.cat(out) if out else torch.empty(0)


@torch.inference_mode()
def predict_from_features(
    backbone: Backbone, features: torch.Tensor, batch_size: int = 512, precision: Precision | None = None
) -> torch.Tensor:
    """P(preferred) from features the (frozen) feature layers gave: the head alone, in eval mode."""
    backbone.module.eval()
    device = next(backbone.module.parameters()).device
    precision = precision or Precision(FP32, device.type)
    out = []
    for batch in torch.split(features, batch_size):
        with precision.autocast():
            logits = backbone.head(batch.to(device))
        out.append(torch.softmax(logits.float(), dim=1)[:, 1].cpu())
    return torch.cat(out) if out else torch.empty(0)


@torch.no_grad()
def frozen_features(
    backbone: Backbone, adapter: InputAdapter, images: torch.Tensor, precision: Precision, batch_size: int = 512
) -> torch.Tensor:
    """``backbone.features`` of every image, in eval mode as a frozen run keeps them (not inference
    tensors: a head trains on them)."""
    backbone.module.eval()
    device = next(backbone.module.parameters()).device
    out = []
    for batch in torch.split(torch.arange(len(images)), batch_size):
        x = precision.batch(adapter(images[batch].to(device)))
        with precision.autocast():
            out.append(backbone.features(x))
    return torch.cat(out) if out else torch.empty(0)


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


def fit(
    backbone: Backbone,
    adapter: InputAdapter,
    data: TrainData,
    settings: TrainSettings,
    device: torch.device,
    checkpoint: Path,
    report: Reporter,
    *,
    resume: bool = False,
    previous_checkpoint: Path | None = None,
    freeze_features: bool = False,
    precision: Precision | None = None,
    compile: bool = False,
    world: World | None = None,
    frozen: torch.Tensor | None = None,
) -> FitResult:
    """Train ``backbone.module`` under ``settings.protocol`` and ``settings.schedule``, checkpointing each
    epoch but the last to ``checkpoint``.

    The checkpoint it replaces becomes ``previous_checkpoint``, which ``resume`` falls back to
    when the newest does not load (e.g. truncated).

    With ``freeze_features`` only the head learns; the features (batch-norm statistics included)
    stay as they came, e.g. from a transfer source. ``frozen`` may then hold those features of
    ``data.images`` (:func:`frozen_features`), computed once for many runs: the head trains on
    them and the result is the same. ``compile`` runs the training steps through
    ``torch.compile``; ``world`` shares every batch among torchrun processes.
    """
    if frozen is not None and (not freeze_features or compile or (world is not None and world.distributed)):
        frozen = None  # features computed ahead serve a plain head-only run only
    precision = precision or Precision(FP32, device.type)
    world = world or World()
    if device.type == "cuda":  # the whole uint8 dataset on the GPU: batches never cross the bus
        data = replace(data, images=data.images.to(device), labels=data.labels.to(device))
    model = backbone.module.to(device, memory_format=precision.memory_format)
    adapter = adapter.to(device)
    if freeze_features:
        backbone.features.requires_grad_(False)
    optimizer = torch.optim.Adam([p for p in model.parameters() if p.requires_grad], lr=settings.lr)
    shuffle = torch.Generator().manual_seed(settings.seed)
    history: list[EpochStats] = []
    best: dict | None = None
    start_epoch = 1
    state, loaded = _load_checkpoint(checkpoint, previous_checkpoint, device, report) if resume else (None, None)
    # After a fallback the newest file is the unreadable one: the next checkpoint replaces it, not the previous.
    rotate_to = None if loaded == previous_checkpoint else previous_checkpoint
    if state is not None:
        model.load_state_dict(state["model"])
        optimizer.load_state_dict(state["optimizer"])
        shuffle.set_state(state["shuffle_rng"])
        torch.set_rng_state(state["torch_rng"])
        history = [EpochStats(**h) for h in state["history"]]
        best = state["best"]
        start_epoch = state["epoch"] + 1
        report.note(f"resuming after epoch {state['epoch']}")
    step_model: nn.Module = model
    if world.distributed:
        step_model = DistributedDataParallel(model, device_ids=[device.index] if device.type == "cuda" else None)
    if compile:
        step_model = torch.compile(step_model)

    per_epoch = len(_batches(data.train, settings.batch_size, world.size))
    steps = plan_steps(per_epoch, settings.epochs, settings.batch_size, settings.budget)
    stopped = bool(history) and _stopped(settings, data, history, best)
    for epoch in range(start_epoch, steps.epochs + 1):
        if stopped:
            break
        began = time.perf_counter()
        model.train()
        if freeze_features:
            backbone.features.eval()
        order = data.train[torch.randperm(len(data.train), generator=shuffle)]
        batches = _batches(order, settings.batch_size, world.size)[: steps.steps_in(epoch)]
        report.start(len(batches), f"epoch {epoch}/{steps.epochs}")
        # Summed on the device and read once per epoch: a .item() per step would stall the pipeline.
        loss_sum = torch.zeros((), device=device)
        correct = torch.zeros((), device=device, dtype=torch.long)
        seen = 0
        for step, batch in enumerate(batches, start=(epoch - 1) * steps.steps_per_epoch):
            rate = learning_rate(settings.schedule, settings.lr, step, steps.total_steps)
            for group in optimizer.param_groups:
                group["lr"] = rate
            mine = world.shard(batch)
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
        train_seconds = time.perf_counter() - began
        loss_total, correct_total, seen_total = world.sum([loss_sum.item(), float(correct.item()), float(seen)])
        val_loss = val_accuracy = None
        if data.validation is not None:
            val_loss, val_accuracy = _evaluate(model, adapter, data, data.validation, precision, backbone.head, frozen)
        stats = EpochStats(
            epoch,
            loss_total / seen_total,
            correct_total / seen_total,
            val_loss,
            val_accuracy,
            time.perf_counter() - began,
            images=int(seen_total),
            train_seconds=train_seconds,
            lr=optimizer.param_groups[0]["lr"],
        )
        history.append(stats)
        if (
            data.validation is None
            or best is None
            or (val_accuracy, -val_loss) > (best["val_accuracy"], -best["val_loss"])
        ):
            best = {
                "epoch": epoch,
                "val_accuracy": val_accuracy,
                "val_loss": val_loss,
                "state": {k: v.detach().cpu().clone() for k, v in model.state_dict().items()},
            }
        stopped = _stopped(settings, data, history, best)
        # The last epoch is not checkpointed: the run writes its model next, and a run killed
        # before that resumes from the epoch before, which replays the same steps.
        if world.main and epoch < steps.epochs and not stopped:
            _save_checkpoint(
                {
                    "epoch": epoch,
                    "model": model.state_dict(),
                    "optimizer": optimizer.state_dict(),
                    "shuffle_rng": shuffle.get_state(),
                    "torch_rng": torch.get_rng_state(),
                    "history": [vars(h) for h in history],
                    "best": best,
                    "settings": settings.to_dict(),
                },
                checkpoint,
                rotate_to,
            )
            rotate_to = previous_checkpoint
        val_text = f", validation loss {val_loss:.4f} accuracy {val_accuracy:.4f}" if val_loss is not None else ""
        report.note(
            f"epoch {epoch}: train loss {stats.train_loss:.4f} accuracy {stats.train_accuracy:.4f}{val_text} "
            f"({stats.seconds:.1f} s)"
        )
        if stopped:
            report.note(f"stopping early: validation has not improved for {settings.patience} epochs")
    assert best is not None
    return FitResult(best_epoch=best["epoch"], history=history, state=best["state"])


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
    positions = {name: torch.from_numpy(np.flatnonzero(split == name)) for name in ("train", "validation", "test")}
    return TrainData(
        images=tensor,
        labels=torch.from_numpy(preferred.astype(np.int64)),
        train=positions["train"],
        validation=positions["validation"] if len(positions["validation"]) else None,
        test=positions["test"],
    )
