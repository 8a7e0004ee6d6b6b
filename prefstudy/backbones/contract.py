"""The backbone plugin contract: what a factory registered under ``prefstudy.backbones`` returns.

A factory is ``make(variant, *, num_classes=2, in_chans, input_size, weights) -> Backbone``.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

import torch
from torch import nn

from prefstudy.errors import PrefstudyError


@dataclass
class Backbone:
    """A model plus what prefstudy needs to know to train, transfer and explain it.

    Attributes:
        module: maps ``(N, C, H, W)`` float images to ``(N, num_classes)`` logits.
        features: the part the transfer engine reuses (``module`` = ``head(features(x))``).
        head: the part the transfer engine replaces.
        cam_layer: the module Grad-CAM hooks; its output is 4-D and no in-place op follows it.
        input_size: ``(C, H, W)`` the module expects.
        mean, std: per-channel normalisation of images scaled to [0, 1].
    """

    module: nn.Module
    features: nn.Module
    head: nn.Module
    cam_layer: nn.Module
    input_size: tuple[int, int, int]
    mean: tuple[float, ...]
    std: tuple[float, ...]


class BackboneFactory(Protocol):
    def __call__(
        self,
        variant: str | None,
        *,
        num_classes: int = 2,
        in_chans: int,
        input_size: tuple[int, int],
        weights: Path | None = None,
    ) -> Backbone: ...


class ContractError(PrefstudyError):
    """A backbone that does not keep the plugin contract."""


def count_hooks(module: nn.Module) -> int:
    """Forward, pre-forward and backward hooks registered anywhere in ``module``."""
    return sum(
        len(m._forward_hooks) + len(m._forward_pre_hooks) + len(m._backward_hooks) + len(m._backward_pre_hooks)
        for m in module.modules()
    )


def module_name(module: nn.Module, part: nn.Module) -> str | None:
    """The dotted name of ``part`` inside ``module`` (``""`` for the module itself), or None if it is not in it."""
    return next((name for name, m in module.named_modules() if m is part), None)


def _is_part(module: nn.Module, part: nn.Module) -> bool:
    return module_name(module, part) is not None


@torch.no_grad()
def check_backbone(backbone: Backbone, num_classes: int = 2) -> None:
    """Raise :class:`ContractError` unless the backbone keeps the contract (checked on two random images).

    Checks: the parts belong to the module; ``module(x)`` is ``(N, num_classes)`` and equals
    ``head(features(x))``; the cam layer's output is 4-D; no hook is left behind.
    """
    module = backbone.module
    for name in ("features", "head", "cam_layer"):
        if not _is_part(module, getattr(backbone, name)):
            raise ContractError(f"its {name} is not part of its module")
    channels = backbone.input_size[0] if len(backbone.input_size) == 3 else -1
    if channels < 1 or len(backbone.mean) != channels or len(backbone.std) != channels:
        raise ContractError(f"input_size {backbone.input_size} does not match mean/std per channel")
    hooks_before = count_hooks(module)
    seen: dict[str, object] = {}

    def keep_output(module: nn.Module, inputs: object, output: object) -> None:
        seen["cam"] = output

    handle = backbone.cam_layer.register_forward_hook(keep_output)
    was_training = module.training
    module.eval()
    try:
        # Its own random images: the check leaves the global generator, which seeds training, as it was.
        x = torch.randn(2, *backbone.input_size, generator=torch.Generator().manual_seed(0))
        logits = module(x)
        split = backbone.head(backbone.features(x))
    finally:
        handle.remove()
        module.train(was_training)
    if count_hooks(module) != hooks_before:
        raise ContractError("it leaves hooks behind")
    if tuple(logits.shape) != (2, num_classes):
        raise ContractError(f"its output is {tuple(logits.shape)}, not (N, {num_classes})")
    cam = seen.get("cam")
    if not isinstance(cam, torch.Tensor) or cam.ndim != 4:
        shape = tuple(cam.shape) if isinstance(cam, torch.Tensor) else type(cam).__name__
        raise ContractError(f"its cam layer yields {shape}, not a (N, C, H, W) map")
    if not torch.allclose(split, logits, atol=1e-5):
        raise ContractError("head(features(x)) differs from module(x)")
