"""`prefstudy recommend` on real Fashion-MNIST images as files: ranking, sha256 matching, input plan, overlays."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest
import torch
from conftest import Cli, copy_study
from PIL import Image

from prefstudy.datasets.catalog import key_index
from prefstudy.datasets.embedded import fashion_mnist_sample_dir
from prefstudy.datasets.readers.decoded import SourceOptions
from prefstudy.datasets.readers.fashion_mnist import read_folder
from prefstudy.datasets.readers.images import decode_image
from prefstudy.engine.inputs import InputAdapter
from prefstudy.explain.pictures import original_image
from prefstudy.progress import SilentReporter
from prefstudy.runs.record import mark_run, predictions
from prefstudy.runs.trained import read_saved_model
from prefstudy.workspace import Workspace

pytestmark = pytest.mark.slow  # trains a model first; tests/report/test_known_answers.py has a fast CLI check

N_SHOTS, N_NEW = 300, 20


def _gray(pixels: np.ndarray, path: Path) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(pixels[..., 0], "L").save(path)
    return path


@pytest.fixture(scope="module")
def built(_empty_study: Path, tmp_path_factory: pytest.TempPathFactory) -> dict:
    """Built once: 320 real Fashion-MNIST images as PNG files; 300 of them are dataset 'shots' (28x28 gray), and
    tinted RGB copies are dataset 'tints'. dana prefers bright images (a model2 run on shots, and a zero-shot
    transfer of it to tints); erin has labels on shots but no run."""
    root = tmp_path_factory.mktemp("recommend")
    fm = read_folder(fashion_mnist_sample_dir(), ("test",), SourceOptions(limit=N_SHOTS + N_NEW), SilentReporter())
    shots = [_gray(fm.images[i], root / "shots" / f"{i:04d}.png") for i in range(N_SHOTS)]
    new = [_gray(fm.images[i], root / "new" / f"new-{i:04d}.png") for i in range(N_SHOTS, N_SHOTS + N_NEW)]
    (root / "tints").mkdir()
    for i in range(0, N_SHOTS, 3):  # every third image, tinted orange
        rgb = (fm.images[i].astype(float) * [1.0, 0.8, 0.5]).round().astype(np.uint8)
        Image.fromarray(rgb, "RGB").save(root / "tints" / f"{i:04d}.png")
    ws = copy_study(_empty_study, root / "study")
    cli = Cli(ws.root)
    cli("data", "add", "shots", "--kind", "folder", "--path", root / "shots", "--size", "28", "--channels", "1")
    cli("data", "add", "tints", "--kind", "folder", "--path", root / "tints", "--size", "28")
    cli("subject", "simulate", "dana", "--dataset", "shots", "--rule", "feature:brightness")
    cli("subject", "simulate", "dana", "--dataset", "tints", "--rule", "feature:brightness")
    cli("subject", "simulate", "erin", "--dataset", "shots", "--rule", "feature:contrast")
    # 8 steps at a constant rate: enough to learn brightness (a onecycle of 8 steps spends them warming and cooling)
    train = ("--backbone", "paper-vgg:small", "--epochs", "2", "--batch-size", "64", "--lr", "0.003")
    train += ("--schedule", "paper")
    run = cli.json("run", "-s", "dana", "-d", "shots", *train)
    zero = cli.json("run", "-s", "dana", "-d", "tints", "--transfer-from", run["run_id"], "--zero-shot")
    return {"ws": ws, "root": root, "shots": shots, "new": new, "run": run["run_id"], "zero": zero["run_id"]}


@pytest.fixture
def cli(built) -> Cli:
    return Cli(built["ws"].root)


def _stored(ws: Workspace, run_id: str, dataset: str) -> dict[str, float]:
    """The run's own predictions, by item key."""
    key_of = {idx: key for key, idx in key_index(ws, dataset).items()}
    return {key_of[p.item_idx]: p.p_preferred for p in predictions(ws, run_id)}


def _ranked(out: dict) -> dict[str, float]:
    return {Path(entry["path"]).name: entry["p_preferred"] for entry in out["ranking"]}


