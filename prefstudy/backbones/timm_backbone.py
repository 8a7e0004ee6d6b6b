"""``timm:<model>``: any timm model as a prefstudy backbone (``timm:resnet18``, ``timm:efficientnet_b0``...).

The timm model is built without its classifier (``num_classes=0``), so it maps images to pooled
features; prefstudy's head is a linear layer on top, which the transfer engine replaces. Channels
are set with timm's ``in_chans`` and the input size follows the dataset (models with a fixed input
size, such as ViTs, are built for it). Grad-CAM hooks the last entry of the model's
``feature_info``. Weights are random unless ``weights`` names a local file, which timm loads
through its file overlay (adapting the first convolution to the channels); nothing is downloaded.
"""

from __future__ import annotations

from collections import OrderedDict
from pathlib import Path

import torch
from torch import nn

from prefstudy.backbones.contract import Backbone
from prefstudy.errors import PrefstudyError

EXAMPLE_VARIANT = "resnet18"


def _channel_stats(values: tuple[float, ...], in_chans: int) -> tuple[float, ...]:
    if len(values) == in_chans:
        return tuple(values)
    return (sum(values) / len(values),) * in_chans


def _create(variant: str, in_chans: int, input_size: tuple[int, int], weights: Path | None) -> nn.Module:
    import timm

    kwargs: dict = {"num_classes": 0, "in_chans": in_chans}
    if weights is not None:
        if not weights.is_file():
            raise PrefstudyError(f"weights file {weights} not found")
        kwargs.update(pretrained=True, pretrained_cfg_overlay={"file": str(weights)})
    model = timm.create_model(variant, **kwargs)
    if model.pretrained_cfg.get("fixed_input_size"):
        model = timm.create_model(variant, img_size=input_size, **kwargs)
    return model


def make(
    variant: str | None,
    *,
    num_classes: int = 2,
    in_chans: int,
    input_size: tuple[int, int],
    weights: Path | None = None,
) -> Backbone:
    """Factory registered as the ``timm`` backbone family; ``variant`` is any timm model name."""
    import timm

    if not variant:
        raise PrefstudyError("name a timm model, e.g. timm:resnet18 (see timm.list_models())")
    if not timm.is_model(variant):
        close = timm.list_models(f"*{variant}*")[:8]
        hint = f"; close names: {', '.join(close)}" if close else ""
        raise PrefstudyError(f"timm has no model {variant!r}{hint}")
    features = _create(variant, in_chans, input_size, Path(weights) if weights else None)
    info = features.feature_info
    last = (info.get_dicts() if hasattr(info, "get_dicts") else info)[-1]
    cam_layer = features.get_submodule(last["module"])
    with torch.no_grad():  # the pooled width: num_features misses heads with a layer after pooling
        width = features.eval()(torch.zeros(1, in_chans, *input_size)).shape[-1]
    head = nn.Linear(width, num_classes)
    module = nn.Sequential(OrderedDict(features=features, head=head))
    cfg = features.pretrained_cfg
    return Backbone(
        module=module,
        features=features,
        head=head,
        cam_layer=cam_layer,
        input_size=(in_chans, *input_size),
        mean=_channel_stats(tuple(cfg.get("mean", (0.5,))), in_chans),
        std=_channel_stats(tuple(cfg.get("std", (0.5,))), in_chans),
    )


make.example_variant = EXAMPLE_VARIANT  # what `prefstudy backbones list` and the contract test build
