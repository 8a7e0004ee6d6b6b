"""What an explanation method hands the service: one map per item, and how it was made (no torch).

Both methods give maps the agreement statistics score alike: non-negative, one per item, on the
image the item's picture shows. Grad-CAM's are of a network's layer; occlusion's of a grey square
slid over the image, or over the crop a localising extractor cut from it.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

GRAD_CAM, OCCLUSION = "grad-cam", "occlusion"
METHODS = (GRAD_CAM, OCCLUSION)
CROP, IMAGE = "crop", "image"  # what occlusion covered: a localising extractor's crop, or the whole image


@dataclass(frozen=True)
class Maps:
    """Maps of the chosen items, in their order, and how they were made."""

    method: str  # grad-cam or occlusion
    layer: str  # Grad-CAM: the module the maps were taken at; occlusion: crop or image (what was occluded)
    heat: np.ndarray  # (N, h, w), >= 0: the explained answer's map of each item, over its whole picture
    pictures: np.ndarray  # (N, H, W, C) uint8: the image each map is of
    note: str  # one sentence on how the maps were made, e.g. what was occluded and what was held fixed
    window: int | None = None  # occlusion: the grey square's side and its step, in pixels of what was occluded
    stride: int | None = None
    crops: np.ndarray | None = None  # (N, h, w, C): the crops occluded, when a localising extractor cut them
    crop_heat: np.ndarray | None = None  # (N, h, w): their maps, before they were carried to the image
