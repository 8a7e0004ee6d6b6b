"""Benchmarks read the real data and skip, saying why, when it is absent."""

import importlib.util
import sys
from pathlib import Path

import pytest

TESTS = Path(__file__).parents[1] / "tests"
sys.path.insert(0, str(TESTS / "labeler"))  # the browser harness of the e2e tests
from harness import browser, servers  # noqa: E402, F401

FASHION_MNIST = Path("/usr/share/datasets/fashion-mnist")


@pytest.fixture
def fashion_mnist_dir() -> Path:
    if not (FASHION_MNIST / "train-images-idx3-ubyte.gz").is_file():
        pytest.skip(f"real Fashion-MNIST not found in {FASHION_MNIST}: apt-get install dataset-fashion-mnist")
    return FASHION_MNIST


def load_tests_conftest():
    """tests/conftest.py as a plain module, loaded on first use (its fixtures are not registered here)."""
    if "prefstudy_tests_conftest" not in sys.modules:
        spec = importlib.util.spec_from_file_location("prefstudy_tests_conftest", TESTS / "conftest.py")
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
        sys.modules[spec.name] = module
    return sys.modules["prefstudy_tests_conftest"]


def __getattr__(name: str):
    # Test modules benchmarks import (tests/executors/test_executors.py) say `from conftest import copy_study`;
    # under benchmarks/ that name is this module, so it hands on the tests' helper.
    if name == "copy_study":
        return load_tests_conftest().copy_study
    raise AttributeError(name)
