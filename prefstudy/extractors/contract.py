"""The extractor plugin contract: what a factory registered under ``prefstudy.extractors`` returns.

A factory is ``make(variant: str | None) -> Extractor``. An extractor maps uint8 images, decoded
from the dataset's original files at its own ``image_size`` (never a run's small training cache),
to one float32 vector each. It need not be a torch module (dlib's face descriptor is not); one
that is also offers a :class:`~prefstudy.backbones.Backbone` view for Grad-CAM.

An extractor that first finds and aligns something in the image (a face) may also offer
:class:`Localising`'s two steps, ``crops`` (find and align once) and ``describe`` (vectors of given
crops), so an explanation can occlude the crop while the detection stays as it was found on the
whole image. Both steps are optional: without them, `prefstudy explain` occludes the whole image.
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


@dataclass
class Crops:
    """What a :class:`Localising` extractor describes: each image's crop, found and aligned once, and where it lies."""

    crops: np.ndarray  # (N, h, w, channels) uint8: what ``describe`` takes
    corners: np.ndarray  # (N, 3, 2): the image's (x, y) of each crop's top-left, top-right and bottom-right pixel
    found: np.ndarray  # (N,) bool: what the extractor looks for was found (else its crop is a fallback, e.g. the image)


class Localising(Extractor, Protocol):
    """An extractor in two steps (optional): ``describe(crops(images).crops)`` is ``extract(images).vectors``."""

    def crops(self, images: np.ndarray) -> Crops:
        """Find and align: each image's crop and where it lies in the image."""

    def describe(self, crops: np.ndarray) -> np.ndarray:
        """The (N, dim) float32 vectors of (N, h, w, channels) uint8 crops."""


def localises(extractor: Extractor) -> bool:
    """Whether ``extractor`` offers :class:`Localising`'s two steps."""
    return callable(getattr(extractor, "crops", None)) and callable(getattr(extractor, "describe", None))


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
    if localises(extractor):
        _check_crops(extractor, images, vectors)


def _check_crops(extractor: Localising, images: np.ndarray, vectors: np.ndarray) -> None:
    found = extractor.crops(images)
    crops, corners = getattr(found, "crops", None), getattr(found, "corners", None)
    if not isinstance(crops, np.ndarray) or crops.ndim != 4 or len(crops) != 2 or crops.dtype != np.uint8:
        raise ExtractorContractError("its crops() does not give two (h, w, channels) uint8 crops for two images")
    if not isinstance(corners, np.ndarray) or corners.shape != (2, 3, 2):
        raise ExtractorContractError("its crops() does not give (3, 2) corners for each crop")
    described = np.asarray(extractor.describe(crops))
    if described.shape != vectors.shape or not np.allclose(described, vectors, rtol=1e-4, atol=1e-5):
        raise ExtractorContractError("describe(crops(images).crops) differs from extract(images)")
