import shutil
from pathlib import Path

import numpy as np
import pytest

from prefstudy.datasets.readers import fashion_mnist
from prefstudy.datasets.readers.decoded import SourceOptions
from prefstudy.errors import PrefstudyError
from prefstudy.progress import SilentReporter


@pytest.mark.slow  # decodes all 70,000 images
def test_full_fashion_mnist_keeps_the_official_60k_10k_split(fashion_mnist_dir: Path):
    decoded = fashion_mnist.load(SourceOptions(path=fashion_mnist_dir), SilentReporter())
    assert decoded.images.shape == (70_000, 28, 28, 1)
    assert decoded.splits.count("train") == 60_000 and decoded.splits.count("test") == 10_000
    assert decoded.keys[0] == "train-00000" and decoded.keys[60_000] == "test-00000"
    assert decoded.classes[0] == "Ankle boot"  # the first official training image
    assert len(set(decoded.sha256)) > 69_000  # one hash per image, (near) all distinct


def test_files_are_found_through_prefstudy_data(fashion_mnist_dir: Path, tmp_path: Path, monkeypatch):
    for f in fashion_mnist_dir.glob("*.gz"):
        shutil.copy(f, tmp_path / f.name)
    monkeypatch.setenv("PREFSTUDY_DATA", str(tmp_path))
    assert fashion_mnist.locate(None) == tmp_path


def test_limit_and_seed_draw_the_same_subset_every_time():
    options = SourceOptions(limit=500, seed=7)
    a = fashion_mnist.load_sample(options, SilentReporter())
    b = fashion_mnist.load_sample(options, SilentReporter())
    c = fashion_mnist.load_sample(SourceOptions(limit=500, seed=8), SilentReporter())
    assert a.keys == b.keys and np.array_equal(a.images, b.images)
    assert len(a.keys) == 500 and a.keys != c.keys


def test_a_folder_without_the_files_says_how_to_get_them(tmp_path: Path):
    with pytest.raises(PrefstudyError, match="data fetch fashion-mnist"):
        fashion_mnist.locate(tmp_path)
    with pytest.raises(PrefstudyError, match="does not exist"):
        fashion_mnist.locate(tmp_path / "nope")
