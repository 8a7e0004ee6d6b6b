"""`prefstudy explain` on a head run on dlib's face descriptor, on real London faces: occlusion of the aligned
face chip (the detection held as found), with its window and stride recorded, and maps that say something."""

from __future__ import annotations

import numpy as np
import pytest
from conftest import SHARED_DATA, Cli
from PIL import Image

from prefstudy.subjects.simulate import simulate_subject

pytestmark = pytest.mark.slow  # a face detection and descriptor per photograph, and 5 per explained face

LONDON = SHARED_DATA / "london-faces" / "images"


def test_a_face_head_run_is_explained_by_occluding_the_aligned_chip(sample_ws):
    pytest.importorskip("prefstudy_face", reason="the face extractor plugin: pip install -e plugins/prefstudy-face")
    if not LONDON.is_dir():
        pytest.skip(f"the London faces are not in {LONDON} (the shared data folder)")
    cli = Cli(sample_ws.root)
    cli("data", "add", "london", "--kind", "folder", "--path", LONDON, "--limit", "24", "--seed", "0", "--size", "32")
    simulate_subject(sample_ws, "dora", "london", "feature:brightness@top", seed=0)
    run = cli.json("run", "--subject", "dora", "--dataset", "london", "--backbone", "face", "--head", "linear",
                   "--protocol", "model1")  # fmt: skip
    out = cli.json("explain", run["run_id"], "--n", "1", "--window", "75", "--stride", "75")
    assert (out["method"], out["layer"], out["window"], out["stride"]) == ("occlusion", "crop", 75, 75)
    assert "150x150-px crops" in out["note"] and "(4 positions)" in out["note"]
    assert out["items_explained"] == run["metrics"]["test"]["n"] > 0
    with sample_ws.connect() as con:
        rows = con.execute(
            "SELECT method, window_px, stride_px, empty_map FROM explanations WHERE run_id = ?", [run["run_id"]]
        ).fetchall()
    assert len(rows) == out["items_explained"] and {r[:3] for r in rows} == {("occlusion", 75, 75)}
    overlays = [f for f in out["files"] if f.endswith("-overlay.png")]
    heatmaps = [f for f in out["files"] if f.endswith("-heatmap.png")]
    crops = [f for f in out["files"] if f.endswith("-crop.png")]
    assert overlays and len(crops) == len(overlays)
    with Image.open(overlays[0]) as overlay, Image.open(crops[0]) as crop:
        assert overlay.size == (256, 256) and crop.size == (150, 150)  # the photograph at the extractor's size
    # Non-trivial: some map is not empty, and its colours vary across the photograph (jet: blue where nothing).
    with Image.open(heatmaps[0]) as heat:
        pixels = np.asarray(heat, dtype=np.int32)
    assert not all(r[3] for r in rows)
    assert pixels[..., 0].max() - pixels[..., 0].min() > 100
