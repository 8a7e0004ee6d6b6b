"""The extractor plugin contract: what a factory registered under ``prefstudy.extractors`` returns.

A factory is ``make(variant: str | None) -> Extractor``. An extractor maps uint8 images, decoded
from the dataset's original files at its own ``image_size`` (never a run's small training cache),
to one float32 vector each. It need not be a torch module (dlib's face descriptor is not); one
that is also offers a :class:`~prefstudy.backbones.Backbone` view for Grad-CAM.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Protocol

import numpy as np

from prefstudy.errors import PrefstudyError


@dataclass(frozen=True)
class ExtractorInfo:
    """What an extractor is, as `backbones list` shows it and as its cached features are keyed."""

    name: str  # as registered, with its variant: e.g. face, imagenet-lite0, run:alice-fm-model2-3fa9c1
    dim: int  # the length of each vector
    image_size: int  # the side of the square images it is given (decoded from the originals at this size)
    channels: int  # 1 or 3
    weights: str  # identifies the weights: a hash of their files (features are cached under it)
    licence: str  # of the weights
    differentiable: bool  # a torch module end to end: Grad-CAM explains it; otherwise occlusion does
    notes: tuple[str, ...] = field(default=())  # e.g. "5-point alignment; whole image where no face is found"


@dataclass
class Extracted:
    """Vectors for a batch of images, and what the extractor says about them (e.g. faces not found)."""

    vectors: np.ndarray  # (N, dim) float32
    counts: dict[str, int] = field(default_factory=dict)  # e.g. {"no face detected": 3}


class Extractor(Protocol):
    info: ExtractorInfo

    def extract(self, images: np.ndarray) -> Extracted:
        """Vectors of ``images``, (N, image_size, image_size, channels) uint8."""


class ExtractorFactory(Protocol):
    def __call__(self, variant: str | None) -> Extractor: ...


class ExtractorContractError(PrefstudyError):
    """An extractor that does not keep the plugin contract."""


def weights_digest(*paths: Path) -> str:
    """A short hash of weight files' contents: an extractor's ``weights``, which its cached features are keyed by."""
    digest = hashlib.sha256()
    for path in paths:
        with open(path, "rb") as handle:
            while chunk := handle.read(1 << 20):
                digest.update(chunk)
    return digest.hexdigest()[:16]


def check_extractor(extractor: Extractor) -> None:
    """Raise :class:`ExtractorContractError` unless ``extractor`` keeps the contract (checked on two images)."""
    info = getattr(extractor, "info", None)
    if not isinstance(info, ExtractorInfo):
        raise ExtractorContractError("it has no ExtractorInfo as .info")
    if info.channels not in (1, 3) or info.image_size < 8 or info.dim < 1:
        raise ExtractorContractError(f"its info is not usable: {info}")
    rng = np.random.default_rng(0)
    images = rng.integers(0, 256, (2, info.image_size, info.image_size, info.channels), dtype=np.uint8)
    out = extractor.extract(images)
    vectors = getattr(out, "vectors", None)
    if not isinstance(vectors, np.ndarray) or vectors.shape != (2, info.dim):
        shape = getattr(vectors, "shape", type(vectors).__name__)
        raise ExtractorContractError(f"it gives {shape} for two images, not (2, {info.dim})")
    if not np.all(np.isfinite(vectors)):
        raise ExtractorContractError("it gives vectors that are not finite")
