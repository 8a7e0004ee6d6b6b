"""Each visual feature, on images whose value can be worked out by hand."""

import numpy as np
import pytest

from prefstudy.subjects.features import compute_feature
from prefstudy.subjects.regions import parse_region


def _gray(*pixels: np.ndarray) -> np.ndarray:
    return np.stack(pixels)[..., None].astype(np.uint8)


def test_brightness_and_contrast():
    flat = np.full((4, 4), 51)
    half = np.zeros((4, 4))
    half[:, 2:] = 255
    images = _gray(flat, half)
    assert compute_feature("brightness", images) == pytest.approx([0.2, 0.5])
    # std over 16 pixels, 8 at 0 and 8 at 1, unbiased: sqrt(16 * 0.25 / 15)
    assert compute_feature("contrast", images) == pytest.approx([0.0, np.sqrt(4 / 15)])


def test_edges_see_a_step_and_not_a_flat_image():
    step = np.zeros((5, 5))
    step[:, 3:] = 255
    values = compute_feature("edges", _gray(np.zeros((5, 5)), step))
    # Valid 3x3 Sobel windows centred on columns 2 and 3 straddle the step (gx = 4); column 1 does not.
    assert values[0] == 0.0
    assert values[1] == pytest.approx((4 + 4 + 0) * 3 / 9)


def test_colourfulness_is_zero_for_gray_and_large_for_saturated_colour():
    gray = np.full((1, 4, 4, 3), 128, dtype=np.uint8)
    red = np.zeros((1, 4, 4, 3), dtype=np.uint8)
    red[..., 0] = 255
    values = compute_feature("colourfulness", np.concatenate([gray, red]))
    # red: rg = 1, yb = 0.5, no spread: 0.3 * sqrt(1 + 0.25)
    assert values == pytest.approx([0.0, 0.3 * np.sqrt(1.25)])


def test_symmetry_is_one_for_a_mirror_image():
    symmetric = np.array([[0, 255, 255, 0]] * 4)
    lopsided = np.array([[255, 255, 0, 0]] * 4)
    assert compute_feature("symmetry", _gray(symmetric, lopsided)) == pytest.approx([1.0, 0.0])


def test_a_region_restricts_the_measurement():
    image = np.zeros((8, 8))
    image[:4] = 255  # bright top half
    images = _gray(image)
    assert compute_feature("brightness", images, parse_region("top")) == pytest.approx([1.0])
    assert compute_feature("brightness", images, parse_region("bottom")) == pytest.approx([0.0])
    assert compute_feature("brightness", images, parse_region("0,0,1,0.25")) == pytest.approx([1.0])
