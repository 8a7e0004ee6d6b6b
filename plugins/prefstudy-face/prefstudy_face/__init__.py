"""``face``: dlib's ResNet face descriptor (128-d, 99.38 % on LFW verification) as a prefstudy extractor.

Each image: dlib's HOG frontal face detector (the image upsampled once), the largest face; the
5-point landmark model aligns it to a 150-px chip (padding 0.25); the ResNet maps the chip to 128
numbers. Where no face is found, the whole image is the face's box, and the extractor counts it
(a run's notes say how many). The detection and the alignment are separate steps from the
description (the contract's optional ``crops`` and ``describe``), so an explanation can occlude
the aligned chip while the detection and the alignment stay as they were found on the whole image;
``crops`` also says where each chip lies in the image (its corners), so a chip's map can be drawn
on the photograph.

Weights: ``face-recognition-models`` ships ``dlib_face_recognition_resnet_model_v1.dat`` and
``shape_predictor_5_face_landmarks.dat`` (both public domain). Its 68-point model is not used: its
training data is not for commercial use.
"""

from __future__ import annotations

import importlib.util
from pathlib import Path

import numpy as np

from prefstudy.errors import PrefstudyError
from prefstudy.extractors.contract import Crops, Extracted, ExtractorInfo, weights_digest

__version__ = "0.1.0"
IMAGE_SIZE = 256  # the originals are decoded at this side for detection; the descriptor sees a 150-px chip
CHIP_SIZE, CHIP_PADDING = 150, 0.25
NO_FACE = "no face detected (the whole image used)"
MODELS = ("dlib_face_recognition_resnet_model_v1.dat", "shape_predictor_5_face_landmarks.dat")


def model_dir() -> Path:
    """Where face-recognition-models keeps its .dat files, found without importing it (it needs pkg_resources)."""
    spec = importlib.util.find_spec("face_recognition_models")
    if spec is None or not spec.submodule_search_locations:
        raise PrefstudyError("the face extractor needs face-recognition-models: pip install -e plugins/prefstudy-face")
    folder = Path(next(iter(spec.submodule_search_locations))) / "models"
    missing = [m for m in MODELS if not (folder / m).is_file()]
    if missing:
        raise PrefstudyError(f"face-recognition-models in {folder} lacks {', '.join(missing)}; reinstall it")
    return folder


class FaceDescriptor:
    """Detect, align on 5 points, describe: see the module docstring."""

    def __init__(self) -> None:
        import dlib

        folder = model_dir()
        self._dlib = dlib
        self._detector = dlib.get_frontal_face_detector()
        self._landmarks = dlib.shape_predictor(str(folder / MODELS[1]))
        self._resnet = dlib.face_recognition_model_v1(str(folder / MODELS[0]))
        self.info = ExtractorInfo(
            name="face",
            dim=128,
            image_size=IMAGE_SIZE,
            channels=3,
            weights=weights_digest(*(folder / m for m in MODELS)),
            licence="public domain (dlib's ResNet face descriptor and 5-point landmarks; HOG detector: Boost 1.0)",
            differentiable=False,
            notes=(f"HOG detector (upsampled once), largest face, 5-point alignment to {CHIP_SIZE} px; {NO_FACE}",),
        )

    def locate(self, image: np.ndarray) -> tuple[object, bool]:
        """The largest face's box in ``image`` (H, W, 3 uint8), and whether one was found (else the whole image)."""
        found = self._detector(image, 1)
        if len(found):
            return max(found, key=lambda box: box.area()), True
        return self._dlib.rectangle(0, 0, image.shape[1] - 1, image.shape[0] - 1), False

    def chip(self, image: np.ndarray, box: object) -> np.ndarray:
        """The face in ``box``, aligned on its 5 landmarks to a (150, 150, 3) uint8 chip."""
        shape = self._landmarks(image, box)
        return np.asarray(self._dlib.get_face_chip(image, shape, size=CHIP_SIZE, padding=CHIP_PADDING))

    def chips(self, images: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Aligned chips of every image, and which images had a face found."""
        found = self.crops(images)
        return found.crops, found.found

    def crops(self, images: np.ndarray) -> Crops:
        """Every image's aligned chip, where it lies in the image, and whether a face was found."""
        chips, corners, found = [], [], []
        for image in images:
            image = np.ascontiguousarray(image)
            box, seen = self.locate(image)
            shape = self._landmarks(image, box)
            details = self._dlib.get_face_chip_details(shape, size=CHIP_SIZE, padding=CHIP_PADDING)
            chips.append(np.asarray(self._dlib.extract_image_chip(image, details)))
            corners.append(chip_corners(details))
            found.append(seen)
        if not chips:
            return Crops(np.zeros((0, CHIP_SIZE, CHIP_SIZE, 3), np.uint8), np.zeros((0, 3, 2)), np.zeros(0, bool))
        return Crops(np.stack(chips), np.stack(corners), np.array(found))

    def describe(self, chips: np.ndarray) -> np.ndarray:
        """The 128-d descriptor of each aligned chip."""
        if not len(chips):
            return np.zeros((0, 128), dtype=np.float32)
        vectors = self._resnet.compute_face_descriptor([np.ascontiguousarray(c) for c in chips])
        return np.array([np.array(v) for v in vectors], dtype=np.float32)

    def extract(self, images: np.ndarray) -> Extracted:
        if images.ndim != 4 or images.shape[-1] != 3:
            raise PrefstudyError(f"the face extractor takes (N, H, W, 3) RGB images, not {images.shape}")
        chips, found = self.chips(images)
        missed = int((~found).sum())
        return Extracted(self.describe(chips), {NO_FACE: missed} if missed else {})


def chip_corners(details) -> np.ndarray:
    """The image's (x, y) of a chip's top-left, top-right and bottom-right pixel: dlib's chip rectangle turned by
    its angle about its centre (as dlib's ``get_mapping_to_chip`` maps them)."""
    rect = details.rect
    centre = np.array([(rect.left() + rect.right()) / 2, (rect.top() + rect.bottom()) / 2])
    points = np.array([[rect.left(), rect.top()], [rect.right(), rect.top()], [rect.right(), rect.bottom()]])
    cos, sin = np.cos(details.angle), np.sin(details.angle)
    return (points - centre) @ np.array([[cos, sin], [-sin, cos]]) + centre


def make(variant: str | None) -> FaceDescriptor:
    """The factory registered as the ``face`` extractor (it has no variants)."""
    if variant:
        raise PrefstudyError(f"the face extractor has no variants, got face:{variant}")
    return FaceDescriptor()
