"""Benchmarks read the real data and skip, saying why, when it is absent."""

import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parents[1] / "tests" / "labeler"))  # the browser harness of the e2e tests
from harness import browser, servers  # noqa: F401

FASHION_MNIST = Path("/usr/share/datasets/fashion-mnist")


@pytest.fixture
def fashion_mnist_dir() -> Path:
    if not (FASHION_MNIST / "train-images-idx3-ubyte.gz").is_file():
        pytest.skip(f"real Fashion-MNIST not found in {FASHION_MNIST}: apt-get install dataset-fashion-mnist")
    return FASHION_MNIST
