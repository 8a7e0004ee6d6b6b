"""`prefstudy recommend` with head runs, on a third party's extractor installed for real: the ranking is the head's
(a population head and a rater's deviation from it too), answered images are left out, the pool's vectors are
cached per file and a second call reads them without calling the extractor, and --explain says in a line that a
head has no Grad-CAM."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest
from conftest import Cli, copy_study, write_distribution
from PIL import Image

from prefstudy.datasets.embedded import fashion_mnist_sample_dir
from prefstudy.datasets.readers.decoded import SourceOptions
from prefstudy.datasets.readers.fashion_mnist import read_folder
from prefstudy.datasets.readers.images import try_decode
from prefstudy.engine.heads import load_head
from prefstudy.progress import SilentReporter
from prefstudy.recommend import heads
from prefstudy.recommend.pool_cache import FEATURES_DIR

N_DATA, N_NEW, RATERS = 60, 20, ("r1", "r2", "r3", "r4")
ENTRY_POINTS = "[prefstudy.extractors]\nbright = bright_features:make\n"
EXTRACTOR = '''
"""A third party's extractor: an image's brightness on a coarse grid (no torch), counting the images it sees."""
import numpy as np

from prefstudy.extractors.contract import Extracted, ExtractorInfo

SEEN = []


class Bright:
    info = ExtractorInfo(
        name="bright", dim=16, image_size=28, channels=1, weights="grid-v1", licence="MIT", differentiable=False
    )

    def extract(self, images):
        SEEN.append(len(images))
        grid = images[..., 0].reshape(len(images), 4, 7, 4, 7).mean(axis=(2, 4)) / 255.0
        return Extracted(grid.reshape(len(images), 16).astype(np.float32))


def make(variant):
    return Bright()
'''
HEAD = ("--backbone", "bright", "--head", "linear", "--protocol", "model1")


def _png(pixels: np.ndarray, path: Path) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(pixels[..., 0], "L").save(path)
    return path


@pytest.fixture(scope="module")
def bright(tmp_path_factory: pytest.TempPathFactory):
    """The extractor, installed as a distribution with an entry point (on sys.path for this module's tests)."""
    site = write_distribution(
        tmp_path_factory.mktemp("site"), "bright-features", ENTRY_POINTS, {"bright_features.py": EXTRACTOR}
    )
    with pytest.MonkeyPatch.context() as patch:
        patch.syspath_prepend(str(site))
        import bright_features

        yield bright_features


@pytest.fixture(scope="module")
def built(bright, _empty_study: Path, tmp_path_factory: pytest.TempPathFactory) -> dict:
    """Built once: 60 real Fashion-MNIST images as PNG files, dataset 'shots'; dana prefers bright ones (a
    simulated subject, a linear head); four raters rate by brightness, their consensus 'crowd' has a head on
    ratings and r1 a deviation from it. 20 further images are the pool."""
    root = tmp_path_factory.mktemp("recommend-heads")
    fm = read_folder(fashion_mnist_sample_dir(), ("test",), SourceOptions(limit=N_DATA + N_NEW), SilentReporter())
    shots = [_png(fm.images[i], root / "shots" / f"{i:04d}.png") for i in range(N_DATA)]
    new = [_png(fm.images[i], root / "new" / f"new-{i:04d}.png") for i in range(N_DATA, N_DATA + N_NEW)]
    ws = copy_study(_empty_study, root / "study")
    cli = Cli(ws.root)
    cli("data", "add", "shots", "--kind", "folder", "--path", root / "shots", "--size", "28", "--channels", "1")
    cli("subject", "simulate", "dana", "--dataset", "shots", "--rule", "feature:brightness")
    brightness = fm.images[:N_DATA].reshape(N_DATA, -1).mean(axis=1)
    rng = np.random.default_rng(0)
    lines = ["rater,item,rating"]
    for rater in RATERS:
        ratings = np.clip(np.rint(1 + 6 * brightness / brightness.max() + rng.normal(0, 0.7, N_DATA)), 1, 7)
        lines += [f"{rater},{path.name},{int(r)}" for path, r in zip(shots, ratings, strict=True)]
    (root / "ratings.csv").write_text("\n".join(lines) + "\n")
    cli("label", "import-ratings", root / "ratings.csv", "--dataset", "shots")
    cli("subject", "consensus", "crowd", "--dataset", "shots", "--raters", "r*")
    dana = cli.json("run", "-s", "dana", "-d", "shots", *HEAD)["run_id"]
    ratings = ("--target", "ratings", "--split-by", "item")
    crowd = cli.json("run", "-s", "crowd", "-d", "shots", *HEAD, *ratings)["run_id"]
    r1 = cli.json("run", "-s", "r1", "-d", "shots", *HEAD, *ratings, "--transfer-from", crowd)["run_id"]
    return {"ws": ws, "root": root, "shots": shots, "new": new, "dana": dana, "crowd": crowd, "r1": r1}


def _pool_with_answered_copies(built: dict, pool: Path) -> Path:
    shutil.copytree(built["root"] / "new", pool / "unseen")
    for path in built["shots"][:3]:  # dana's own images, renamed
        shutil.copy(path, pool / f"copy-of-{path.stem}.png")
    (pool / "broken.png").write_bytes(b"\x89PNG not really")
    return pool


def _by_hand(ws, run_id: str, bright, paths: list[Path]) -> dict[str, float]:
    """P(preferred) of each image: the run's head on the extractor's vectors, computed here."""
    images = np.stack([np.asarray(Image.open(p))[..., None] for p in paths])
    head = load_head(ws.run_dir(run_id) / "head.npz")
    return dict(zip([p.name for p in paths], head.p(bright.Bright().extract(images).vectors), strict=True))


def test_the_heads_ranking_bright_first_answered_left_out_and_the_second_call_reads_the_cache(built, bright, tmp_path):
    cli, pool = Cli(built["ws"].root), _pool_with_answered_copies(built, tmp_path / "pool")
    bright.SEEN.clear()
    result = cli("recommend", "-s", "dana", "--images", pool, "--dataset", "shots", "--top", "100", "--json")
    out = json.loads(result.stdout)
    assert (out["run_id"], out["model"]) == (built["dana"], "bright+linear")
    assert out["input"] == "originals at 28 px -> bright (16-d) -> linear head"
    assert (out["images"], out["left_out_labelled"], out["ranked"]) == (N_NEW + 3, 3, N_NEW)
    assert out["unreadable"] == [{"path": str(pool / "broken.png"), "error": "not an image"}]
    assert out["features"] == {"extractor": "bright", "cached": 0, "computed": N_NEW + 3,
                               "seconds": pytest.approx(out["features"]["seconds"]), "counts": {}}  # fmt: skip
    assert sum(bright.SEEN) in (N_NEW + 3, N_NEW + 5)  # every readable file once (and the contract's two)
    ranking = out["ranking"]
    assert not any("copy-of" in e["path"] for e in ranking) and [e["rank"] for e in ranking] == list(range(1, 21))
    p = {Path(e["path"]).name: e["p_preferred"] for e in ranking}
    assert p == pytest.approx(_by_hand(built["ws"], built["dana"], bright, built["new"]), abs=1e-6)
    assert list(p.values()) == sorted(p.values(), reverse=True)
    # dana prefers bright images: the five the head puts first are brighter than the five it puts last.
    light = [np.asarray(Image.open(e["path"]), dtype=float).mean() for e in ranking]
    assert min(light[:5]) > max(light[-5:])
    assert len(list((built["ws"].root / FEATURES_DIR).glob("bright-grid-v1-28px/*.npy"))) == N_NEW + 3

    bright.SEEN.clear()
    decoded = []
    with pytest.MonkeyPatch.context() as patch:  # what the second call decodes: the broken file alone, tried again
        patch.setattr(heads, "try_decode", lambda data, *args: decoded.append(data) or try_decode(data, *args))
        again = cli.json("recommend", "-s", "dana", "--images", pool, "--dataset", "shots", "--top", "100")
    assert bright.SEEN == [] and decoded == [(pool / "broken.png").read_bytes()]  # not one image extracted again
    assert (again["features"]["cached"], again["features"]["computed"]) == (N_NEW + 3, 0)
    assert again["ranking"] == ranking and again["left_out_labelled"] == 3

    # A new image joins the folder: only it is extracted.
    shutil.copy(built["shots"][10], pool / "unseen" / "also-new.png")
    both = cli.json("recommend", "-s", "dana", "--images", pool, "--dataset", "shots", "--include-labelled")
    assert (both["features"]["cached"], both["features"]["computed"], both["left_out_labelled"]) == (23, 1, 0)
    assert sum(bright.SEEN) == 1


def test_a_deviation_heads_ranking_is_the_population_head_plus_the_raters_own(built, bright, tmp_path):
    cli = Cli(built["ws"].root)
    out = cli.json("recommend", "-s", "r1", "--images", built["root"] / "new", "--run", built["r1"], "--top", "5")
    assert out["input"] == (
        f"originals at 28 px -> bright (16-d) -> linear head (a deviation from population run {built['crowd']})"
    )
    assert out["model"] == "bright+linear on ratings"
    expected = _by_hand(built["ws"], built["r1"], bright, built["new"])
    assert load_head(built["ws"].run_dir(built["r1"]) / "head.npz").base is not None  # the crowd's head inside
    assert [Path(e["path"]).name for e in out["ranking"]] == sorted(expected, key=lambda k: (-expected[k], k))[:5]
    assert [e["p_preferred"] for e in out["ranking"]] == pytest.approx(sorted(expected.values())[::-1][:5], abs=1e-6)
    assert all(e["score"] is not None for e in out["ranking"])


def test_explain_on_a_head_run_says_why_there_are_no_overlays_and_writes_nothing(built, tmp_path):
    cli = Cli(built["ws"].root)
    result = cli("recommend", "-s", "dana", "--images", built["root"] / "new", "--run", built["dana"], "--top", "3",
                 "--explain", "--out", tmp_path / "overlays", "--json")  # fmt: skip
    out = json.loads(result.stdout)
    assert out["explanation"] is None and all("overlay" not in e for e in out["ranking"])
    assert "features are not differentiable" in out["not_explained"]
    (line,) = [line for line in result.stderr.splitlines() if line.startswith("no overlays:")]
    assert built["dana"] in line and not (tmp_path / "overlays").exists()
    table = cli("recommend", "-s", "dana", "--images", built["root"] / "new", "--run", built["dana"], "--top", "2")
    assert "score" in table.stdout and table.stdout.count("new-0") == 2
