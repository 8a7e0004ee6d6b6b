"""Predicting with a trained model: P(preferred) for images, or from features its frozen layers gave.

Prediction runs on a copy with BatchNorm folded into the convolutions (:mod:`.folding`), under
``torch.inference_mode``, in batches sized for the device.
"""

from __future__ import annotations

import torch
from torch import nn

from prefstudy.backbones import Backbone
from prefstudy.engine.folding import fold_batchnorm
from prefstudy.engine.inputs import InputAdapter
from prefstudy.engine.precision import FP32, Precision


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