def test_the_ranking_is_the_models_own_prediction_sorted(cli, built):
    out = cli.json("recommend", "-s", "dana", "--images", built["root"] / "shots", "--run", built["run"],
                   "--include-labelled", "--top", "1000")  # fmt: skip
    assert (out["images"], out["ranked"], out["left_out_labelled"], out["unreadable"]) == (N_SHOTS, N_SHOTS, 0, [])
    assert [e["rank"] for e in out["ranking"]] == list(range(1, N_SHOTS + 1))
    p = [e["p_preferred"] for e in out["ranking"]]
    assert p == sorted(p, reverse=True) and p[0] - p[-1] > 0.3  # a model that learned something
    stored = _stored(built["ws"], built["run"], "shots")
    assert _ranked(out) == pytest.approx(stored, abs=1e-6)
    with built["ws"].connect() as con:
        hashes = dict(con.execute("SELECT key, sha256 FROM items WHERE dataset = 'shots'").fetchall())
    assert {Path(e["path"]).name: e["sha256"] for e in out["ranking"]} == hashes  # the file's bytes, as `data add`


def test_the_latest_finished_run_on_a_dataset_is_used(cli, built):
    out = cli.json("recommend", "-s", "dana", "--images", built["root"] / "new", "--dataset", "shots", "--top", "3")
    assert out["run_id"] == built["run"] and out["dataset"] == "shots"
    assert (out["images"], out["ranked"], len(out["ranking"])) == (N_NEW, N_NEW, 3)


def test_labelled_images_are_left_out_by_sha256_and_unreadable_files_listed(cli, built, tmp_path):
    pool = tmp_path / "pool"
    shutil.copytree(built["root"] / "new", pool / "unseen")
    for path in built["shots"][:5]:  # the subject's own images, renamed
        shutil.copy(path, pool / f"copy-of-{path.stem}.png")
    (pool / "broken.jpg").write_bytes(b"\xff\xd8 not really a JPEG")
    result = cli("recommend", "-s", "dana", "--images", pool, "--run", built["run"], "--top", "100", "--json")
    out = json.loads(result.stdout)
    assert (out["images"], out["left_out_labelled"], out["ranked"]) == (N_NEW + 5, 5, N_NEW)
    assert not any("copy-of" in e["path"] for e in out["ranking"])
    assert out["unreadable"] == [{"path": str(pool / "broken.jpg"), "error": "not an image"}]
    assert "broken.jpg" in result.stderr
    again = cli.json("recommend", "-s", "dana", "--images", pool, "--run", built["run"], "--include-labelled")
    assert (again["left_out_labelled"], again["ranked"]) == (0, N_NEW + 5)


def test_images_of_another_size_and_channel_count_are_prepared_as_the_runs_images(cli, built, tmp_path):
    ws, item = built["ws"], built["shots"][7]
    pixels = np.asarray(Image.open(item))
    pool = tmp_path / "pool"
    pool.mkdir()
    Image.fromarray(np.stack([pixels] * 3, axis=-1), "RGB").save(pool / "rgb.png")  # the same image, in RGB
    big = Image.fromarray(pixels).resize((70, 56), Image.Resampling.BICUBIC).convert("RGB")
    big.save(pool / "big.png")
    out = _ranked(cli.json("recommend", "-s", "dana", "--images", pool, "--run", built["run"]))
    assert out["rgb.png"] == pytest.approx(_stored(ws, built["run"], "shots")[item.name], abs=1e-6)
    # A larger image is fitted to 28x28 as `data add` fits a photo, then meets the model through the run's plan.
    backbone, plan = read_saved_model(ws, built["run"]).build()
    fitted = torch.tensor(decode_image((pool / "big.png").read_bytes(), 28, 1)).permute(2, 0, 1)[None]
    with torch.inference_mode():
        expected = torch.softmax(backbone.module(InputAdapter(plan, backbone)(fitted)), dim=1)[0, 1].item()
    assert out["big.png"] == pytest.approx(expected, abs=1e-6)


