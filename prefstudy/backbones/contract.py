"""The backbone plugin contract: what a factory registered under ``prefstudy.backbones`` returns.

A factory is ``make(variant, *, num_classes=2, in_chans, input_size, weights) -> Backbone``.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

from torch import nn


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
