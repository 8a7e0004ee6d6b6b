"""Embedded data shipped with prefstudy (a sample of real Fashion-MNIST for the demo)."""

from importlib.resources import files
from pathlib import Path


def fashion_mnist_sample_dir() -> Path:
    """The folder holding the official Fashion-MNIST test split (10,000 images, MIT licence)."""
    return Path(str(files(__package__) / "fashion-mnist"))
