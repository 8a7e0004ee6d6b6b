"""The face extractor on real faces: it registers, finds every London face, and its 128 numbers tell people apart."""

import os
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from prefstudy.extractors.registry import create_extractor, describe_extractors, list_extractors

SHARED = Path(os.environ.get("PREFSTUDY_SHARED_DATA", Path(__file__).resolve().parents[3].parent / "shared" / "data"))


def _photos(paths: list[Path], size: int = 256) -> np.ndarray:
    return np.stack([np.asarray(Image.open(p).convert("RGB").resize((size, size))) for p in paths])


@pytest.mark.slow  # lists every extractor: builds EfficientNet-Lite0 too
def test_registered_with_its_weights_and_licence():
    assert "face" in list_extractors()
    (listed,) = [e for e in describe_extractors() if e.name == "face"]
    assert (listed.status, listed.distribution, listed.dim, listed.differentiable) == (
        "ok",
        "prefstudy-face",
        128,
        False,
    )
    assert "public domain" in listed.licence


@pytest.mark.slow  # 20 detections and descriptors
def test_finds_every_london_face_and_one_person_is_nearer_to_themself_than_to_others():
    london, lfw = SHARED / "london-faces" / "images", SHARED / "lfw"
    if not london.is_dir() or not lfw.is_dir():
        pytest.skip(f"the London faces or LFW are not in {SHARED} (the shared data folder)")
    face = create_extractor("face")
    out = face.extract(_photos(sorted(london.glob("*.jpg"))[:12]))
    assert out.vectors.shape == (12, 128) and out.vectors.dtype == np.float32 and out.counts == {}
    assert len({v.tobytes() for v in out.vectors}) == 12  # twelve people, twelve descriptors
    # LFW: two photographs of one person, against photographs of others (dlib's same-person threshold is 0.6).
    people = sorted(p for p in lfw.iterdir() if p.is_dir() and len(list(p.glob("*.jpg"))) >= 2)[:4]
    pairs = [sorted(p.glob("*.jpg"))[:2] for p in people]
    vectors = face.extract(_photos([photo for pair in pairs for photo in pair])).vectors.reshape(len(people), 2, 128)
    same = np.linalg.norm(vectors[:, 0] - vectors[:, 1], axis=1)
    other = [np.linalg.norm(vectors[i, 0] - vectors[j, 0]) for i in range(len(people)) for j in range(i)]
    assert same.max() < 0.6 < min(other), (same, other)


def test_an_image_without_a_face_is_described_whole_and_counted():
    face = create_extractor("face")
    blank = np.full((2, 256, 256, 3), 200, dtype=np.uint8)
    out = face.extract(blank)
    assert out.vectors.shape == (2, 128) and out.counts == {"no face detected (the whole image used)": 2}
