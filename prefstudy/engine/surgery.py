"""Transfer between visual domains (the paper's Figure 2), for any backbone.

A transfer run starts from a finished *source* run (e.g. a subject's Fashion-MNIST model):

- ``finetune`` reuses the source's feature layers, puts a new head on them and trains every
  parameter on the target dataset;
- ``frozen`` trains only the new head;
- ``zero-shot`` applies the source model, head included, to the target with no training (Table 3).

Input adaptation is explicit (``adapt``) and recorded with the run:

- ``keep-size`` (default): target images keep their size and take the source's channels
  (RGB -> luminance, or grayscale copied to RGB); backbones whose features end in adaptive
  pooling (``paper-vgg``, timm CNNs) take any size;
- ``resize``: target images are converted to the source's channels *and* size;
- ``conv``: target images stay as they are; the first convolution is adapted to their channels
  (weights summed for 3 -> 1, spread evenly for 1 -> 3).
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

import torch
from torch import nn

from prefstudy.backbones import Backbone, create_backbone, module_name
from prefstudy.config import TransferRequest
from prefstudy.engine.inputs import InputPlan, Shape
from prefstudy.engine.saved_model import SavedModel
from prefstudy.errors import PrefstudyError

SourceModel = SavedModel  # a transfer starts from a finished run's saved model


def _holds_tensors(state: object) -> bool:
    """Whether ``state`` is a state dict, or a checkpoint holding one under a key such as ``model``."""
    if not isinstance(state, Mapping) or not state:
        return False
    return any(isinstance(v, torch.Tensor) for v in state.values()) or any(
        _holds_tensors(v) for v in state.values() if isinstance(v, Mapping)
    )


def check_weights(path: Path) -> None:
    """One clear line for a weights file (`--weights`) that is missing or holds no weights."""
    if not path.is_file():
        raise PrefstudyError(f"weights file {path} not found")
    what = "a PyTorch checkpoint (a state dict saved with torch.save) or a .safetensors file"
    try:
        if path.suffix == ".safetensors":
            from safetensors import safe_open

            with safe_open(str(path), framework="pt") as f:
                found = bool(list(f.keys()))
        else:
            found = _holds_tensors(torch.load(path, map_location="cpu", weights_only=True))
    except Exception as error:  # every reader fails on a foreign file in its own way
        raise PrefstudyError(f"weights file {path} is not {what} ({type(error).__name__})") from None
    if not found:
        raise PrefstudyError(f"weights file {path} holds no weights; give {what}")


def model_shape(source: Shape, images: Shape, adapt: str) -> Shape:
    """The input the transferred model takes, for source input ``source`` and target ``images``."""
    if adapt == "resize":
        return source
    if adapt == "keep-size":
        return (source[0], images[1], images[2])
    return images


def adapt_conv_weight(weight: torch.Tensor, in_chans: int) -> torch.Tensor:
    """A first-convolution weight for ``in_chans`` input channels that responds alike to gray content."""
    have = weight.shape[1]
    if have == in_chans:
        return weight
    if in_chans == 1:
        return weight.sum(dim=1, keepdim=True)
    if have == 1:
        return weight.repeat(1, in_chans, 1, 1) / in_chans
    raise PrefstudyError(f"cannot adapt a {have}-channel first convolution to {in_chans} channels")


def _first_conv_key(module: nn.Module) -> str:
    for name, m in module.named_modules():
        if isinstance(m, nn.Conv2d):
            return f"{name}.weight"
    raise PrefstudyError("--adapt conv needs a backbone with a Conv2d input layer")


def transfer_backbone(source: SourceModel, images: Shape, request: TransferRequest) -> tuple[Backbone, InputPlan]:
    """The target model: the source's backbone with its features (and, zero-shot, its head) loaded."""
    shape = model_shape(source.input_size, images, request.adapt)
    backbone = create_backbone(source.backbone, in_chans=shape[0], input_size=(shape[1], shape[2]))
    state = dict(source.state_dict)
    if shape[0] != source.input_size[0]:
        key = _first_conv_key(backbone.module)
        state[key] = adapt_conv_weight(state[key], shape[0])
    new_head = request.mode != "zero-shot"
    # create_backbone checked the contract, so the head is part of the module.
    head = module_name(backbone.module, backbone.head) + "."
    if new_head:  # the head stays as created: freshly initialised
        state = {k: v for k, v in state.items() if not k.startswith(head)}
    missing, unexpected = backbone.module.load_state_dict(state, strict=False)
    missing = [k for k in missing if not (new_head and k.startswith(head))]
    if missing or unexpected:
        raise PrefstudyError(
            f"run {source.run_id}'s weights do not fit {source.backbone} at {shape}: "
            f"missing {missing[:3]}, unexpected {unexpected[:3]}"
        )
    return backbone, InputPlan(images=images, model=shape)


def describe(source: SourceModel, request: TransferRequest) -> dict:
    """What a transfer run records about its start."""
    return {
        "source_run": source.run_id,
        "source_dataset": source.dataset,
        "mode": request.mode,
        "adapt": request.adapt,
        "source_input": list(source.input_size),
    }
