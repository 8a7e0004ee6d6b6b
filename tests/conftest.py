"""Shared fixtures: isolated workspaces, the CLI runner, studies built once per session, and the real data
(skipped, with the reason, when absent)."""

from __future__ import annotations

import ast
import json
import os
import shutil
import textwrap
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from pathlib import Path

import duckdb
import numpy as np
import pytest
import typer
from click.testing import CliRunner

from prefstudy.cli import app
from prefstudy.config import TrainSettings
from prefstudy.datasets.catalog import add_dataset
from prefstudy.env import DATA_ENV, DEBUG_ENV, LOCK_TIMEOUT_ENV, MAX_PIXELS_ENV, STUDY_ENV
from prefstudy.store.integrity import DUCKDB_CONFIG
from prefstudy.studyfile import DatasetSpec
from prefstudy.workspace import Workspace, init_workspace

# The click command tree, built once: typer.testing's runner rebuilds it on every call (~150 ms each).
COMMAND = typer.main.get_command(app)
REPO = Path(__file__).resolve().parents[1]
SHARED_DATA = Path(os.environ.get("PREFSTUDY_SHARED_DATA", REPO.parent / "shared" / "data"))
FASHION_MNIST = Path("/usr/share/datasets/fashion-mnist")


def _marked_slow_throughout(module: Path) -> bool:
    """Whether a test module sets ``pytestmark`` to ``pytest.mark.slow`` (alone or in a list), read without
    importing it."""
    for node in ast.parse(module.read_text(encoding="utf-8")).body:
        if isinstance(node, ast.Assign) and any(getattr(t, "id", None) == "pytestmark" for t in node.targets):
            marks = node.value.elts if isinstance(node.value, ast.List | ast.Tuple) else [node.value]
            return any(ast.unparse(mark) == "pytest.mark.slow" for mark in marks)
    return False


def pytest_ignore_collect(collection_path: Path, config: pytest.Config) -> bool | None:
    """The fast lane (``-m "not slow"``) does not import a module whose tests are all slow: they would all be
    deselected, after seconds of imports (SciPy, statsmodels, timm, Playwright)."""
    if config.getoption("markexpr", "").strip() != "not slow":
        return None
    if collection_path.suffix == ".py" and collection_path.name.startswith("test_"):
        return _marked_slow_throughout(collection_path) or None
    return None


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


def write_distribution(site: Path, name: str, entry_points: str, modules: dict[str, str]) -> Path:
    """A third party's installed distribution in ``site`` (a folder to put on sys.path): its metadata, its entry
    points and its modules (file name -> source, dedented), as `pip install` would leave them."""
    dist = site / f"{name.replace('-', '_')}-1.0.dist-info"
    dist.mkdir(parents=True)
    (dist / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {name}\nVersion: 1.0\n")
    (dist / "entry_points.txt").write_text(entry_points)
    for file, source in modules.items():
        (site / file).write_text(textwrap.dedent(source))
    return site


def copy_study(source: Path, target: Path) -> Workspace:
    """A private copy of a study, to change freely."""
    shutil.copytree(source, target)
    return Workspace(target.resolve())


@contextmanager
def one_duckdb(*studies: Workspace) -> Iterator[None]:
    """Keep one connection to each study's database open for the block.

    prefstudy opens and closes a connection per unit of work, and opening a DuckDB database builds its
    catalog (~40 ms): most of what a test's database work costs. While this connection is open, those
    connections join its database instance instead (well under 1 ms); prefstudy still opens, checks,
    migrates and closes each of them. Only for a study that no other process opens and whose file nothing
    damages, replaces or copies meanwhile (the store and study-check tests see the file afresh).
    """
    with ExitStack() as stack:
        for path in dict.fromkeys(str(study.db_path.resolve()) for study in studies):
            stack.enter_context(duckdb.connect(path, config=DUCKDB_CONFIG))
        yield


# The study fixtures `shared_instance` holds open, each built before any is opened (sample_ws writes into ws).
STUDY_FIXTURES = ("rated_ws", "trained_copy", "trained_study", "sample_ws", "ws")


@pytest.fixture
def shared_instance(request: pytest.FixtureRequest) -> Iterator[None]:
    """`one_duckdb` over the studies this test uses; a test that starts the label server in another process
    (the `servers` fixture) holds none. Used as ``pytestmark = pytest.mark.usefixtures("shared_instance")``."""
    used = [] if "servers" in request.fixturenames else [n for n in STUDY_FIXTURES if n in request.fixturenames]
    with one_duckdb(*[request.getfixturevalue(name) for name in used]):
        yield


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
    with one_duckdb(ws):
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
    from prefstudy.executors.runner import make_run
    from prefstudy.runs.orders import RunOrder
    from prefstudy.subjects.simulate import simulate_subject

    ws = copy_study(_sample_study, tmp_path_factory.mktemp("trained") / "study")
    ws.declare_dataset(DatasetSpec(name="fm", kind="fashion-mnist-sample"))
    with ws.study_file.open("a", encoding="utf-8") as study_file:
        for settings in TRAINED_RUNS.values():
            study_file.write(
                f'\n[[runs]]\ndataset = "fm"\nbackbone = "{settings.backbone}"\nepochs = {settings.epochs}\n'
                f"batch_size = {settings.batch_size}\n"
            )
    with one_duckdb(ws):
        simulate_subject(ws, "alice", "fm", "classes:Trouser,Bag,Sneaker", noise=0.0, seed=0, limit=1200)
        simulate_subject(ws, "bob", "fm", "feature:brightness", seed=1, limit=400)
        for subject, settings in TRAINED_RUNS.items():
            make_run(ws, RunOrder(subject, "fm", settings))
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
    from prefstudy.datasets.catalog import load_images

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
    with one_duckdb(ws):
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
