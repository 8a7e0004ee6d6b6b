"""A run's model, built once: a new backbone from the registry, or one started from a transfer source."""

from __future__ import annotations

import torch

from prefstudy.backbones import Backbone, create_backbone
from prefstudy.config import TrainSettings, TransferRequest
from prefstudy.engine.inputs import InputPlan, Shape
from prefstudy.engine.saved_model import SavedModel
from prefstudy.engine.surgery import check_weights, transfer_backbone


def build_model(
    images: Shape, settings: TrainSettings, source: SavedModel | None, transfer: TransferRequest | None
) -> tuple[Backbone, InputPlan]:
    """The backbone and input plan for images of shape ``images`` (C, H, W): a new model, or one started
    from a transfer source. The same seed gives the same initial weights (and new head)."""
    torch.manual_seed(settings.seed)
    if source is None or transfer is None:
        weights = settings.weights_path()
        if weights is not None:
            check_weights(weights)
        backbone = create_backbone(settings.backbone, in_chans=images[0], input_size=images[1:], weights=weights)
        return backbone, InputPlan(images=images, model=tuple(backbone.input_size))
    return transfer_backbone(source, images, transfer)
