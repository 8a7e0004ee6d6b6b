"""Occlusion maps (Zeiler & Fergus, ECCV 2014) with Captum's ``Occlusion``: for models no gradient goes through.

A grey square of ``window`` pixels slides over the image in steps of ``stride``; each pixel's
attribution is the mean drop of the score where a square covered it (the score of the image, less
the score of the image with the square grey). The score is any function of a batch of uint8 images
(an extractor and a head, say), called with ``per_call`` occluded images at a time. Maps are ReLU'd,
as Grad-CAM's are: a map shows what spoke *for* the explained answer.

:func:`to_image` carries a crop's map back to the image the crop was cut from (a face chip's to the
photograph), through the affine map its three corners define.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import torch
from captum.attr import Occlusion
from scipy.ndimage import map_coordinates

GREY = 128.0  # what an occluded pixel becomes
PER_CALL = 64  # occluded images scored at once


@dataclass(frozen=True)
class Window:
    """The occluding square and its step, in pixels of the occluded image."""

    size: int
    stride: int

    @staticmethod
    def default(side: int) -> Window:
        """A quarter of the side, moved by half of itself: 7 x 7 positions (a 150-px face chip: 38 px, stride 19)."""
        size = max(1, math.ceil(side / 4))
        return Window(size, max(1, size // 2))

    def positions(self, side: int) -> int:
        """How many places the square takes on a ``side`` x ``side`` image (the last one flush with the edge)."""
        return (math.ceil(max(side - self.size, 0) / self.stride) + 1) ** 2


class Occluder:
    """Occlusion maps of ``score`` (uint8 (k, H, W, C) images -> (k,) scores) for a window.

    Example::

        maps = Occluder(lambda x: head.score(extractor.describe(x)), Window(38, 19)).attribute(crops, sign)
    """

    def __init__(self, score: Callable[[np.ndarray], np.ndarray], window: Window, per_call: int = PER_CALL):
        self.score = score
        self.window = window
        self.per_call = per_call

    def attribute(
        self, images: np.ndarray, sign: np.ndarray, advance: Callable[[int], None] | None = None
    ) -> np.ndarray:
        """(N, H, W) maps of (N, H, W, C) uint8 images, each for its answer: ``sign`` +1 explains a high score,
        -1 a low one."""
        size, stride = self.window.size, self.window.stride
        maps = []
        for image, s in zip(images, sign, strict=True):
            channels = image.shape[-1]
            forward = _Scored(self.score, float(s))
            attribution = Occlusion(forward).attribute(
                torch.from_numpy(np.ascontiguousarray(image, dtype=np.float32))[None],
                sliding_window_shapes=(min(size, image.shape[0]), min(size, image.shape[1]), channels),
                strides=(stride, stride, channels),
                baselines=GREY,
                perturbations_per_eval=self.per_call,
            )
            maps.append(attribution[0].mean(dim=-1).clamp(min=0).numpy())
            if advance is not None:
                advance(1)
        return np.stack(maps) if maps else np.zeros((0, *images.shape[1:3]), dtype=np.float32)


class _Scored:
    """Captum's forward function: float images back to uint8, scored, signed."""

    def __init__(self, score: Callable[[np.ndarray], np.ndarray], sign: float):
        self.score, self.sign = score, sign

    def __call__(self, x: torch.Tensor) -> torch.Tensor:
        images = x.round().clamp(0, 255).to(torch.uint8).numpy()
        return torch.as_tensor(self.sign * np.asarray(self.score(images), dtype=np.float64))


def to_image(crop_map: np.ndarray, corners: np.ndarray, side: int) -> np.ndarray:
    """A (h, w) crop map drawn on the ``side`` x ``side`` image the crop was cut from: each image pixel takes the
    map's value (bilinear) at the crop's pixel that lands on it; pixels outside the crop get zero.

    ``corners`` is the image's (x, y) of the crop's top-left, top-right and bottom-right pixel.
    """
    h, w = crop_map.shape
    top_left, top_right, bottom_right = np.asarray(corners, dtype=np.float64)
    # image = top_left + col * across + row * down, with across and down per crop pixel
    across = (top_right - top_left) / max(w - 1, 1)
    down = (bottom_right - top_right) / max(h - 1, 1)
    inverse = np.linalg.inv(np.column_stack([across, down]))
    ys, xs = np.mgrid[0:side, 0:side]
    offsets = np.stack([xs.ravel(), ys.ravel()]) - top_left[:, None]
    cols, rows = inverse @ offsets
    values = map_coordinates(crop_map.astype(np.float64), [rows, cols], order=1, mode="constant", cval=0.0)
    return values.reshape(side, side).astype(np.float32)
