"""A torch backbone's feature layers, pooled, as an extractor: every backbone is one (a trained run's too).

The images go through the backbone's own input plan (its normalisation, channels and size), then
its ``features``; a 4-D output is averaged over its height and width. The extractor keeps the
:class:`~prefstudy.backbones.Backbone`, so what it extracts can be explained with Grad-CAM.
"""

from __future__ import annotations

import numpy as np
import torch

from prefstudy.backbones import Backbone
from prefstudy.engine.inputs import InputAdapter, InputPlan
from prefstudy.engine.train import image_tensor
from prefstudy.extractors.contract import Extracted, ExtractorInfo

BATCH = 64  # images per forward pass: small enough for a CPU's cache at 224 px


class PooledFeatures:
    """``backbone.features`` of images of ``images`` shape (C, H, W), globally average-pooled."""

    def __init__(self, backbone: Backbone, images: tuple[int, int, int], info: ExtractorInfo):
        if images[1] != images[2]:
            raise ValueError(f"an extractor takes square images, not {images}")
        self.backbone, self.info = backbone, info
        self.adapter = InputAdapter(InputPlan(images=images, model=tuple(backbone.input_size)), backbone)
        backbone.module.eval()

    @torch.inference_mode()
    def extract(self, images: np.ndarray) -> Extracted:
        out = []
        for start in range(0, len(images), BATCH):
            x = self.adapter(image_tensor(images[start : start + BATCH]))
            f = self.backbone.features(x).float()
            out.append((f.mean(dim=(2, 3)) if f.dim() == 4 else f.flatten(1)).numpy())
        vectors = np.concatenate(out) if out else np.zeros((0, self.info.dim), dtype=np.float32)
        return Extracted(vectors.astype(np.float32, copy=False))


@torch.inference_mode()
def pooled_width(backbone: Backbone, images: tuple[int, int, int]) -> int:
    """How long the pooled feature vector of ``backbone`` is, for images of shape ``images``."""
    adapter = InputAdapter(InputPlan(images=images, model=tuple(backbone.input_size)), backbone)
    backbone.module.eval()
    f = backbone.features(adapter(torch.zeros(1, *images, dtype=torch.uint8)))
    return int(f.shape[1])
