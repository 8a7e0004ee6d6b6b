"""Shared fixtures: isolated workspaces, the CLI runner, and the real data (skipped, with the reason, when absent)."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest
from typer.testing import CliRunner

from prefstudy.cli import app
from prefstudy.datasets import add_dataset
from prefstudy.studyfile import DatasetSpec
from prefstudy.workspace import Workspace, init_workspace

REPO = Path(__file__).resolve().parents[1]
SHARED_DATA = Path(os.environ.get("PREFSTUDY_SHARED_DATA", REPO.parent / "shared" / "data"))
FASHION_MNIST = Path("/usr/share/datasets/fashion-mnist")


@pytest.fixture(autouse=True)
def _isolated_environment(tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch) -> None:
    """No test reads the developer's home, data or study settings."""
    home = tmp_path_factory.mktemp("home")
    monkeypatch.setenv("HOME", str(home))
    for name in ("PREFSTUDY_STUDY", "PREFSTUDY_DATA", "PREFSTUDY_DEBUG"):
        monkeypatch.delenv(name, raising=False)


@pytest.fixture
def fashion_mnist_dir() -> Path:
    if not (FASHION_MNIST / "train-images-idx3-ubyte.gz").is_file():
        pytest.skip(f"real Fashion-MNIST not found in {FASHION_MNIST}: apt-get install dataset-fashion-mnist")
    return FASHION_MNIST


@pytest.fixture
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


@pytest.fixture
def ws(tmp_path: Path) -> Workspace:
    """A fresh, empty study workspace."""
    return init_workspace(tmp_path / "study")


@pytest.fixture
def sample_ws(ws: Workspace) -> Workspace:
    """A workspace with the embedded real Fashion-MNIST test split added as dataset 'fm'."""
    add_dataset(ws, DatasetSpec(name="fm", kind="fashion-mnist-sample"))
    return ws


class Cli:
    """Runs the real `prefstudy` command in-process against one workspace."""

    def __init__(self, study: Path):
        self.study = study
        self.runner = CliRunner()

    def __call__(self, *args: str, ok: bool = True):
        result = self.runner.invoke(app, [str(a) for a in args], env={"PREFSTUDY_STUDY": str(self.study)})
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
