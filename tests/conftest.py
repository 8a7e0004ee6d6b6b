"""Shared fixtures: isolated workspaces, the CLI runner, studies built once per session, and the real data
(skipped, with the reason, when absent)."""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

import numpy as np
import pytest
import typer
from click.testing import CliRunner

from prefstudy.cli import app
from prefstudy.config import TrainSettings
from prefstudy.datasets import add_dataset
from prefstudy.env import DATA_ENV, DEBUG_ENV, LOCK_TIMEOUT_ENV, MAX_PIXELS_ENV, STUDY_ENV
from prefstudy.studyfile import DatasetSpec
from prefstudy.workspace import Workspace, init_workspace

# The click command tree, built once: typer.testing's runner rebuilds it on every call (~150 ms each).
COMMAND = typer.main.get_command(app)
REPO = Path(__file__).resolve().parents[1]
SHARED_DATA = Path(os.environ.get("PREFSTUDY_SHARED_DATA", REPO.parent / "shared" / "data"))
FASHION_MNIST = Path("/usr/share/datasets/fashion-mnist")


@pytest.fixture(autouse=True)
def _isolated_environment(tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch) -> None:
    """No test reads the developer's home, data or study settings."""
    home = tmp_path_factory.mktemp("home")
    monkeypatch.setenv("HOME", str(home))
    for name in (STUDY_ENV, DATA_ENV, DEBUG_ENV, LOCK_TIMEOUT_ENV, MAX_PIXELS_ENV):
        monkeypatch.delenv(name, raising=False)


@pytest.fixture
def fashion_mnist_dir() -> Path:
    if not (FASHION_MNIST / "train-images-idx3-ubyte.gz").is_file():
        pytest.skip(f"real Fashion-MNIST not found in {FASHION_MNIST}: apt-get install dataset-fashion-mnist")
    return FASHION_MNIST


@pytest.fixture(scope="session")
def lfw_dir() -> Path:
    path = SHARED_DATA / "lfw"
    if not path.is_dir():
        pytest.skip(f"real LFW faces not found in {path} (the shared data folder)")
    return path


@pytest.fixture
def indoor_dir() -> Path:
    path = SHARED_DATA / "indoor-rooms"
    if not (path / "TrainImages.txt").is_file():
        pytest.skip(f"real indoor-rooms photos not found in {path} (the shared data folder)")
    return path


def copy_study(source: Path, target: Path) -> Workspace:
    """A private copy of a study, to change freely."""
    shutil.copytree(source, target)
    return Workspace(target.resolve())


