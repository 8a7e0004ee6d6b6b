"""``tiny-cnn``: a small CNN registered as a prefstudy backbone — the template for plugins.

prefstudy finds it through the ``prefstudy.backbones`` entry point declared in this package's
``pyproject.toml`` and calls :func:`make` with the dataset's channels and image size. The model
must split into ``features`` (reused when a study transfers between domains) and ``head``
(replaced then), and name a ``cam_layer`` with a (N, C, H, W) output for Grad-CAM.

Layers: two conv3x3-BN-ReLU blocks with max pooling (16 and 32 channels), adaptive average
pooling to 4x4, then a linear head with two outputs {not preferred, preferred}.
"""

from __future__ import annotations

from pathlib import Path

import torch
from torch import nn

from prefstudy.backbones import Backbone
from prefstudy.errors import PrefstudyError

__version__ = "0.1.0"
VARIANTS = {"16": 16, "32": 32}  # width of the first block; `tiny-cnn:32` is twice as wide


class TinyCnn(nn.Module):
    def __init__(self, in_chans: int, num_classes: int, width: int = 16):
        super().__init__()
        self.features = nn.Sequential(
            nn.Conv2d(in_chans, width, 3, padding=1, bias=False),
            nn.BatchNorm2d(width),
            nn.ReLU(),
            nn.MaxPool2d(2),
            nn.Conv2d(width, 2 * width, 3, padding=1, bias=False),
            nn.BatchNorm2d(2 * width),
            nn.ReLU(),  # the cam layer: no in-place op may follow it
            nn.AdaptiveAvgPool2d(4),
        )
        self.head = nn.Sequential(nn.Flatten(), nn.Linear(2 * width * 16, num_classes))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.features(x))


def make(
    variant: str | None,
    *,
    num_classes: int = 2,
    in_chans: int,
    input_size: tuple[int, int],
    weights: Path | None = None,
) -> Backbone:
    """The factory prefstudy calls; errors a user can fix are :class:`PrefstudyError`."""
    width = VARIANTS.get(variant or "16")
    if width is None:
        raise PrefstudyError(f"unknown tiny-cnn variant {variant!r}; known: {', '.join(VARIANTS)}")
    model = TinyCnn(in_chans, num_classes, width)
    if weights is not None:  # only ever a local file: a backbone must not download at run time
        model.load_state_dict(torch.load(weights, map_location="cpu", weights_only=True))
    return Backbone(
        module=model,
        features=model.features,
        head=model.head,
        cam_layer=model.features[6],
        input_size=(in_chans, *input_size),
        mean=(0.5,) * in_chans,
        std=(0.5,) * in_chans,
    )
