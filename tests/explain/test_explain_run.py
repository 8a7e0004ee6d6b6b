"""`prefstudy explain` on real Fashion-MNIST: pictures, DuckDB rows, and agreement with a region subject."""

import shutil

import pytest
from conftest import Cli, copy_study
from PIL import Image

from prefstudy.subjects.simulate import simulate_subject
from prefstudy.workspace import Workspace

pytestmark = pytest.mark.slow  # trains a model to explain


# The paper network at half its width (the same layers, so the same layer names): it learns the region as well.
RUN = ("run", "--subject", "carol", "--dataset", "fm", "--backbone", "paper-vgg:small", "--epochs", "3")


@pytest.fixture(scope="module")
def _built(_sample_study, tmp_path_factory):
    """Built once: the embedded real Fashion-MNIST, a subject who prefers a bright top-left quadrant, a run."""
    ws = copy_study(_sample_study, tmp_path_factory.mktemp("explain") / "study")
    simulate_subject(ws, "carol", "fm", "feature:brightness@top-left", seed=0, limit=3000)
    run = Cli(ws.root).json(*RUN, "--batch-size", "32")
    assert run["metrics"]["test"]["accuracy"] > 0.85
    return ws.root, run


@pytest.fixture
def sample_ws(_built, tmp_path):
    shutil.copytree(_built[0], tmp_path / "study")
    return Workspace((tmp_path / "study").resolve())


@pytest.fixture
def cli(sample_ws):
    return Cli(sample_ws.root)


@pytest.fixture
def region_run(_built):
    return _built[1]


def test_explain_writes_pictures_rows_and_the_agreement_table(cli, sample_ws, region_run):
    run_id = region_run["run_id"]
    out = cli.json("explain", run_id, "--n", "3")
    test = region_run["metrics"]["test"]
    assert out["items_explained"] == test["n"]
    assert out["agreement"]["preferred"]["n"] == test["tp"]  # every correct preferred test item has the region
    assert out["agreement"]["not_preferred"]["n"] == test["tn"]
    for answer in ("preferred", "not_preferred"):
        summary = out["agreement"][answer]
        assert summary["chance"]["pointing_game"] == pytest.approx(0.25)  # the top-left quadrant
        assert 0 <= summary["pointing_game"] <= 1 and 0 <= summary["energy"] <= 1 and 0 <= summary["iou"] <= 1
    # The region drives the answer: the maps point into it far more often than chance, for one class at least.
    assert max(out["agreement"][a]["pointing_game"] for a in ("preferred", "not_preferred")) > 0.4

    group_sizes = [test["tp"], test["fn"], test["tn"], test["fp"]]  # preferred / not preferred x correct / wrong
    sheets = [f for f in out["files"] if "/sheet-" in f]
    assert len(sheets) == sum(size > 0 for size in group_sizes)  # an empty group has no sheet
    overlays = [f for f in out["files"] if f.endswith("-overlay.png")]
    assert len(overlays) == sum(min(3, size) for size in group_sizes)
    with Image.open(overlays[0]) as picture:
        assert picture.size == (112, 112) and picture.mode == "RGB"  # 28x28 shown four times larger
    with sample_ws.connect() as con:
        rows = con.execute(
            "SELECT count(*), count(pointing), count(DISTINCT layer) FROM explanations WHERE run_id = ?", [run_id]
        ).fetchall()[0]
        indexed = con.execute("SELECT count(*) FROM explanation_files WHERE run_id = ?", [run_id]).fetchall()[0][0]
    assert rows == (test["n"], test["n"], 1)
    assert indexed == len(out["files"])


def test_explaining_again_replaces_and_another_layer_adds(cli, sample_ws, region_run):
    run_id = region_run["run_id"]
    first = cli.json("explain", run_id, "--n", "1")
    again = cli.json("explain", run_id, "--n", "1")
    assert again["agreement"] == first["agreement"]  # deterministic
    block2 = cli.json("explain", run_id, "--n", "1", "--layer", "features.4.2")
    assert block2["layer"] == "features.4.2"
    with sample_ws.connect() as con:
        layers = dict(
            con.execute("SELECT layer, count(*) FROM explanations WHERE run_id = ? GROUP BY layer", [run_id]).fetchall()
        )
    assert layers == {
        "features.7.2": region_run["metrics"]["test"]["n"],
        "features.4.2": region_run["metrics"]["test"]["n"],
    }


def test_named_items_are_drawn_and_bad_requests_are_clear(cli, sample_ws, region_run, tmp_path):
    run_id = region_run["run_id"]
    with sample_ws.connect() as con:
        key = con.execute(
            "SELECT i.key FROM predictions p JOIN items i ON i.dataset = p.dataset AND i.idx = p.item_idx "
            "WHERE p.run_id = ? AND p.split = 'train' LIMIT 1",
            [run_id],
        ).fetchall()[0][0]
    out = cli.json("explain", run_id, "--n", "0", "--items", key, "--out", tmp_path / "pictures")
    assert sorted(f.rsplit("-", 1)[-1] for f in out["files"]) == ["heatmap.png", "original.png", "overlay.png"]
    assert all(f.startswith(str(tmp_path / "pictures")) for f in out["files"])
    for args, message in (
        (["nope"], "no run 'nope'"),
        ([run_id, "--items", "test-99999"], "no item 'test-99999'"),
        ([run_id, "--layer", "features.99"], "has no layer 'features.99'"),
    ):
        result = cli("explain", *args, ok=False)
        assert result.exit_code == 1 and message in result.stderr, result.stderr


def test_a_head_on_a_trained_networks_features_is_explained_with_grad_cam_through_the_head(cli, sample_ws, region_run):
    # The trained network as an extractor (its pooled features), a ridge head on them: one differentiable model.
    extractor = f"run:{region_run['run_id']}"
    head_run = cli.json("run", "--subject", "carol", "--dataset", "fm", "--backbone", extractor, "--head", "linear")
    test = head_run["metrics"]["test"]
    assert head_run["head"] == "linear" and test["accuracy"] > 0.85  # the features hold the region's brightness
    out = cli.json("explain", head_run["run_id"], "--n", "1")
    assert (out["method"], out["layer"], out["window"], out["stride"]) == ("grad-cam", "features.7.2", None, None)
    assert out["items_explained"] == test["n"] and "through run:" in out["note"]
    assert out["agreement"]["preferred"]["n"] == test["tp"]
    # The head reads what the network learned, the top-left quadrant: Grad-CAM through the head points there.
    assert max(out["agreement"][a]["pointing_game"] for a in ("preferred", "not_preferred")) > 0.4
    refused = cli("explain", head_run["run_id"], "--window", "7", ok=False)
    assert (
        refused.exit_code == 1 and "is explained with Grad-CAM; --window and --stride are occlusion's" in refused.stderr
    )
