"""From cached uint8 images to what a backbone takes: an explicit, recorded input plan.

A plan converts channels (RGB -> luminance, or grayscale -> RGB) and resizes only when the
model's input differs from the images, and says so: every run records its plan, and transfer
runs print it, so an adaptation between domains is never silent.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn

from prefstudy.backbones import Backbone
from prefstudy.errors import PrefstudyError

Shape = tuple[int, int, int]  # (C, H, W)
_LUMA = (0.299, 0.587, 0.114)


@dataclass(frozen=True)
class InputPlan:
    images: Shape  # the dataset's cached images
    model: Shape  # what the backbone takes

    def __post_init__(self) -> None:
        pair = (self.images[0], self.model[0])
        if pair[0] != pair[1] and sorted(pair) != [1, 3]:
            raise PrefstudyError(f"cannot convert {pair[0]}-channel images for a {pair[1]}-channel model")

    @property
    def channels(self) -> str:
        c_in, c_out = self.images[0], self.model[0]
        return "same" if c_in == c_out else ("rgb->luminance" if c_in == 3 else "gray->rgb")

    @property
    def resized(self) -> bool:
        return self.images[1:] != self.model[1:]

    def describe(self) -> str:
        steps = []
        if self.channels != "same":
            steps.append("RGB to luminance" if self.channels == "rgb->luminance" else "grayscale copied to RGB")
        if self.resized:
            steps.append(f"resized {self.images[1]}x{self.images[2]} to {self.model[1]}x{self.model[2]}")
        shapes = f"images {'x'.join(map(str, self.images))} -> model {'x'.join(map(str, self.model))}"
        return f"{shapes} ({', '.join(steps) or 'as they are'})"

    def to_dict(self) -> dict:
        return {
            "images": list(self.images),
            "model": list(self.model),
            "channels": self.channels,
            "resized": self.resized,
        }


class InputAdapter(nn.Module):
    """Carries out an :class:`InputPlan` on a batch: scale to [0, 1], convert, resize, normalise."""

    def __init__(self, plan: InputPlan, backbone: Backbone):
        super().__init__()
        if tuple(backbone.input_size) != plan.model:
            raise ValueError(f"plan is for a {plan.model} model, backbone takes {backbone.input_size}")
        self.plan = plan
        channels = plan.model[0]
        self.register_buffer("luma", torch.tensor(_LUMA).view(1, 3, 1, 1))
        self.register_buffer("mean", torch.tensor(backbone.mean, dtype=torch.float32).view(1, channels, 1, 1))
        self.register_buffer("std", torch.tensor(backbone.std, dtype=torch.float32).view(1, channels, 1, 1))

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        x = images.float().div_(255.0)
        if self.plan.channels == "rgb->luminance":
            x = (x * self.luma).sum(dim=1, keepdim=True)
        elif self.plan.channels == "gray->rgb":
            x = x.expand(-1, 3, -1, -1)
        if self.plan.resized:
            x = F.interpolate(x, size=self.plan.model[1:], mode="bilinear", align_corners=False, antialias=True)
        return (x - self.mean) / self.std