@pytest.fixture(scope="session")
def _empty_study(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Built once: an empty study named "study" (creating the database's schema takes a while)."""
    return init_workspace(tmp_path_factory.mktemp("empty") / "study").root


@pytest.fixture
def ws(_empty_study: Path, tmp_path: Path) -> Workspace:
    """A fresh, empty study workspace."""
    return copy_study(_empty_study, tmp_path / "study")


@pytest.fixture(scope="session")
def _sample_study(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Built once: a study with the embedded real Fashion-MNIST test split as dataset 'fm' (decoded and hashed once)."""
    ws = init_workspace(tmp_path_factory.mktemp("sample") / "study")
    add_dataset(ws, DatasetSpec(name="fm", kind="fashion-mnist-sample"))
    return ws.root


@pytest.fixture
def sample_ws(ws: Workspace, _sample_study: Path) -> Workspace:
    """The fresh workspace `ws`, with the embedded real Fashion-MNIST test split added as dataset 'fm'."""
    shutil.copy(_sample_study / ws.db_path.name, ws.db_path)  # as `data add` left it, without decoding again
    shutil.copytree(_sample_study / "cache", ws.cache_dir, dirs_exist_ok=True)
    return ws


# The runs of the study every test may read (see `trained_study`): declared, so `study plan` finds them done.
TRAINED_RUNS = {
    # The paper's network at a quarter of its width: these runs feed tests of what is recorded, not of learning.
    "alice": TrainSettings(backbone="paper-vgg:small", epochs=1, batch_size=16),  # classes:Trouser,Bag,Sneaker; 1200
    "bob": TrainSettings(backbone="paper-vgg:small", epochs=1),  # feature:brightness; 400 labels
}


@pytest.fixture(scope="session")
def trained_study(_sample_study: Path, tmp_path_factory: pytest.TempPathFactory) -> Workspace:
    """Built once per session and shared, read-only: Fashion-MNIST, two simulated subjects and one finished
    model2 run each (see TRAINED_RUNS). Tests that change it take `trained_copy`."""
    from prefstudy.runs.execute import RunRequest, start_run
    from prefstudy.subjects.simulate import simulate_subject

    ws = copy_study(_sample_study, tmp_path_factory.mktemp("trained") / "study")
    ws.declare_dataset(DatasetSpec(name="fm", kind="fashion-mnist-sample"))
    with ws.study_file.open("a", encoding="utf-8") as study_file:
        for settings in TRAINED_RUNS.values():
            study_file.write(
                f'\n[[runs]]\ndataset = "fm"\nbackbone = "{settings.backbone}"\nepochs = {settings.epochs}\n'
                f"batch_size = {settings.batch_size}\n"
            )
    simulate_subject(ws, "alice", "fm", "classes:Trouser,Bag,Sneaker", noise=0.0, seed=0, limit=1200)
    simulate_subject(ws, "bob", "fm", "feature:brightness", seed=1, limit=400)
    for subject, settings in TRAINED_RUNS.items():
        start_run(ws, RunRequest(subject, "fm", settings))
    return ws


@pytest.fixture
def trained_copy(trained_study: Workspace, tmp_path: Path) -> Workspace:
    """A private copy of the trained study, to change freely."""
    return copy_study(trained_study.root, tmp_path / "trained")


RATERS = ("r1", "r2", "r3", "r4", "r5", "r6")  # r6 likes dark clothes; the others bright ones
RATED_ITEMS = 80


def write_ratings(path: Path, ws: Workspace, n_items: int = RATED_ITEMS, flat: bool = True) -> Path:
    """A long ratings file (rater,item,rating; 1-7) of the first ``n_items`` Fashion-MNIST items, seeded.

    Ratings follow each item's brightness with per-rater noise, so a model can learn them, and
    the raters disagree (r6 reverses the others); ``flat`` adds a rater who rates everything 4.
    """
    from prefstudy.datasets import load_images

    images = load_images(ws, "fm")
    brightness = images.images[:n_items].reshape(n_items, -1).mean(axis=1)
    rank = np.argsort(np.argsort(brightness)) / (n_items - 1)
    rng = np.random.default_rng(0)
    lines = ["rater,item,rating"]
    for rater in RATERS:
        taste = 1 - rank if rater == "r6" else rank
        ratings = np.clip(np.rint(1 + 6 * taste + rng.normal(0, 0.8, n_items)), 1, 7).astype(int)
        lines += [f"{rater},{images.keys[i]},{ratings[i]}" for i in range(n_items)]
    if flat:
        lines += [f"flat,{images.keys[i]},4" for i in range(n_items)]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


@pytest.fixture(scope="session")
def _rated_study(_sample_study: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Built once: Fashion-MNIST 'fm' with seven imported raters (see `write_ratings`) and their consensus 'crowd'."""
    from prefstudy.subjects.consensus import make_consensus
    from prefstudy.subjects.rating_files import RatingTable, import_ratings

    ws = copy_study(_sample_study, tmp_path_factory.mktemp("rated") / "study")
    ratings = write_ratings(ws.root.parent / "ratings.csv", ws)
    import_ratings(ws, ratings, "fm", RatingTable(item="item"))
    make_consensus(ws, "crowd", "fm", raters="r*")
    return ws.root


@pytest.fixture
def rated_ws(_rated_study: Path, tmp_path: Path) -> Workspace:
    """A private copy of the rated study."""
    return copy_study(_rated_study, tmp_path / "rated")


class Cli:
    """Runs the real `prefstudy` command in-process against one workspace."""

    def __init__(self, study: Path):
        self.study = study
        self.runner = CliRunner()

    def __call__(self, *args: str, ok: bool = True):
        result = self.runner.invoke(COMMAND, [str(a) for a in args], env={"PREFSTUDY_STUDY": str(self.study)})
        if ok and result.exit_code != 0:
            raise AssertionError(
                f"prefstudy {' '.join(map(str, args))} failed ({result.exit_code}):\n"
                f"{result.stdout}\n{result.stderr}\n{result.exception!r}"
            )
        return result

    def json(self, *args: str):
        return json.loads(self(*args, "--json").stdout)


@pytest.fixture
def cli(ws: Workspace) -> Cli:
    return Cli(ws.root)