def test_a_transfer_runs_recorded_input_plan_converts_the_pool(cli, built):
    out = cli.json("recommend", "-s", "dana", "--images", built["root"] / "tints", "--run", built["zero"],
                   "--include-labelled", "--top", "1000")  # fmt: skip
    assert out["input"] == "images 3x28x28 -> model 1x28x28 (RGB to luminance)"
    assert _ranked(out) == pytest.approx(_stored(built["ws"], built["zero"], "tints"), abs=1e-6)


def test_explain_writes_one_overlay_per_top_image(cli, built, tmp_path):
    out = cli.json("recommend", "-s", "dana", "--images", built["root"] / "new", "--run", built["run"], "--top", "3",
                   "--explain", "--out", tmp_path / "overlays")  # fmt: skip
    files = sorted((tmp_path / "overlays").iterdir())
    assert [Path(e["overlay"]) for e in out["ranking"]] == files
    assert [f.name[:4] for f in files] == ["001-", "002-", "003-"]
    for entry in out["ranking"]:
        with Image.open(entry["overlay"]) as picture:
            assert picture.size == (112, 112) and picture.mode == "RGB"  # 28x28 shown four times larger
            plain = original_image(np.asarray(Image.open(entry["path"]))[..., None])
            assert np.abs(np.asarray(picture, dtype=int) - np.asarray(plain, dtype=int)).max() > 50  # heat blended


def test_the_table_lists_the_top_images(cli, built):
    result = cli("recommend", "-s", "dana", "--images", built["root"] / "new", "--run", built["run"], "--top", "2")
    assert "top 2 of 20 images" in result.stdout and result.stdout.count("new-0") == 2


@pytest.mark.parametrize(
    ("args", "says"),
    [
        (("-s", "nobody", "-d", "shots"), "no subject 'nobody' in this study"),
        (("-s", "erin", "--run", "RUN"), "is dana's model, not erin's"),
        (("-s", "erin", "-d", "shots"), "make one with `prefstudy run --subject erin --dataset shots`"),
        (("-s", "dana", "-d", "nope"), "no dataset 'nope'"),
        (("-s", "dana", "-d", "shots", "--run", "RUN"), "give either --run RUN_ID or --dataset D"),
        (("-s", "dana", "--images", "EMPTY", "-d", "shots"), "no image files found in"),
        (("-s", "dana", "--images", "JUNK", "-d", "shots"), "none of the 1 files in"),
        (("-s", "dana", "--images", "LABELLED", "-d", "shots"), "all 2 images in"),
    ],
)
def test_bad_input_is_one_line_and_writes_nothing(cli, built, tmp_path, args, says):
    (tmp_path / "empty").mkdir()
    (tmp_path / "junk").mkdir()
    (tmp_path / "junk" / "a.png").write_text("no picture")
    (tmp_path / "labelled").mkdir()
    for path in built["shots"][:2]:
        shutil.copy(path, tmp_path / "labelled")
    where = {"EMPTY": tmp_path / "empty", "JUNK": tmp_path / "junk", "LABELLED": tmp_path / "labelled"}
    args = [where.get(a, built["run"] if a == "RUN" else a) for a in args]
    if "--images" not in args:
        args += ["--images", built["root"] / "new"]
    result = cli("recommend", *args, "--explain", "--out", tmp_path / "out", "--json", ok=False)
    assert result.exit_code == 1 and result.stdout == "" and "Traceback" not in result.stderr
    (line,) = [line for line in result.stderr.splitlines() if line.startswith("error:")]
    assert says in line
    assert not (tmp_path / "out").exists()


def test_explain_needs_out_and_an_unfinished_run_is_refused(built, tmp_path):
    ws = copy_study(built["ws"].root, tmp_path / "study")
    cli = Cli(ws.root)
    images = built["root"] / "new"
    result = cli("recommend", "-s", "dana", "--images", images, "-d", "shots", "--explain", ok=False)
    assert result.exit_code == 1 and "give --out DIR" in result.stderr
    mark_run(ws, built["run"], "failed", "stopped")
    result = cli("recommend", "-s", "dana", "--images", images, "--run", built["run"], ok=False)
    assert result.exit_code == 1 and f"run {built['run']} is failed, not finished" in result.stderr
    result = cli("recommend", "-s", "dana", "--images", images, "-d", "shots", ok=False)
    assert "has no finished run on 'shots'" in result.stderr
