"""Occlusion maps of head runs on a third party's extractor that sees one region only: the maps find the region,
whether the extractor offers crops (the crop occluded, its map carried back to the image) or not (the whole image
occluded); the method, window and stride are recorded and reported."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from conftest import Cli, write_distribution

from prefstudy.explain.occlusion import Occluder, Window, to_image
from prefstudy.subjects.simulate import simulate_subject

ENTRY_POINTS = "[prefstudy.extractors]\nquadrant = quadrant_features:make\n"
EXTRACTOR = '''
"""A third party's extractor that sees the top-left quadrant only: its brightness on a 2 x 2 grid (no torch).
Variant "crop" offers the contract's two steps: the quadrant is its crop."""
import numpy as np

from prefstudy.extractors.contract import Crops, Extracted, ExtractorInfo


def grid(quadrants):
    return (quadrants[..., 0].reshape(len(quadrants), 2, 7, 2, 7).mean(axis=(2, 4)) / 255.0).reshape(-1, 4)


class Quadrant:
    def __init__(self, name):
        self.info = ExtractorInfo(
            name=name, dim=4, image_size=28, channels=1, weights="none", licence="MIT", differentiable=False
        )

    def extract(self, images):
        return Extracted(grid(images[:, :14, :14]).astype(np.float32))


class CroppedQuadrant(Quadrant):
    def crops(self, images):
        corners = np.tile(np.array([[0.0, 0.0], [13.0, 0.0], [13.0, 13.0]]), (len(images), 1, 1))
        return Crops(np.ascontiguousarray(images[:, :14, :14]), corners, np.ones(len(images), bool))

    def describe(self, crops):
        return grid(crops).astype(np.float32)


def make(variant):
    return CroppedQuadrant("quadrant:crop") if variant == "crop" else Quadrant("quadrant")
'''


@pytest.fixture
def quadrant(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    site = write_distribution(tmp_path / "site", "quadrant-features", ENTRY_POINTS, {"quadrant_features.py": EXTRACTOR})
    monkeypatch.syspath_prepend(str(site))


def test_a_crops_map_lands_where_the_crop_was_cut_from():
    crop_map = np.zeros((10, 10))
    crop_map[0, 9] = 1.0  # the crop's top-right pixel
    # A crop turned by 90 degrees: its top edge runs down the image's column 40 from row 20 to row 29.
    corners = np.array([[40.0, 20.0], [40.0, 29.0], [31.0, 29.0]])
    on_image = to_image(crop_map, corners, 64)
    assert np.unravel_index(np.argmax(on_image), on_image.shape) == (29, 40)
    assert on_image[:, :31].sum() == 0 and on_image[:20].sum() == 0  # nothing outside the crop


def test_occlusion_of_a_score_that_reads_one_square_finds_the_square():
    images = np.random.default_rng(0).integers(0, 256, (2, 24, 24, 1), dtype=np.uint8)

    def score(x):  # the mean brightness of rows 0-7, columns 16-23
        return x[:, :8, 16:24, 0].reshape(len(x), -1).mean(axis=1)

    maps = Occluder(score, Window(8, 8)).attribute(images, np.array([1.0, -1.0]))
    assert maps.shape == (2, 24, 24) and Window(8, 8).positions(24) == 9
    outside = np.ones((24, 24), bool)
    outside[:8, 16:] = False
    assert np.all(maps[:, outside] == 0)
    # Greying the square lowers the score where it was brighter than grey: the map of "high" is that drop.
    expected = max(0.0, score(images[:1])[0] - 128.0)
    assert maps[0, 0, 16] == pytest.approx(expected, abs=1e-4)


@pytest.mark.parametrize(
    ("extractor", "layer", "positions"),
    [
        ("quadrant", "image", 16),
        ("quadrant:crop", "crop", 4),
    ],
)  # 7-px squares over the 28-px image, or over the 14-px crop
def test_explain_a_head_run_by_occlusion_finds_the_one_region_its_extractor_sees(
    sample_ws, quadrant, extractor, layer, positions
):
    simulate_subject(sample_ws, "carol", "fm", "feature:brightness@top-left", seed=0, limit=300)
    cli = Cli(sample_ws.root)
    run = cli.json("run", "--subject", "carol", "--dataset", "fm", "--backbone", extractor, "--head", "linear",
                   "--protocol", "model1")  # fmt: skip
    test = run["metrics"]["test"]
    assert test["accuracy"] > 0.8  # the quadrant is what the subject answers by
    out = cli.json("explain", run["run_id"], "--n", "2", "--window", "7", "--stride", "7")
    assert (out["method"], out["layer"], out["window"], out["stride"]) == ("occlusion", layer, 7, 7)
    assert f"({positions} positions)" in out["note"] and out["items_explained"] == test["n"]
    for answer in ("preferred", "not_preferred"):
        summary = out["agreement"][answer]
        assert summary["n"] > 0 and summary["chance"]["energy"] == pytest.approx(0.25)
        assert summary["n"] - summary["empty_maps"] > 0
        # Nothing outside the quadrant moves the features, so no map has mass outside it.
        non_empty = summary["n"] - summary["empty_maps"]
        assert summary["energy"] * summary["n"] == pytest.approx(non_empty, abs=1e-6)
        assert summary["pointing_game"] * summary["n"] == pytest.approx(non_empty)
    kinds = {Path(f).name.rsplit("-", 1)[-1] for f in out["files"] if "/items/" in f}
    assert kinds == {"original.png", "heatmap.png", "overlay.png"} | ({"crop.png"} if layer == "crop" else set())
    with sample_ws.connect() as con:
        rows = con.execute(
            "SELECT DISTINCT method, layer, window_px, stride_px FROM explanations WHERE run_id = ?", [run["run_id"]]
        ).fetchall()
    assert rows == [("occlusion", layer, 7, 7)]
    report = json.loads(cli("report", "--format", "json").stdout)
    assert {(a["layer"], a["method"]) for a in report["agreement"]} == {(layer, "occlusion")}
    refusals = [(("--layer", "features.1"), "not differentiable: its maps are occlusion's")]
    if layer == "image":
        refusals.append((("--window", "40"), "--window 40 is larger than the 28-px image"))
    for args, message in refusals:
        result = cli("explain", run["run_id"], *args, ok=False)
        assert result.exit_code == 1 and message in result.stderr
